/**
 * In-place rewriting of IPv4 addresses, ports and ICMP identifiers with incremental checksum
 * updates (RFC 1624): every rewritten 16-bit word updates each checksum that covers it, so a
 * translated packet is never summed again from scratch and nothing is allocated.
 */
import { checksumUpdate16, checksumUpdate32 } from '@postern/wire';

/** Reads a big-endian 16-bit word. */
export function rd16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/** Reads a big-endian 32-bit word as an unsigned number. */
export function rd32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Writes a big-endian 16-bit word. */
export function wr16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** Writes a big-endian 32-bit word. */
export function wr32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Where the transport checksum of `protocol` sits in its header, or -1 when it has none that
 * covers the pseudo-header (ICMP's covers only the ICMP message). `udpZero` handling is the
 * caller's: a UDP checksum of 0 means "none" and stays 0.
 */
export function transportChecksumOffset(protocol: number): number {
  return protocol === 6 ? 16 : protocol === 17 ? 6 : -1;
}

/**
 * Replaces the 32-bit address at `b[addrAt]` with `value`, updating the IPv4 header checksum at
 * `b[ipCsumAt]` and, when `l4CsumAt >= 0` and the bytes are there, the transport checksum whose
 * pseudo-header includes the address (a UDP checksum of 0 stays 0). Returns the old address.
 */
export function rewriteAddress(
  b: Uint8Array,
  addrAt: number,
  value: number,
  ipCsumAt: number,
  l4CsumAt: number,
  udp: boolean,
): number {
  const old = rd32(b, addrAt);
  if (old === value) return old;
  wr32(b, addrAt, value);
  wr16(b, ipCsumAt, checksumUpdate32(rd16(b, ipCsumAt), old, value));
  if (l4CsumAt >= 0 && l4CsumAt + 2 <= b.length) {
    const c = rd16(b, l4CsumAt);
    if (!(udp && c === 0)) wr16(b, l4CsumAt, fixUdpZero(checksumUpdate32(c, old, value), udp));
  }
  return old;
}

/**
 * Replaces the 16-bit word at `b[at]` (a port or ICMP identifier) with `value`, updating the
 * checksum at `b[csumAt]` when `csumAt >= 0` and the bytes are there (a UDP checksum of 0 stays 0).
 * Returns the old value.
 */
export function rewriteWord(b: Uint8Array, at: number, value: number, csumAt: number, udp: boolean): number {
  const old = rd16(b, at);
  if (old === value) return old;
  wr16(b, at, value);
  if (csumAt >= 0 && csumAt + 2 <= b.length) {
    const c = rd16(b, csumAt);
    if (!(udp && c === 0)) wr16(b, csumAt, fixUdpZero(checksumUpdate16(c, old, value), udp));
  }
  return old;
}

/**
 * After the 16-bit word at `b[at]` changed from `oldWord`, updates the checksum at `b[csumAt]`
 * that covers it (an ICMP error's checksum over its quoted datagram).
 */
export function adjustFor(b: Uint8Array, csumAt: number, at: number, oldWord: number): void {
  const now = rd16(b, at);
  if (now !== oldWord) wr16(b, csumAt, checksumUpdate16(rd16(b, csumAt), oldWord, now));
}

/** A UDP checksum that computes to 0 is sent as 0xffff (RFC 768). */
function fixUdpZero(c: number, udp: boolean): number {
  return udp && c === 0 ? 0xffff : c;
}
