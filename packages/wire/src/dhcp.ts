/**
 * DHCP messages (RFC 2131) with their options (RFC 2132): the fixed BOOTP part, the magic cookie,
 * and the options field, including option overload (option 52: options continued in `file` and/or
 * `sname`) and long options split over several instances (RFC 3396, concatenated on parse).
 *
 * Parsing is strict about lengths: an option whose length runs past the end of its area, an
 * overload option naming areas that hold no END, a missing magic cookie, each is a
 * {@link DecodeError}; option values are views into the message unless an option was split (then
 * the parts are concatenated into a new buffer).
 */
import { readMac, writeMac, type Ipv4Address, type MacAddress } from './address.js';
import { emitError, readUint16, readUint32, writeUint16, writeUint32 } from './emit-util.js';
import { MalformedError, TruncatedError } from './errors.js';

const FORMAT = 'dhcp';

/** Server port (RFC 2131). */
export const DHCP_SERVER_PORT = 67;
/** Client port. */
export const DHCP_CLIENT_PORT = 68;
/** Length of the fixed part (op .. file) before the magic cookie. */
export const DHCP_FIXED_LENGTH = 236;
/** The magic cookie 99.130.83.99 that starts the options. */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Offset of the first option (after the cookie). */
export const DHCP_OPTIONS_OFFSET = DHCP_FIXED_LENGTH + 4;
/** Smallest message emitted: BOOTP's 300 bytes (RFC 1542 §3.2.1: some relays drop shorter ones). */
export const DHCP_MIN_EMIT_LENGTH = 300;
/** BOOTREQUEST (client to server). */
export const BOOTP_REQUEST = 1;
/** BOOTREPLY (server to client). */
export const BOOTP_REPLY = 2;
/** The broadcast bit of the flags field. */
export const DHCP_FLAG_BROADCAST = 0x8000;

/** DHCP message types (option 53). */
export const DHCP_DISCOVER = 1;
/** DHCPOFFER. */
export const DHCP_OFFER = 2;
/** DHCPREQUEST. */
export const DHCP_REQUEST = 3;
/** DHCPDECLINE. */
export const DHCP_DECLINE = 4;
/** DHCPACK. */
export const DHCP_ACK = 5;
/** DHCPNAK. */
export const DHCP_NAK = 6;
/** DHCPRELEASE. */
export const DHCP_RELEASE = 7;
/** DHCPINFORM. */
export const DHCP_INFORM = 8;

/** Option codes (RFC 2132) this package names. */
export const DHCP_OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOST_NAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** A DHCP message: the fixed fields and the options by code. */
export interface DhcpRepr {
  /** {@link BOOTP_REQUEST} or {@link BOOTP_REPLY}. */
  op: number;
  /** Transaction id. */
  xid: number;
  /** Seconds since the client began. */
  secs: number;
  /** Flags ({@link DHCP_FLAG_BROADCAST}). */
  flags: number;
  /** Client address (bound clients). */
  ciaddr: Ipv4Address;
  /** "Your" address (the one offered or acknowledged). */
  yiaddr: Ipv4Address;
  /** Next server. */
  siaddr: Ipv4Address;
  /** Relay agent. */
  giaddr: Ipv4Address;
  /** Client hardware address (Ethernet: htype 1, hlen 6). */
  chaddr: MacAddress;
  /** Options by code (PAD and END excluded), values as views or concatenated parts, in the order first seen. */
  options: Map<number, Uint8Array>;
}

/** The message type (option 53), or `undefined` when absent or not one byte. */
export function dhcpMessageType(repr: DhcpRepr): number | undefined {
  const v = repr.options.get(DHCP_OPT.MESSAGE_TYPE);
  return v?.byteLength === 1 ? v[0] : undefined;
}

/** An option holding one IPv4 address (50, 54, 1, 28), or `undefined` when absent or not 4 bytes. */
export function dhcpAddressOption(repr: DhcpRepr, code: number): Ipv4Address | undefined {
  const v = repr.options.get(code);
  return v?.byteLength === 4 ? readUint32(v, 0) : undefined;
}

/** An option holding a list of IPv4 addresses (3, 6): every whole 4-byte group; empty when absent. */
export function dhcpAddressListOption(repr: DhcpRepr, code: number): Ipv4Address[] {
  const v = repr.options.get(code);
  const out: Ipv4Address[] = [];
  if (v === undefined) return out;
  for (let i = 0; i + 4 <= v.length; i += 4) out.push(readUint32(v, i));
  return out;
}

/** An option holding one unsigned 32-bit number (51, 58, 59), or `undefined`. */
export function dhcpUint32Option(repr: DhcpRepr, code: number): number | undefined {
  const v = repr.options.get(code);
  return v?.byteLength === 4 ? readUint32(v, 0) : undefined;
}

/** The bytes of an option holding IPv4 addresses. */
export function dhcpAddressBytes(...addresses: Ipv4Address[]): Uint8Array {
  const out = new Uint8Array(4 * addresses.length);
  addresses.forEach((a, i) => writeUint32(out, 4 * i, a >>> 0));
  return out;
}

/** The bytes of an option holding one unsigned 32-bit number. */
export function dhcpUint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeUint32(out, 0, value >>> 0);
  return out;
}

const SNAME_OFFSET = 44;
const SNAME_LENGTH = 64;
const FILE_OFFSET = 108;
const FILE_LENGTH = 128;

/**
 * Parses a DHCP message (the UDP payload).
 * @throws {@link TruncatedError} under 240 bytes; {@link MalformedError} for a bad magic cookie, a
 *   hardware type other than Ethernet (1, length 6), an option that runs past the end of its area
 *   (truncated options), a bad overload value, or over 16 KiB of one concatenated option.
 */
export function parseDhcp(bytes: Uint8Array): DhcpRepr {
  if (bytes.length < DHCP_OPTIONS_OFFSET) throw new TruncatedError(FORMAT, DHCP_OPTIONS_OFFSET, bytes.length);
  if (readUint32(bytes, DHCP_FIXED_LENGTH) !== DHCP_MAGIC_COOKIE) throw new MalformedError(FORMAT, 'no magic cookie');
  const op = bytes[0]!;
  if (op !== BOOTP_REQUEST && op !== BOOTP_REPLY)
    throw new MalformedError(FORMAT, `op ${op} is neither request nor reply`);
  if (bytes[1] !== 1 || bytes[2] !== 6)
    throw new MalformedError(FORMAT, `hardware type ${bytes[1]} length ${bytes[2]} is not Ethernet`);
  const parts = new Map<number, Uint8Array[]>();
  readOptionArea(bytes, DHCP_OPTIONS_OFFSET, bytes.length, parts, true);
  const overload = parts.get(DHCP_OPT.OVERLOAD);
  if (overload !== undefined) {
    const v = overload[0]!;
    if (overload.length !== 1 || v.length !== 1 || v[0]! < 1 || v[0]! > 3)
      throw new MalformedError(FORMAT, 'bad option overload (52)');
    // RFC 2131 §4.1: options, then file, then sname.
    if (v[0]! & 1) readOptionArea(bytes, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, parts, false);
    if (v[0]! & 2) readOptionArea(bytes, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, parts, false);
  }
  const options = new Map<number, Uint8Array>();
  for (const [code, list] of parts) options.set(code, list.length === 1 ? list[0]! : concat(list));
  return {
    op,
    xid: readUint32(bytes, 4),
    secs: readUint16(bytes, 8),
    flags: readUint16(bytes, 10),
    ciaddr: readUint32(bytes, 12),
    yiaddr: readUint32(bytes, 16),
    siaddr: readUint32(bytes, 20),
    giaddr: readUint32(bytes, 24),
    chaddr: readMac(bytes, 28),
    options,
  };
}

/** Most bytes one option may total after RFC 3396 concatenation. */
const MAX_CONCATENATED = 16 * 1024;

function readOptionArea(
  bytes: Uint8Array,
  start: number,
  end: number,
  parts: Map<number, Uint8Array[]>,
  main: boolean,
): void {
  let at = start;
  while (at < end) {
    const code = bytes[at]!;
    if (code === DHCP_OPT.PAD) {
      at++;
      continue;
    }
    if (code === DHCP_OPT.END) return;
    if (at + 1 >= end) throw new MalformedError(FORMAT, `option ${code} has no length byte (truncated options)`);
    const length = bytes[at + 1]!;
    if (at + 2 + length > end)
      throw new MalformedError(
        FORMAT,
        `option ${code} of ${length} bytes runs past the end of its area (truncated options)`,
      );
    if (code === DHCP_OPT.OVERLOAD && !main)
      throw new MalformedError(FORMAT, 'option overload (52) inside an overloaded field');
    const list = parts.get(code);
    const value = bytes.subarray(at + 2, at + 2 + length);
    if (list === undefined) parts.set(code, [value]);
    else {
      list.push(value);
      if (list.reduce((n, p) => n + p.length, 0) > MAX_CONCATENATED)
        throw new MalformedError(FORMAT, `option ${code} concatenates to over ${MAX_CONCATENATED} bytes`);
    }
    at += 2 + length;
  }
  // The main options area may end without END when the message ends there (lenient, as most
  // clients are); an overloaded field must hold its END.
  if (!main) throw new MalformedError(FORMAT, 'an overloaded field has no END option');
}

function concat(list: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of list) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes {@link emitDhcp} writes for `repr`: fixed part, cookie, options (long ones split), END, padded to 300. */
export function dhcpBufferLength(repr: DhcpRepr): number {
  let n = DHCP_OPTIONS_OFFSET + 1;
  for (const [, v] of repr.options) n += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255);
  return Math.max(n, DHCP_MIN_EMIT_LENGTH);
}

/**
 * Writes `repr` into `buffer` (sized with {@link dhcpBufferLength}); options in map order, a value
 * over 255 bytes split into several instances (RFC 3396), then END and zero padding.
 * @returns the message length.
 * @throws RangeError for a short buffer or an option code of 0 or 255.
 */
export function emitDhcp(repr: DhcpRepr, buffer: Uint8Array): number {
  const length = dhcpBufferLength(repr);
  if (buffer.length < length) throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${length}`);
  buffer.fill(0, 0, length);
  buffer[0] = repr.op;
  buffer[1] = 1;
  buffer[2] = 6;
  writeUint32(buffer, 4, repr.xid >>> 0);
  writeUint16(buffer, 8, repr.secs);
  writeUint16(buffer, 10, repr.flags);
  writeUint32(buffer, 12, repr.ciaddr >>> 0);
  writeUint32(buffer, 16, repr.yiaddr >>> 0);
  writeUint32(buffer, 20, repr.siaddr >>> 0);
  writeUint32(buffer, 24, repr.giaddr >>> 0);
  writeMac(buffer, 28, repr.chaddr);
  writeUint32(buffer, DHCP_FIXED_LENGTH, DHCP_MAGIC_COOKIE);
  let at = DHCP_OPTIONS_OFFSET;
  for (const [code, value] of repr.options) {
    if (code === DHCP_OPT.PAD || code === DHCP_OPT.END || !Number.isInteger(code) || code < 0 || code > 255)
      throw emitError(FORMAT, `option code ${code} cannot be emitted`);
    let done = 0;
    do {
      const chunk = Math.min(255, value.length - done);
      buffer[at] = code;
      buffer[at + 1] = chunk;
      buffer.set(value.subarray(done, done + chunk), at + 2);
      at += 2 + chunk;
      done += chunk;
    } while (done < value.length);
  }
  buffer[at] = DHCP_OPT.END;
  return length;
}
