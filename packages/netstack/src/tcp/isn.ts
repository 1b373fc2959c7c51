/**
 * Initial sequence numbers (RFC 6528): ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * where M is a timer that ticks every 4 microseconds and F is SipHash-2-4 keyed with a secret.
 *
 * Each 4-tuple gets its own sequence space, offset by a value an off-path attacker cannot guess,
 * that still advances with time, so a new incarnation of a connection starts above the old one's
 * numbers (RFC 9293 §3.4.1). Time is the caller's `nowMs`; nothing here reads a clock.
 */
import { writeUint32 } from '@postern/wire';
import { SipHash24 } from './siphash.js';

/** M ticks per millisecond (one tick per 4 microseconds). */
export const ISN_TICKS_PER_MS = 250;

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Generates ISNs per RFC 6528.
 *
 * Contract: for one 4-tuple, `isn(t2) - isn(t1) = floor(250 t2) - floor(250 t1)` modulo 2^32 (the ISN
 * advances 250 per millisecond); different 4-tuples get unrelated offsets. Allocation-free.
 */
export class IsnGenerator {
  private readonly prf: SipHash24;
  private readonly message = new Uint8Array(12);

  /**
   * @param secret 16 bytes from the stack's seeded random source, fixed for the generator's life.
   * @throws RangeError unless `secret` has 16 bytes.
   */
  constructor(secret: Uint8Array) {
    this.prf = new SipHash24(secret);
  }

  /** The ISN (uint32) for a connection at `nowMs` with the given IPv4 addresses (uint32) and ports. */
  isn(nowMs: number, localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
    const m = this.message;
    writeUint32(m, 0, localAddr);
    m[4] = localPort >>> 8;
    m[5] = localPort;
    writeUint32(m, 6, remoteAddr);
    m[10] = remotePort >>> 8;
    m[11] = remotePort;
    const f = this.prf.hash(m);
    const ticks = Math.floor(nowMs * ISN_TICKS_PER_MS) % TWO_POW_32;
    return (ticks + f) >>> 0;
  }
}
