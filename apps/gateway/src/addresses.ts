/**
 * Text forms the gateway's configuration and admin API accept: IPv4 addresses, `ADDR/PREFIX`
 * interface addresses, route destinations (`NET/PREFIX` or `default`) and port ranges. Each parser
 * returns `undefined` for text it does not accept (never throws), so the config validator and the
 * admin API can name the field and the problem themselves.
 */
import { ipv4ToString, type Ipv4Address } from '@postern/wire';

/** An IPv4 address with a prefix length. */
export interface Ipv4Prefix {
  /** The address as written (host bits may be set for an interface address). */
  readonly address: Ipv4Address;
  /** 0..32. */
  readonly length: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses a dotted quad (`10.0.0.1`); `undefined` for anything else (leading zeros, octets over 255, extra parts). */
export function parseIpv4Text(text: string): Ipv4Address | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let a = 0;
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) return undefined;
    a = a * 256 + Number(p);
  }
  return a >>> 0;
}

/** Parses `ADDR/LEN` with LEN in 0..32; `undefined` for anything else. Host bits may be set. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4Text(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9][0-9]?)$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > 32) return undefined;
  return { address, length };
}

/** The netmask of a prefix length (0..32) as an unsigned 32-bit number. */
export function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffff_ffff << (32 - length)) >>> 0;
}

/** True when `p.address` has no bits set outside its prefix (a network number). */
export function isNetwork(p: Ipv4Prefix): boolean {
  return (p.address & ~maskOf(p.length)) >>> 0 === 0;
}

/**
 * Parses a route destination: `default` (0.0.0.0/0) or `NET/LEN` whose host bits are clear.
 * A bare address means a host route (/32). `undefined` for anything else.
 */
export function parseRouteDestination(text: string): Ipv4Prefix | undefined {
  if (text === 'default') return { address: 0, length: 0 };
  const p = text.includes('/') ? parseIpv4Prefix(text) : wrapHost(parseIpv4Text(text));
  return p !== undefined && isNetwork(p) ? p : undefined;
}

function wrapHost(a: Ipv4Address | undefined): Ipv4Prefix | undefined {
  return a === undefined ? undefined : { address: a, length: 32 };
}

/** An inclusive port range. */
export interface PortRangeText {
  /** Lowest port. */
  readonly from: number;
  /** Highest port, >= `from`. */
  readonly to: number;
}

/** Parses `N` or `N-M` (0..65535, N <= M), or a JSON integer; `undefined` for anything else. */
export function parsePortRange(value: unknown): PortRangeText | undefined {
  if (typeof value === 'number') return isPort(value) ? { from: value, to: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  if (m === null) return undefined;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return isPort(from) && isPort(to) && from <= to ? { from, to } : undefined;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

/** Formats `address/length`. */
export function formatPrefix(address: Ipv4Address, length: number): string {
  return `${ipv4ToString(address)}/${length}`;
}
