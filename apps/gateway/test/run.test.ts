/**
 * runGateway (src/run.ts) in this process with the options a firmware image uses: its log name, the
 * hook once the gateway is up, and a reboot asked for by the admin API ending the run with the
 * status given (postern-gateway itself restarts in process: reboot-keeps.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Gateway } from '../src/gateway.js';
import { runGateway } from '../src/run.js';

describe('runGateway with a firmware image options', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  function capture(stream: NodeJS.WriteStream): () => string {
    let text = '';
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => ((text += String(chunk)), true));
    return () => text;
  }

  it('logs under its name, calls onStarted once the URL is printed, and ends with rebootExitStatus on a reboot', async () => {
    const stderr = capture(process.stderr);
    const stdout = capture(process.stdout);
    vi.stubEnv('POSTERN_QUIET', '');
    vi.stubEnv('POSTERN_ADMIN_PASSWORD', 'pw');
    let started: { gateway: Gateway; printed: string } | undefined;
    let resolveStarted: () => void = () => {};
    const startedOnce = new Promise<void>((r) => (resolveStarted = r));
    const onStarted = vi.fn((gateway: Gateway, log: (line: string) => void) => {
      started = { gateway, printed: stdout() };
      log('hook ran');
      resolveStarted();
    });
    const exited = runGateway(['--nic', 'sim', '--hostfwd', 'tcp:127.0.0.1:0-198.18.0.1:80'], {
      name: 'postern-test',
      rebootExitStatus: 75,
      onStarted,
    });
    await startedOnce;
    const url = started!.gateway.urls[0]!;
    expect(started!.printed).toContain(`open ${url}\n`);
    expect(stderr()).toContain('postern-test: hook ran\n');
    const authorization = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
    expect((await fetch(`${url}api/reboot`, { method: 'POST', headers: { authorization } })).status).toBe(202);
    expect(await exited).toBe(75);
    expect(onStarted).toHaveBeenCalledTimes(1);
    // Closed, not restarted: no second URL, no "rebooting" line, and every line under the given name.
    expect(stdout().match(/^open /gm)).toHaveLength(1);
    expect(stderr()).not.toContain('rebooting');
    expect(
      stderr()
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('postern-test: ')),
    ).toEqual([]);
  }, 30_000);

  it('names itself in the one line of a bad configuration (exit 2) and starts nothing', async () => {
    const stderr = capture(process.stderr);
    capture(process.stdout);
    const onStarted = vi.fn();
    const code = await runGateway(['--www', '/nonexistent', '--nic', 'sim'], { name: 'postern-test', onStarted });
    expect({ code, stderr: stderr() }).toEqual({
      code: 2,
      stderr: 'postern-test: --www /nonexistent: no such directory\n',
    });
    expect(onStarted).not.toHaveBeenCalled();
  });
});
