/**
 * Constants and control-payload formats of the Postern serial device protocol, version 1. The
 * normative text is docs/device-protocol.md; section numbers below refer to it. Everything here is
 * shared by the host driver (`SerialNicDriver`) and the board (`SerialBoard`) of `@postern/nic`.
 *
 * Payload parsers throw only {@link DecodeError}s (`TruncatedError` when the payload
 * is shorter than its format, `MalformedError` for values out of range). Trailing bytes beyond what a
 * format defines are ignored (§9, forward compatibility). Emitters return fresh, exactly sized arrays:
 * control frames are rare and small.
 */
import { readMac, writeMac } from '../address.js';
import type { MacAddress } from '../address.js';
import { MalformedError, TruncatedError } from '../errors.js';

/** The protocol version this code speaks (§9). */
export const SERIAL_PROTOCOL_VERSION = 1;

/** Bytes in the frame header (§3). */
export const SERIAL_HEADER_LENGTH = 8;
/** Bytes of the CRC-32 trailer every non-DATA frame carries (§4). */
export const SERIAL_CRC_LENGTH = 4;
/** Largest payload of any frame, a control frame's CRC excluded, in version 1 (§3). */
export const SERIAL_MAX_PAYLOAD = 1536;
/** Smallest DATA payload: an Ethernet header and the FCS (§6.1). */
export const SERIAL_MIN_DATA_PAYLOAD = 18;
/** The default largest DATA payload: 1500-byte MTU + 14-byte header + 4-byte FCS (§6.1). */
export const SERIAL_DEFAULT_MAX_FRAME = 1518;
/** The frame delimiter (§2). */
export const SERIAL_DELIMITER = 0x00;

/** Header field offsets (§3). */
export const HeaderOffset = {
  TYPE: 0,
  FLAGS: 1,
  SEQ: 2,
  LENGTH: 4,
  RESERVED: 6,
  HCS: 7,
} as const;

/** Frame types (§5). */
export const FrameType = {
  DATA: 0x01,
  HELLO: 0x02,
  GET_MAC: 0x03,
  GET_LINK: 0x04,
  SET_LINK: 0x05,
  SET_RX_FILTER: 0x06,
  GET_STATS: 0x07,
  RESET: 0x08,
  GET_CREDIT: 0x09,
  LINK_EVENT: 0x20,
  CREDIT: 0x21,
} as const;
/** A frame type value. */
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Header flag bits (§3). */
export const FrameFlag = {
  /** The frame answers the request with the same type and sequence number. */
  RESPONSE: 0x01,
  /** With RESPONSE: the request failed; the payload is an {@link ErrorPayload}. */
  ERROR: 0x02,
} as const;

/** True for a type defined by version 1 (the decoder counts any other as unknown). */
export function isKnownFrameType(type: number): boolean {
  return (
    (type >= FrameType.DATA && type <= FrameType.GET_CREDIT) ||
    type === FrameType.LINK_EVENT ||
    type === FrameType.CREDIT
  );
}

/** True for a request type (a host-to-board control frame the board must answer, §6). */
export function isRequestType(type: number): boolean {
  return type >= FrameType.HELLO && type <= FrameType.GET_CREDIT;
}

/** Error codes carried by an error response (§8). */
export const ProtocolError = {
  UNKNOWN_TYPE: 1,
  BAD_LENGTH: 2,
  UNSUPPORTED_VERSION: 3,
  BAD_ARGUMENT: 4,
  NOT_READY: 5,
  BUSY: 6,
} as const;

/** Capability bits exchanged in HELLO (§6.2). */
export const Capability = {
  /** The board filters received frames by destination (SET_RX_FILTER). */
  RX_FILTER: 0x01,
  /** The board keeps a multicast list (else SET_RX_FILTER's list is treated as all-multicast). */
  MULTICAST_LIST: 0x02,
  /** GET_STATS is implemented. */
  STATS: 0x04,
  /** SET_LINK is implemented. */
  LINK_CONTROL: 0x08,
} as const;

/** Every capability version 1 defines. */
export const ALL_CAPABILITIES =
  Capability.RX_FILTER | Capability.MULTICAST_LIST | Capability.STATS | Capability.LINK_CONTROL;

const FORMAT = 'serial-protocol';

function need(bytes: Uint8Array, n: number): void {
  if (bytes.length < n) throw new TruncatedError(FORMAT, n, bytes.length);
}
function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** HELLO request payload (§6.2), 8 bytes. */
export interface HelloRequest {
  /** Oldest protocol version the host speaks. */
  minVersion: number;
  /** Newest protocol version the host speaks. */
  maxVersion: number;
  /** Largest DATA payload (Ethernet frame with FCS) the host accepts. */
  maxFrame: number;
  /** Capability bits the host understands. */
  capabilities: number;
}

/** Encodes a {@link HelloRequest}. */
export function emitHelloRequest(r: HelloRequest): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = r.minVersion;
  b[1] = r.maxVersion;
  put16(b, 2, r.maxFrame);
  put32(b, 4, r.capabilities);
  return b;
}

/** Parses a {@link HelloRequest}; `MalformedError` when minVersion > maxVersion or minVersion is 0. */
export function parseHelloRequest(b: Uint8Array): HelloRequest {
  need(b, 8);
  const r = { minVersion: b[0]!, maxVersion: b[1]!, maxFrame: u16(b, 2), capabilities: u32(b, 4) };
  if (r.minVersion === 0 || r.minVersion > r.maxVersion)
    throw new MalformedError(FORMAT, `bad version range ${r.minVersion}..${r.maxVersion}`);
  return r;
}

/** HELLO response payload (§6.2), 12 bytes. */
export interface HelloResponse {
  /** The version both sides now speak. */
  version: number;
  /** Largest DATA payload the board accepts and sends (its MTU + 18). */
  maxFrame: number;
  /** Capabilities in effect: the board's, masked by the host's. */
  capabilities: number;
  /** Host-to-board DATA credits after the exchange: the host may send sequence numbers 0..window-1 (§7). */
  window: number;
  /** Most multicast addresses SET_RX_FILTER may list before the board falls back to all-multicast. */
  maxMulticast: number;
}

/** Encodes a {@link HelloResponse}. */
export function emitHelloResponse(r: HelloResponse): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = r.version;
  put16(b, 2, r.maxFrame);
  put32(b, 4, r.capabilities);
  put16(b, 8, r.window);
  put16(b, 10, r.maxMulticast);
  return b;
}

/** Parses a {@link HelloResponse}; `MalformedError` for a zero window or a maxFrame below 64. */
export function parseHelloResponse(b: Uint8Array): HelloResponse {
  need(b, 12);
  const r = {
    version: b[0]!,
    maxFrame: u16(b, 2),
    capabilities: u32(b, 4),
    window: u16(b, 8),
    maxMulticast: u16(b, 10),
  };
  if (r.window === 0 || r.window > 0x7fff) throw new MalformedError(FORMAT, `bad window ${r.window}`);
  if (r.maxFrame < 64 || r.maxFrame > SERIAL_MAX_PAYLOAD)
    throw new MalformedError(FORMAT, `bad maxFrame ${r.maxFrame}`);
  return r;
}

/** GET_MAC response payload (§6.3): 6 bytes. */
export function emitMac(mac: MacAddress): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

/** Parses a GET_MAC response payload. */
export function parseMac6(b: Uint8Array): MacAddress {
  need(b, 6);
  return readMac(b, 0);
}

/** Link status (§6.4): the payload of GET_LINK and SET_LINK responses and of LINK_EVENT, 6 bytes. */
export interface LinkStatus {
  /** The PHY reports carrier (and the link is administratively up). */
  up: boolean;
  /** The administrative state set by SET_LINK. */
  adminUp: boolean;
  /** Full duplex. */
  fullDuplex: boolean;
  /** Speed in Mbit/s (10, 100, 1000), 0 when down. */
  speedMbps: number;
}

/** Encodes a {@link LinkStatus}. */
export function emitLinkStatus(s: LinkStatus): Uint8Array {
  const b = new Uint8Array(6);
  b[0] = s.up ? 1 : 0;
  b[1] = s.adminUp ? 1 : 0;
  b[2] = s.fullDuplex ? 1 : 0;
  put16(b, 4, s.speedMbps);
  return b;
}

/** Parses a {@link LinkStatus}; `MalformedError` for a state byte other than 0 or 1. */
export function parseLinkStatus(b: Uint8Array): LinkStatus {
  need(b, 6);
  if (b[0]! > 1 || b[1]! > 1 || b[2]! > 1) throw new MalformedError(FORMAT, 'link status bytes must be 0 or 1');
  return { up: b[0] === 1, adminUp: b[1] === 1, fullDuplex: b[2] === 1, speedMbps: u16(b, 4) };
}

/** SET_LINK request payload (§6.5): 1 byte, 1 = administratively up. */
export function emitSetLink(adminUp: boolean): Uint8Array {
  return Uint8Array.of(adminUp ? 1 : 0);
}

/** Parses a SET_LINK request payload. */
export function parseSetLink(b: Uint8Array): boolean {
  need(b, 1);
  if (b[0]! > 1) throw new MalformedError(FORMAT, 'SET_LINK state must be 0 or 1');
  return b[0] === 1;
}

/** Receive-filter flag bits (§6.6). */
export const RxFilterFlag = {
  PROMISCUOUS: 0x01,
  ALL_MULTICAST: 0x02,
  /** Response only: the list was longer than the board keeps, so it accepts all multicast instead. */
  LIST_OVERFLOW: 0x04,
} as const;

/** SET_RX_FILTER request payload (§6.6): flags, count, then `count` 6-byte addresses. */
export interface RxFilterRequest {
  promiscuous: boolean;
  allMulticast: boolean;
  multicast: readonly MacAddress[];
}

/** Encodes a {@link RxFilterRequest}. */
export function emitRxFilterRequest(r: RxFilterRequest): Uint8Array {
  const b = new Uint8Array(4 + 6 * r.multicast.length);
  b[0] = (r.promiscuous ? RxFilterFlag.PROMISCUOUS : 0) | (r.allMulticast ? RxFilterFlag.ALL_MULTICAST : 0);
  put16(b, 2, r.multicast.length);
  r.multicast.forEach((m, i) => writeMac(b, 4 + 6 * i, m));
  return b;
}

/** Parses a {@link RxFilterRequest}; `TruncatedError` when the list is shorter than its count. */
export function parseRxFilterRequest(b: Uint8Array): RxFilterRequest {
  need(b, 4);
  const count = u16(b, 2);
  need(b, 4 + 6 * count);
  const multicast: MacAddress[] = [];
  for (let i = 0; i < count; i++) multicast.push(readMac(b, 4 + 6 * i));
  return {
    promiscuous: (b[0]! & RxFilterFlag.PROMISCUOUS) !== 0,
    allMulticast: (b[0]! & RxFilterFlag.ALL_MULTICAST) !== 0,
    multicast,
  };
}

/** SET_RX_FILTER response payload (§6.6), 4 bytes: the filter in effect. */
export interface RxFilterResponse {
  /** {@link RxFilterFlag} bits in effect. */
  flags: number;
  /** Multicast addresses kept. */
  count: number;
}

/** Encodes a {@link RxFilterResponse}. */
export function emitRxFilterResponse(r: RxFilterResponse): Uint8Array {
  const b = new Uint8Array(4);
  b[0] = r.flags;
  put16(b, 2, r.count);
  return b;
}

/** Parses a {@link RxFilterResponse}. */
export function parseRxFilterResponse(b: Uint8Array): RxFilterResponse {
  need(b, 4);
  return { flags: b[0]!, count: u16(b, 2) };
}

/** Credit state (§7): payload of CREDIT events and GET_CREDIT responses, 4 bytes. */
export interface CreditState {
  /** The host may send DATA sequence numbers s with (limit - s) mod 2^16 in 1..32767. */
  limit: number;
  /** The board's receive window (its queue capacity in frames). */
  window: number;
}

/** Encodes a {@link CreditState}. */
export function emitCredit(c: CreditState): Uint8Array {
  const b = new Uint8Array(4);
  put16(b, 0, c.limit);
  put16(b, 2, c.window);
  return b;
}

/** Parses a {@link CreditState}. */
export function parseCredit(b: Uint8Array): CreditState {
  need(b, 4);
  return { limit: u16(b, 0), window: u16(b, 2) };
}

/** An error response payload (§8), 4 bytes. */
export interface ErrorPayload {
  /** A {@link ProtocolError} code. */
  code: number;
  /** Code-specific detail: for UNSUPPORTED_VERSION, (board min version << 8) | board max version. */
  detail: number;
}

/** Encodes an {@link ErrorPayload}. */
export function emitError(e: ErrorPayload): Uint8Array {
  const b = new Uint8Array(4);
  b[0] = e.code;
  put16(b, 2, e.detail);
  return b;
}

/** Parses an {@link ErrorPayload}. */
export function parseError(b: Uint8Array): ErrorPayload {
  need(b, 4);
  return { code: b[0]!, detail: u16(b, 2) };
}

/** The board counters GET_STATS returns, in wire order (§6.7). Names are stable. */
export const BOARD_STAT_NAMES = [
  'rxFrames',
  'rxBytes',
  'rxFiltered',
  'rxBadFrames',
  'rxDroppedQueue',
  'rxDroppedNotReady',
  'txFrames',
  'txBytes',
  'txDroppedOverrun',
  'txDroppedBadLength',
  'txDroppedNotReady',
  'serialErrors',
  'hostSeqGaps',
  'linkChanges',
] as const;

/** Board counters (§6.7); "rx" is wire-to-host, "tx" is host-to-wire. */
export type SerialBoardStats = Record<(typeof BOARD_STAT_NAMES)[number], number>;

/** A zeroed {@link SerialBoardStats}. */
export function newBoardStats(): SerialBoardStats {
  const s = {} as SerialBoardStats;
  for (const n of BOARD_STAT_NAMES) s[n] = 0;
  return s;
}

/** Encodes counters as unsigned 64-bit big-endian values in {@link BOARD_STAT_NAMES} order. */
export function emitStats(s: Readonly<SerialBoardStats>): Uint8Array {
  const b = new Uint8Array(8 * BOARD_STAT_NAMES.length);
  BOARD_STAT_NAMES.forEach((n, i) => {
    const v = s[n];
    put32(b, 8 * i, Math.floor(v / 0x1_0000_0000));
    put32(b, 8 * i + 4, v >>> 0);
  });
  return b;
}

/**
 * Parses a GET_STATS payload. Counters the payload lacks (an older board) read as 0; extra trailing
 * counters (a newer board) are ignored. `MalformedError` when the length is not a multiple of 8.
 */
export function parseStats(b: Uint8Array): SerialBoardStats {
  if (b.length % 8 !== 0) throw new MalformedError(FORMAT, `stats length ${b.length} is not a multiple of 8`);
  const s = newBoardStats();
  BOARD_STAT_NAMES.forEach((n, i) => {
    if (8 * i + 8 <= b.length) s[n] = u32(b, 8 * i) * 0x1_0000_0000 + u32(b, 8 * i + 4);
  });
  return s;
}

/** True when DATA sequence `seq` is within the credit `limit` (§7): (limit - seq) mod 2^16 in 1..32767. */
export function seqBeforeLimit(seq: number, limit: number): boolean {
  const d = (limit - seq) & 0xffff;
  return d !== 0 && d < 0x8000;
}
