/**
 * Two stacks with TCP over an in-memory link (optionally through fault-injecting drivers), on the
 * virtual clock, plus helpers to move bytes and hash them.
 */
import { createHash } from 'node:crypto';
import { Scheduler } from '@postern/irq';
import {
  FaultInjectionDriver,
  NetDevice,
  createMemoryLink,
  type FaultInjectionOptions,
  type NicDriver,
} from '@postern/nic';
import { memoryPair, PAIR_A_IP, PAIR_B_IP, sha256Hex } from '@postern/netlab';
import { parseIpv4 } from '@postern/wire';
import { Stack, attachTcp, type Tcp, type TcpConnection, type TcpOptions } from '../../src/index.js';

export const A_ADDR = parseIpv4(PAIR_A_IP);
export const B_ADDR = parseIpv4(PAIR_B_IP);

/** Options of {@link tcpPair}. */
export interface TcpPairOptions {
  seed?: number;
  mtu?: number;
  latencyMs?: number;
  /** Faults on the link (applied to frames both hosts transmit). */
  faults?: FaultInjectionOptions;
  tcpA?: TcpOptions;
  tcpB?: TcpOptions;
  /** A started real-clock scheduler (microtask wakes, as the gateway runs) instead of the virtual clock; stop it after the test. */
  realClock?: boolean;
}

/**
 * Host a = 198.18.0.1 and host b = 198.18.0.2 on one in-memory link (the kit's `memoryPair`: RX rings
 * of 1024, ARP resolved both ways, so tests that open many connections at once do not meet the ARP
 * queue bound), each with a Tcp; with `faults`, fault-injecting drivers under both devices.
 */
export async function tcpPair(options: TcpPairOptions = {}) {
  const sched = new Scheduler({
    seed: options.seed ?? 1,
    ...(options.realClock === true ? { clock: 'real' as const, hostWake: 'microtask' as const } : {}),
  });
  let faultA: FaultInjectionDriver | undefined;
  let faultB: FaultInjectionDriver | undefined;
  const faults = options.faults;
  const { link, a, b, devA, devB } = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    tag: 't',
    rxRingCapacity: 1024,
    mtu: options.mtu ?? 1500,
    latencyMs: options.latencyMs ?? 0,
    ...(faults === undefined
      ? {}
      : {
          wrapDrivers: (linkA: NicDriver, linkB: NicDriver) => {
            // Faults on what each host transmits only, so each direction meets them once.
            const { rx: _rx, tx: _tx, linkFlap: _flap, name: _name, ...profile } = faults;
            faultA = new FaultInjectionDriver(linkA, sched, { tx: profile });
            faultB = new FaultInjectionDriver(linkB, sched, { tx: profile });
            return [faultA, faultB] as const;
          },
        }),
  });
  const tcpA = attachTcp(a, options.tcpA);
  const tcpB = attachTcp(b, options.tcpB);
  return { sched, link, a, b, tcpA, tcpB, devA, devB, faultA, faultB };
}

/** Payloads and their digests come from the test kit (re-exported for this package's TCP tests). */
export { patternBytes, sha256Hex as sha256 } from '@postern/netlab';

/** Collects everything a connection receives; `ended` once the peer's FIN was read. */
export class Sink {
  readonly chunks: Uint8Array[] = [];
  received = 0;
  ended = false;
  private readonly hash = createHash('sha256');
  private readonly scratch = new Uint8Array(65_536);

  constructor(
    readonly conn: TcpConnection,
    private readonly keep = false,
  ) {
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

/**
 * A one-way bulk transfer: host a's {@link OneWayBulk.client} connects to a listener of host b on
 * `port` and writes all of `data` then its FIN ({@link pump}); b's accepted connection is read into
 * {@link OneWayBulk.sink} as bytes arrive. The caller runs the scheduler (for example until
 * `sink?.ended`) and compares `sink.digest()` with {@link OneWayBulk.expected}.
 */
export class OneWayBulk {
  /** a's end of the connection (its `stats`, `tcb`). */
  readonly client: TcpConnection;
  /** b's reader, once b accepted the connection. */
  sink: Sink | undefined;

  constructor(
    pair: { readonly tcpA: Tcp; readonly tcpB: Tcp },
    readonly data: Uint8Array,
    port = 9000,
  ) {
    const listener = pair.tcpB.listen({ port });
    this.client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: port });
    listener.onConnection = (server) => {
      this.sink = new Sink(server);
    };
    pump(this.client, data);
  }

  /** The SHA-256 (hex) of everything sent, to compare with `sink.digest()`. */
  get expected(): string {
    return sha256Hex(this.data);
  }
}

export type { Tcp };
