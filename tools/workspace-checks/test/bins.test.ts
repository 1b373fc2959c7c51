/**
 * The workspace's executables (every `bin` of a workspace package.json) as a user runs them:
 * `node REPO/<bin> ...` from a directory outside the repository. Each bin is the program itself
 * (its bundle runs in the bin's own process; see tools/scripts/build-bins.mjs), so:
 *
 * - it works from any directory: `--help` prints and exits 0, a bad command line is one line and 2;
 * - SIGINT and SIGTERM stop it cleanly with status 0;
 * - the PID the user holds is the one doing the work (it has no child process, and its own CPU time
 *   grows while it serves);
 * - `kill -9` of it, even of postern-flash in the middle of a flash, leaves no process behind.
 *
 * The bundles are rebuilt before these tests (the vitest global setup), so they test the sources.
 * A started bin leads its own process group, killed after the tests, by its watchdog if this test
 * process dies first, and failing both by the next run's global setup (`support/process-groups.ts`).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForOutput } from '@postern/netlab';
import { killGroup, makeTempDir, removeTempDir, startGroup } from './support/process-groups.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** Every workspace package's `bin` entries (command name to absolute path). */
function workspaceBins(): Record<string, string> {
  const bins: Record<string, string> = {};
  for (const group of ['packages', 'apps', 'tools']) {
    for (const name of readdirSync(join(ROOT, group))) {
      const pkgFile = join(ROOT, group, name, 'package.json');
      if (!existsSync(pkgFile)) continue;
      const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { bin?: Record<string, string> };
      for (const [cmd, file] of Object.entries(pkg.bin ?? {})) bins[cmd] = join(ROOT, group, name, file);
    }
  }
  return bins;
}
const ALL_BINS = workspaceBins();
const BINS = {
  'postern-gateway': join(ROOT, 'apps/gateway/bin/postern-gateway.mjs'),
  'postern-sim': join(ROOT, 'apps/device-simulator/bin/postern-sim.mjs'),
  'postern-flash': join(ROOT, 'tools/flash/bin/postern-flash.mjs'),
  'postern-keygen': join(ROOT, 'tools/flash/bin/postern-keygen.mjs'),
} as const;
type BinName = keyof typeof BINS;

/**
 * A directory outside the repository: every program runs with it as its working directory. Recorded:
 * if this run is killed before its afterAll, the next run's global setup removes it.
 */
const elsewhere = makeTempDir('postern-bins-');
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) killGroup(c.pid);
  removeTempDir(elsewhere);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a bin to its end from `elsewhere` (bounded: 60 s). */
function run(bin: string, args: readonly string[]): Run {
  const path = ALL_BINS[bin] ?? bin;
  const r = spawnSync(process.execPath, [path, ...args], {
    cwd: elsewhere,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, HOME: elsewhere },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a bin from `elsewhere` as the leader of its own process group (recorded, with a watchdog). */
function start(bin: BinName, args: readonly string[]): ChildProcess {
  const child = startGroup(process.execPath, [BINS[bin], ...args], {
    cwd: elsewhere,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: elsewhere },
  });
  started.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Fields of /proc/PID/stat after the command name (man 5 proc): index 0 is `state`. */
function stat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process (not a zombie) whose parent is `pid` or whose process group is `pgid`. */
function processesOf(pid: number, pgid = pid): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === pid) continue;
    const f = stat(Number(name));
    if (f === undefined || f[0] === 'Z') continue;
    if (Number(f[1]) === pid || Number(f[2]) === pgid) found.push(Number(name));
  }
  return found;
}

/** User plus system CPU time of `pid`, in clock ticks. */
function cpuTicks(pid: number): number {
  const f = stat(pid);
  if (f === undefined) throw new Error(`no process ${pid}`);
  return Number(f[11]) + Number(f[12]);
}

/** After `kill -9` of a group leader: no process of its group is left (bounded wait for the kernel to reap). */
async function expectNothingLeft(pgid: number): Promise<void> {
  for (let i = 0; i < 50 && processesOf(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(processesOf(pgid)).toEqual([]);
}

describe('each bin from a directory outside the repository', () => {
  it('the bins are the ones named in the packages (package.json "bin")', () => {
    for (const [cmd, path] of Object.entries(BINS)) expect(ALL_BINS[cmd]).toBe(path);
    for (const path of Object.values(ALL_BINS)) expect(existsSync(path), path).toBe(true);
  });

  it.each(Object.keys(ALL_BINS))('%s --help prints its usage and exits 0', (bin) => {
    const r = run(bin, ['--help']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/usage|--/i);
  });

  it('npm start (tools/scripts/start.mjs) -- --help prints the gateway usage and exits 0', () => {
    const r = run(join(ROOT, 'tools/scripts/start.mjs'), ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--nic');
  });

  it.each(Object.keys(ALL_BINS))('%s --no-such-flag: one line on stderr naming the flag, exit 2', (bin) => {
    const args = ['--no-such-flag'];
    const r = run(bin, args);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${bin === 'postern-keygen' ? 'postern-(keygen|flash)' : bin}: .*--no-such-flag`),
    );
  });
});

describe('signals reach the program', () => {
  const GATEWAY = ['--nic', 'sim', '--hostfwd', 'tcp:127.0.0.1:0-198.18.0.1:80'];
  const GATEWAY_UP = /open http:\/\/127\.0\.0\.1:\d+\//;
  const SIM = ['--serial', 'socket://127.0.0.1:0'];
  const SIM_UP = /postern-sim: ready/;
  it.each([
    ['postern-gateway', 'SIGINT', GATEWAY, GATEWAY_UP],
    ['postern-gateway', 'SIGTERM', GATEWAY, GATEWAY_UP],
    ['postern-sim', 'SIGINT', SIM, SIM_UP],
    ['postern-sim', 'SIGTERM', SIM, SIM_UP],
  ] as Array<[BinName, NodeJS.Signals, string[], RegExp]>)(
    '%s stops cleanly on %s: exit 0, no process left',
    async (bin, signal, args, ready) => {
      const child = start(bin, args);
      await waitForOutput(child, ready);
      expect(processesOf(child.pid!)).toEqual([]);
      child.kill(signal);
      expect(await exited(child)).toEqual({ code: 0, signal: null });
      await expectNothingLeft(child.pid!);
    },
  );
});

describe('the PID the user holds is the program', () => {
  it('postern-gateway: no child process; its own CPU time grows while it serves; kill -9 leaves nothing behind', async () => {
    const child = start('postern-gateway', ['--nic', 'sim', '--hostfwd', 'tcp:127.0.0.1:0-198.18.0.1:80']);
    const url = (await waitForOutput(child, /open (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    const pid = child.pid!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(BINS['postern-gateway']);
    expect(processesOf(pid)).toEqual([]);
    const before = cpuTicks(pid);
    // 200 requests through the whole simulated path (host forward, device, serial line, driver, IP,
    // TCP, HTTP): the work happens in this PID, so its CPU time must move.
    for (let i = 0; i < 200; i++) expect((await fetch(`${url}api/interfaces`)).status).toBe(200);
    expect(cpuTicks(pid)).toBeGreaterThan(before);
    expect(processesOf(pid)).toEqual([]);
    child.kill('SIGKILL');
    expect(await exited(child)).toEqual({ code: null, signal: 'SIGKILL' });
    await expectNothingLeft(pid);
  });

  it('postern-flash, killed with -9 in the middle of a flash, leaves no process behind', async () => {
    // A key pair and a gateway image, made by the bins themselves.
    const keygen = run('postern-keygen', ['--out', join(elsewhere, 'dev')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    const image = join(elsewhere, 'gateway.fw');
    const build = run('postern-flash', ['build', '--key', join(elsewhere, 'dev.key'), '--out', image]);
    expect(build.code, build.stderr).toBe(0);
    const size = statSync(image).size;

    // The board: the simulated dev board with its bootloader.
    const board = start('postern-sim', [
      '--serial',
      'socket://127.0.0.1:0',
      '--flash',
      join(elsewhere, 'board.flash'),
      '--trusted-key',
      join(elsewhere, 'dev.pub'),
    ]);
    const boardPort = Number(
      (await waitForOutput(board, /flash port socket:\/\/127\.0\.0\.1:(\d+)[\s\S]*postern-sim: ready/))[1],
    );

    // Between them, a line that carries a third of the image towards the board and then stalls, so
    // the flash is caught in the middle.
    const stall = await stallingProxy(boardPort, Math.floor(size / 3));
    try {
      const flash = start('postern-flash', ['--port', `socket://127.0.0.1:${stall.port}`, image]);
      await stall.reached;
      const pid = flash.pid!;
      expect(stat(pid)?.[0]).toMatch(/^[RS]$/); // alive, mid-flash
      expect(processesOf(pid)).toEqual([]);
      flash.kill('SIGKILL');
      expect(await exited(flash)).toEqual({ code: null, signal: 'SIGKILL' });
      await expectNothingLeft(pid);
    } finally {
      stall.server.close();
      for (const s of stall.sockets) s.destroy();
      board.kill('SIGTERM');
      await exited(board);
    }
  });
});

/** A TCP proxy to 127.0.0.1:`target` that forwards `limit` bytes towards it, then holds the rest. */
async function stallingProxy(
  target: number,
  limit: number,
): Promise<{ port: number; server: Server; sockets: Socket[]; reached: Promise<void> }> {
  const sockets: Socket[] = [];
  let onReached: () => void = () => {};
  const reached = new Promise<void>((r) => (onReached = r));
  let sent = 0;
  const server = createServer((client) => {
    const board = connect(target, '127.0.0.1');
    sockets.push(client, board);
    client.on('error', () => {});
    board.on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      const room = Math.max(0, limit - sent);
      if (room > 0) board.write(chunk.subarray(0, room));
      sent += Math.min(room, chunk.length);
      if (sent >= limit) onReached();
    });
    board.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, server, sockets, reached };
}
