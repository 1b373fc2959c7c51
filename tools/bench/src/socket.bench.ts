/**
 * The cost of the Node `net` face of `@postern/socket` over its raw BSD calls, on the same two
 * stacks (TCP over an in-memory link, a real-clock scheduler) in the same run:
 *
 * - bulk: MB/s of 1 MiB transfers, `net.Socket.write` with `'drain'` and `'data'` events, beside
 *   `Sockets.send` / `Sockets.recv` (64 KiB reads);
 * - request/response: round trips/s of a 64-byte request answered by a 64-byte response, one at a
 *   time on one connection, `write` + `'data'` beside `send` + `recv`.
 *
 * The ratio (face / BSD) is the figure to quote: below 1 is the cost the stream machinery adds
 * (copies into Buffers, microtask hops, Writable and Readable bookkeeping). Bounded: one sample is
 * about `sampleMs` of transfers; setup and teardown stop the scheduler.
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, Sockets, TCP_NODELAY, createNet, type Socket } from '@postern/socket';
import { parseIpv4 } from '@postern/wire';
import type { Benchmark } from './harness.js';

const A = parseIpv4('198.18.0.1');
const B = parseIpv4('198.18.0.2');
const BULK = 1024 * 1024;
const CHUNK = 64 * 1024;
const MESSAGE = 64;

interface World {
  sched: Scheduler;
  sa: Sockets;
  sb: Sockets;
  bsd: { client: number; server: number };
  node: { client: Socket; server: Socket };
}

let world: World | undefined;

async function build(): Promise<World> {
  const sched = new Scheduler({ clock: 'real', seed: 1 });
  const link = createMemoryLink(sched, { names: ['sbench0', 'sbench1'] });
  const devA = new NetDevice(link.a, sched, { rxRingCapacity: 1024 });
  const devB = new NetDevice(link.b, sched, { rxRingCapacity: 1024 });
  const a = new Stack(sched);
  const b = new Stack(sched);
  a.addInterface(devA).addAddress(A, 24);
  b.addInterface(devB).addAddress(B, 24);
  await devA.open();
  await devB.open();
  sched.start();
  const sa = new Sockets(a, attachTcp(a));
  const sb = new Sockets(b, attachTcp(b));
  // BSD pair.
  const l = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(l, { address: 0, port: 9000 });
  sb.listen(l);
  const accepting = sb.accept(l);
  const client = sa.socket(AF_INET, SOCK_STREAM);
  await sa.connect(client, { address: B, port: 9000 }, { timeoutMs: 5000 });
  const server = (await accepting).fd;
  sa.setsockopt(client, IPPROTO_TCP, TCP_NODELAY, true);
  sb.setsockopt(server, IPPROTO_TCP, TCP_NODELAY, true);
  // Node pair.
  const netA = createNet(sa);
  const netB = createNet(sb);
  const srv = netB.createServer({ noDelay: true });
  const accepted = new Promise<Socket>((resolve) => srv.once('connection', resolve));
  await new Promise<void>((resolve) => srv.listen(9001, resolve));
  const nodeClient = netA.connect({ port: 9001, host: '198.18.0.2', noDelay: true, connectTimeoutMs: 5000 });
  await new Promise<void>((resolve, reject) => {
    nodeClient.once('connect', resolve);
    nodeClient.once('error', reject);
  });
  const nodeServer = await accepted;
  return { sched, sa, sb, bsd: { client, server }, node: { client: nodeClient, server: nodeServer } };
}

function w(): World {
  if (world === undefined) throw new Error('socket benchmark: setup did not run');
  return world;
}

const payload = new Uint8Array(BULK).fill(0x5a);

async function bsdBulk(budgetMs: number): Promise<number> {
  const { sa, sb, bsd } = w();
  const buf = new Uint8Array(CHUNK);
  const t0 = performance.now();
  let bytes = 0;
  do {
    const sending = sa.send(bsd.client, payload);
    let got = 0;
    while (got < BULK) got += await sb.recv(bsd.server, buf);
    await sending;
    bytes += BULK;
  } while (performance.now() - t0 < budgetMs);
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

async function nodeBulk(budgetMs: number): Promise<number> {
  const { client, server } = w().node;
  const t0 = performance.now();
  let bytes = 0;
  const chunk = Buffer.from(payload.buffer, 0, CHUNK);
  do {
    await new Promise<void>((resolve) => {
      let got = 0;
      const onData = (c: Buffer): void => {
        got += c.byteLength;
        if (got >= BULK) {
          server.off('data', onData);
          resolve();
        }
      };
      server.on('data', onData);
      let sent = 0;
      const pump = (): void => {
        while (sent < BULK) {
          sent += CHUNK;
          if (!client.write(chunk)) {
            client.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    bytes += BULK;
  } while (performance.now() - t0 < budgetMs);
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

async function bsdRoundTrips(budgetMs: number): Promise<number> {
  const { sa, sb, bsd } = w();
  const req = new Uint8Array(MESSAGE).fill(1);
  const sbuf = new Uint8Array(MESSAGE);
  const cbuf = new Uint8Array(MESSAGE);
  const t0 = performance.now();
  let n = 0;
  do {
    await sa.send(bsd.client, req);
    let got = 0;
    while (got < MESSAGE) got += await sb.recv(bsd.server, sbuf.subarray(got));
    await sb.send(bsd.server, sbuf);
    got = 0;
    while (got < MESSAGE) got += await sa.recv(bsd.client, cbuf.subarray(got));
    n++;
  } while (performance.now() - t0 < budgetMs);
  return n / ((performance.now() - t0) / 1000);
}

async function nodeRoundTrips(budgetMs: number): Promise<number> {
  const { client, server } = w().node;
  const req = Buffer.alloc(MESSAGE, 1);
  const t0 = performance.now();
  let n = 0;
  let serverGot = 0;
  const echo = (c: Buffer): void => {
    serverGot += c.byteLength;
    while (serverGot >= MESSAGE) {
      serverGot -= MESSAGE;
      server.write(req);
    }
  };
  server.on('data', echo);
  try {
    do {
      await new Promise<void>((resolve) => {
        let got = 0;
        const onData = (c: Buffer): void => {
          got += c.byteLength;
          if (got >= MESSAGE) {
            client.off('data', onData);
            resolve();
          }
        };
        client.on('data', onData);
        client.write(req);
      });
      n++;
    } while (performance.now() - t0 < budgetMs);
  } finally {
    server.off('data', echo);
  }
  return n / ((performance.now() - t0) / 1000);
}

/** The socket benchmark: the Node face beside the BSD calls, bulk and request/response. */
export const socketBenchmark: Benchmark = {
  name: 'socket',
  description:
    'the cost of the Node net face over the raw BSD calls of @postern/socket (TCP over an in-memory link), bulk and 64 B request/response',
  sampleMs: 300,
  figures: () => [
    {
      name: 'net.Socket bulk 1 MiB',
      unit: 'MB/s',
      sample: nodeBulk,
      reference: { name: 'BSD send/recv bulk 1 MiB', sample: bsdBulk },
    },
    {
      name: 'net.Socket 64 B request/response',
      unit: 'round trips/s',
      sample: nodeRoundTrips,
      reference: { name: 'BSD send/recv 64 B request/response', sample: bsdRoundTrips },
    },
  ],
  async setup() {
    world = await build();
  },
  teardown() {
    const cur = world;
    world = undefined;
    if (cur === undefined) return;
    cur.node.client.destroy();
    cur.node.server.destroy();
    cur.sched.stop();
  },
};
