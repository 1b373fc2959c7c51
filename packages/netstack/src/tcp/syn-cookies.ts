/**
 * SYN cookies (RFC 4987 §3.6): a listener under SYN flood answers a SYN without keeping state, by
 * choosing a server ISN that encodes what it needs to accept the handshake's final ACK later.
 *
 * Cookie layout (32 bits, the server ISN):
 * - bits 31..27: a 5-bit counter `floor(nowMs / 64000) mod 32` (the 64-second period);
 * - bits 26..24: an index into {@link SYN_COOKIE_MSS_TABLE} (the largest entry not above the
 *   client's MSS, or entry 0 when it is below all of them);
 * - bits 23..0: the low 24 bits of SipHash-2-4 under the secret over the 4-tuple, the client ISN, the
 *   full period counter and the MSS index.
 *
 * Options (as Linux does): when the client's SYN carries timestamps, the SYN-ACK's TSval carries
 * the client's window scale and SACK-permitted in its low 6 bits ({@link cookieTimestamp}); the final
 * ACK echoes it, and {@link decodeCookieTimestamp} gives them back, so a connection let through
 * during a SYN flood keeps window scaling, SACK and timestamps. Our own window scale needs no room:
 * the stack derives it from its settings. Without timestamps a cookie connection runs without them
 * (no window scaling, no SACK), the classic trade-off.
 *
 * The caller decodes the ACK's acknowledgment number minus one against the ACK's own sequence number
 * minus one (the client ISN). A cookie is accepted for the current period and the two before it
 * (so it lives 128 to 192 s), and every forged or stale one is rejected except with probability
 * about 2^-24 per guess.
 */
import { writeUint32 } from '@postern/wire';
import { SipHash24 } from './siphash.js';

/** The MSS values a cookie can carry (3 bits), ascending. */
export const SYN_COOKIE_MSS_TABLE: readonly number[] = [256, 536, 1200, 1300, 1380, 1440, 1460, 8960];
/** Length of one cookie period in ms. */
export const SYN_COOKIE_PERIOD_MS = 64_000;
/** Periods before the current one in which a cookie is still accepted. */
export const SYN_COOKIE_MAX_AGE_PERIODS = 2;

const COUNTER_BITS = 5;
const COUNTER_MASK = (1 << COUNTER_BITS) - 1;
const HASH_MASK = 0xff_ffff;

/** A connection's 4-tuple as IPv4 addresses (uint32) and ports, local side first. */
export type TcpTuple = readonly [localAddr: number, localPort: number, remoteAddr: number, remotePort: number];

/**
 * Stateless SYN cookie encoder/decoder. See the module comment for the layout and guarantees.
 * Allocation-free except for the object {@link SynCookies.decode} returns on success.
 */
export class SynCookies {
  private readonly prf: SipHash24;
  private readonly message = new Uint8Array(21);

  /**
   * @param secret 16 bytes from the stack's seeded random source.
   * @throws RangeError unless `secret` has 16 bytes.
   */
  constructor(secret: Uint8Array) {
    this.prf = new SipHash24(secret);
  }

  /** The server ISN for a SYN received at `nowMs` on `tuple` with `clientIsn` and the client's MSS. */
  encode(nowMs: number, tuple: TcpTuple, clientIsn: number, mss: number): number {
    const period = periodOf(nowMs);
    const index = mssIndex(mss);
    const hash = this.mac(tuple, clientIsn, period, index);
    return (((period & COUNTER_MASK) << 27) | (index << 24) | hash) >>> 0;
  }

  /**
   * Checks `cookie` (the ACK's acknowledgment number minus one) for `tuple` and `clientIsn` (the
   * ACK's sequence number minus one) at `nowMs`. Returns the MSS it carries, or `undefined` if it is
   * forged, for another connection, or older than {@link SYN_COOKIE_MAX_AGE_PERIODS} periods.
   */
  decode(nowMs: number, tuple: TcpTuple, clientIsn: number, cookie: number): { mss: number } | undefined {
    cookie >>>= 0;
    const current = periodOf(nowMs);
    const counter = cookie >>> 27;
    const age = (current - counter) & COUNTER_MASK;
    if (age > SYN_COOKIE_MAX_AGE_PERIODS) return undefined;
    const period = current - age;
    const index = (cookie >>> 24) & 7;
    if (this.mac(tuple, clientIsn, period, index) !== (cookie & HASH_MASK)) return undefined;
    return { mss: SYN_COOKIE_MSS_TABLE[index]! };
  }

  private mac(tuple: TcpTuple, clientIsn: number, period: number, index: number): number {
    const m = this.message;
    writeUint32(m, 0, tuple[0]);
    m[4] = tuple[1] >>> 8;
    m[5] = tuple[1];
    writeUint32(m, 6, tuple[2]);
    m[10] = tuple[3] >>> 8;
    m[11] = tuple[3];
    writeUint32(m, 12, clientIsn);
    writeUint32(m, 16, period >>> 0);
    m[20] = index;
    return this.prf.hash(m) & HASH_MASK;
  }
}

function periodOf(nowMs: number): number {
  return Math.floor(nowMs / SYN_COOKIE_PERIOD_MS);
}

/** Index of the largest table MSS not above `mss` (0 when `mss` is below every entry). */
function mssIndex(mss: number): number {
  for (let i = SYN_COOKIE_MSS_TABLE.length - 1; i > 0; i--) if (mss >= SYN_COOKIE_MSS_TABLE[i]!) return i;
  return 0;
}

/** Low bits of a cookie SYN-ACK's TSval that carry the client's options. */
export const COOKIE_TS_OPTION_BITS = 6;
const TS_OPTION_MASK = (1 << COOKIE_TS_OPTION_BITS) - 1;
/** Window-scale field value meaning "the client offered no window scaling". */
const NO_WSCALE = 0xf;
const SACK_BIT = 0x10;

/** The client options a cookie SYN-ACK's timestamp carries. */
export interface CookieOptions {
  /** The client's window scale shift (0..14), or -1 when it offered none. */
  windowScale: number;
  /** The client offered SACK. */
  sackPermitted: boolean;
}

/**
 * The TSval of a cookie SYN-ACK: `tsNow` with its low 6 bits replaced by the client's options
 * (bits 0..3 the window scale, 15 for none; bit 4 SACK-permitted), moved back by 64 when that would
 * put it ahead of `tsNow` (timestamps never run ahead of the clock).
 */
export function cookieTimestamp(tsNow: number, options: CookieOptions): number {
  const ws = options.windowScale >= 0 ? Math.min(options.windowScale, 14) : NO_WSCALE;
  const bits = ws | (options.sackPermitted ? SACK_BIT : 0);
  let ts = ((tsNow & ~TS_OPTION_MASK) | bits) >>> 0;
  if (((ts - tsNow) | 0) > 0) ts = (ts - (TS_OPTION_MASK + 1)) >>> 0;
  return ts;
}

/** The client options carried by the echoed TSval of a cookie SYN-ACK (see {@link cookieTimestamp}). */
export function decodeCookieTimestamp(tsEcr: number): CookieOptions {
  const ws = tsEcr & NO_WSCALE;
  return { windowScale: ws === NO_WSCALE ? -1 : Math.min(ws, 14), sackPermitted: (tsEcr & SACK_BIT) !== 0 };
}
