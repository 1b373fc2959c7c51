/**
 * TCP figures, each beside a reference measured in the same run:
 *
 * - `tcp` (synchronous, in-process, virtual clock driven by `runPending`):
 *   - bulk throughput of one connection between two stacks over an in-memory link at MTU 1500, in
 *     Mbit/s of application payload (target: at least 1,000), beside the bare link: 1514-byte
 *     frames (1460 payload bytes each) between two `NetDevice`s into a no-op handler, counted as
 *     the same payload rate;
 * - `tcp-io` (asynchronous):
 *   - connections opened and closed per second in-process (connect, accept, server closes, client
 *     closes, both ends reach CLOSED/TIME-WAIT), beside Node's own `net` over loopback doing the
 *     same (connect, server `end()`, client `end()`);
 *   - bulk throughput from our stack to the kernel's `curl` through a TAP device in a namespace
 *     (MB/s; 64 MiB per sample), beside `curl` from Node's own `http` server on the namespace's
 *     loopback serving the same body. Needs root (skipped with the reason otherwise);
 * - `tcp-memory`: heap bytes per idle established connection (both ends counted: 10,000
 *   connections between two stacks are 20,000 TCBs), target at most 100 MiB / 10,000.
 *
 * Run: `npm run bench -- --filter tcp` for the synchronous figure, and all of them with
 * `node --expose-gc --conditions=@postern/source --import tsx tools/bench/src/tcp-main.ts`.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type AddressInfo } from 'node:net';
import { Scheduler } from '@postern/irq';
import { NetDevice, TapNicDriver, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp, type Tcp, type TcpConnection } from '@postern/netstack';
import { ETHERTYPE_IPV4, parseIpv4, parseMac, writeMac } from '@postern/wire';
import { NetLab, netlabSkipReason, tryCommand } from '@postern/netlab';
import type { AsyncSampler, Benchmark, Figure, Sampler } from './harness.js';

const A = parseIpv4('198.18.7.1');
const B = parseIpv4('198.18.7.2');
const MSS = 1460;
let serial = 0;

/** Two stacks with TCP on one in-memory link (virtual clock). */
function pair(maxConnections = 4096) {
  const sched = new Scheduler({ seed: 9 });
  const n = ++serial;
  const link = createMemoryLink(sched, {
    names: [`tcpb${n}a`, `tcpb${n}b`],
    macA: 0x02_00_00_00_20_00 + n * 2,
    macB: 0x02_00_00_00_20_01 + n * 2,
    mtu: 1500,
  });
  const devA = new NetDevice(link.a, sched, { rxRingCapacity: 1024 });
  const devB = new NetDevice(link.b, sched, { rxRingCapacity: 1024 });
  const a = new Stack(sched);
  const b = new Stack(sched);
  a.addInterface(devA).addAddress(A, 24);
  b.addInterface(devB).addAddress(B, 24);
  void devA.open();
  void devB.open();
  sched.runPending();
  // Resolve ARP first (a UDP datagram to a closed port and its ICMP answer).
  const udp = a.udp.bind(0, () => undefined);
  udp.send(B, 9, new Uint8Array(1));
  sched.advance(10);
  udp.close();
  const opts = { maxConnections, maxTimeWait: maxConnections, ephemeralPorts: [20_000, 65_535] as const };
  return { sched, a, b, tcpA: attachTcp(a, opts), tcpB: attachTcp(b, opts) };
}

/** Runs the virtual clock until `done()` or `limitMs` of virtual time; throws on a stall. */
function drive(sched: Scheduler, done: () => boolean, limitMs: number, what: string): void {
  for (let t = 0; !done(); t++) {
    sched.runPending();
    if (done()) return;
    if (t > limitMs) throw new Error(`tcp bench: ${what} did not finish in ${limitMs} virtual ms`);
    sched.advance(1);
  }
}

/** Bulk: a client writes a fixed chunk as fast as the send buffer takes it; the server reads. Mbit/s of payload. */
function bulkFigure(): Sampler {
  const { sched, tcpA, tcpB } = pair();
  const listener = tcpB.listen({ port: 5001 });
  let server: TcpConnection | undefined;
  listener.onConnection = (c) => {
    server = c;
  };
  const client = tcpA.connect({ remoteAddress: B, remotePort: 5001 });
  drive(sched, () => server !== undefined && client.state === 'ESTABLISHED', 1000, 'handshake');
  const srv = server!;
  let received = 0;
  srv.onReadable = () => {
    for (;;) {
      const v = srv.readView();
      if (v === undefined) return;
      received += v.byteLength;
      srv.consume(v.byteLength);
    }
  };
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  const round = (): void => {
    while (client.write(chunk) > 0) {
      /* fill the send buffer */
    }
    sched.runPending();
    if (client.writableLength === 0) sched.advance(1); // nothing moved: let timers (delayed ACK) run
  };
  for (let i = 0; i < 200; i++) round(); // warm the window up
  return (budgetMs) => {
    const before = received;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      round();
      elapsed = performance.now() - t0;
    }
    return ((received - before) * 8) / 1e6 / (elapsed / 1000);
  };
}

/** The bare link: full-size frames into a no-op handler, counted as 1460 payload bytes each. Mbit/s. */
function bareLinkReference(): Sampler {
  const sched = new Scheduler({ seed: 9 });
  const n = ++serial;
  const link = createMemoryLink(sched, {
    names: [`tcpr${n}a`, `tcpr${n}b`],
    macA: 0x02_00_00_00_30_00 + n * 2,
    macB: 0x02_00_00_00_30_01 + n * 2,
  });
  const a = new NetDevice(link.a, sched);
  const b = new NetDevice(link.b, sched);
  let frames = 0;
  b.onEtherType(ETHERTYPE_IPV4, () => {
    frames++;
  });
  void a.open();
  void b.open();
  const template = new Uint8Array(1514 + 4);
  writeMac(template, 0, b.mac);
  writeMac(template, 6, a.mac);
  template[12] = 0x08;
  return (budgetMs) => {
    const before = frames;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      for (let i = 0; i < 256; i++) a.transmit(template.slice());
      sched.runPending();
      elapsed = performance.now() - t0;
    }
    return ((frames - before) * MSS * 8) / 1e6 / (elapsed / 1000);
  };
}

/** In-process connections opened and closed per second (one at a time, through both ends' close). */
function connRateFigure(): Sampler {
  const { sched, tcpA, tcpB } = pair(65_536);
  const listener = tcpB.listen({ port: 5002, backlog: 1024 });
  listener.onConnection = (c) => {
    c.onReadable = () => {
      if (c.readableEnded) c.close();
    };
    c.close();
  };
  let done = 0;
  const one = (): void => {
    const c = tcpA.connect({ remoteAddress: B, remotePort: 5002 });
    c.onReadable = () => {
      if (c.readableEnded) c.close();
    };
    c.onClose = () => {
      done++;
    };
  };
  return (budgetMs) => {
    const before = done;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      for (let i = 0; i < 32; i++) one();
      const target = done + 0;
      // TIME-WAIT holds the client's TCB; `onClose` fires when the close handshake completed.
      drive(sched, () => tcpA.connectionCount - tcpA.timeWaitCount === 0, 10_000, 'open/close round');
      if (done === target && tcpA.connectionCount === 0) throw new Error('tcp bench: no connection completed');
      elapsed = performance.now() - t0;
    }
    return (done - before) / (elapsed / 1000);
  };
}

/** Node's `net` over loopback: connect, server end(), client end(); connections per second. */
function nodeConnRateReference(): AsyncSampler {
  return async (budgetMs) => {
    const server = createNetServer((s) => {
      s.on('error', () => undefined);
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    let done = 0;
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const c = netConnect(port, '127.0.0.1');
        c.on('error', reject);
        c.on('data', () => undefined);
        c.on('end', () => c.end());
        c.on('close', () => {
          done++;
          resolve();
        });
      });
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      await Promise.all(Array.from({ length: 8 }, one));
      elapsed = performance.now() - t0;
    }
    await new Promise<void>((r) => server.close(() => r()));
    return done / (elapsed / 1000);
  };
}

/**
 * Heap bytes per idle established connection: `count` connections between two stacks (one client
 * address, ephemeral ports), heap measured after a full GC (with `--expose-gc`) or after settling.
 * Both ends are counted (each connection is two TCBs, one per stack).
 */
export function heapPerConnection(count = 10_000): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  const settle = (): number => {
    if (gc !== undefined) {
      gc();
      gc();
    }
    return process.memoryUsage().heapUsed;
  };
  const { sched, tcpA, tcpB } = pair(count * 2 + 16);
  const listener = tcpB.listen({ port: 5003, backlog: count, synBacklog: count });
  const servers: TcpConnection[] = [];
  listener.onConnection = (c) => servers.push(c);
  const clients: TcpConnection[] = [];
  const before = settle();
  for (let i = 0; i < count; i++) {
    clients.push(tcpA.connect({ remoteAddress: B, remotePort: 5003 }));
    if (i % 256 === 255) sched.runPending();
  }
  drive(sched, () => servers.length === count, 10_000, `${count} handshakes`);
  sched.advance(100); // let delayed ACKs and the like settle
  const after = settle();
  const established = clients.filter((c) => c.state === 'ESTABLISHED').length;
  if (established !== count) throw new Error(`tcp bench: ${established} of ${count} connections established`);
  const perConnection = (after - before) / count;
  for (const c of clients) c.abort();
  sched.runPending();
  blackhole(tcpA, tcpB);
  return perConnection;
}

let sink: unknown;
function blackhole(...values: unknown[]): void {
  sink = values;
}

/** The synchronous TCP figures. */
export const tcpBenchmark: Benchmark = {
  name: 'tcp',
  description:
    'in-process TCP bulk throughput between two stacks at MTU 1500 (Mbit/s), beside the bare in-memory link payload rate',
  figures(): Figure[] {
    return [
      {
        name: 'tcp bulk in-process MTU 1500',
        unit: 'Mbit/s',
        sample: bulkFigure(),
        reference: { name: 'bare memory link, 1514 B frames', sample: bareLinkReference() },
        target: { atLeast: 1000 },
      },
    ];
  },
};

/** Heap per idle connection (one sample is 10,000 connections). */
export const tcpMemoryBenchmark: Benchmark = {
  name: 'tcp-memory',
  description: 'heap bytes per idle established TCP connection, both ends, 10,000 connections between two stacks',
  maxSamples: 3,
  figures(): Figure[] {
    return [
      {
        name: 'heap per idle connection (both ends)',
        unit: 'B/conn',
        sample: () => heapPerConnection(10_000),
        target: { atMost: (100 * 1024 * 1024) / 10_000 },
      },
    ];
  },
};

// ---------------------------------------------------------------- TAP: our stack to the kernel's curl

const BODY = 64 * 1024 * 1024;
const KERNEL = '198.18.7.129';
const OURS = '198.18.7.130';
const CURL_LIMIT_S = 60;

interface TapRig {
  lab: NetLab;
  sched?: Scheduler;
  ns?: string;
  device?: NetDevice;
  nodeServer?: HttpServer;
  body?: Uint8Array;
}
let rig: TapRig | undefined;

/** Our minimal HTTP/1.0 server on the stack: every request gets `body` and a close. */
function serveBody(tcp: Tcp, body: Uint8Array): void {
  const head = new TextEncoder().encode(`HTTP/1.0 200 OK\r\nContent-Length: ${body.byteLength}\r\n\r\n`);
  const scratch = new Uint8Array(4096);
  tcp.listen({ port: 80 }).onConnection = (c) => {
    let answered = false;
    let offset = 0;
    const push = (): void => {
      while (offset < body.byteLength) {
        const n = c.write(body.subarray(offset));
        if (n === 0) return;
        offset += n;
      }
      c.close();
    };
    c.onWritable = push;
    c.onReadable = () => {
      while (c.read(scratch) > 0) {
        /* the request */
      }
      if (!answered) {
        answered = true;
        c.write(head);
        push();
      }
    };
  };
}

/** Runs curl for `url` (in the lab namespace when `inNamespace`); MB/s from curl's own speed figure. */
async function curlRate(url: string, inNamespace: boolean): Promise<number> {
  const r = await tryCommand(
    inNamespace ? 'ip' : 'curl',
    [
      ...(inNamespace ? ['netns', 'exec', rig!.ns!, 'curl'] : []),
      '-sS',
      '--max-time',
      String(CURL_LIMIT_S),
      '-o',
      '/dev/null',
      '-w',
      '%{size_download} %{speed_download}',
      url,
    ],
    { timeoutMs: (CURL_LIMIT_S + 5) * 1000 },
  );
  const [size, speed] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== BODY)
    throw new Error(`tcp bench: curl ${url}: exit ${r.code}, ${size} bytes: ${r.stderr}`);
  return speed! / 1e6;
}

/** Asynchronous TCP figures: connection rate and the TAP path to the kernel's curl. */
export const tcpIoBenchmark: Benchmark = {
  name: 'tcp-io',
  description:
    "TCP connections opened+closed/s in-process beside Node net on loopback; bulk from our stack to the kernel's curl over TAP beside curl from Node http",
  sampleMs: 1000,
  maxSamples: 5,
  figures(): Figure[] {
    return [
      {
        name: 'tcp connections opened+closed in-process',
        unit: 'conn/s',
        sample: connRateFigure(),
        reference: { name: 'Node net over loopback', sample: nodeConnRateReference() },
      },
      {
        name: 'tcp bulk stack -> kernel curl over TAP (64 MiB)',
        unit: 'MB/s',
        sample: async () => {
          if (rig?.ns === undefined) throw new Error(`tcp bench: TAP rig not ready (needs root)`);
          return curlRate(`http://${OURS}/`, true);
        },
        reference: {
          name: 'curl from Node http on loopback',
          sample: () => curlRate(`http://127.0.0.1:${(rig!.nodeServer!.address() as AddressInfo).port}/`, false),
        },
      },
    ];
  },
  async skipReason() {
    const why = await netlabSkipReason({ needTap: true });
    if (why !== undefined) return why;
    const curl = await tryCommand('sh', ['-c', 'command -v curl']);
    return curl.code === 0 ? undefined : 'curl is missing; run tools/scripts/install-peers.sh';
  },
  async setup() {
    rig = { lab: new NetLab() };
    const body = new Uint8Array(BODY);
    for (let i = 0; i < BODY; i += 4096) body[i] = i >>> 12;
    rig.body = body;
    const ns = await rig.lab.namespace();
    rig.ns = ns;
    const sched = new Scheduler({ clock: 'real', seed: 3 });
    sched.start();
    rig.sched = sched;
    const ifname = await rig.lab.tap();
    const stack = new Stack(sched);
    const device = new NetDevice(new TapNicDriver({ ifname, mac: parseMac('02:50:53:54:07:82') }), sched, {
      rxRingCapacity: 1024,
    });
    rig.device = device;
    await device.open();
    await rig.lab.moveToNamespace(ifname, ns);
    await rig.lab.setAddress(ifname, `${KERNEL}/25`, ns);
    await rig.lab.linkUp(ifname, ns);
    stack.addInterface(device).addAddress(parseIpv4(OURS), 25);
    serveBody(attachTcp(stack), body);
    // The reference: Node's http in this process on the root namespace's loopback, fetched by the
    // same curl (run in the root namespace), same body.
    rig.nodeServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(BODY) });
      res.end(body);
    });
    await new Promise<void>((r) => rig!.nodeServer!.listen(0, '127.0.0.1', r));
  },
  async teardown() {
    const r = rig;
    rig = undefined;
    if (r === undefined) return;
    r.sched?.stop();
    await r.device?.close().catch(() => undefined);
    await new Promise<void>((res) => (r.nodeServer === undefined ? res() : r.nodeServer.close(() => res())));
    await r.lab.cleanup();
  },
};

/** Keeps results observable. */
export function tcpBenchSink(): unknown {
  return sink;
}
