/**
 * HTTP servers side by side, with the same kernel clients, each figure beside a reference measured
 * in the same run (samples alternated):
 *
 * | benchmark | figure (server) | reference |
 * |---|---|---|
 * | `http-compare-node` | Node `http` across a veth pair (client and server in two namespaces) | Node `http` on the server namespace's loopback |
 * | `http-compare-lwip` | lwIP 2.1.3 in C (Debian liblwip-dev, raw API, TAP netif, PBUF_RAM shim) over TAP | Node `http` on loopback |
 * | `http-compare-postern` | Postern (TapNicDriver + NetDevice + Stack + TCP + sockets' `net` face + `@postern/http`) over TAP | lwIP over TAP (Node `http` on loopback when lwIP cannot be built) |
 *
 * Each benchmark has three figures, the clients running in a namespace the benchmark made:
 * - `bulk 64 MiB (curl)`: MB/s from curl's `%{speed_download}`, one download per sample, after
 *   `BULK_WARMUP_DOWNLOADS` (http-clients.ts) downloads not measured (every server, before its first sample);
 * - `keep-alive small (wrk -t1 -c32)`: req/s for one sample's duration (3 s), with the 99th
 *   percentile latency and the error count as companions (`ab -k -c 32` when wrk is missing);
 * - `short connections one at a time`: HTTP/1.0 connections answered per second by a loop that
 *   makes one at a time (python3), with the connections that stalled over 1 s and the ones that
 *   failed as companions (Postern's stalls have the target 0). Measured in steady state: before its
 *   first short-connection sample, every server answers the same warm-up of
 *   {@link SHORT_WARMUP_CONNECTIONS} connections made by the same loop (bounded by
 *   {@link SHORT_WARMUP_BUDGET_MS}; a companion row shows how many it answered), because a freshly
 *   started Node server pays several times its steady per-connection CPU for its first few thousand
 *   connections (JIT tiers, heap growth), a start-up cost that a server running for hours does not pay.
 *
 * `http-compare-gateway` measures the shipped `postern-gateway` the same way, beside lwIP and Node
 * `http` across a veth, adds a keep-alive row whose requests all differ (wrk with
 * {@link VARYING_REQUESTS_LUA}: a query string and header values that change per request, so the
 * general request path is measured, not only the shortcuts for repeated identical heads), and sets it
 * beside the bare Node TAP ceiling (`tap-reflector.ts`: the gateway's TAP
 * driver setup answering each request frame with one canned frame, no stack), the measurement of
 * what Node itself costs on a TAP device. When a Mongoose source tree is at hand
 * (`POSTERN_MONGOOSE_SRC`, see `tools/bench/mongoose/source.sh`), it also measures Mongoose (C, its
 * built-in TCP/IP stack, on a TAP device set up as lwIP's) beside lwIP, and the gateway's short
 * connections beside Mongoose's: the issue's short-connection target is a ratio to Mongoose. Without
 * one those rows are left out and setup says why in one line on stderr.
 *
 * Network safety: servers and clients live in namespaces the benchmark makes (addresses from
 * 198.18.0.0/15) or on their loopback; every client is bounded in time; teardown kills the server
 * processes it started and deletes the namespaces and devices. Needs root, curl, python3 and wrk
 * or ab; the lwIP reference also needs gcc and liblwip-dev (built at bench time, not at install).
 */
import { NetLab, hasRoot, netlabSkipReason } from '@postern/netlab';
import type { Benchmark, Companion, Figure } from './harness.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SHORT_WARMUP_BUDGET_MS,
  SHORT_WARMUP_CONNECTIONS,
  STALL_MS,
  VARYING_REQUESTS_LUA,
  connectionsPerSecond,
  curlDownloadMBps,
  warmUpDownloads,
  hasProgram,
  keepAliveLoad,
  keepAliveTool,
  pingAverageMs,
  runIn,
  shortConnections,
  type KeepAliveResult,
  type ShortConnectionsResult,
} from './http-clients.js';
import {
  BIG_BODY_BYTES,
  BIG_PATH,
  SMALL_BODY,
  SMALL_FILE_BYTES,
  SMALL_FILE_PATH,
  SMALL_PATH,
  buildGatewayBin,
  buildLwipServer,
  cpuSeconds,
  kernelSide,
  lwipSkipReason,
  findMongooseSource,
  buildMongooseServer,
  makeWwwDir,
  removeLwipBuild,
  removeMongooseBuild,
  startMongooseServer,
  startGatewayBinary,
  startLwipServer,
  startNodeServer,
  startPosternServer,
  rawAnswer,
  startTapEcho,
  startTapReflector,
  stopChild,
  type ChildServer,
  type LwipBuild,
  type MongooseBuild,
  type MongooseSource,
  type PosternServer,
} from './http-servers.js';
import {
  NO_PLACEMENT,
  PlacementPoller,
  keepAliveDetail,
  loadAverage,
  perfStat,
  readTasks,
  threadsDelta,
  type PerfCounts,
} from './sample-instruments.js';
import { allowedCpus, pinPlan, pinProcess, type PinPlan, type Pinned } from './cpu-pinning.js';

/** Wall time of one keep-alive sample (wrk's `-d`), and the budget of one short-connection sample. */
export const HTTP_COMPARE_SAMPLE_MS = 3000;
/** Samples per figure and per reference (after one warm-up each). */
export const HTTP_COMPARE_MAX_SAMPLES = 5;
/** The short-connection loop stops after this much of the sample budget. */
const SHORT_BUDGET_MS = 2000;

/** The servers measured. */
export type ServerKey =
  'node-loopback' | 'node-veth' | 'lwip' | 'mongoose' | 'postern' | 'gateway' | 'echo' | 'reflector' | 'reflector-fs';

/** Every server key, in a fixed order. */
const SERVER_KEYS: readonly ServerKey[] = [
  'node-loopback',
  'node-veth',
  'lwip',
  'mongoose',
  'postern',
  'gateway',
  'echo',
  'reflector',
  'reflector-fs',
];

const LABELS: Record<ServerKey, string> = {
  'node-loopback': 'Node http on loopback',
  'node-veth': 'Node http across veth',
  lwip: 'lwIP (C) over TAP',
  // Named with the version of the sources found (set by the gateway benchmark's figures()).
  mongoose: 'Mongoose (C, built-in TCP/IP) over TAP',
  postern: 'Postern over TAP',
  gateway: 'postern-gateway (shipped bin) over TAP',
  echo: 'bare Node TAP echo (TapNicDriver only, no stack)',
  reflector: 'bare Node TAP ceiling (TapNicDriver + TCP reflector, no stack)',
  'reflector-fs': 'bare Node TAP ceiling on blocking fs calls (readSync/writeSync, no event loop)',
};

// Addresses (198.18.0.0/15 only). Server namespace: Node http on 0.0.0.0:80, veth end .20.1.
// Client namespace: veth end .20.2; lwIP's TAP (kernel .21.1, lwIP .21.2); Postern's TAP (kernel .22.1, Postern .22.2).
const VETH_SERVER = '198.18.20.1';
const VETH_CLIENT = '198.18.20.2';
const LWIP_KERNEL = '198.18.21.1';
const LWIP_ADDRESS = '198.18.21.2';
const POSTERN_KERNEL = '198.18.22.1';
const POSTERN_ADDRESS = '198.18.22.2';
const POSTERN_MAC = '02:50:53:54:16:02';
// The shipped gateway's TAP (it creates the device in the client namespace): kernel .23.1, gateway .23.2.
const GATEWAY_KERNEL = '198.18.23.1';
const GATEWAY_ADDRESS = '198.18.23.2';
// The bare TAP echo (ping only): kernel .24.1, echo .24.2.
const ECHO_KERNEL = '198.18.24.1';
const ECHO_ADDRESS = '198.18.24.2';
// The bare Node TAP ceiling (TCP reflector): kernel .25.1, reflector .25.2.
const REFLECTOR_KERNEL = '198.18.25.1';
const REFLECTOR_ADDRESS = '198.18.25.2';
// The same reflector on blocking fs calls: kernel .26.1, reflector .26.2.
const REFLECTOR_FS_KERNEL = '198.18.26.1';
const REFLECTOR_FS_ADDRESS = '198.18.26.2';
// Mongoose (its own TCP/IP stack on a TAP device set up as lwIP's): kernel .27.1, Mongoose .27.2.
const MONGOOSE_KERNEL = '198.18.27.1';
const MONGOOSE_ADDRESS = '198.18.27.2';
/** Wall time of one one-connection sample (`wrk -c1`), seconds. */
const ONE_CONNECTION_S = 2;
const PORT = 80;

/** Where the clients reach a server from. */
interface Endpoint {
  /** The namespace the clients run in. */
  readonly ns: string;
  readonly host: string;
  /**
   * Where the short-connection client gets a fresh source address for each of its loops: `prefix` +
   * a number from {@link FIRST_SOURCE} on, added to `device` (the kernel side facing the server) in
   * `ns` first (no device: addresses that need no adding, e.g. 127.0.0.0/8 on loopback).
   */
  readonly sources?: { readonly device?: string; readonly prefix: string };
}

/**
 * The first host number of the short-connection client's extra source addresses (.1 and .2 are the
 * kernel side and the server). Each short-connection loop (warm-up and samples) connects from its own
 * address, so that no loop meets the TIME-WAIT records an earlier loop left in the server. From one
 * address the kernel's ports repeat soon (28,232 ephemeral ports, picked in no fixed order: 3,000
 * connections from one address reused a port 289 times, measured), and a server that keeps TIME-WAIT
 * for 60 s (the gateway) then finds an old record for a growing share of the SYNs: about 1 - e^(-n /
 * 28,232) after n connections within 60 s, over 60% by the last short row of a run with 29,000
 * connections to the gateway from one address, against a few percent in a fresh 2,000-connection loop (the
 * gateway's `timeWaitReused` counter, `/api/tcp`, counts them). A figure then depended on how many
 * connections the rows before it had made.
 */
const FIRST_SOURCE = 10;
/** The last host number used for source addresses; after it the numbers start again at {@link FIRST_SOURCE}. */
const LAST_SOURCE = 250;

/** What the last samples of a server saw besides the figure (read by companions). */
interface LastReadings {
  keepAlive: KeepAliveResult;
  /** Server CPU seconds per 1,000 requests during the last keep-alive sample (NaN: no process of its own). */
  cpuPer1000: number;
  oneConnection: KeepAliveResult;
  short: ShortConnectionsResult;
  /** Server CPU seconds per connection during the last short-connection sample (NaN: no process of its own). */
  shortCpuPerConnection: number;
  /** The short-connection client's own CPU seconds per connection in that sample. */
  shortClientCpuPerConnection: number;
  /** The short-connection warm-up this server answered before its first short-connection sample. */
  warmup: ShortConnectionsResult | undefined;
  /** True once the server took its keep-alive warm-up ({@link KEEPALIVE_WARMUP_S}). */
  keepAliveWarm: boolean;
  /** True once the server took its bulk warm-up ({@link warmBulk}). */
  bulkWarm: boolean;
  /** Short-connection loops run so far (numbers the next loop's source address). */
  shortLoops: number;
}

function freshReadings(): LastReadings {
  const load = { requestsPerSecond: 0, p99Ms: 0, p50Ms: 0, errors: 0 };
  return {
    keepAlive: load,
    cpuPer1000: Number.NaN,
    oneConnection: load,
    short: { fine: 0, stalled: 0, failed: 0, seconds: 0, worstSeconds: 0, clientCpuSeconds: Number.NaN },
    shortCpuPerConnection: Number.NaN,
    shortClientCpuPerConnection: Number.NaN,
    warmup: undefined,
    keepAliveWarm: false,
    bulkWarm: false,
    shortLoops: 0,
  };
}

/** Everything a setup built; filled step by step so that teardown can undo a half-done setup. */
interface Rig {
  readonly lab: NetLab;
  readonly endpoints: Map<ServerKey, Endpoint>;
  tool?: 'wrk' | 'ab';
  /** Whether `perf` is installed (the keep-alive samples' migration and context-switch counts). */
  perf?: boolean;
  node?: ChildServer;
  lwipBuild?: LwipBuild;
  lwip?: ChildServer;
  mongooseBuild?: MongooseBuild;
  mongoose?: ChildServer;
  /** Why Mongoose could not be built or started: its samples fail with it, the other servers' do not. */
  mongooseError?: unknown;
  postern?: PosternServer;
  gateway?: ChildServer;
  echo?: ChildServer;
  reflector?: ChildServer;
  reflectorFs?: ChildServer;
  /** The directory every server serves from in the gateway comparison ({@link makeWwwDir}). */
  www?: string;
  /** A directory holding {@link VARYING_REQUESTS_LUA} as `varying.lua` (the gateway comparison). */
  scripts?: string;
  /** The small answer's path and size for this rig. */
  smallPath: string;
  smallBytes: number;
}

let rig: Rig | undefined;
/** The Mongoose sources the gateway comparison found when it listed its figures (undefined: not listed yet). */
let mongooseSource: MongooseSource | undefined;
const readings = new Map<ServerKey, LastReadings>();

function readingsOf(key: ServerKey): LastReadings {
  let r = readings.get(key);
  if (r === undefined) {
    r = freshReadings();
    readings.set(key, r);
  }
  return r;
}

function endpoint(key: ServerKey): { ns: string; host: string; tool: 'wrk' | 'ab' } {
  if (key === 'mongoose' && rig?.mongooseError !== undefined) throw rig.mongooseError;
  const e = rig?.endpoints.get(key);
  if (rig?.tool === undefined || e === undefined) throw new Error(`http-compare: ${LABELS[key]} sampled before setup`);
  return { ...e, tool: rig.tool };
}

const url = (host: string, path: string) => `http://${host}:${PORT}${path}`;

async function bulkSample(key: ServerKey): Promise<number> {
  const e = endpoint(key);
  await warmBulk(key);
  return curlDownloadMBps(e.ns, url(e.host, BIG_PATH), BIG_BODY_BYTES);
}

/**
 * Before `key`'s first bulk sample (the harness's discarded one included): the same download,
 * {@link warmUpDownloads} times (bounded in count and time), not measured, once per server and rig; their
 * speeds go to the detail line. Without it the first bulk row measured a server's start-up: the
 * gateway's JIT was still compiling its bulk path.
 */
async function warmBulk(key: ServerKey): Promise<void> {
  const own = readingsOf(key);
  if (own.bulkWarm) return;
  own.bulkWarm = true;
  const e = endpoint(key);
  const speeds = await warmUpDownloads(() => curlDownloadMBps(e.ns, url(e.host, BIG_PATH), BIG_BODY_BYTES));
  sampleDetail(key, `bulk warm-up (not measured) ${speeds.map((v) => Math.round(v)).join(', ')} MB/s`);
}

/** The PID of the process that is `key`'s server (undefined: it runs in this process). */
function serverPid(key: ServerKey): number | undefined {
  switch (key) {
    case 'node-loopback':
    case 'node-veth':
      return rig?.node?.child.pid;
    case 'lwip':
      return rig?.lwip?.child.pid;
    case 'mongoose':
      return rig?.mongoose?.child.pid;
    case 'gateway':
      return rig?.gateway?.child.pid;
    case 'echo':
      return rig?.echo?.child.pid;
    case 'reflector':
      return rig?.reflector?.child.pid;
    case 'reflector-fs':
      return rig?.reflectorFs?.child.pid;
    default:
      return undefined;
  }
}

/**
 * Seconds of keep-alive load (`wrk -c32 /small`, not measured) every server takes before its first
 * keep-alive sample, the harness's discarded warm-up sample included. The shipped gateway's JIT keeps
 * compiling for about 8 s of keep-alive load after start-up (its CPU per request halved between a
 * 2-s and a 10-s warm-up, profiled on the bin at load 5-30), and the harness's own warm-up sample is
 * 3 s: a server that runs for hours is measured, not its start-up. The same for every server.
 */
export const KEEPALIVE_WARMUP_S = 10;

/** Before `key`'s first keep-alive sample: {@link KEEPALIVE_WARMUP_S} of keep-alive load, once per server and rig. */
async function warmKeepAlive(key: ServerKey): Promise<void> {
  const own = readingsOf(key);
  if (own.keepAliveWarm) return;
  own.keepAliveWarm = true;
  const e = endpoint(key);
  await keepAliveLoad(e.ns, url(e.host, rig!.smallPath), KEEPALIVE_WARMUP_S, e.tool);
}

/**
 * One keep-alive sample (32 connections): resolves with req/s and records the server's CPU per 1,000
 * requests. With `varying`, every request differs (wrk runs {@link VARYING_REQUESTS_LUA}). With
 * `pinned`, every thread of the server runs on one CPU and wrk on another for this sample only
 * ({@link pinPlan}; the server is unpinned again afterwards, whatever happened).
 */
async function keepAliveSample(
  key: ServerKey,
  budgetMs: number,
  { varying = false, pinned = false }: { varying?: boolean; pinned?: boolean } = {},
): Promise<number> {
  const e = endpoint(key);
  await warmKeepAlive(key);
  const pid = serverPid(key);
  const script = varying ? varyingScript() : undefined;
  const seconds = Math.max(1, Math.round(budgetMs / 1000));
  let plan: PinPlan | undefined;
  let pin: Pinned | undefined;
  if (pinned) {
    const p = pinPlan(allowedCpus());
    if (typeof p === 'string') throw new Error(`http-compare: pinned sample: ${p}`);
    if (pid === undefined) throw new Error(`http-compare: ${LABELS[key]} has no process of its own to pin`);
    plan = p;
    pin = await pinProcess(pid, p.server);
  }
  try {
    // Instruments (printed in the sample's detail line, not figures): threads, context switches, placement.
    const tasks0 = pid === undefined ? undefined : readTasks(pid);
    const poller = pid === undefined ? undefined : new PlacementPoller(pid);
    let perf: Promise<PerfCounts> | undefined;
    if (pid !== undefined)
      perf = rig?.perf === true ? perfStat(pid, seconds) : Promise.resolve({ skipped: 'perf: not installed' });
    const cpu0 = pid === undefined ? Number.NaN : cpuSeconds(pid);
    let r: KeepAliveResult;
    let placement = NO_PLACEMENT;
    try {
      r = await keepAliveLoad(
        e.ns,
        url(e.host, rig!.smallPath),
        seconds,
        e.tool,
        undefined,
        script,
        (p) => poller?.client(p),
        plan?.client,
      );
    } finally {
      placement = poller?.stop() ?? NO_PLACEMENT;
    }
    const cpu = pid === undefined ? Number.NaN : cpuSeconds(pid) - cpu0;
    const tasks1 = pid === undefined ? undefined : readTasks(pid);
    readingsOf(key).keepAlive = r;
    readingsOf(key).cpuPer1000 = (cpu / (r.requestsPerSecond * seconds)) * 1000;
    if (pid !== undefined) {
      const threads = tasks0 !== undefined && tasks1 !== undefined ? threadsDelta(pid, tasks0, tasks1) : undefined;
      const kind = `${pinned ? 'pinned ' : ''}${varying ? 'keep-alive varying' : 'keep-alive'}`;
      const where =
        plan === undefined
          ? ''
          : ` (server's ${String(pin?.threads)} threads on cpu ${plan.server}, wrk on cpu ${plan.client})`;
      const what = `${kind}${where} ${Math.round(r.requestsPerSecond)} req/s, ${(readingsOf(key).cpuPer1000 * 1000).toFixed(1)} ms CPU/1000`;
      sampleDetail(key, `${what}; ${keepAliveDetail(threads, await perf, placement, r.requestsPerSecond * seconds)}`);
    }
    return r.requestsPerSecond;
  } finally {
    await pin?.unpin();
  }
}

/** Prints one sample's detail line (instruments, not figures) on stderr, with the load average. */
function sampleDetail(key: ServerKey, text: string): void {
  process.stderr.write(`      sample ${key}: ${text}; load ${loadAverage().toFixed(2)}\n`);
}

/** One connection (`wrk -t1 -c1`): resolves with the median latency in microseconds. */
async function oneConnectionSample(key: ServerKey): Promise<number> {
  const e = endpoint(key);
  const r = await keepAliveLoad(e.ns, url(e.host, rig!.smallPath), ONE_CONNECTION_S, e.tool, 1);
  readingsOf(key).oneConnection = r;
  return r.p50Ms * 1000;
}

async function pingSample(key: ServerKey): Promise<number> {
  const e = endpoint(key);
  return pingAverageMs(e.ns, e.host);
}

/** The wrk script of the varying-requests row, written once per rig. */
function varyingScript(): string {
  const r = rig;
  if (r === undefined) throw new Error('http-compare: varying requests sampled before setup');
  r.scripts ??= mkdtempSync(join(tmpdir(), 'postern-wrk-'));
  const file = join(r.scripts, 'varying.lua');
  writeFileSync(file, VARYING_REQUESTS_LUA);
  return file;
}

/**
 * Before `key`'s first short-connection sample (the harness's warm-up sample included): the same
 * loop makes {@link SHORT_WARMUP_CONNECTIONS} connections, so the samples see the server in steady
 * state. Once per server and rig; what it answered is kept for a companion row.
 */
async function warmShortConnections(key: ServerKey): Promise<void> {
  const own = readingsOf(key);
  if (own.warmup !== undefined) return;
  const e = endpoint(key);
  const source = await freshSource(key);
  own.warmup = await shortConnections(
    e.ns,
    e.host,
    PORT,
    rig!.smallPath,
    SHORT_WARMUP_BUDGET_MS,
    SHORT_WARMUP_CONNECTIONS,
    source,
  );
}

/** The source address of `key`'s next short-connection loop ({@link Endpoint.sources}), added to its device if needed. */
async function freshSource(key: ServerKey): Promise<string | undefined> {
  const e = rig?.endpoints.get(key);
  if (e?.sources === undefined) return undefined;
  const own = readingsOf(key);
  const host = FIRST_SOURCE + (own.shortLoops++ % (LAST_SOURCE - FIRST_SOURCE + 1));
  const address = `${e.sources.prefix}${host}`;
  if (e.sources.device !== undefined)
    await runIn(e.ns, 'ip', ['addr', 'replace', `${address}/24`, 'dev', e.sources.device], 10_000);
  return address;
}

/** Longest wait for the other servers to go quiet before a short-connection sample. */
const QUIET_WAIT_MS = 2000;
/** A server is quiet when it used at most this much CPU over {@link QUIET_WINDOW_MS}. */
const QUIET_CPU_S = 0.01;
const QUIET_WINDOW_MS = 200;

/**
 * Waits (at most {@link QUIET_WAIT_MS}) until every other server process used at most
 * {@link QUIET_CPU_S} of CPU in a {@link QUIET_WINDOW_MS} window: what a server does after its own
 * samples (a Node server's GC of a few thousand connections, its timers) should not land in the
 * next server's samples on a 2-core machine. Resolves with the ms waited.
 */
async function quietOthers(pid: number | undefined): Promise<number> {
  const others = otherServers(pid);
  const start = performance.now();
  while (performance.now() - start < QUIET_WAIT_MS) {
    const before = others.map(([, p]) => cpuSecondsOf(p));
    await new Promise((r) => setTimeout(r, QUIET_WINDOW_MS));
    if (others.every(([, p], i) => !(cpuSecondsOf(p) - before[i]! > QUIET_CPU_S))) break;
  }
  return performance.now() - start;
}

async function shortSample(key: ServerKey, budgetMs: number): Promise<number> {
  const e = endpoint(key);
  await warmShortConnections(key);
  const pid = serverPid(key);
  // The other servers' CPU during the sample: work one server does after its own samples (TIME-WAIT
  // expiry, GC) lands in another's samples on a 2-core machine; the detail line shows it.
  const source = await freshSource(key);
  const waited = await quietOthers(pid);
  const others = otherServers(pid);
  const others0 = others.map(([, p]) => cpuSecondsOf(p));
  const cpu0 = cpuSecondsOf(pid);
  const budget = Math.min(budgetMs, SHORT_BUDGET_MS);
  const r = await shortConnections(e.ns, e.host, PORT, rig!.smallPath, budget, undefined, source);
  const cpu = cpuSecondsOf(pid) - cpu0;
  const meanwhile = others
    .map(([k, p], i) => [k, (cpuSecondsOf(p) - others0[i]!) * 1000] as const)
    .filter(([, ms]) => ms > 0)
    .map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`);
  const own = readingsOf(key);
  own.short = r;
  const made = Math.max(1, r.fine + r.stalled + r.failed);
  own.shortCpuPerConnection = cpu / made;
  own.shortClientCpuPerConnection = r.clientCpuSeconds / made;
  sampleDetail(
    key,
    `short ${r.fine + r.stalled} conns in ${r.seconds.toFixed(2)} s (${Math.round(connectionsPerSecond(r))}/s) from ${source ?? 'the default address'}, server ${(own.shortCpuPerConnection * 1e6).toFixed(0)} us CPU/conn, client ${(own.shortClientCpuPerConnection * 1e6).toFixed(0)} us CPU/conn; waited ${waited.toFixed(0)} ms for the other servers to go quiet; their CPU meanwhile: ${meanwhile.join(', ') || 'none'}`,
  );
  return connectionsPerSecond(r);
}

/** The server processes of the rig other than `pid`, one entry per process. */
function otherServers(pid: number | undefined): [ServerKey, number][] {
  const seen = new Set<number>(pid === undefined ? [] : [pid]);
  const list: [ServerKey, number][] = [];
  for (const k of SERVER_KEYS) {
    const p = serverPid(k);
    if (p === undefined || seen.has(p)) continue;
    seen.add(p);
    list.push([k, p]);
  }
  return list;
}

/** CPU seconds `pid` has used (NaN: no process of its own, or gone). */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    return cpuSeconds(pid);
  } catch {
    return Number.NaN;
  }
}

/** Connections a warm-up answered (fine or stalled); 0 before any. */
function warmupAnswered(r: ShortConnectionsResult | undefined): number {
  return r === undefined ? 0 : r.fine + r.stalled;
}

/** The three figures of one server beside one reference server. */
function compareFigures(subject: ServerKey, reference: ServerKey, stallTarget: boolean): Figure[] {
  const own = () => readingsOf(subject);
  const theirs = () => readingsOf(reference);
  const name = LABELS[subject];
  const ref = LABELS[reference];
  const keepAliveCompanions: Companion[] = [
    {
      name: `${name}: keep-alive p99 latency`,
      unit: 'ms',
      read: () => own().keepAlive.p99Ms,
      readReference: () => theirs().keepAlive.p99Ms,
    },
    {
      name: `${name}: keep-alive errors`,
      unit: 'errors',
      read: () => own().keepAlive.errors,
      readReference: () => theirs().keepAlive.errors,
    },
  ];
  const shortCompanions: Companion[] = [
    {
      name: `${name}: short connections stalled > ${STALL_MS / 1000} s`,
      unit: 'conns',
      read: () => own().short.stalled,
      readReference: () => theirs().short.stalled,
      ...(stallTarget ? { target: { atMost: 0 } } : {}),
    },
    {
      name: `${name}: short connections answered`,
      unit: 'conns',
      read: () => own().short.fine + own().short.stalled,
      readReference: () => theirs().short.fine + theirs().short.stalled,
    },
    {
      name: `${name}: short connections failed`,
      unit: 'conns',
      read: () => own().short.failed,
      readReference: () => theirs().short.failed,
      ...(stallTarget ? { target: { atMost: 0 } } : {}),
    },
    {
      name: `${name}: short-connection warm-up answered (of ${SHORT_WARMUP_CONNECTIONS}, before the first sample)`,
      unit: 'conns',
      read: () => warmupAnswered(own().warmup),
      readReference: () => warmupAnswered(theirs().warmup),
    },
    ...(subject === 'postern' ? [] : [shortCpuCompanion(subject, reference)]),
    {
      name: `${name}: short-connection client (python loop) CPU per connection`,
      unit: 'us',
      read: () => own().shortClientCpuPerConnection * 1e6,
      readReference: () => theirs().shortClientCpuPerConnection * 1e6,
    },
  ];
  return [
    {
      name: `${name}: bulk 64 MiB (curl)`,
      unit: 'MB/s',
      sample: () => bulkSample(subject),
      reference: { name: `${ref}: bulk 64 MiB (curl)`, sample: () => bulkSample(reference) },
    },
    {
      name: `${name}: keep-alive small, 32 connections (wrk -t1)`,
      unit: 'req/s',
      sample: (ms) => keepAliveSample(subject, ms),
      reference: { name: `${ref}: keep-alive small`, sample: (ms) => keepAliveSample(reference, ms) },
      companions: keepAliveCompanions,
    },
    {
      name: `${name}: short connections one at a time (HTTP/1.0)`,
      unit: 'conn/s',
      sample: (ms) => shortSample(subject, ms),
      reference: { name: `${ref}: short connections one at a time`, sample: (ms) => shortSample(reference, ms) },
      companions: shortCompanions,
    },
  ];
}

/**
 * The server's CPU per short connection (utime + stime of its process over the sample, divided by
 * the connections made), `subject` beside `reference` (left out for a reference in this process).
 */
function shortCpuCompanion(subject: ServerKey, reference: ServerKey, name = LABELS[subject]): Companion {
  return {
    name: `${name}: server CPU per short connection`,
    unit: 'us',
    read: () => readingsOf(subject).shortCpuPerConnection * 1e6,
    ...(reference === 'postern' ? {} : { readReference: () => readingsOf(reference).shortCpuPerConnection * 1e6 }),
  };
}

/** The short-connection client's source addresses on `device`, in the /24 of `kernelAddress` (its own address there). */
function sourcesOn(device: string, kernelAddress: string): Endpoint['sources'] {
  return { device, prefix: kernelAddress.slice(0, kernelAddress.lastIndexOf('.') + 1) };
}

/** Why the clients or the lab cannot run here, or undefined. */
async function clientsSkipReason(needLwip: boolean): Promise<string | undefined> {
  if (!hasRoot()) return 'needs root (network namespaces, veth pairs and TAP devices)';
  const why = await netlabSkipReason({ needTap: true });
  if (why !== undefined) return why;
  if (!(await hasProgram('curl'))) return 'needs curl (run tools/scripts/install-peers.sh)';
  if (!(await hasProgram('python3'))) return 'needs python3 (the short-connection loop)';
  if ((await keepAliveTool()) === undefined)
    return 'needs wrk or ab (apache2-utils) for the keep-alive load (run tools/scripts/install-peers.sh)';
  return needLwip ? lwipSkipReason() : undefined;
}

/** Polls `host` with curl from `ns` until it answers (ARP, listeners), at most `ms`. */
async function waitServing(key: ServerKey, ms: number): Promise<void> {
  const e = endpoint(key);
  const deadline = performance.now() + ms;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      await curlDownloadMBps(e.ns, url(e.host, rig!.smallPath), rig!.smallBytes);
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(
    `http-compare: ${LABELS[key]} does not answer: ${last instanceof Error ? last.message : String(last)}`,
  );
}

/**
 * Builds the servers `keys` and the namespaces their clients run in. With `files`, every server
 * serves the same directory ({@link makeWwwDir}: `/small`, `/big`), as the shipped gateway does.
 */
async function setupServers(keys: readonly ServerKey[], files = false): Promise<void> {
  const r: Rig = {
    lab: new NetLab(),
    endpoints: new Map(),
    smallPath: SMALL_PATH,
    smallBytes: Buffer.byteLength(SMALL_BODY),
  };
  if (files || keys.includes('gateway')) {
    r.www = makeWwwDir();
    r.smallPath = SMALL_FILE_PATH;
    r.smallBytes = SMALL_FILE_BYTES;
  }
  rig = r;
  readings.clear();
  const tool = await keepAliveTool();
  if (tool === undefined) throw new Error('http-compare: needs wrk or ab');
  r.tool = tool;
  r.perf = await hasProgram('perf');
  const quiet = async (ns: string) => {
    await r.lab.exec(ns, 'sysctl', [
      '-q',
      '-w',
      'net.ipv6.conf.default.disable_ipv6=1',
      'net.ipv6.conf.all.disable_ipv6=1',
    ]);
  };
  const has = (k: ServerKey) => keys.includes(k);
  let serverNs: string | undefined;
  let clientNs: string | undefined;
  if (has('node-loopback') || has('node-veth')) {
    serverNs = await r.lab.namespace();
    await quiet(serverNs);
    r.node = await startNodeServer(serverNs, PORT, r.www);
    r.endpoints.set('node-loopback', { ns: serverNs, host: '127.0.0.1', sources: { prefix: '127.0.0.' } });
  }
  if (
    has('node-veth') ||
    has('lwip') ||
    has('mongoose') ||
    has('postern') ||
    has('gateway') ||
    has('reflector') ||
    has('reflector-fs') ||
    has('echo')
  ) {
    clientNs = await r.lab.namespace();
    await quiet(clientNs);
  }
  if (has('node-veth') && serverNs !== undefined && clientNs !== undefined) {
    const [a, b] = await r.lab.veth();
    await kernelSide(r.lab, a, serverNs, `${VETH_SERVER}/24`);
    await kernelSide(r.lab, b, clientNs, `${VETH_CLIENT}/24`);
    r.endpoints.set('node-veth', { ns: clientNs, host: VETH_SERVER, sources: sourcesOn(b, VETH_CLIENT) });
  }
  if (has('lwip') && clientNs !== undefined) {
    r.lwipBuild = await buildLwipServer();
    const tap = await r.lab.tap();
    await kernelSide(r.lab, tap, clientNs, `${LWIP_KERNEL}/24`);
    r.lwip = await startLwipServer(r.lwipBuild, clientNs, tap, LWIP_ADDRESS, '255.255.255.0', r.www);
    r.endpoints.set('lwip', { ns: clientNs, host: LWIP_ADDRESS, sources: sourcesOn(tap, LWIP_KERNEL) });
  }
  if (has('mongoose') && clientNs !== undefined && r.www !== undefined) {
    await setupMongoose(r, clientNs, r.www);
  }
  if (has('postern') && clientNs !== undefined) {
    const tap = await r.lab.tap();
    r.postern = await startPosternServer(tap, POSTERN_MAC, POSTERN_ADDRESS, 24);
    await kernelSide(r.lab, tap, clientNs, `${POSTERN_KERNEL}/24`);
    r.endpoints.set('postern', { ns: clientNs, host: POSTERN_ADDRESS, sources: sourcesOn(tap, POSTERN_KERNEL) });
  }
  if (has('gateway') && clientNs !== undefined && r.www !== undefined) {
    await buildGatewayBin();
    // A name of our own; the gateway creates the device in the namespace, which takes it along when deleted.
    const tap = `pgw${process.pid % 100_000}`;
    r.gateway = await startGatewayBinary(clientNs, tap, `${GATEWAY_ADDRESS}/24`, r.www, `${GATEWAY_KERNEL}/24`);
    r.endpoints.set('gateway', { ns: clientNs, host: GATEWAY_ADDRESS, sources: sourcesOn(tap, GATEWAY_KERNEL) });
  }
  if ((has('reflector') || has('reflector-fs')) && clientNs !== undefined) {
    // The ceiling sends the gateway's own answers (head and body) when the gateway runs beside it:
    // to HTTP/1.1 (keep-alive) and to HTTP/1.0 (`Connection: close`, sent with its FIN).
    const head = (extra: string) =>
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${r.smallBytes}\r\n${extra}\r\n`;
    let answer: Uint8Array = Buffer.from(head('') + 'x'.repeat(r.smallBytes), 'latin1');
    let closeAnswer: Uint8Array = Buffer.from(head('Connection: close\r\n') + 'x'.repeat(r.smallBytes), 'latin1');
    if (r.gateway !== undefined) {
      await waitServing('gateway', 10_000);
      answer = await rawAnswer(clientNs, url(GATEWAY_ADDRESS, r.smallPath));
      closeAnswer = await rawAnswer(clientNs, url(GATEWAY_ADDRESS, r.smallPath), true);
    }
    const ns = clientNs;
    // One ceiling on a TAP of its own (`prefix` + our PID; kernel side `kernelAddress`/24), reached from the client namespace.
    const startCeiling = async (
      kind: 'reflector' | 'reflector-fs',
      prefix: string,
      address: string,
      kernelAddress: string,
      io: 'driver' | 'fs',
    ): Promise<ChildServer> => {
      const tap = `${prefix}${process.pid % 100_000}`;
      const server = await startTapReflector(ns, tap, address, `${kernelAddress}/24`, answer, io, closeAnswer);
      r.endpoints.set(kind, { ns, host: address, sources: sourcesOn(tap, kernelAddress) });
      return server;
    };
    if (has('reflector'))
      r.reflector = await startCeiling('reflector', 'prf', REFLECTOR_ADDRESS, REFLECTOR_KERNEL, 'driver');
    if (has('reflector-fs'))
      r.reflectorFs = await startCeiling('reflector-fs', 'prs', REFLECTOR_FS_ADDRESS, REFLECTOR_FS_KERNEL, 'fs');
  }
  if (has('echo') && clientNs !== undefined) {
    r.echo = await startTapEcho(clientNs, `pec${process.pid % 100_000}`, ECHO_ADDRESS, `${ECHO_KERNEL}/24`);
    r.endpoints.set('echo', { ns: clientNs, host: ECHO_ADDRESS });
  }
  for (const k of keys) if (k !== 'echo' && k !== 'mongoose') await waitServing(k, 10_000);
}

/**
 * Builds and starts Mongoose on a TAP device of its own, set up exactly as lwIP's (`lab.tap()`, moved
 * into the client namespace, kernel side .27.1/24, MTU 1500, no offloads), serving `www`, and checks
 * its answers before anything is measured ({@link checkMongooseAnswers}). A failure here does not
 * fail the other servers: it is kept, and every Mongoose sample fails with it.
 */
async function setupMongoose(r: Rig, ns: string, www: string): Promise<void> {
  try {
    const source = mongooseSource ?? findMongooseSource();
    if (source.dir === undefined) throw new Error(`Mongoose: ${source.missing}`);
    r.mongooseBuild = await buildMongooseServer(source);
    const tap = await r.lab.tap();
    await kernelSide(r.lab, tap, ns, `${MONGOOSE_KERNEL}/24`);
    r.mongoose = await startMongooseServer(r.mongooseBuild, ns, tap, MONGOOSE_ADDRESS, '255.255.255.0', www);
    r.endpoints.set('mongoose', { ns, host: MONGOOSE_ADDRESS, sources: sourcesOn(tap, MONGOOSE_KERNEL) });
    await waitServing('mongoose', 10_000);
    await checkMongooseAnswers(ns, www);
  } catch (e) {
    r.mongooseError = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`http-compare-gateway: Mongoose rows fail: ${(r.mongooseError as Error).message}\n`);
  }
}

/**
 * Mongoose must answer `/small` and `/big` with exactly the bytes of `www` (what lwIP and the gateway
 * send), HTTP/1.1 keep-alive and HTTP/1.0 closed by the server alike, before it is measured.
 */
async function checkMongooseAnswers(ns: string, www: string): Promise<void> {
  const small = readFileSync(join(www, 'small'));
  const dir = mkdtempSync(join(tmpdir(), 'postern-mongoose-check-'));
  try {
    const smallOut = join(dir, 'small');
    const bigOut = join(dir, 'big');
    const base = url(MONGOOSE_ADDRESS, '');
    const r = await runIn(
      ns,
      'curl',
      ['-sS', '--max-time', '20', '-o', smallOut, `${base}${SMALL_FILE_PATH}`, '-o', bigOut, `${base}${BIG_PATH}`],
      30_000,
    );
    if (r.code !== 0) throw new Error(`Mongoose check: curl exit ${String(r.code)}: ${r.stderr.trim()}`);
    if (!readFileSync(smallOut).equals(small))
      throw new Error(`Mongoose check: ${SMALL_FILE_PATH} differs from ${www}/small`);
    if (!readFileSync(bigOut).equals(readFileSync(join(www, 'big'))))
      throw new Error(`Mongoose check: ${BIG_PATH} differs from ${www}/big`);
    const http10 = await runIn(ns, 'curl', ['-sS', '-0', '--max-time', '5', '-i', `${base}${SMALL_FILE_PATH}`], 10_000);
    if (
      http10.code !== 0 ||
      !http10.stdout.includes('Connection: close') ||
      !http10.stdout.endsWith(small.toString('latin1'))
    )
      throw new Error(`Mongoose check: the HTTP/1.0 answer is not the small file with Connection: close`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function teardownServers(): Promise<void> {
  const r = rig;
  rig = undefined;
  if (r === undefined) return;
  try {
    await stopChild(r.lwip);
    await stopChild(r.mongoose);
    await stopChild(r.node);
    await stopChild(r.gateway);
    await stopChild(r.echo);
    await stopChild(r.reflector);
    await stopChild(r.reflectorFs);
    await r.postern?.close().catch(() => undefined);
  } finally {
    await r.lab.cleanup();
    removeLwipBuild(r.lwipBuild);
    removeMongooseBuild(r.mongooseBuild);
    if (r.www !== undefined) rmSync(r.www, { recursive: true, force: true });
    if (r.scripts !== undefined) rmSync(r.scripts, { recursive: true, force: true });
  }
}

/** Builds one side-by-side benchmark of `subject` against `reference`. */
function compareBenchmark(
  name: string,
  description: string,
  subject: ServerKey,
  reference: () => ServerKey,
  stallTarget: boolean,
): Benchmark {
  const needLwip = () => subject === 'lwip' || reference() === 'lwip';
  return {
    name,
    description,
    sampleMs: HTTP_COMPARE_SAMPLE_MS,
    maxSamples: HTTP_COMPARE_MAX_SAMPLES,
    figures: () => compareFigures(subject, reference(), stallTarget),
    skipReason: () => clientsSkipReason(needLwip()),
    setup: () => setupServers([subject, reference()]),
    teardown: teardownServers,
  };
}

/** Node's `http` across a veth pair beside the same server on its namespace's loopback. */
export const httpCompareNodeBenchmark = compareBenchmark(
  'http-compare-node',
  'Node http (child process in a namespace) across a veth pair from another namespace, beside the same server on its loopback: curl 64 MiB, wrk keep-alive, short HTTP/1.0 connections',
  'node-veth',
  () => 'node-loopback',
  false,
);

/** The lwIP reference over TAP beside Node's `http` on loopback. */
export const httpCompareLwipBenchmark = compareBenchmark(
  'http-compare-lwip',
  'lwIP 2.1.3 in C (Debian liblwip-dev, raw API, TAP netif; PBUF_POOL->PBUF_RAM preload shim) over TAP, beside Node http on loopback: same clients',
  'lwip',
  () => 'node-loopback',
  false,
);

/** Postern's HTTP server on its own stack over TAP beside the lwIP reference (or Node on loopback). */
export const httpComparePosternBenchmark = compareBenchmark(
  'http-compare-postern',
  'Postern (TapNicDriver, Stack, TCP, socket net face, @postern/http) over TAP, beside lwIP over TAP (Node http on loopback without gcc/liblwip-dev): same clients',
  'postern',
  () => (lwipSkipReason() === undefined ? 'lwip' : 'node-loopback'),
  true,
);

/**
 * The figures of the gateway comparison for `subject` beside `reference`: bulk and keep-alive as in
 * {@link compareFigures}, the server's CPU per 1,000 keep-alive requests (from /proc/PID/stat), one
 * connection's median latency (p99 beside it) and the ping round trip. Short connections are
 * measured separately, last (see {@link httpCompareGatewayBenchmark}).
 */
function gatewayFigures(subject: ServerKey, reference: ServerKey, keepAliveSamples?: number): Figure[] {
  const [bulk, keepAlive] = compareFigures(subject, reference, subject === 'gateway');
  const own = () => readingsOf(subject);
  const theirs = () => readingsOf(reference);
  const name = LABELS[subject];
  const ref = LABELS[reference];
  const cpu = cpuCompanion(subject, reference);
  return [
    bulk!,
    {
      ...keepAlive!,
      ...(keepAliveSamples === undefined ? {} : { samples: keepAliveSamples }),
      companions: [...(keepAlive!.companions ?? []), cpu],
    },
    {
      name: `${name}: one connection (wrk -c1), median latency`,
      unit: 'us',
      sample: () => oneConnectionSample(subject),
      reference: { name: `${ref}: one connection, median latency`, sample: () => oneConnectionSample(reference) },
      companions: [
        {
          name: `${name}: one connection, p99 latency`,
          unit: 'us',
          read: () => own().oneConnection.p99Ms * 1000,
          readReference: () => theirs().oneConnection.p99Ms * 1000,
        },
        {
          name: `${name}: one connection, req/s`,
          unit: 'req/s',
          read: () => own().oneConnection.requestsPerSecond,
          readReference: () => theirs().oneConnection.requestsPerSecond,
        },
      ],
    },
    {
      name: `${name}: ping round trip (average of 25)`,
      unit: 'ms',
      sample: () => pingSample(subject),
      reference: { name: `${ref}: ping round trip`, sample: () => pingSample(reference) },
    },
  ];
}

/**
 * The keep-alive row whose requests all differ ({@link VARYING_REQUESTS_LUA}: query string and header
 * values per request), `subject` beside `reference`: req/s, the server's CPU per 1,000 requests and
 * the errors (a non-2xx answer counts, so a server that refuses the query shows here).
 */
function varyingFigure(subject: ServerKey, reference: ServerKey): Figure {
  const name = LABELS[subject];
  return {
    name: `${name}: keep-alive varying requests (query + headers differ per request), 32 connections (wrk -t1 -s)`,
    unit: 'req/s',
    samples: KEEPALIVE_SAMPLES,
    sample: (ms) => keepAliveSample(subject, ms, { varying: true }),
    reference: {
      name: `${LABELS[reference]}: keep-alive varying requests`,
      sample: (ms) => keepAliveSample(reference, ms, { varying: true }),
    },
    companions: [
      {
        name: `${name}: keep-alive varying requests errors`,
        unit: 'errors',
        read: () => readingsOf(subject).keepAlive.errors,
        readReference: () => readingsOf(reference).keepAlive.errors,
      },
      cpuCompanion(subject, reference, name, 'varying keep-alive requests'),
    ],
  };
}

/** The server's CPU per 1,000 keep-alive requests of `subject`, beside `reference`'s. */
function cpuCompanion(
  subject: ServerKey,
  reference: ServerKey,
  name = LABELS[subject],
  requests = 'keep-alive requests',
): Companion {
  return {
    name: `${name}: server CPU per 1,000 ${requests}`,
    unit: 'ms',
    read: () => readingsOf(subject).cpuPer1000 * 1000,
    readReference: () => readingsOf(reference).cpuPer1000 * 1000,
  };
}

/**
 * The ceiling of Node itself on a TAP device, same run: the bare Node TAP ceiling
 * (`tap-reflector.ts`, the gateway's driver and scheduler setup answering each request frame with
 * one canned frame, and `GET /big` with a window-limited sender) beside lwIP, then the gateway as a
 * share of it (the ratio column: gateway / ceiling) with both CPU costs per 1,000 requests; and the
 * same reflector on blocking `readSync`/`writeSync` calls beside it (what the event loop and the
 * driver add to the two system calls per request).
 */
function ceilingFigures(): Figure[] {
  const ceiling = LABELS.reflector;
  const gateway = LABELS.gateway;
  return [
    {
      name: `${ceiling}: keep-alive small, 32 connections (wrk -t1)`,
      unit: 'req/s',
      samples: KEEPALIVE_SAMPLES,
      sample: (ms) => keepAliveSample('reflector', ms),
      reference: { name: `${LABELS.lwip}: keep-alive small`, sample: (ms) => keepAliveSample('lwip', ms) },
      companions: [cpuCompanion('reflector', 'lwip')],
    },
    {
      name: `${gateway}: keep-alive, share of the bare Node TAP ceiling`,
      unit: 'req/s',
      samples: KEEPALIVE_SAMPLES,
      sample: (ms) => keepAliveSample('gateway', ms),
      reference: { name: `${ceiling}: keep-alive small`, sample: (ms) => keepAliveSample('reflector', ms) },
      companions: [cpuCompanion('gateway', 'reflector', `${gateway} beside the ceiling`)],
    },
    {
      name: `${LABELS['reflector-fs']}: keep-alive small, 32 connections (wrk -t1)`,
      unit: 'req/s',
      sample: (ms) => keepAliveSample('reflector-fs', ms),
      reference: { name: `${ceiling}: keep-alive small`, sample: (ms) => keepAliveSample('reflector', ms) },
      companions: [cpuCompanion('reflector-fs', 'reflector')],
    },
    {
      name: `${ceiling}: bulk 64 MiB (curl)`,
      unit: 'MB/s',
      sample: () => bulkSample('reflector'),
      reference: { name: `${LABELS.lwip}: bulk 64 MiB (curl)`, sample: () => bulkSample('lwip') },
    },
    {
      // One 1,514-byte frame per writeSync, whatever the driver does (TSO): the plain-frame bulk ceiling.
      name: `${LABELS['reflector-fs']}: bulk 64 MiB (curl)`,
      unit: 'MB/s',
      sample: () => bulkSample('reflector-fs'),
      reference: { name: `${ceiling}: bulk 64 MiB (curl)`, sample: () => bulkSample('reflector') },
    },
    {
      name: `${gateway}: bulk, share of the bare Node TAP ceiling`,
      unit: 'MB/s',
      sample: () => bulkSample('gateway'),
      reference: { name: `${ceiling}: bulk 64 MiB (curl)`, sample: () => bulkSample('reflector') },
    },
  ];
}

/** Samples per figure of the gateway comparison (after one warm-up each), keep-alive rows apart. */
export const HTTP_COMPARE_GATEWAY_SAMPLES = 3;

/**
 * Samples of the gateway comparison's keep-alive rows that set a server of the issue (the gateway,
 * lwIP, Mongoose, the bare Node TAP ceiling) beside another, pinned or not, small or varying: one
 * keep-alive sample of any of them (unpinned) lands in a slow mode now and then (2 of 8 in a run of
 * the lead's, each operation ~50% slower, same system calls per request: where the kernel places
 * the server and wrk), so the median of 3 could be a slow one; of 5, it takes three slow ones.
 */
export const KEEPALIVE_SAMPLES = 5;

/**
 * `subject`'s keep-alive beside `reference`'s with each side on a CPU of its own for every sample
 * (see {@link keepAliveSample}: all the server's threads on one CPU, wrk on another): req/s with the
 * p99 latency, the errors and the server's CPU per 1,000 requests. Skipped, with the reason, where
 * taskset is missing or this process may use one CPU only.
 */
function pinnedFigure(subject: ServerKey, reference: ServerKey): Figure {
  const name = `${LABELS[subject]}: keep-alive small, 32 connections, PINNED (server on one CPU, wrk on another), beside ${LABELS[reference]}`;
  const ref = `${LABELS[reference]}: keep-alive small, pinned`;
  const short = `${LABELS[subject]} pinned beside ${LABELS[reference]}`;
  return {
    name,
    unit: 'req/s',
    samples: KEEPALIVE_SAMPLES,
    skipReason: pinSkipReason,
    sample: (ms) => keepAliveSample(subject, ms, { pinned: true }),
    reference: { name: ref, sample: (ms) => keepAliveSample(reference, ms, { pinned: true }) },
    companions: [
      {
        name: `${short}: keep-alive p99 latency`,
        unit: 'ms',
        read: () => readingsOf(subject).keepAlive.p99Ms,
        readReference: () => readingsOf(reference).keepAlive.p99Ms,
      },
      {
        name: `${short}: keep-alive errors`,
        unit: 'errors',
        read: () => readingsOf(subject).keepAlive.errors,
        readReference: () => readingsOf(reference).keepAlive.errors,
      },
      cpuCompanion(subject, reference, short),
    ],
  };
}

/** Why the pinned rows cannot run here (no taskset, one CPU), or undefined. */
async function pinSkipReason(): Promise<string | undefined> {
  if (!(await hasProgram('taskset'))) return 'needs taskset (util-linux) for the pinned rows';
  const plan = pinPlan(allowedCpus());
  return typeof plan === 'string' ? plan : undefined;
}

/**
 * The product as users run it: the shipped `postern-gateway` executable (its own process,
 * `--nic tap:`, `--www` with `/small` of 98 bytes and `/big` of 64 MiB) beside lwIP in C serving
 * the same bytes on the same TAP setup, and Node `http` across a veth pair beside the same lwIP:
 * same clients, same run, samples alternated.
 */
export const httpCompareGatewayBenchmark: Benchmark = {
  name: 'http-compare-gateway',
  description:
    'The shipped postern-gateway (bin, own process, --nic tap:, --www) beside lwIP in C over TAP and Node http across veth, serving the same files: bulk, keep-alive (+ server CPU), keep-alive with requests that differ per request, keep-alive pinned (server on one CPU, wrk on another), one connection, short connections after a 10,000-connection warm-up (each loop from a fresh client address), ping; beside the bare Node TAP ceiling (the same TAP driver setup reflecting canned answers, no stack); and, with POSTERN_MONGOOSE_SRC, Mongoose in C (built-in TCP/IP) over TAP beside lwIP and as the reference of the short connections of the gateway',
  sampleMs: HTTP_COMPARE_SAMPLE_MS,
  maxSamples: HTTP_COMPARE_GATEWAY_SAMPLES,
  // Short connections last: the servers close first, so each keeps thousands of connections in
  // TIME-WAIT afterwards, which the other figures should not see.
  figures: () => {
    mongooseSource = findMongooseSource();
    if (mongooseSource.dir !== undefined)
      LABELS.mongoose = `Mongoose ${mongooseSource.version} (C, built-in TCP/IP) over TAP`;
    return gatewayBenchmarkFigures(mongooseSource.dir !== undefined);
  },
  skipReason: () => clientsSkipReason(true),
  setup: () => {
    const source = mongooseSource ?? findMongooseSource();
    if (source.dir === undefined)
      process.stderr.write(`http-compare-gateway: Mongoose rows left out: ${source.missing}\n`);
    const mongoose: ServerKey[] = source.dir === undefined ? [] : ['mongoose'];
    return setupServers(['gateway', 'lwip', 'node-veth', 'echo', 'reflector', 'reflector-fs', ...mongoose], true);
  },
  teardown: teardownServers,
};

/**
 * The figures of the gateway comparison, in the order they run; `withMongoose` adds Mongoose beside
 * lwIP (bulk, keep-alive with CPU, one connection, ping, short connections) and the gateway's short
 * connections beside Mongoose's.
 */
function gatewayBenchmarkFigures(withMongoose: boolean): Figure[] {
  return [
    ...gatewayFigures('gateway', 'lwip', KEEPALIVE_SAMPLES),
    varyingFigure('gateway', 'lwip'),
    // The stable comparison: the same keep-alive load with each side on a CPU of its own.
    pinnedFigure('gateway', 'lwip'),
    ...(withMongoose ? [pinnedFigure('gateway', 'mongoose')] : []),
    {
      // The floor under the gateway's ping: Node's event loop and the TAP descriptor, no protocol work.
      name: `${LABELS.echo}: ping round trip (average of 25)`,
      unit: 'ms',
      sample: () => pingSample('echo'),
      reference: { name: `${LABELS.lwip}: ping round trip`, sample: () => pingSample('lwip') },
    },
    ...ceilingFigures(),
    ...gatewayFigures('node-veth', 'lwip'),
    ...(withMongoose ? gatewayFigures('mongoose', 'lwip', KEEPALIVE_SAMPLES) : []),
    // The gateway's short connections beside lwIP's, then beside Node http's across the veth.
    compareFigures('gateway', 'lwip', true)[2]!,
    {
      ...compareFigures('gateway', 'node-veth', true)[2]!,
      name: `${LABELS.gateway}: short connections one at a time (HTTP/1.0), beside Node http`,
      companions: [],
    },
    ...ceilingShortFigures(),
    ...(withMongoose ? mongooseShortFigures() : []),
  ];
}

/**
 * The ceiling of Node itself for short connections, same run: the bare Node TAP ceiling answering
 * the same one-at-a-time HTTP/1.0 client (SYN-ACK, the gateway's own `Connection: close` answer with
 * FIN in one segment, the ACK of the client's FIN: the frames the gateway sends, no TCP state)
 * beside lwIP; the same reflector on blocking fs calls beside it; then the gateway as a share of the
 * ceiling (ratio gateway / ceiling). Each with the servers' CPU per connection.
 */
function ceilingShortFigures(): Figure[] {
  const gateway = LABELS.gateway;
  const fs = LABELS['reflector-fs'];
  return [
    compareFigures('reflector', 'lwip', false)[2]!,
    {
      ...compareFigures('reflector-fs', 'reflector', false)[2]!,
      companions: [shortCpuCompanion('reflector-fs', 'reflector', `${fs} beside the ceiling`)],
    },
    {
      ...compareFigures('gateway', 'reflector', true)[2]!,
      name: `${gateway}: short connections, share of the bare Node TAP ceiling`,
      companions: [shortCpuCompanion('gateway', 'reflector', `${gateway} beside the ceiling`)],
    },
  ];
}

/**
 * Mongoose's short connections beside lwIP's (after the same warm-up as every server's), the bare
 * Node TAP ceiling's beside Mongoose's (can Node itself reach Mongoose here?), then the gateway's
 * beside Mongoose's: the target (>= 1.0x Mongoose, 0 stalls) is that row's ratio.
 */
function mongooseShortFigures(): Figure[] {
  const gateway = LABELS.gateway;
  const mongooseShort = compareFigures('mongoose', 'lwip', false)[2]!;
  const besideMongoose = compareFigures('gateway', 'mongoose', true)[2]!;
  return [
    mongooseShort,
    {
      ...compareFigures('reflector', 'mongoose', false)[2]!,
      name: `${LABELS.reflector}: short connections one at a time (HTTP/1.0), beside Mongoose`,
      companions: [shortCpuCompanion('reflector', 'mongoose', `${LABELS.reflector} beside Mongoose`)],
    },
    {
      ...besideMongoose,
      name: `${gateway}: short connections one at a time (HTTP/1.0), beside Mongoose`,
      companions: [
        {
          name: `${gateway}: short connections stalled > ${STALL_MS / 1000} s, beside Mongoose`,
          unit: 'conns',
          read: () => readingsOf('gateway').short.stalled,
          readReference: () => readingsOf('mongoose').short.stalled,
          target: { atMost: 0 },
        },
        shortCpuCompanion('gateway', 'mongoose', `${gateway} beside Mongoose`),
      ],
    },
  ];
}

/** The side-by-side benchmarks, in the order they run. */
export const httpCompareBenchmarks: readonly Benchmark[] = [
  httpCompareGatewayBenchmark,
  httpCompareNodeBenchmark,
  httpCompareLwipBenchmark,
  httpComparePosternBenchmark,
];
