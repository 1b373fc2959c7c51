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
 * - `bulk 64 MiB (curl)`: MB/s from curl's `%{speed_download}`, one download per sample;
 * - `keep-alive small (wrk -t1 -c32)`: req/s for one sample's duration (3 s), with the 99th
 *   percentile latency and the error count as companions (`ab -k -c 32` when wrk is missing);
 * - `short connections one at a time`: HTTP/1.0 connections answered per second by a loop that
 *   makes one at a time (python3), with the connections that stalled over 1 s and the ones that
 *   failed as companions (Postern's stalls have the target 0).
 *
 * Network safety: servers and clients live in namespaces the benchmark makes (addresses from
 * 198.18.0.0/15) or on their loopback; every client is bounded in time; teardown kills the server
 * processes it started and deletes the namespaces and devices. Needs root, curl, python3 and wrk
 * or ab; the lwIP reference also needs gcc and liblwip-dev (built at bench time, not at install).
 */
import { NetLab, hasRoot, netlabSkipReason } from '@postern/netlab';
import type { Benchmark, Companion, Figure } from './harness.js';
import {
  STALL_MS,
  connectionsPerSecond,
  curlDownloadMBps,
  hasProgram,
  keepAliveLoad,
  keepAliveTool,
  shortConnections,
  type KeepAliveResult,
  type ShortConnectionsResult,
} from './http-clients.js';
import {
  BIG_BODY_BYTES,
  BIG_PATH,
  SMALL_PATH,
  buildLwipServer,
  kernelSide,
  lwipSkipReason,
  removeLwipBuild,
  startLwipServer,
  startNodeServer,
  startPosternServer,
  stopChild,
  type ChildServer,
  type LwipBuild,
  type PosternServer,
} from './http-servers.js';

/** Wall time of one keep-alive sample (wrk's `-d`), and the budget of one short-connection sample. */
export const HTTP_COMPARE_SAMPLE_MS = 3000;
/** Samples per figure and per reference (after one warm-up each). */
export const HTTP_COMPARE_MAX_SAMPLES = 5;
/** The short-connection loop stops after this much of the sample budget. */
const SHORT_BUDGET_MS = 2000;

/** The servers measured. */
export type ServerKey = 'node-loopback' | 'node-veth' | 'lwip' | 'postern';

const LABELS: Record<ServerKey, string> = {
  'node-loopback': 'Node http on loopback',
  'node-veth': 'Node http across veth',
  lwip: 'lwIP (C) over TAP',
  postern: 'Postern over TAP',
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
const PORT = 80;

/** Where the clients reach a server from. */
interface Endpoint {
  /** The namespace the clients run in. */
  readonly ns: string;
  readonly host: string;
}

/** What the last samples of a server saw besides the figure (read by companions). */
interface LastReadings {
  keepAlive: KeepAliveResult;
  short: ShortConnectionsResult;
}

function freshReadings(): LastReadings {
  return { keepAlive: { requestsPerSecond: 0, p99Ms: 0, errors: 0 }, short: { fine: 0, stalled: 0, failed: 0, seconds: 0, worstSeconds: 0 } };
}

/** Everything a setup built; filled step by step so that teardown can undo a half-done setup. */
interface Rig {
  readonly lab: NetLab;
  readonly endpoints: Map<ServerKey, Endpoint>;
  tool?: 'wrk' | 'ab';
  node?: ChildServer;
  lwipBuild?: LwipBuild;
  lwip?: ChildServer;
  postern?: PosternServer;
}

let rig: Rig | undefined;
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
  const e = rig?.endpoints.get(key);
  if (rig?.tool === undefined || e === undefined) throw new Error(`http-compare: ${LABELS[key]} sampled before setup`);
  return { ...e, tool: rig.tool };
}

const url = (host: string, path: string) => `http://${host}:${PORT}${path}`;

async function bulkSample(key: ServerKey): Promise<number> {
  const e = endpoint(key);
  return curlDownloadMBps(e.ns, url(e.host, BIG_PATH), BIG_BODY_BYTES);
}

async function keepAliveSample(key: ServerKey, budgetMs: number): Promise<number> {
  const e = endpoint(key);
  const r = await keepAliveLoad(e.ns, url(e.host, SMALL_PATH), budgetMs / 1000, e.tool);
  readingsOf(key).keepAlive = r;
  return r.requestsPerSecond;
}

async function shortSample(key: ServerKey, budgetMs: number): Promise<number> {
  const e = endpoint(key);
  const r = await shortConnections(e.ns, e.host, PORT, SMALL_PATH, Math.min(budgetMs, SHORT_BUDGET_MS));
  readingsOf(key).short = r;
  return connectionsPerSecond(r);
}

/** The three figures of one server beside one reference server. */
function compareFigures(subject: ServerKey, reference: ServerKey, stallTarget: boolean): Figure[] {
  const own = () => readingsOf(subject);
  const theirs = () => readingsOf(reference);
  const name = LABELS[subject];
  const ref = LABELS[reference];
  const keepAliveCompanions: Companion[] = [
    { name: `${name}: keep-alive p99 latency`, unit: 'ms', read: () => own().keepAlive.p99Ms, readReference: () => theirs().keepAlive.p99Ms },
    { name: `${name}: keep-alive errors`, unit: 'errors', read: () => own().keepAlive.errors, readReference: () => theirs().keepAlive.errors },
  ];
  const shortCompanions: Companion[] = [
    {
      name: `${name}: short connections stalled > ${STALL_MS / 1000} s`,
      unit: 'conns',
      read: () => own().short.stalled,
      readReference: () => theirs().short.stalled,
      ...(stallTarget ? { target: { atMost: 0 } } : {}),
    },
    { name: `${name}: short connections answered`, unit: 'conns', read: () => own().short.fine + own().short.stalled, readReference: () => theirs().short.fine + theirs().short.stalled },
    { name: `${name}: short connections failed`, unit: 'conns', read: () => own().short.failed, readReference: () => theirs().short.failed, ...(stallTarget ? { target: { atMost: 0 } } : {}) },
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

/** Why the clients or the lab cannot run here, or undefined. */
async function clientsSkipReason(needLwip: boolean): Promise<string | undefined> {
  if (!hasRoot()) return 'needs root (network namespaces, veth pairs and TAP devices)';
  const why = await netlabSkipReason({ needTap: true });
  if (why !== undefined) return why;
  if (!(await hasProgram('curl'))) return 'needs curl (run tools/scripts/install-peers.sh)';
  if (!(await hasProgram('python3'))) return 'needs python3 (the short-connection loop)';
  if ((await keepAliveTool()) === undefined) return 'needs wrk or ab (apache2-utils) for the keep-alive load (run tools/scripts/install-peers.sh)';
  return needLwip ? lwipSkipReason() : undefined;
}

/** Polls `host` with curl from `ns` until it answers (ARP, listeners), at most `ms`. */
async function waitServing(key: ServerKey, ms: number): Promise<void> {
  const e = endpoint(key);
  const deadline = performance.now() + ms;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      await curlDownloadMBps(e.ns, url(e.host, SMALL_PATH), 13);
      return;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`http-compare: ${LABELS[key]} does not answer: ${last instanceof Error ? last.message : String(last)}`);
}

/** Builds the servers `keys` and the namespaces their clients run in. */
async function setupServers(keys: readonly ServerKey[]): Promise<void> {
  const r: Rig = { lab: new NetLab(), endpoints: new Map() };
  rig = r;
  readings.clear();
  const tool = await keepAliveTool();
  if (tool === undefined) throw new Error('http-compare: needs wrk or ab');
  r.tool = tool;
  const quiet = async (ns: string) => {
    await r.lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
  };
  const has = (k: ServerKey) => keys.includes(k);
  let serverNs: string | undefined;
  let clientNs: string | undefined;
  if (has('node-loopback') || has('node-veth')) {
    serverNs = await r.lab.namespace();
    await quiet(serverNs);
    r.node = await startNodeServer(serverNs, PORT);
    r.endpoints.set('node-loopback', { ns: serverNs, host: '127.0.0.1' });
  }
  if (has('node-veth') || has('lwip') || has('postern')) {
    clientNs = await r.lab.namespace();
    await quiet(clientNs);
  }
  if (has('node-veth') && serverNs !== undefined && clientNs !== undefined) {
    const [a, b] = await r.lab.veth();
    await kernelSide(r.lab, a, serverNs, `${VETH_SERVER}/24`);
    await kernelSide(r.lab, b, clientNs, `${VETH_CLIENT}/24`);
    r.endpoints.set('node-veth', { ns: clientNs, host: VETH_SERVER });
  }
  if (has('lwip') && clientNs !== undefined) {
    r.lwipBuild = await buildLwipServer();
    const tap = await r.lab.tap();
    await kernelSide(r.lab, tap, clientNs, `${LWIP_KERNEL}/24`);
    r.lwip = await startLwipServer(r.lwipBuild, clientNs, tap, LWIP_ADDRESS, '255.255.255.0');
    r.endpoints.set('lwip', { ns: clientNs, host: LWIP_ADDRESS });
  }
  if (has('postern') && clientNs !== undefined) {
    const tap = await r.lab.tap();
    r.postern = await startPosternServer(tap, POSTERN_MAC, POSTERN_ADDRESS, 24);
    await kernelSide(r.lab, tap, clientNs, `${POSTERN_KERNEL}/24`);
    r.endpoints.set('postern', { ns: clientNs, host: POSTERN_ADDRESS });
  }
  for (const k of keys) await waitServing(k, 10_000);
}

async function teardownServers(): Promise<void> {
  const r = rig;
  rig = undefined;
  if (r === undefined) return;
  try {
    await stopChild(r.lwip);
    await stopChild(r.node);
    await r.postern?.close().catch(() => undefined);
  } finally {
    await r.lab.cleanup();
    removeLwipBuild(r.lwipBuild);
  }
}

/** Builds one side-by-side benchmark of `subject` against `reference`. */
function compareBenchmark(name: string, description: string, subject: ServerKey, reference: () => ServerKey, stallTarget: boolean): Benchmark {
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

/** The three side-by-side benchmarks, in the order they run. */
export const httpCompareBenchmarks: readonly Benchmark[] = [httpCompareNodeBenchmark, httpCompareLwipBenchmark, httpComparePosternBenchmark];
