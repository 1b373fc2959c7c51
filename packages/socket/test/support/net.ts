/**
 * Two hosts over an in-memory link, each with a Stack, a Tcp and a Sockets table: a = 198.18.0.1,
 * b = 198.18.0.2. Virtual clock by default; `clock: 'real'` starts a real-clock scheduler for tests
 * that need Node's own event loop (streams, http, undici).
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp, type TcpOptions } from '@postern/netstack';
import { parseIpv4 } from '@postern/wire';
import { Sockets, type SocketsOptions } from '../../src/index.js';

export const A_ADDR = parseIpv4('198.18.0.1');
export const B_ADDR = parseIpv4('198.18.0.2');

let counter = 0;

/** Options of {@link socketPair}. */
export interface PairOptions {
  clock?: 'virtual' | 'real';
  seed?: number;
  latencyMs?: number;
  tcp?: TcpOptions;
  sockets?: SocketsOptions;
}

/** Builds the two hosts; resolves ARP both ways first. */
export async function socketPair(options: PairOptions = {}) {
  const sched = new Scheduler({ seed: options.seed ?? 1, clock: options.clock ?? 'virtual' });
  const n = ++counter;
  const link = createMemoryLink(sched, {
    names: [`s${n}a`, `s${n}b`], macA: 0x02_00_00_00_20_00 + n * 16 + 1, macB: 0x02_00_00_00_20_00 + n * 16 + 2, latencyMs: options.latencyMs ?? 0,
  });
  const devA = new NetDevice(link.a, sched, { rxRingCapacity: 1024 });
  const devB = new NetDevice(link.b, sched, { rxRingCapacity: 1024 });
  const a = new Stack(sched);
  const b = new Stack(sched);
  a.addInterface(devA).addAddress(A_ADDR, 24);
  b.addInterface(devB).addAddress(B_ADDR, 24);
  await devA.open();
  await devB.open();
  const tcpA = attachTcp(a, options.tcp);
  const tcpB = attachTcp(b, options.tcp);
  const sa = new Sockets(a, tcpA, options.sockets);
  const sb = new Sockets(b, tcpB, options.sockets);
  if (options.clock === 'real') {
    sched.start();
    const u = a.udp.bind(0, () => undefined);
    u.send(B_ADDR, 9, new Uint8Array(1));
    await new Promise((r) => setTimeout(r, 20));
    u.close();
  } else {
    sched.runPending();
    const u = a.udp.bind(0, () => undefined);
    u.send(B_ADDR, 9, new Uint8Array(1));
    sched.advance(20);
    u.close();
  }
  return { sched, link, a, b, tcpA, tcpB, sa, sb, devA, devB };
}
