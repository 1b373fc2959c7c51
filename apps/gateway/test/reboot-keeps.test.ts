/**
 * A reboot through the admin API keeps what the operator set up: the capture file is not truncated
 * (the new run captures into the next numbered file) and a host forward that asked for port 0 comes
 * back on the port it was given, so the printed URL stays valid. The program is spawned as a user
 * runs it (bin/postern-gateway.mjs, rebuilt before the tests).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keepHostForwardPorts, numberedCapturePath } from '../src/gateway.js';

const BIN = fileURLToPath(new URL('../bin/postern-gateway.mjs', import.meta.url));

describe('what a reboot keeps', () => {
  it('numberedCapturePath puts the number before the extension', () => {
    expect(numberedCapturePath('/tmp/cap.pcap', 0)).toBe('/tmp/cap.pcap');
    expect(numberedCapturePath('/tmp/cap.pcap', 2)).toBe('/tmp/cap.2.pcap');
    expect(numberedCapturePath('/tmp/v1.d/capture', 1)).toBe('/tmp/v1.d/capture.1');
    expect(numberedCapturePath('.hidden', 1)).toBe('.hidden.1');
  });

  it('keepHostForwardPorts replaces only port-0 host ports', () => {
    expect(
      keepHostForwardPorts(
        ['tcp:127.0.0.1:0-198.18.0.1:80', 'tcp:127.0.0.1:8081-198.18.0.1:81', 'tcp::0-198.18.0.1:82'],
        [40001, 8081, 40003],
      ),
    ).toEqual(['tcp:127.0.0.1:40001-198.18.0.1:80', 'tcp:127.0.0.1:8081-198.18.0.1:81', 'tcp::40003-198.18.0.1:82']);
    expect(keepHostForwardPorts(['tcp:127.0.0.1:0-198.18.0.1:80'], [])).toEqual(['tcp:127.0.0.1:0-198.18.0.1:80']);
  });

  it('POST /api/reboot: the capture goes on in cap.1.pcap (cap.pcap kept whole) and the :0 host forward keeps its port', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-reboot-'));
    const pcap = join(dir, 'cap.pcap');
    const child = spawn(
      process.execPath,
      [BIN, '--nic', 'sim', '--pcap', pcap, '--hostfwd', 'tcp:127.0.0.1:0-198.18.0.1:80'],
      {
        env: { ...process.env, POSTERN_QUIET: '1', POSTERN_ADMIN_PASSWORD: 'pw' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const until = async (pred: () => boolean | Promise<boolean>, what: string): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        if (
          await Promise.resolve()
            .then(pred)
            .catch(() => false)
        )
          return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; stdout: ${stdout}`);
    };
    const urls = (): string[] => [...stdout.matchAll(/^open (http:\/\/127\.0\.0\.1:\d+\/)$/gm)].map((m) => m[1]!);
    const size = (path: string): number => {
      try {
        return statSync(path).size;
      } catch {
        return -1;
      }
    };
    try {
      await until(() => urls().length === 1, 'the first URL');
      const url = urls()[0]!;
      expect(url).not.toMatch(/:0\/$/);
      for (let i = 0; i < 3; i++) expect((await fetch(`${url}api/settings`)).status).toBe(200);
      await until(() => size(pcap) > 24, 'frames in cap.pcap');
      const before = size(pcap);
      const authorization = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
      expect((await fetch(`${url}api/reboot`, { method: 'POST', headers: { authorization } })).status).toBe(202);
      await until(() => urls().length === 2, 'the URL after the reboot');
      expect(urls()[1]).toBe(url);
      await until(async () => (await fetch(`${url}api/settings`)).ok, 'the API after the reboot');
      const second = numberedCapturePath(pcap, 1);
      await until(() => size(second) > 24, 'frames in cap.1.pcap');
      expect(size(pcap)).toBeGreaterThanOrEqual(before);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
