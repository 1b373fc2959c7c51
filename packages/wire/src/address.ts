/**
 * Addresses as plain numbers: an IPv4 address is an unsigned 32-bit integer in host order
 * (`0xc0000201` is 192.0.2.1) and a MAC address is an unsigned 48-bit integer
 * (`0x020000000001` is 02:00:00:00:00:01). Numbers compare with `===`, key a `Map` without
 * allocation, and never alias a packet buffer.
 */
import { MalformedError } from './errors.js';

/** An IPv4 address as an unsigned 32-bit integer (host order). */
export type Ipv4Address = number;
/** A MAC address as an unsigned 48-bit integer. */
export type MacAddress = number;

/** The broadcast MAC address ff:ff:ff:ff:ff:ff. */
export const MAC_BROADCAST: MacAddress = 0xffff_ffff_ffff;
/** 255.255.255.255, the limited broadcast address. */
export const IPV4_BROADCAST: Ipv4Address = 0xffff_ffff;
/** 0.0.0.0, the unspecified address. */
export const IPV4_UNSPECIFIED: Ipv4Address = 0;

/** Formats an IPv4 address in dotted-quad form. */
export function ipv4ToString(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parses dotted-quad text; throws {@link MalformedError} for anything else. */
export function parseIpv4(text: string): Ipv4Address {
  const parts = text.split('.');
  if (parts.length !== 4) throw new MalformedError('ipv4-address', `not a dotted quad: ${JSON.stringify(text)}`);
  let a = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)
      throw new MalformedError('ipv4-address', `bad octet in ${JSON.stringify(text)}`);
    a = a * 256 + Number(p);
  }
  return a >>> 0;
}

/** Formats a MAC address as six lower-case hex pairs joined by colons. */
export function macToString(m: MacAddress): string {
  return m
    .toString(16)
    .padStart(12, '0')
    .replace(/(..)(?!$)/g, '$1:');
}

/** Parses `aa:bb:cc:dd:ee:ff` (or with dashes); throws {@link MalformedError} for anything else. */
export function parseMac(text: string): MacAddress {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text))
    throw new MalformedError('mac-address', `not a MAC address: ${JSON.stringify(text)}`);
  return parseInt(text.replace(/[:-]/g, ''), 16);
}

/** True for a group (multicast or broadcast) MAC address: the I/G bit of the first octet is set. */
export function isMulticastMac(m: MacAddress): boolean {
  return Math.floor(m / 0x100_0000_0000) % 2 === 1;
}

/** Reads a 6-byte MAC address at `offset`. Caller guarantees the bytes exist. */
export function readMac(bytes: Uint8Array, offset: number): MacAddress {
  return (
    ((bytes[offset]! << 8) | bytes[offset + 1]!) * 0x1_0000_0000 +
    (((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0)
  );
}

/** Writes a MAC address as 6 bytes at `offset`. Caller guarantees the room. */
export function writeMac(bytes: Uint8Array, offset: number, m: MacAddress): void {
  const hi = Math.floor(m / 0x1_0000_0000);
  const lo = m >>> 0;
  bytes[offset] = hi >>> 8;
  bytes[offset + 1] = hi & 0xff;
  bytes[offset + 2] = lo >>> 24;
  bytes[offset + 3] = (lo >>> 16) & 0xff;
  bytes[offset + 4] = (lo >>> 8) & 0xff;
  bytes[offset + 5] = lo & 0xff;
}

/** Does `address` lie in `prefix/length`? `length` is 0..32. */
export function ipv4InPrefix(address: Ipv4Address, prefix: Ipv4Address, length: number): boolean {
  if (length === 0) return true;
  const mask = (0xffff_ffff << (32 - length)) >>> 0;
  return (address & mask) >>> 0 === (prefix & mask) >>> 0;
}
