import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { waitForOutput } from '../src/index.js';

/** A Node child running `script`, its output piped. */
const node = (script: string) => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });

describe('waitForOutput', () => {
  it('resolves with the match, across chunks and from stderr too', async () => {
    const child = node(
      `process.stdout.write('listening on '); setTimeout(() => { process.stderr.write('port 4242\\n'); setTimeout(() => {}, 2000); }, 50);`,
    );
    try {
      const m = await waitForOutput(child, /listening on port (\d+)/, { limitMs: 10_000 });
      expect(m[1]).toBe('4242');
    } finally {
      child.kill();
    }
  });

  it('rejects with what it saw when the child exits first', async () => {
    const child = node(`process.stdout.write('starting\\n'); process.exit(3);`);
    await expect(waitForOutput(child, /ready/, { what: 'the server' })).rejects.toThrow(
      /the server: exited \(3\) before it said \/ready\/; output: starting/,
    );
  });

  it('rejects when the program cannot be started', async () => {
    const child = spawn('pst-no-such-program', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    await expect(waitForOutput(child, /x/, { limitMs: 10_000, what: 'nothing' })).rejects.toThrow(
      /nothing: spawn pst-no-such-program ENOENT/,
    );
  });

  it('rejects when the time is up, and at once for a child that has already exited', async () => {
    const child = node(`setTimeout(() => {}, 5000);`);
    try {
      await expect(waitForOutput(child, /never/, { limitMs: 100 })).rejects.toThrow(/timed out after 100 ms/);
    } finally {
      child.kill();
    }
    await new Promise((r) => child.once('exit', r));
    await expect(waitForOutput(child, /x/)).rejects.toThrow(/already exited/);
  });
});
