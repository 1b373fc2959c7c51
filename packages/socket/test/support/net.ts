/**
 * Two hosts over an in-memory link, each with a Stack, a Tcp and a Sockets table: a = 198.18.0.1,
 * b = 198.18.0.2. Virtual clock by default; `clock: 'real'` starts a real-clock scheduler for tests
 * that need Node's own event loop (streams, http, undici).
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp, type TcpOptions } from '@postern/netstack';
import { memoryPair, PAIR_A_IP, PAIR_B_IP } from '@postern/netlab';
import { parseIpv4 } from '@postern/wire';
import { Sockets, type SocketsOptions } from '../../src/index.js';

export const A_ADDR = parseIpv4(PAIR_A_IP);
export const B_ADDR = parseIpv4(PAIR_B_IP);

/** Options of {@link socketPair}. */
export interface PairOptions {
  clock?: 'virtual' | 'real';
  seed?: number;
  latencyMs?: number;
  tcp?: TcpOptions;
  sockets?: SocketsOptions;
}

/** Builds the two hosts (the kit's {@link memoryPair}: ARP resolved both ways), each with a Tcp and a Sockets table. */
export async function socketPair(options: PairOptions = {}) {
  const sched = new Scheduler({ seed: options.seed ?? 1, clock: options.clock ?? 'virtual' });
  const { link, a, b, devA, devB } = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    tag: 's',
    rxRingCapacity: 1024,
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
  });
  const tcpA = attachTcp(a, options.tcp);
  const tcpB = attachTcp(b, options.tcp);
  const sa = new Sockets(a, tcpA, options.sockets);
  const sb = new Sockets(b, tcpB, options.sockets);
  return { sched, link, a, b, tcpA, tcpB, sa, sb, devA, devB };
}
