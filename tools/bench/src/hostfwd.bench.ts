/**
 * HTTP through the device simulator, each figure beside a reference measured in the same run
 * (samples alternated). Loopback only: every client talks to 127.0.0.1; no root needed.
 *
 * | benchmark | figure | reference |
 * |---|---|---|
 * | `hostfwd` | `postern-gateway --nic sim --www DIR` in this process: curl or wrk on 127.0.0.1 -> the simulator's host forward -> simulated host's Postern TCP -> switch -> board -> in-process serial stream -> gateway's `SerialNicDriver`, stack, HTTP server | Node's own `http` on loopback (child process), same files |
 * | `hostfwd-serial` | `postern-sim --serial socket://127.0.0.1:0` in another process, the gateway in this process on `--nic socket://...`: the same download over a real serial device path, line paced to {@link SERIAL_HTTP_LINE_RATE} (USB full speed) and unpaced | paced: none (the figure's companion is its share of the configured line rate); unpaced: Node `http` on loopback |
 *
 * The gateway serves static files (`--www`) from a temporary directory: {@link HOSTFWD_BIG_BYTES}
 * (bulk, curl), {@link PACED_BYTES} (bulk on the paced line: small enough that a sample takes
 * about 2 s) and a 13-byte `Hello, world!` (keep-alive, `wrk -t1 -c32`, or `ab -k`).
 * Bounded: samples of {@link HOSTFWD_SAMPLE_MS}, at most {@link HOSTFWD_MAX_SAMPLES} per figure,
 * curl capped by its `--max-time`; teardown stops every child process it started and removes the files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startGateway, validateConfig, type Gateway } from '@postern/gateway';
import { waitForOutput } from '@postern/netlab';
import type { Benchmark, Companion, Figure } from './harness.js';
import { curlDownloadMBps, hasProgram, keepAliveLoad, keepAliveTool, type KeepAliveResult } from './http-clients.js';
import { stopChild, type ChildServer } from './http-servers.js';

/** Bulk file size through the in-process host forward and the unpaced serial line. */
export const HOSTFWD_BIG_BYTES = 64 * 1024 * 1024;
/** Bulk file size on the paced line (about 2.2 s at 1 MB/s). */
export const PACED_BYTES = 2 * 1024 * 1024;
/** The configured serial line rate of the paced figure, bytes per second (USB full speed CDC-ACM). */
export const SERIAL_HTTP_LINE_RATE = 1_000_000;
/** Wall time of one keep-alive sample (wrk's `-d`). */
export const HOSTFWD_SAMPLE_MS = 2000;
/** Samples per figure and per reference (after one warm-up each). */
export const HOSTFWD_MAX_SAMPLES = 3;

const BIG = '/big.bin';
const PACED = '/paced.bin';
const SMALL = '/hello.txt';
const SMALL_BODY = 'Hello, world!';
const GATEWAY_IP = '198.18.0.1/24';
const GATEWAY_HTTP_PORT = 80;
/** How long a child may take to say it is ready, ms. */
const READY_TIMEOUT_MS = 20_000;

/** Writes the three files served by both the gateway and the Node reference. */
function makeWww(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-hostfwd-www-'));
  writeFileSync(join(dir, BIG.slice(1)), Buffer.alloc(HOSTFWD_BIG_BYTES, 97));
  writeFileSync(join(dir, PACED.slice(1)), Buffer.alloc(PACED_BYTES, 98));
  writeFileSync(join(dir, SMALL.slice(1)), SMALL_BODY);
  return dir;
}

/** Node's own `http` serving the www directory's files from memory on 127.0.0.1 (any free port). */
const NODE_LOOPBACK_SCRIPT = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const files = new Map(fs.readdirSync(dir).map((n) => ['/' + n, fs.readFileSync(path.join(dir, n))]));
const server = http.createServer((req, res) => {
  const body = files.get(req.url);
  if (body === undefined) { res.writeHead(404, { 'Content-Length': 0 }); res.end(); return; }
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log('ready ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/** A child process whose stdout lines are kept (to read what it printed while starting). */
interface Child extends ChildServer {
  /** Its stdout so far. */
  stdout(): string;
}

function startChild(command: string, args: readonly string[]): Child {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    if (out.length < 16_384) out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    if (err.length < 16_384) err += chunk.toString('utf8');
  });
  child.on('error', () => undefined); // reported by waitForOutput
  return { child, stdout: () => out, stderr: () => err };
}

/** Starts the Node reference on 127.0.0.1; resolves with it and its port. */
async function startNodeLoopback(www: string): Promise<{ server: Child; port: number }> {
  const server = startChild(process.execPath, ['-e', NODE_LOOPBACK_SCRIPT, www]);
  const m = await waitForOutput(server.child, /^ready (\d+)$/m, {
    limitMs: READY_TIMEOUT_MS,
    what: 'node http on loopback',
  });
  return { server, port: Number(m[1]) };
}

/** The `postern-sim` launcher (its package's `bin`), run with this Node. */
function simulatorBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@postern/device-simulator/package.json')), 'bin', 'postern-sim.mjs');
}

/** A `postern-sim` in another process: its serial socket and its host forward. */
interface SimProcess {
  readonly child: Child;
  /** `socket://127.0.0.1:PORT`, what the gateway's `--nic` takes. */
  readonly serial: string;
  /** `http://127.0.0.1:PORT`: its host forward to the gateway's HTTP port. */
  readonly base: string;
}

/**
 * Starts `postern-sim --serial socket://127.0.0.1:0 --hostfwd tcp:127.0.0.1:0-GATEWAY:80` (paced to
 * `lineRate` bytes/s when given); resolves once it is ready, with the ports it printed.
 */
async function startSimProcess(lineRate: number | undefined): Promise<SimProcess> {
  const args = [
    simulatorBin(),
    '--serial',
    'socket://127.0.0.1:0',
    '--hostfwd',
    `tcp:127.0.0.1:0-${GATEWAY_IP.split('/')[0]}:${GATEWAY_HTTP_PORT}`,
    ...(lineRate === undefined ? [] : ['--line-rate', String(lineRate)]),
  ];
  const child = startChild(process.execPath, args);
  try {
    await waitForOutput(child.child, /^postern-sim: ready$/m, { limitMs: READY_TIMEOUT_MS, what: 'postern-sim' });
    const m = /^postern-sim: serial (socket:\/\/127\.0\.0\.1:\d+)$/m.exec(child.stdout());
    const f = /^postern-sim: hostfwd 127\.0\.0\.1:(\d+) -> /m.exec(child.stdout());
    if (m === null || f === null)
      throw new Error(
        `postern-sim: no serial socket or host forward in its output: ${child.stdout().trim().slice(0, 300)}`,
      );
    return { child, serial: m[1]!, base: `http://127.0.0.1:${f[1]}` };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/**
 * The gateway in this process on `nic` (`sim`, or a `socket://` URL) serving `www` on port 80.
 * With `sim`, a host forward from 127.0.0.1 (any free port) to it.
 */
async function startGatewayOn(nic: string, www: string): Promise<Gateway> {
  const config = validateConfig({
    interfaces: [{ name: 'eth0', nic, ip: GATEWAY_IP }],
    http: { port: GATEWAY_HTTP_PORT, www },
    ...(nic === 'sim'
      ? { sim: { hostForward: [`tcp:127.0.0.1:0-${GATEWAY_IP.split('/')[0]}:${GATEWAY_HTTP_PORT}`] } }
      : {}),
  });
  return startGateway(config);
}

/** The base URL (`http://127.0.0.1:PORT`) through a gateway's in-process simulator's host forward. */
function hostForwardBase(gateway: Gateway): string {
  const url = gateway.urls[0];
  if (url === undefined) throw new Error('hostfwd: the gateway has no host forward');
  return url.replace(/\/$/, '');
}

/** Why the clients cannot run here, or undefined. */
async function clientsSkipReason(): Promise<string | undefined> {
  if (!(await hasProgram('curl'))) return 'needs curl (run tools/scripts/install-peers.sh)';
  if ((await keepAliveTool()) === undefined)
    return 'needs wrk or ab (apache2-utils) for the keep-alive load (run tools/scripts/install-peers.sh)';
  return undefined;
}

/** Polls `url` with curl until it answers `bytes` bytes, at most 15 s (ARP, the board's handshake). */
async function waitServing(url: string, bytes: number): Promise<void> {
  const deadline = performance.now() + 15_000;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      await curlDownloadMBps(undefined, url, bytes);
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`hostfwd: ${url} does not answer: ${last instanceof Error ? last.message : String(last)}`);
}

// ------------------------------------------------------------------------------------ hostfwd

/** What the `hostfwd` setup built; filled step by step so that teardown can undo a half-done setup. */
interface HostfwdRig {
  www?: string;
  tool?: 'wrk' | 'ab';
  node?: Child;
  nodeBase?: string;
  gateway?: Gateway;
  gatewayBase?: string;
}

let hostfwdRig: HostfwdRig | undefined;
const lastKeepAlive: { postern: KeepAliveResult; node: KeepAliveResult } = {
  postern: { requestsPerSecond: 0, p99Ms: 0, p50Ms: 0, errors: 0 },
  node: { requestsPerSecond: 0, p99Ms: 0, p50Ms: 0, errors: 0 },
};

function hostfwdEnds(): { node: string; postern: string; tool: 'wrk' | 'ab' } {
  const r = hostfwdRig;
  if (r?.nodeBase === undefined || r.gatewayBase === undefined || r.tool === undefined)
    throw new Error('hostfwd: sampled before setup');
  return { node: r.nodeBase, postern: r.gatewayBase, tool: r.tool };
}

async function keepAliveSample(which: 'postern' | 'node', budgetMs: number): Promise<number> {
  const e = hostfwdEnds();
  const r = await keepAliveLoad(undefined, `${e[which]}${SMALL}`, budgetMs / 1000, e.tool);
  lastKeepAlive[which] = r;
  return r.requestsPerSecond;
}

const SIM_LABEL = 'Postern via sim hostfwd (in-process)';
const NODE_LABEL = 'Node http on loopback';

/**
 * The gateway with `--nic sim` in this process, reached through the simulator's host forward on
 * 127.0.0.1: curl bulk download and wrk keep-alive, beside Node's own `http` on loopback.
 */
export const hostfwdBenchmark: Benchmark = {
  name: 'hostfwd',
  description:
    'postern-gateway --nic sim --www in this process, curl and wrk on 127.0.0.1 through the simulator host forward (board, serial stream, driver, stack, HTTP), beside Node http on loopback',
  sampleMs: HOSTFWD_SAMPLE_MS,
  maxSamples: HOSTFWD_MAX_SAMPLES,
  skipReason: clientsSkipReason,
  async setup(): Promise<void> {
    const r: HostfwdRig = {};
    hostfwdRig = r;
    r.tool = await keepAliveTool();
    r.www = makeWww();
    const node = await startNodeLoopback(r.www);
    r.node = node.server;
    r.nodeBase = `http://127.0.0.1:${node.port}`;
    r.gateway = await startGatewayOn('sim', r.www);
    r.gatewayBase = hostForwardBase(r.gateway);
    await waitServing(`${r.gatewayBase}${SMALL}`, SMALL_BODY.length);
  },
  async teardown(): Promise<void> {
    const r = hostfwdRig;
    hostfwdRig = undefined;
    if (r === undefined) return;
    try {
      await stopChild(r.node);
      await r.gateway?.close();
    } finally {
      if (r.www !== undefined) rmSync(r.www, { recursive: true, force: true });
    }
  },
  figures(): Figure[] {
    const companions: Companion[] = [
      {
        name: `${SIM_LABEL}: keep-alive p99 latency`,
        unit: 'ms',
        read: () => lastKeepAlive.postern.p99Ms,
        readReference: () => lastKeepAlive.node.p99Ms,
      },
      {
        name: `${SIM_LABEL}: keep-alive errors`,
        unit: 'errors',
        read: () => lastKeepAlive.postern.errors,
        readReference: () => lastKeepAlive.node.errors,
        target: { atMost: 0 },
      },
    ];
    return [
      {
        name: `${SIM_LABEL}: bulk 64 MiB (curl)`,
        unit: 'MB/s',
        sample: () => curlDownloadMBps(undefined, `${hostfwdEnds().postern}${BIG}`, HOSTFWD_BIG_BYTES),
        reference: {
          name: `${NODE_LABEL}: bulk 64 MiB (curl)`,
          sample: () => curlDownloadMBps(undefined, `${hostfwdEnds().node}${BIG}`, HOSTFWD_BIG_BYTES),
        },
      },
      {
        name: `${SIM_LABEL}: keep-alive small, 32 connections (wrk -t1)`,
        unit: 'req/s',
        sample: (ms) => keepAliveSample('postern', ms),
        reference: { name: `${NODE_LABEL}: keep-alive small`, sample: (ms) => keepAliveSample('node', ms) },
        companions,
      },
    ];
  },
};

// ----------------------------------------------------------------------------- hostfwd-serial

/** What the `hostfwd-serial` setup built (for teardown, whatever step it reached). */
interface SerialRig {
  www?: string;
  node?: Child;
  nodeBase?: string;
  pacedSim?: SimProcess;
  pacedGateway?: Gateway;
  pacedBase?: string;
  unpacedSim?: SimProcess;
  unpacedGateway?: Gateway;
  unpacedBase?: string;
}

let serialRig: SerialRig | undefined;

function serialEnds(): { node: string; paced: string; unpaced: string } {
  const r = serialRig;
  if (r?.nodeBase === undefined || r.pacedBase === undefined || r.unpacedBase === undefined)
    throw new Error('hostfwd-serial: sampled before setup');
  return { node: r.nodeBase, paced: r.pacedBase, unpaced: r.unpacedBase };
}

/**
 * A simulator process on `socket://127.0.0.1:0` (paced when `lineRate` is given) with a host
 * forward of its own, and the gateway in this process on that socket; resolves with the forward's
 * base URL once the gateway answers through it.
 */
async function startSerialPath(r: SerialRig, www: string, lineRate: number | undefined): Promise<string> {
  const sim = await startSimProcess(lineRate);
  if (lineRate === undefined) r.unpacedSim = sim;
  else r.pacedSim = sim;
  const gateway = await startGatewayOn(sim.serial, www);
  if (lineRate === undefined) r.unpacedGateway = gateway;
  else r.pacedGateway = gateway;
  await waitServing(`${sim.base}${SMALL}`, SMALL_BODY.length);
  return sim.base;
}

const PACED_LABEL = `Postern via serial socket (sim process), paced ${SERIAL_HTTP_LINE_RATE / 1e6} MB/s`;
const UNPACED_LABEL = 'Postern via serial socket (sim process), unpaced';
const pacedShare = (mbps: number): number => (100 * mbps * 1e6) / SERIAL_HTTP_LINE_RATE;

/**
 * The bulk download over the serial device path: `postern-sim` in another process on a loopback
 * socket, the gateway in this process on `--nic socket://...`, curl through the simulator's host
 * forward. Paced to {@link SERIAL_HTTP_LINE_RATE} (goodput and its share of the line rate) and unpaced.
 */
export const hostfwdSerialBenchmark: Benchmark = {
  name: 'hostfwd-serial',
  description: `curl through postern-sim's host forward (another process, --serial socket://) to the gateway in this process (--nic socket://): goodput paced to ${SERIAL_HTTP_LINE_RATE / 1e6} MB/s as a share of the line rate, and unpaced beside Node http on loopback`,
  sampleMs: HOSTFWD_SAMPLE_MS,
  maxSamples: HOSTFWD_MAX_SAMPLES,
  async skipReason(): Promise<string | undefined> {
    if (!(await hasProgram('curl'))) return 'needs curl (run tools/scripts/install-peers.sh)';
    const tsx = spawnSync(process.execPath, ['--import', 'tsx', '-e', ''], {
      stdio: 'ignore',
      cwd: dirname(simulatorBin()),
    });
    return tsx.status === 0 ? undefined : 'needs tsx to run postern-sim';
  },
  async setup(): Promise<void> {
    const r: SerialRig = {};
    serialRig = r;
    r.www = makeWww();
    const node = await startNodeLoopback(r.www);
    r.node = node.server;
    r.nodeBase = `http://127.0.0.1:${node.port}`;
    r.pacedBase = await startSerialPath(r, r.www, SERIAL_HTTP_LINE_RATE);
    r.unpacedBase = await startSerialPath(r, r.www, undefined);
  },
  async teardown(): Promise<void> {
    const r = serialRig;
    serialRig = undefined;
    if (r === undefined) return;
    try {
      await stopChild(r.node);
      await r.pacedGateway?.close();
      await r.unpacedGateway?.close();
      await stopChild(r.pacedSim?.child);
      await stopChild(r.unpacedSim?.child);
    } finally {
      if (r.www !== undefined) rmSync(r.www, { recursive: true, force: true });
    }
  },
  figures(): Figure[] {
    const share: Companion = { name: `${PACED_LABEL}: share of line rate`, unit: '%', read: pacedShare };
    return [
      {
        name: `${PACED_LABEL}: goodput 2 MiB (curl)`,
        unit: 'MB/s',
        sample: () => curlDownloadMBps(undefined, `${serialEnds().paced}${PACED}`, PACED_BYTES),
        companions: [share],
      },
      {
        name: `${UNPACED_LABEL}: bulk 64 MiB (curl)`,
        unit: 'MB/s',
        sample: () => curlDownloadMBps(undefined, `${serialEnds().unpaced}${BIG}`, HOSTFWD_BIG_BYTES),
        reference: {
          name: `${NODE_LABEL}: bulk 64 MiB (curl)`,
          sample: () => curlDownloadMBps(undefined, `${serialEnds().node}${BIG}`, HOSTFWD_BIG_BYTES),
        },
      },
    ];
  },
};
