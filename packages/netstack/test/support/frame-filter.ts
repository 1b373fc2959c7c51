/**
 * A transparent driver wrapper that shows every frame crossing it to a predicate, which may drop it:
 * tests use it to watch what really crossed a link and to lose chosen packets (a given TCP
 * sequence number, the first SYN...) deterministically. Plus parsers for the few header fields the
 * predicates need, and two TCP hosts over a link whose A side is filtered.
 */
import { Scheduler } from '@postern/irq';
import { memoryPair } from '@postern/netlab';
import { ForwardingDriver, NetDevice, createMemoryLink, type NicDriver } from '@postern/nic';
import { ETHERTYPE_IPV4, IP_PROTO_TCP, parseIpv4 } from '@postern/wire';
import { Stack, attachTcp, type TcpOptions } from '../../src/index.js';
import { A_ADDR, B_ADDR } from './tcp-net.js';

/** Decides one frame's fate: return false to drop it. */
export type FramePredicate = (frame: Uint8Array) => boolean;

/** Wraps `inner`; `tx` sees frames sent through it, `rx` frames received from it. */
export class FrameFilterDriver extends ForwardingDriver {
  /** Frames dropped by the predicates, per direction. */
  readonly dropped = { tx: 0, rx: 0 };

  constructor(
    inner: NicDriver,
    private readonly filters: { tx?: FramePredicate; rx?: FramePredicate },
  ) {
    super(inner);
  }

  /** Drops (and reports as sent) a frame `tx` refuses; passes the rest to the inner driver. */
  override transmit(frame: Uint8Array): boolean {
    if (this.filters.tx !== undefined && !this.filters.tx(frame)) {
      this.dropped.tx++;
      return true;
    }
    return this.inner.transmit(frame);
  }

  /** Drops a received frame `rx` refuses; passes the rest on. */
  protected override received(frame: Uint8Array): void {
    if (this.filters.rx !== undefined && !this.filters.rx(frame)) {
      this.dropped.rx++;
      return;
    }
    this.deliver(frame);
  }
}

/** The TCP fields of an Ethernet frame carrying an unfragmented IPv4 TCP segment. */
export interface TcpFrameInfo {
  src: number;
  dst: number;
  /** IP total length. */
  ipLength: number;
  /** Don't Fragment bit. */
  df: boolean;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  payloadLength: number;
}

/** Reads the TCP fields of `frame`, or undefined when it carries no TCP segment (or a fragment). */
export function tcpFrameInfo(frame: Uint8Array): TcpFrameInfo | undefined {
  if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV4) return undefined;
  const ip = frame.subarray(14);
  if (ip[9] !== IP_PROTO_TCP) return undefined;
  const v = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
  const ihl = (ip[0]! & 0x0f) * 4;
  const fragment = v.getUint16(6);
  if ((fragment & 0x3fff) !== 0) return undefined;
  const ipLength = v.getUint16(2);
  const dataOffset = (ip[ihl + 12]! >>> 4) * 4;
  return {
    src: v.getUint32(12),
    dst: v.getUint32(16),
    ipLength,
    df: (fragment & 0x4000) !== 0,
    srcPort: v.getUint16(ihl),
    dstPort: v.getUint16(ihl + 2),
    seq: v.getUint32(ihl + 4),
    ack: v.getUint32(ihl + 8),
    flags: ip[ihl + 13]!,
    payloadLength: ipLength - ihl - dataOffset,
  };
}

export { A_ADDR, B_ADDR };

/**
 * Host a (198.18.0.1) and host b (198.18.0.2), each with a Tcp, over an in-memory link with 1 ms
 * latency; `filterA` sees (and may drop) every frame a sends (`tx`) and receives (`rx`). ARP is
 * resolved both ways before TCP is attached.
 */
export async function filteredTcpPair(
  options: {
    seed?: number;
    filterA?: { tx?: FramePredicate; rx?: FramePredicate };
    tcpA?: TcpOptions;
    tcpB?: TcpOptions;
  } = {},
) {
  const sched = new Scheduler({ seed: options.seed ?? 5 });
  let tx: FramePredicate = () => true;
  let rx: FramePredicate = () => true;
  let filter: FrameFilterDriver | undefined;
  const { a, b } = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    tag: 'ff',
    latencyMs: 1,
    rxRingCapacity: 1024,
    wrapDrivers: (linkA, linkB) => [
      (filter = new FrameFilterDriver(linkA, { tx: (f) => tx(f), rx: (f) => rx(f) })),
      linkB,
    ],
  });
  if (options.filterA?.tx !== undefined) tx = options.filterA.tx;
  if (options.filterA?.rx !== undefined) rx = options.filterA.rx;
  const tcpA = attachTcp(a, options.tcpA);
  const tcpB = attachTcp(b, options.tcpB);
  return { sched, a, b, tcpA, tcpB, filter: filter! };
}
