/** Hand-made IPv4 packets (valid checksums) and checksum verification for the NAT tests. */
import { rawIpv4 } from './net.js';

function sum16(bytes: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2 === 1) s += bytes[bytes.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The Internet checksum of `bytes` with an optional starting sum. */
export function checksum(bytes: Uint8Array, initial = 0): number {
  return ~sum16(bytes, initial) & 0xffff;
}

function pseudo(src: number, dst: number, protocol: number, length: number): number {
  const p = new Uint8Array(12);
  const v = new DataView(p.buffer);
  v.setUint32(0, src);
  v.setUint32(4, dst);
  p[9] = protocol;
  v.setUint16(10, length);
  return sum16(p);
}

/** A UDP datagram in an IPv4 packet. */
export function udp(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  data = new Uint8Array([1, 2, 3, 4]),
): Uint8Array {
  const seg = new Uint8Array(8 + data.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, seg.length);
  seg.set(data, 8);
  v.setUint16(6, checksum(seg, pseudo(src, dst, 17, seg.length)) || 0xffff);
  return rawIpv4({ src, dst, protocol: 17, payload: seg });
}

/** A TCP segment (20-byte header) in an IPv4 packet. */
export function tcp(
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
  data = new Uint8Array(0),
): Uint8Array {
  const seg = new Uint8Array(20 + data.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint32(4, 1000);
  seg[12] = 5 << 4;
  seg[13] = flags;
  v.setUint16(14, 65535);
  seg.set(data, 20);
  v.setUint16(16, checksum(seg, pseudo(src, dst, 6, seg.length)));
  return rawIpv4({ src, dst, protocol: 6, payload: seg });
}

/** An ICMP echo request (type 8) or reply (0). */
export function echo(src: number, dst: number, type: 0 | 8, id: number, seq = 1): Uint8Array {
  const m = new Uint8Array(16);
  const v = new DataView(m.buffer);
  m[0] = type;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  m.set([9, 8, 7, 6, 5, 4, 3, 2], 8);
  v.setUint16(2, checksum(m));
  return rawIpv4({ src, dst, protocol: 1, payload: m });
}

/** An ICMP error of `type`/`code` quoting `quoted` (sent as given, whatever its length). */
export function icmpError(src: number, dst: number, type: number, code: number, quoted: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + quoted.length);
  m[0] = type;
  m[1] = code;
  m.set(quoted, 8);
  new DataView(m.buffer).setUint16(2, checksum(m));
  return rawIpv4({ src, dst, protocol: 1, payload: m });
}

/** Reads a 32-bit address. */
export function u32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}

/** Reads a 16-bit word. */
export function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/**
 * Whether every checksum of `ip` is right: the IP header, the transport (TCP/UDP over the
 * pseudo-header, ICMP over the message), and for an ICMP error the quoted header and, when the
 * whole quoted datagram is there, its transport checksum.
 */
export function checksumsValid(ip: Uint8Array): boolean {
  const hl = (ip[0]! & 15) * 4;
  const total = u16(ip, 2);
  if (checksum(ip.subarray(0, hl)) !== 0) return false;
  const l4 = ip.subarray(hl, total);
  const proto = ip[9]!;
  if (proto === 1) {
    if (checksum(l4) !== 0) return false;
    if ([3, 4, 5, 11, 12].includes(l4[0]!)) {
      const q = l4.subarray(8);
      const qhl = (q[0]! & 15) * 4;
      if (checksum(q.subarray(0, qhl)) !== 0) return false;
      if (u16(q, 2) === q.length) return transportValid(q);
    }
    return true;
  }
  return transportValid(ip.subarray(0, total));
}

function transportValid(ip: Uint8Array): boolean {
  const hl = (ip[0]! & 15) * 4;
  const seg = ip.subarray(hl, u16(ip, 2));
  const proto = ip[9]!;
  if (proto === 1) return checksum(seg) === 0;
  if (proto === 17 && u16(seg, 6) === 0) return true;
  return checksum(seg, pseudo(u32(ip, 12), u32(ip, 16), proto, seg.length)) === 0;
}
