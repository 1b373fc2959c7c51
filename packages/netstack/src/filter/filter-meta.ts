/**
 * Fills a reusable {@link PacketMeta} from the raw bytes of an IPv4 packet, for the packet filter
 * and connection tracking. Reads fields straight from the bytes (no parsing objects, no
 * allocation). Transport fields (ports, TCP flags, ICMP type and code, the quoted datagram of an
 * ICMP error) are read only from a packet that holds offset 0 of its datagram and only when the
 * bytes are there; otherwise they stay 0 / -1 (so a later fragment matches only rules without
 * transport matches: the filter sees fragments as Linux's does without defragmentation).
 */
import { IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP } from '@postern/wire';
import { isIcmpError, type PacketMeta } from './packet-meta.js';

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * Fills `m` for the IPv4 packet whose header starts at `ip[0]`. `ip` must hold the whole header
 * (caller checked); the total length field bounds what is read of the payload. `ifIn`/`ifOut` are
 * the interface indexes (or `NO_INTERFACE`).
 */
export function fillPacketMeta(m: PacketMeta, ip: Uint8Array, ifIn: number, ifOut: number): PacketMeta {
  const headerLength = (ip[0]! & 0x0f) * 4;
  const totalLength = u16(ip, 2);
  const firstFragment = (u16(ip, 6) & 0x1fff) === 0;
  const end = Math.min(totalLength, ip.length);
  setCommon(m, ifIn, ifOut, u32(ip, 12), u32(ip, 16), ip[9]!, totalLength);
  if (firstFragment) fillTransport(m, ip, headerLength, end, ip[9]!, false);
  return m;
}

/**
 * Fills `m` for a datagram known by its header fields and its whole payload (a reassembled
 * datagram). `totalLength` is header plus payload.
 */
export function fillPacketMetaFrom(
  m: PacketMeta,
  ifIn: number,
  ifOut: number,
  src: number,
  dst: number,
  protocol: number,
  totalLength: number,
  payload: Uint8Array,
): PacketMeta {
  setCommon(m, ifIn, ifOut, src, dst, protocol, totalLength);
  fillTransport(m, payload, 0, payload.length, protocol, false);
  return m;
}

function setCommon(
  m: PacketMeta,
  ifIn: number,
  ifOut: number,
  src: number,
  dst: number,
  protocol: number,
  length: number,
): void {
  m.ifIn = ifIn;
  m.ifOut = ifOut;
  m.src = src;
  m.dst = dst;
  m.protocol = protocol;
  m.length = length;
  m.srcPort = 0;
  m.dstPort = 0;
  m.icmpType = -1;
  m.icmpCode = -1;
  m.tcpFlags = 0;
  m.innerSrc = 0;
  m.innerDst = 0;
  m.innerProtocol = -1;
  m.innerSrcPort = 0;
  m.innerDstPort = 0;
}

/** Reads the transport fields at `at` into `m` (or its `inner*` fields for a quoted datagram). */
function fillTransport(m: PacketMeta, b: Uint8Array, at: number, end: number, protocol: number, inner: boolean): void {
  const available = end - at;
  if (protocol === IP_PROTO_TCP || protocol === IP_PROTO_UDP) {
    if (available < 4) return;
    const sp = u16(b, at);
    const dp = u16(b, at + 2);
    if (inner) {
      m.innerSrcPort = sp;
      m.innerDstPort = dp;
    } else {
      m.srcPort = sp;
      m.dstPort = dp;
      if (protocol === IP_PROTO_TCP && available >= 14) m.tcpFlags = b[at + 13]!;
    }
    return;
  }
  if (protocol !== IP_PROTO_ICMP || available < 8) return;
  const type = b[at]!;
  const isEcho = type === 0 || type === 8;
  if (inner) {
    if (isEcho) {
      m.innerSrcPort = u16(b, at + 4);
      m.innerDstPort = 0;
    }
    return;
  }
  m.icmpType = type;
  m.icmpCode = b[at + 1]!;
  if (isEcho) {
    m.srcPort = u16(b, at + 4);
    return;
  }
  if (!isIcmpError(type)) return;
  // The quoted datagram: a whole IPv4 header, then (at least) 8 bytes of its payload.
  const q = at + 8;
  if (end - q < 20 || b[q]! >>> 4 !== 4) return;
  const qHeader = (b[q]! & 0x0f) * 4;
  if (qHeader < 20 || q + qHeader > end) return;
  m.innerSrc = u32(b, q + 12);
  m.innerDst = u32(b, q + 16);
  m.innerProtocol = b[q + 9]!;
  if ((u16(b, q + 6) & 0x1fff) === 0) fillTransport(m, b, q + qHeader, end, m.innerProtocol, true);
}
