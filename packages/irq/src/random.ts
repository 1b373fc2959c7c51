/**
 * A seeded pseudo-random number generator: **sfc32** (Chris Doty-Humphrey's Small Fast Chaotic
 * generator, 32-bit variant, 128 bits of state, passes PractRand and BigCrush). The seed is spread
 * over the four state words with **splitmix32**, and the first 12 outputs are discarded so that
 * nearby seeds (1, 2, 3, ...) give unrelated sequences.
 *
 * Not cryptographic. It exists so that a simulation (initial sequence numbers, ephemeral ports, loss
 * and jitter in fault injection) replays exactly from its seed.
 */
import { requireFinite } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;
const WARM_UP_ROUNDS = 12;

/** sfc32 seeded through splitmix32. The same seed always yields the same sequence. */
export class SeededRandom {
  /** The seed this generator started from (taken modulo 2^32). */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed Any finite number; its integer part modulo 2^32 is used. Throws `BAD_ARGUMENT` otherwise. */
  constructor(seed = 1) {
    this.seed = Math.trunc(requireFinite('seed', seed)) >>> 0;
    let s = this.seed;
    const next = (): number => {
      // splitmix32: a Weyl sequence through a 32-bit finaliser.
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = 1;
    for (let i = 0; i < WARM_UP_ROUNDS; i++) this.randomUint32();
  }

  /** The next unsigned 32-bit integer in [0, 2^32). */
  randomUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** The next number in [0, 1), a multiple of 2^-32 (one {@link randomUint32} draw). */
  random(): number {
    return this.randomUint32() / TWO_POW_32;
  }
}
