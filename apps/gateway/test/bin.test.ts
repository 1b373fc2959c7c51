/**
 * The `postern-gateway` program, spawned as a user would run it (bin/postern-gateway.mjs, which runs
 * the bundle of src/main.ts in its own process; rebuilt before the tests so they never run a stale
 * build): help, the one-line error exits, and a clean run that serves the API and exits 0 on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { withoutNetAdmin } from '@postern/netlab';
import { makeOwnedTempDir, reapOrphanedTempDirs } from './support/owned-temp-dir.js';

const BIN = fileURLToPath(new URL('../bin/postern-gateway.mjs', import.meta.url));
const DIR_PREFIX = 'postern-gw-bin-';
// A run killed with SIGKILL skips afterAll: the next run removes what it left.
reapOrphanedTempDirs(DIR_PREFIX);
const dir = makeOwnedTempDir(DIR_PREFIX);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], extra: { unprivileged?: boolean; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const [cmd, ...argv] =
    extra.unprivileged === true ? withoutNetAdmin([process.execPath, BIN, ...args]) : [process.execPath, BIN, ...args];
  return spawn(cmd!, argv, {
    env: { ...process.env, ...extra.env, POSTERN_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function run(args: string[], extra: { unprivileged?: boolean } = {}): Promise<Run> {
  const child = start(args, extra);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Exactly one non-empty line. */
function oneLine(text: string): string {
  const lines = text.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('postern-gateway (spawned)', () => {
  it('--help documents every flag and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--config FILE',
      '--nic SPEC',
      '--ip ADDR/PREFIX|dhcp',
      '--route PREFIX via ADDR',
      '--http-port N',
      '--www DIR',
      '--pcap FILE',
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stderr).toBe('');
  });

  it('a bad flag: one line, exit 2', async () => {
    const r = await run(['--nic', 'usb0']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^postern-gateway: --nic usb0: is not a NIC spec/);
    const ip = await run(['--nic', 'tap:pstgw0', '--ip', 'DHCP']);
    expect(ip.code).toBe(2);
    expect(oneLine(ip.stderr)).toBe('postern-gateway: --ip DHCP: is not an IPv4 prefix ADDR/LEN (or dhcp)');
    const sim = await run(['--nic', 'sim', '--ip', 'dhcp']);
    expect(sim.code).toBe(2);
    expect(oneLine(sim.stderr)).toBe(
      'postern-gateway: --ip dhcp: dhcp is not for nic "sim" (the simulated segment has no DHCP server)',
    );
  });

  it('a bad config file: one line naming the file, the field and the problem, exit 2', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ interfaces: [{ nic: 'sim', ip: '10.0.0.300/24' }] }));
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(
      `postern-gateway: config ${file}: interfaces[0].ip "10.0.0.300/24": is not an IPv4 prefix ADDR/LEN with LEN 1..30 or 32`,
    );
    expect(r.stdout).toBe('');
  });

  it('a missing serial device: one line, exit 1', async () => {
    const r = await run(['--nic', 'serial:/dev/ttyPOSTERN404', '--ip', '198.18.3.1/24']);
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^postern-gateway: eth0 \(serial:\/dev\/ttyPOSTERN404\): /);
    expect(line).toMatch(/\/dev\/ttyPOSTERN404.*(ENOENT|no such file)/i);
  });

  it('a TAP device without privileges: one line, exit 1', async () => {
    // As root, the program runs without CAP_NET_ADMIN (still as root, so it can read the checkout).
    const r = await run(['--nic', 'tap:pstgw0', '--ip', '198.18.4.1/24'], { unprivileged: true });
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toMatch(/^postern-gateway: eth0 \(tap:pstgw0\): /);
    expect(line).toMatch(/EACCES|EPERM|permission/i);
    expect(line).toContain('needs root or CAP_NET_ADMIN');
  });

  it('the host-forward port in use: one line, exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await run(['--nic', 'sim', '--hostfwd', `tcp:127.0.0.1:${port}-198.18.0.1:80`]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(
        new RegExp(`^postern-gateway: eth0 \\(sim\\): .*127\\.0\\.0\\.1:${port}: address already in use$`),
      );
    } finally {
      blocker.close();
    }
  });

  it('runs with --nic sim, serves /api/ through the host forward, and exits 0 on SIGTERM', async () => {
    const child = start(['--nic', 'sim', '--hostfwd', 'tcp:127.0.0.1:0-198.18.0.1:80']);
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed; stderr: ${stderr}`)), 30_000);
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    try {
      const res = await fetch(`${url}api/interfaces`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([
        expect.objectContaining({ name: 'eth0', link: 'up', addresses: ['198.18.0.1/24'] }),
      ]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});

describe('postern-gateway reboot (spawned)', () => {
  it('POST /api/reboot with the admin password answers 202, then the gateway comes back on the same URL', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const child = start(['--nic', 'sim', '--hostfwd', `tcp:127.0.0.1:${port}-198.18.0.1:80`], {
      env: { POSTERN_ADMIN_PASSWORD: 'pw' },
    });
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const url = `http://127.0.0.1:${port}/`;
    const until = async (pred: () => Promise<boolean>): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        if (await pred().catch(() => false)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out; stdout: ${stdout}`);
    };
    try {
      await until(async () => (await fetch(`${url}api/settings`)).ok);
      const authorization = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
      // A change made at run time lives until the reboot, which starts again from the configuration.
      const add = await fetch(`${url}api/routes`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ to: '10.77.0.0/16', via: '198.18.0.100' }),
      });
      expect(add.status).toBe(201);
      const statics = async () =>
        ((await (await fetch(`${url}api/routes`)).json()) as Array<{ kind: string }>).filter((r) => r.kind === 'static')
          .length;
      expect(await statics()).toBe(1);
      const res = await fetch(`${url}api/reboot`, { method: 'POST', headers: { authorization } });
      expect(res.status).toBe(202);
      await until(async () => stdout.split('open ').length === 3); // announced twice: start and reboot
      await until(async () => (await fetch(`${url}api/settings`)).ok);
      expect(await statics()).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
