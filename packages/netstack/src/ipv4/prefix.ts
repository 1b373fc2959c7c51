/**
 * IPv4 prefix arithmetic shared by the routing table and the packet filter. Addresses are unsigned
 * 32-bit numbers (see `Ipv4Address` in `@postern/wire`).
 */
import type { Ipv4Address } from '@postern/wire';

/** The netmask of a prefix length 0..32 as an unsigned 32-bit number (`prefixMask(24)` is 0xffffff00). */
export function prefixMask(length: number): number {
  return length <= 0 ? 0 : length >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - length)) >>> 0;
}

/** True when `value` is an integer in 0..2^32-1, i.e. a valid {@link Ipv4Address}. */
export function isIpv4Address(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/**
 * The key of `address` in a `Map` consulted per packet: its 32 bits as a signed integer. An address
 * above 127.255.255.255 is a boxed number in V8, and a lookup by it hashes the box; a signed 32-bit
 * integer is a small integer, the cheapest key there is. A value that is not an address gets `NaN`,
 * which no address's key equals.
 */
export function addressKey(address: Ipv4Address): number {
  return address >>> 0 === address ? address | 0 : NaN;
}

/** True when `length` is an integer in 0..32. */
export function isPrefixLength(length: number): boolean {
  return Number.isInteger(length) && length >= 0 && length <= 32;
}

/** The network part of `address` under `length` (host bits cleared). */
export function networkOf(address: Ipv4Address, length: number): Ipv4Address {
  return (address & prefixMask(length)) >>> 0;
}
