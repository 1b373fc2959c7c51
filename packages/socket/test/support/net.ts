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

/** Settles `p` while running the virtual clock: steps of `stepMs` up to `limitMs`, yielding to microtasks between steps. */
export async function settle<T>(sched: Scheduler, p: Promise<T>, limitMs = 10_000, stepMs = 1): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  let failed = false;
  p.then((v) => {
    done = true;
    value = v;
  }, (e) => {
    done = true;
    failed = true;
    error = e;
  });
  for (let t = 0; t <= limitMs && !done; t += stepMs) {
    await flushMicrotasks();
    if (done) break;
    sched.advance(stepMs);
  }
  await flushMicrotasks();
  if (!done) throw new Error(`promise did not settle within ${limitMs} virtual ms`);
  if (failed) throw error;
  return value as T;
}

/** Lets queued promise callbacks run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
