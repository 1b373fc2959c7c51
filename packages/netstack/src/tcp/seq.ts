/**
 * 32-bit TCP sequence-number arithmetic (RFC 9293 §3.4, the serial-number arithmetic of RFC 1982).
 *
 * Sequence numbers are unsigned 32-bit integers held in plain `number`s in 0..2^32-1. Every function
 * here takes such numbers and returns one (results of {@link seqAdd}, {@link seqMax}, {@link seqMin}
 * are again in 0..2^32-1). Comparisons are meaningful only between numbers less than 2^31 apart,
 * which TCP guarantees for every pair it compares (windows are at most 2^30 bytes). For two numbers
 * exactly 2^31 apart the order is undefined by RFC 1982; here {@link seqSub} returns +2^31 both
 * ways, so each compares greater than the other. None of these functions allocates or throws.
 */

const TWO_POW_31 = 0x8000_0000;

/** `a + n` modulo 2^32, for a sequence number `a` and any integer `n` (negative moves backwards). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * The signed distance `a - b` around the 32-bit circle, in (-2^31, 2^31]: positive when `a` is after
 * `b`. `seqAdd(b, seqSub(a, b)) === a` for all `a`, `b`.
 */
export function seqSub(a: number, b: number): number {
  const d = (a - b) | 0;
  return d === -TWO_POW_31 ? TWO_POW_31 : d;
}

/** `a` comes strictly before `b`. */
export function seqLt(a: number, b: number): boolean {
  return seqSub(a, b) < 0;
}

/** `a` comes before `b` or equals it. */
export function seqLe(a: number, b: number): boolean {
  return seqSub(a, b) <= 0;
}

/** `a` comes strictly after `b`. */
export function seqGt(a: number, b: number): boolean {
  return seqSub(a, b) > 0;
}

/** `a` comes after `b` or equals it. */
export function seqGe(a: number, b: number): boolean {
  return seqSub(a, b) >= 0;
}

/** The later of `a` and `b` (by {@link seqGt}); `a` when equal. */
export function seqMax(a: number, b: number): number {
  return seqSub(b, a) > 0 ? b >>> 0 : a >>> 0;
}

/** The earlier of `a` and `b` (by {@link seqLt}); `a` when equal. */
export function seqMin(a: number, b: number): number {
  return seqSub(b, a) < 0 ? b >>> 0 : a >>> 0;
}

/**
 * True when `x` lies in the window of `len` sequence numbers that starts at `start`, that is
 * `start <= x < start + len` around the circle. An empty window (`len <= 0`) contains nothing;
 * `len` is meaningful up to 2^32.
 */
export function seqInWindow(x: number, start: number, len: number): boolean {
  return (x - start) >>> 0 < len;
}
