/**
 * A flood lab on the virtual clock: a client C, a flooder F and a server S, each on its own link to
 * a router R (C 198.18.1.2, S 198.18.2.2, F 198.18.3.2; R is .1 on each). The flood and the
 * client's traffic share the R-S link both ways, so with a line rate set that link is the
 * bottleneck. The flooder writes raw frames (ICMP echo requests, TCP SYNs from spoofed sources) into
 * its device as fast as its link's queue takes them; the client and server run real TCP.
 */
import { Scheduler, type Timer } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import {
  ETHERTYPE_IPV4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  TcpFlag,
  emitIcmpv4,
  emitTcp,
  parseIpv4,
  type MacAddress,
} from '@postern/wire';
import { Stack, attachTcp, type Tcp, type TcpConnection } from '../../src/index.js';
import { rawFrame, rawIpv4 } from './net.js';
import { Sink, patternBytes } from './tcp-net.js';

export const CLIENT_ADDR = parseIpv4('198.18.1.2');
export const SERVER_ADDR = parseIpv4('198.18.2.2');
export const FLOODER_ADDR = parseIpv4('198.18.3.2');

/** Options of {@link floodLab}. */
export interface FloodLabOptions {
  seed: number;
  /** Line rate of every link; undefined: unlimited (frames pushed at one instant arrive at one instant). */
  bitsPerSecond?: number;
  latencyMs?: number;
  /** RX ring of the server's and the router's devices. Default the device default (256). */
  rxRing?: number;
  /** Options of the server's stack. */
  server?: ConstructorParameters<typeof Stack>[1];
}

let labCounter = 0;

/** Builds the topology, resolves ARP everywhere, attaches TCP to the client and the server. */
export async function floodLab(options: FloodLabOptions) {
  const sched = new Scheduler({ seed: options.seed });
  const n = ++labCounter;
  const mk = (i: number) => {
    const link = createMemoryLink(sched, {
      names: [`f${n}l${i}a`, `f${n}l${i}b`],
      macA: 0x02_00_00_01_00_00 + n * 64 + i * 2,
      macB: 0x02_00_00_01_00_01 + n * 64 + i * 2,
      bitsPerSecond: options.bitsPerSecond,
      latencyMs: options.latencyMs ?? 0,
    });
    const ring = { rxRingCapacity: options.rxRing };
    return { link, a: new NetDevice(link.a, sched, ring), b: new NetDevice(link.b, sched, ring) };
  };
  const lc = mk(1);
  const ls = mk(2);
  const lf = mk(3);
  const client = new Stack(sched);
  const router = new Stack(sched, { forwarding: true });
  const server = new Stack(sched, options.server);
  const flooder = new Stack(sched);
  client.addInterface(lc.a).addAddress(CLIENT_ADDR, 24);
  router.addInterface(lc.b).addAddress(parseIpv4('198.18.1.1'), 24);
  router.addInterface(ls.a).addAddress(parseIpv4('198.18.2.1'), 24);
  router.addInterface(lf.b).addAddress(parseIpv4('198.18.3.1'), 24);
  server.addInterface(ls.b).addAddress(SERVER_ADDR, 24);
  flooder.addInterface(lf.a).addAddress(FLOODER_ADDR, 24);
  client.routes.setDefaultRoute(parseIpv4('198.18.1.1'));
  server.routes.setDefaultRoute(parseIpv4('198.18.2.1'));
  flooder.routes.setDefaultRoute(parseIpv4('198.18.3.1'));
  for (const d of [lc.a, lc.b, ls.a, ls.b, lf.a, lf.b]) await d.open();
  sched.runPending();
  // Resolve ARP on every hop before the flood (pings both ways through the router).
  const warm = [client.ping({ dst: SERVER_ADDR }), flooder.ping({ dst: SERVER_ADDR })];
  sched.advance(100);
  await Promise.all(warm);
  const tcpC = attachTcp(client);
  const tcpS = attachTcp(server);
  return {
    sched,
    client,
    router,
    server,
    flooder,
    tcpC,
    tcpS,
    serverDevice: ls.b,
    routerToServer: ls.a,
    flooderDevice: lf.a,
    routerMacToFlooder: lf.b.mac,
  };
}

/** What the flooder sends: ICMP echo requests, spoofed SYNs to port 80, or both alternating. */
export type FloodKind = 'ping' | 'syn' | 'mixed';

/** A running flood: counts and a way to know when it ended. */
export interface Flood {
  readonly sent: () => number;
  readonly done: () => boolean;
  /** Virtual time the last frame was handed to the device (or undefined while running). */
  readonly endedAt: () => number | undefined;
  stop(): void;
}

/**
 * Floods `dst` from `device` (to next-hop MAC `routerMac`): every `tickMs` it hands the device
 * frames until the link's queue refuses one or `total` were sent. Echo requests carry 56 bytes of
 * data (ping's default); SYNs come from spoofed sources 198.18.3.100-227 with seeded ports and ISNs.
 */
export function startFlood(
  sched: Scheduler,
  device: NetDevice,
  routerMac: MacAddress,
  dst: number,
  kind: FloodKind,
  total: number,
  tickMs = 0.5,
): Flood {
  const echo = new Uint8Array(64);
  emitIcmpv4({ kind: 'echoRequest', identifier: 0xf100, sequenceNumber: 1, data: patternBytes(56, 3) }, echo);
  const echoFrame = rawFrame(
    routerMac,
    device.mac,
    rawIpv4({ src: FLOODER_ADDR, dst, protocol: IP_PROTO_ICMP, payload: echo }),
    ETHERTYPE_IPV4,
  );
  const synFrame = (): Uint8Array => {
    const r = sched.randomUint32();
    const src = FLOODER_ADDR - 2 + 100 + (r & 0x7f);
    const seg = new Uint8Array(24);
    emitTcp(
      {
        srcPort: 1024 + ((r >>> 7) % 60_000),
        dstPort: 80,
        seq: sched.randomUint32(),
        ack: 0,
        flags: TcpFlag.SYN,
        window: 65535,
        urgentPointer: 0,
        options: [{ kind: 'mss', value: 1460 }],
      },
      seg,
      src,
      dst,
    );
    return rawFrame(routerMac, device.mac, rawIpv4({ src, dst, protocol: IP_PROTO_TCP, payload: seg }), ETHERTYPE_IPV4);
  };
  let sent = 0;
  let endedAt: number | undefined;
  let timer: Timer | undefined;
  const tick = (): void => {
    while (sent < total) {
      const useSyn = kind === 'syn' || (kind === 'mixed' && (sent & 1) === 1);
      if (!device.transmit(useSyn ? synFrame() : echoFrame.slice())) break;
      sent++;
    }
    if (sent < total) timer = sched.timerAfter(tickMs, tick);
    else endedAt = sched.now;
  };
  tick();
  return {
    sent: () => sent,
    done: () => endedAt !== undefined,
    endedAt: () => endedAt,
    stop: () => {
      timer?.cancel();
      endedAt ??= sched.now;
    },
  };
}

/**
 * Starts a server: port 7 echoes what it reads (then closes after the peer's FIN); port 80 sends
 * `download` then FIN. Returns the listeners and every connection they served.
 */
export function startServers(tcp: Tcp, download: Uint8Array) {
  const served: TcpConnection[] = [];
  const echo = tcp.listen({ port: 7, backlog: 128 });
  echo.onConnection = (c) => {
    served.push(c);
    serveEcho(c);
  };
  const bulk = tcp.listen({ port: 80, backlog: 128 });
  bulk.onConnection = (c) => {
    served.push(c);
    serveDownload(c, download);
  };
  return { echo, bulk, served };
}

function serveEcho(conn: TcpConnection): void {
  const scratch = new Uint8Array(4096);
  let pending = new Uint8Array(0);
  const flush = (): void => {
    while (pending.byteLength > 0) {
      const n = conn.write(pending);
      if (n === 0) return;
      pending = pending.subarray(n);
    }
    if (conn.readableEnded && conn.state !== 'CLOSED') conn.close();
  };
  conn.onReadable = () => {
    for (let n = conn.read(scratch); n > 0; n = conn.read(scratch)) {
      const merged = new Uint8Array(pending.byteLength + n);
      merged.set(pending);
      merged.set(scratch.subarray(0, n), pending.byteLength);
      pending = merged;
    }
    flush();
  };
  conn.onWritable = flush;
  conn.onReadable();
}

function serveDownload(conn: TcpConnection, data: Uint8Array): void {
  let offset = 0;
  const push = (): void => {
    while (offset < data.byteLength) {
      const n = conn.write(data.subarray(offset));
      if (n === 0) return;
      offset += n;
    }
    conn.shutdownWrite();
  };
  conn.onWritable = push;
  conn.onReadable = () => {
    const s = new Uint8Array(256);
    while (conn.read(s) > 0);
  };
  push();
}

/** Progress of one client workload; `completedAt` records when each unit finished. */
export interface Workload {
  readonly completedAt: number[];
  readonly failures: string[];
  done(): boolean;
}

/**
 * `exchanges` request/response round trips (100-byte requests, seeded contents) one after another
 * on one connection to port 7, each response checked byte for byte.
 */
export function requestResponse(sched: Scheduler, tcp: Tcp, exchanges: number, seed: number): Workload {
  const completedAt: number[] = [];
  const failures: string[] = [];
  const conn = tcp.connect({ remoteAddress: SERVER_ADDR, remotePort: 7 });
  const scratch = new Uint8Array(4096);
  let i = 0;
  let request = patternBytes(100, seed);
  let got = 0;
  let finished = false;
  const send = (): void => {
    request = patternBytes(100, seed * 1000 + i + 1);
    got = 0;
    if (conn.write(request) !== request.byteLength) failures.push(`exchange ${i}: short write`);
  };
  conn.onConnect = send;
  conn.onError = (e) => failures.push(`request/response: ${e.code}`);
  conn.onReadable = () => {
    for (let n = conn.read(scratch); n > 0; n = conn.read(scratch)) {
      for (let k = 0; k < n; k++)
        if (scratch[k] !== request[got + k]) failures.push(`exchange ${i}: byte ${got + k} differs`);
      got += n;
      if (got > request.byteLength)
        failures.push(`exchange ${i}: ${got} bytes for a ${request.byteLength}-byte request`);
      if (got === request.byteLength) {
        completedAt.push(sched.now);
        if (++i < exchanges) send();
        else conn.shutdownWrite();
      }
    }
    if (conn.readableEnded && !finished) {
      finished = true;
      conn.close();
    }
  };
  return { completedAt, failures, done: () => finished && i === exchanges };
}

/** `count` short connections to port 7 (up to `parallel` at once): connect, one 200-byte exchange, close. */
export function shortConnections(sched: Scheduler, tcp: Tcp, count: number, parallel: number, seed: number): Workload {
  const completedAt: number[] = [];
  const failures: string[] = [];
  let started = 0;
  const startOne = (): void => {
    const id = started++;
    const data = patternBytes(200, seed * 7919 + id);
    const conn = tcp.connect({ remoteAddress: SERVER_ADDR, remotePort: 7 });
    const sink = new Sink(conn, true);
    conn.onConnect = () => {
      conn.write(data);
      conn.shutdownWrite();
    };
    conn.onError = (e) => failures.push(`short connection ${id}: ${e.code}`);
    conn.onReadable = () => {
      sink.drain();
      if (!sink.ended) return;
      const back = Buffer.concat(sink.chunks);
      if (!back.equals(data)) failures.push(`short connection ${id}: echo differs (${back.byteLength} bytes)`);
      completedAt.push(sched.now);
      conn.close();
      if (started < count) startOne();
    };
  };
  for (let k = 0; k < Math.min(parallel, count); k++) startOne();
  return { completedAt, failures, done: () => completedAt.length === count };
}

/** One download from port 80 into a hashing sink. */
export function download(tcp: Tcp): { sink: Sink; failures: string[] } {
  const failures: string[] = [];
  const conn = tcp.connect({ remoteAddress: SERVER_ADDR, remotePort: 80 });
  conn.onError = (e) => failures.push(`download: ${e.code}`);
  return { sink: new Sink(conn), failures };
}
