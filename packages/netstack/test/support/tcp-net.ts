/**
 * Two stacks with TCP over an in-memory link (optionally through fault-injecting drivers), on the
 * virtual clock, plus helpers to move bytes and hash them.
 */
import { createHash } from 'node:crypto';
import { Scheduler } from '@postern/irq';
import { FaultInjectionDriver, NetDevice, createMemoryLink, type FaultInjectionOptions, type NicDriver } from '@postern/nic';
import { parseIpv4 } from '@postern/wire';
import { Stack, attachTcp, type Tcp, type TcpConnection, type TcpOptions } from '../../src/index.js';

export const A_ADDR = parseIpv4('198.18.0.1');
export const B_ADDR = parseIpv4('198.18.0.2');

let counter = 0;

/** Options of {@link tcpPair}. */
export interface TcpPairOptions {
  seed?: number;
  mtu?: number;
  latencyMs?: number;
  /** Faults on the link (applied to frames both hosts transmit). */
  faults?: FaultInjectionOptions;
  tcpA?: TcpOptions;
  tcpB?: TcpOptions;
}

/**
 * Host a ({@link A_ADDR}/24) on `driverA` and host b ({@link B_ADDR}/24) on `driverB`, devices open,
 * with ARP resolved both ways (a UDP datagram to a closed port and its ICMP answer, 20 ms of the
 * virtual clock), so tests that open many connections at once do not meet the ARP queue bound.
 */
export async function twoHosts(sched: Scheduler, driverA: NicDriver, driverB: NicDriver) {
  const devA = new NetDevice(driverA, sched, { rxRingCapacity: 1024 });
  const devB = new NetDevice(driverB, sched, { rxRingCapacity: 1024 });
  const a = new Stack(sched);
  const b = new Stack(sched);
  a.addInterface(devA).addAddress(A_ADDR, 24);
  b.addInterface(devB).addAddress(B_ADDR, 24);
  await devA.open();
  await devB.open();
  sched.runPending();
  const udp = a.udp.bind(0, () => undefined);
  udp.send(B_ADDR, 9, new Uint8Array(1));
  sched.advance(20);
  udp.close();
  return { a, b, devA, devB };
}

/** Host a = 198.18.0.1, host b = 198.18.0.2, each with a Tcp. */
export async function tcpPair(options: TcpPairOptions = {}) {
  const sched = new Scheduler({ seed: options.seed ?? 1 });
  const n = ++counter;
  const link = createMemoryLink(sched, {
    names: [`t${n}a`, `t${n}b`], macA: 0x02_00_00_00_10_00 + n * 16 + 1, macB: 0x02_00_00_00_10_00 + n * 16 + 2,
    mtu: options.mtu ?? 1500, latencyMs: options.latencyMs ?? 0,
  });
  let driverA: NicDriver = link.a;
  let driverB: NicDriver = link.b;
  let faultA: FaultInjectionDriver | undefined;
  let faultB: FaultInjectionDriver | undefined;
  if (options.faults !== undefined) {
    // Faults on what each host transmits only, so each direction meets them once.
    const { rx: _rx, tx: _tx, linkFlap: _flap, name: _name, ...profile } = options.faults;
    faultA = new FaultInjectionDriver(link.a, sched, { tx: profile });
    faultB = new FaultInjectionDriver(link.b, sched, { tx: profile });
    driverA = faultA;
    driverB = faultB;
  }
  const { a, b, devA, devB } = await twoHosts(sched, driverA, driverB);
  const tcpA = attachTcp(a, options.tcpA);
  const tcpB = attachTcp(b, options.tcpB);
  return { sched, link, a, b, tcpA, tcpB, devA, devB, faultA, faultB };
}

/** Deterministic pseudo-random bytes (xorshift32), the same for the same seed. */
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

/** SHA-256 hex of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Collects everything a connection receives; `ended` once the peer's FIN was read. */
export class Sink {
  readonly chunks: Uint8Array[] = [];
  received = 0;
  ended = false;
  private readonly hash = createHash('sha256');
  private readonly scratch = new Uint8Array(65_536);

  constructor(readonly conn: TcpConnection, private readonly keep = false) {
    conn.onReadable = () => this.drain();
  }

  drain(): void {
    for (;;) {
      const n = this.conn.read(this.scratch);
      if (n === 0) break;
      const chunk = this.scratch.subarray(0, n);
      this.hash.update(chunk);
      if (this.keep) this.chunks.push(chunk.slice());
      this.received += n;
    }
    if (this.conn.readableEnded) this.ended = true;
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

/** Writes all of `data` into `conn` as the send buffer frees up, then shuts down writing if `fin`. */
export function pump(conn: TcpConnection, data: Uint8Array, fin = true): { written: () => number } {
  let offset = 0;
  const push = (): void => {
    while (offset < data.byteLength) {
      const n = conn.write(data.subarray(offset));
      if (n === 0) return;
      offset += n;
    }
    if (fin) conn.shutdownWrite();
  };
  conn.onWritable = push;
  const previous = conn.onConnect;
  if (conn.state === 'SYN-SENT') {
    conn.onConnect = () => {
      previous?.();
      push();
    };
  } else {
    push();
  }
  return { written: () => offset };
}

export type { Tcp };
