import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { patternBytes, sha256Hex, withoutNetAdmin } from '@postern/netlab';
import { PcapReader, parsePcapHeader } from '@postern/wire';
import { FlagError, parseCommandLine, parseFlags } from '../src/cli.js';
import { SimulatorError } from '../src/errors.js';
import { exchange, openGateway, serveEcho } from './support/gateway.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'postern-sim.mjs');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBin(args: string[], options: { unprivileged?: boolean } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const [cmd, ...argv] =
      options.unprivileged === true
        ? withoutNetAdmin([process.execPath, BIN, ...args])
        : [process.execPath, BIN, ...args];
    const child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function oneLine(r: Result): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

function listenOn(port = 0): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen({ host: '127.0.0.1', port }, () => resolve(s));
  });
}

describe('postern-sim, the command', () => {
  it('--help documents every flag and exits 0', async () => {
    const r = await runBin(['--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--serial pty',
      '--serial socket://',
      '--hostfwd',
      '--tap',
      '--pcap',
      '--loss',
      '--dup',
      '--reorder',
      '--corrupt',
      '--latency',
      '--rate',
      '--seed',
      '--gateway',
      '--host',
      '--mac',
      '--line-rate',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('198.18.0.1');
    expect(r.stdout).toContain('198.18.0.100/24');
  });

  it.each([
    [['--bogus'], /^postern-sim: unknown flag --bogus/],
    [['--tap'], /^postern-sim: --tap needs a value/],
    [['--loss', '1.5'], /^postern-sim: --loss 1\.5: must be a probability in 0\.\.1/],
    [['--latency', '-5'], /^postern-sim: --latency -5: must be >= 0$/],
    [['--serial', 'COM3'], /^postern-sim: bad --serial "COM3"/],
    [
      ['--hostfwd', 'tcp:0.0.0.0:8080-:80'],
      /^postern-sim: --hostfwd tcp:0\.0\.0\.0:8080-:80: the host address must be in 127\.0\.0\.0\/8$/,
    ],
  ])('%j ends with one clear line on stderr and exit status 2', async (args, pattern) => {
    const r = await runBin(args);
    expect(r.code).toBe(2);
    expect(oneLine(r)).toMatch(pattern);
    expect(r.stdout).toBe('');
  });

  it('a serial socket port in use: one line, exit 1', async () => {
    const busy = await listenOn();
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await runBin(['--serial', `socket://127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(oneLine(r)).toBe(`postern-sim: --serial socket://127.0.0.1:${port}: address already in use`);
    } finally {
      busy.close();
    }
  });

  it('a hostfwd port in use: one line, exit 1', async () => {
    const busy = await listenOn();
    try {
      const port = (busy.address() as { port: number }).port;
      const r = await runBin(['--serial', 'socket://127.0.0.1:0', '--hostfwd', `tcp:127.0.0.1:${port}-198.18.0.1:80`]);
      expect(r.code).toBe(1);
      expect(oneLine(r)).toBe(`postern-sim: --hostfwd 127.0.0.1:${port}: address already in use`);
    } finally {
      busy.close();
    }
  });

  it('--tap without privileges: one line, exit 1', async () => {
    // As root the child runs without CAP_NET_ADMIN (still as root, so it can read the checkout).
    const r = await runBin(['--serial', 'socket://127.0.0.1:0', '--tap', 'pstsim0'], { unprivileged: true });
    expect(r.code).toBe(1);
    expect(oneLine(r)).toBe('postern-sim: --tap pstsim0: creating a TAP device needs root (CAP_NET_ADMIN)');
  });

  it('runs: prints the endpoint and the forward, relays through a gateway, captures the segment, stops on SIGTERM', async () => {
    const pcap = join(mkdtempSync(join(tmpdir(), 'postern-sim-')), 'segment.pcap');
    const startedAt = Date.now();
    const child = spawn(
      process.execPath,
      [BIN, '--serial', 'socket://127.0.0.1:0', '--hostfwd', 'tcp::0-:7', '--pcap', pcap],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: child.stdout });
    const said: string[] = [];
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => {
        said.push(l);
        if (l === 'postern-sim: ready') resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${said.join(' | ')}`)));
    });
    const serial = /^postern-sim: serial (socket:\/\/127\.0\.0\.1:\d+)$/.exec(
      said.find((l) => l.includes(' serial '))!,
    )![1]!;
    const fwdPort = Number(
      /^postern-sim: hostfwd 127\.0\.0\.1:(\d+) -> 198\.18\.0\.1:7$/.exec(said.find((l) => l.includes('hostfwd'))!)![1],
    );
    const gw = await openGateway(serial);
    try {
      serveEcho(gw.tcp, 7);
      const data = patternBytes(256 * 1024, 5);
      const got = await exchange(fwdPort, data, true);
      expect(sha256Hex(got)).toBe(sha256Hex(data));
    } finally {
      await gw.close();
    }
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    const stoppedAt = Date.now();
    const bytes = new Uint8Array(readFileSync(pcap));
    expect(parsePcapHeader(bytes).linkType).toBe(1);
    // Stamped with the simulator scheduler's wall time (the host's clock read once when it started).
    for (const r of new PcapReader(bytes)) {
      const ms = r.timestampNanosNumber() / 1e6;
      expect(ms).toBeGreaterThanOrEqual(startedAt - 1);
      expect(ms).toBeLessThanOrEqual(stoppedAt + 1);
    }
    // Header plus well over 256 KiB of TCP segments each way (every frame entering the switch).
    expect(bytes.byteLength).toBeGreaterThan(2 * 256 * 1024);
  });
});

describe('postern-sim command line (in process)', () => {
  /** The one line parseCommandLine throws for `argv`. */
  function refusal(argv: string[]): string {
    try {
      parseCommandLine(argv);
    } catch (err) {
      expect(err).toBeInstanceOf(SimulatorError);
      expect((err as SimulatorError).code).toBe('BAD_ARGUMENT');
      const message = (err as Error).message;
      expect(message).not.toContain('\n');
      return message;
    }
    throw new Error(`accepted ${JSON.stringify(argv)}`);
  }

  it.each([
    [['--bogus'], 'unknown flag --bogus (see --help)'],
    [['stray'], 'unexpected argument "stray" (see --help)'],
    [['--tap'], '--tap needs a value (see --help)'],
    [['--help=yes'], '--help takes no value (see --help)'],
    [['--latency', '-5'], '--latency -5: must be >= 0'],
    [['--latency=-5'], '--latency -5: must be >= 0'],
    [['--latency', 'soon'], '--latency soon: is not a number (a number >= 0)'],
    [['--rate', '0'], '--rate 0: must be > 0'],
    [['--loss', '-0.5'], '--loss -0.5: must be a probability in 0..1'],
    [['--seed', '1.5'], '--seed 1.5: must be an integer >= 0'],
    [['--gateway', '10.0.0.300'], '--gateway 10.0.0.300: is not an IPv4 address'],
    [['--host', '198.18.0.100/31'], '--host 198.18.0.100/31: is not ADDR/LEN with LEN in 1..30'],
    [['--host', '198.18.0.1'], '--host and --gateway must differ'],
    [['--hostfwd', 'udp:8080-:80'], '--hostfwd udp:8080-:80: is not tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT'],
    [['--hostfwd', 'tcp:0.0.0.0:8080-:80'], '--hostfwd tcp:0.0.0.0:8080-:80: the host address must be in 127.0.0.0/8'],
    [['--hostfwd', 'tcp::8080-:0'], '--hostfwd tcp::8080-:0: the guest port 0 is not in 1..65535'],
    [['--serial', 'socket://10.0.0.1:5000'], 'bad --serial "socket://10.0.0.1:5000": the host must be in 127.0.0.0/8'],
  ])('%j: one line naming the flag', (argv, message) => {
    expect(refusal(argv)).toBe(message);
  });

  it('a negative number is a value; a flag after a value flag is still a missing value', () => {
    const cmd = parseCommandLine([
      '--latency',
      '0',
      '--seed',
      '7',
      '--hostfwd',
      'tcp::0-:80',
      '--hostfwd',
      'tcp:127.0.0.2:0-198.18.0.1:81',
    ]);
    expect(cmd.help).toBe(false);
    if (cmd.help) return;
    expect(cmd.options.faults).toEqual({ latencyMs: 0 });
    expect(cmd.options.seed).toBe(7);
    expect(cmd.options.hostForwards).toHaveLength(2);
    expect(refusal(['--latency', '--seed', '1'])).toBe('--latency needs a value (see --help)');
  });

  it('parseFlags keeps -h as the short help flag and stops at --', () => {
    expect(parseFlags(['-h'], { help: { type: 'boolean', short: 'h' } })).toEqual({ help: true });
    expect(() => parseFlags(['--x', '--', '-5'], { x: { type: 'string' } })).toThrow(FlagError);
  });
});
