/**
 * Initial sequence numbers (RFC 6528): ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * where M is a timer that ticks every 4 microseconds and F is SipHash-2-4 keyed with a secret.
 *
 * Each 4-tuple gets its own sequence space, offset by a value an off-path attacker cannot guess,
 * that still advances with time, so a new incarnation of a connection starts above the old one's
 * numbers (RFC 9293 §3.4.1). The other half of the same hash is the 4-tuple's timestamp clock
 * offset (RFC 7323 §7.1). Time is the caller's `nowMs`; nothing here reads a clock.
 */
import { SipHash24 } from './siphash.js';

/** M ticks per millisecond (one tick per 4 microseconds). */
export const ISN_TICKS_PER_MS = 250;

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Generates ISNs per RFC 6528, and each 4-tuple's timestamp clock offset (RFC 7323 §7.1) from the
 * same hash: F is the low 32 bits of the tuple's SipHash-2-4, the offset its high 32 bits, so a
 * passive or active open hashes its 4-tuple once for both (the last tuple's hash is kept).
 *
 * Contract: for one 4-tuple, `isn(t2) - isn(t1) = floor(250 t2) - floor(250 t1)` modulo 2^32 (the ISN
 * advances 250 per millisecond); different 4-tuples get unrelated offsets; `tsOffset` of a 4-tuple
 * never changes and is unrelated to its ISN offset but through the secret. Allocation-free.
 */
export class IsnGenerator {
  private readonly prf: SipHash24;
  // The 4-tuple hashed last (addresses as signed 32-bit integers; port -1: none yet) and its hash's
  // halves, signed too (small integers to V8, not heap numbers).
  private lastLocal = 0;
  private lastLocalPort = -1;
  private lastRemote = 0;
  private lastRemotePort = -1;
  private lastLow = 0;
  private lastHigh = 0;

  /**
   * @param secret 16 bytes from the stack's seeded random source, fixed for the generator's life.
   * @throws RangeError unless `secret` has 16 bytes.
   */
  constructor(secret: Uint8Array) {
    this.prf = new SipHash24(secret);
  }

  /** The ISN (uint32) for a connection at `nowMs` with the given IPv4 addresses (uint32) and ports. */
  isn(nowMs: number, localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
    this.hashTuple(localAddr, localPort, remoteAddr, remotePort);
    const ticks = Math.floor(nowMs * ISN_TICKS_PER_MS) % TWO_POW_32;
    return (ticks + this.lastLow) >>> 0; // lastLow is signed: the sum is still F + M modulo 2^32
  }

  /**
   * The timestamp clock offset (uint32, RFC 7323 §7.1) of the connection with these IPv4 addresses
   * (uint32) and ports: the high 32 bits of the SipHash-2-4 whose low 32 bits are the ISN's F.
   */
  tsOffset(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
    this.hashTuple(localAddr, localPort, remoteAddr, remotePort);
    return this.lastHigh >>> 0;
  }

  /** Leaves the tuple's hash in `lastLow`/`lastHigh`, hashing only when it is not the tuple hashed last. */
  private hashTuple(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): void {
    if (
      localPort === this.lastLocalPort &&
      remotePort === this.lastRemotePort &&
      (localAddr | 0) === this.lastLocal &&
      (remoteAddr | 0) === this.lastRemote
    )
      return;
    this.lastLow = tupleHash(this.prf, localAddr, localPort, remoteAddr, remotePort) | 0;
    this.lastHigh = this.prf.high | 0;
    this.lastLocal = localAddr | 0;
    this.lastLocalPort = localPort;
    this.lastRemote = remoteAddr | 0;
    this.lastRemotePort = remotePort;
  }
}

/**
 * F of RFC 6528: the low 32 bits of SipHash-2-4 over the 12 bytes local address, local port, remote
 * address, remote port (each in network byte order), passed to {@link SipHash24.hash12} as the
 * three little-endian words those bytes make, so no message buffer is written and read back.
 */
function tupleHash(
  prf: SipHash24,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
): number {
  // Bytes 0..3: the local address, most significant byte first (byte 0 is the word's low byte).
  const w0 =
    ((localAddr & 0xff) << 24) |
    (((localAddr >>> 8) & 0xff) << 16) |
    (((localAddr >>> 16) & 0xff) << 8) |
    (localAddr >>> 24);
  // Bytes 4..7: the local port, then the remote address's first two bytes.
  const w1 =
    ((localPort >>> 8) & 0xff) |
    ((localPort & 0xff) << 8) |
    (((remoteAddr >>> 24) & 0xff) << 16) |
    (((remoteAddr >>> 16) & 0xff) << 24);
  // Bytes 8..11: the remote address's last two bytes, then the remote port.
  const w2 =
    ((remoteAddr >>> 8) & 0xff) |
    ((remoteAddr & 0xff) << 8) |
    (((remotePort >>> 8) & 0xff) << 16) |
    ((remotePort & 0xff) << 24);
  return prf.hash12(w0, w1, w2);
}
