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

// The comparisons below are seqSub's sign, each written as one expression on `(b - a) | 0` (or
// `(a - b) | 0`) instead of a call to seqSub: with the half-way case (+2^31, "after" both ways) folded
// in, they stay a few bytecodes long with no call of their own, so V8 inlines them everywhere as
// small functions. Through seqSub they were too large for that once seqSub was inlined into their own
// optimized code, and in the large per-segment functions (header prediction, output), whose inlining
// budget is spent, they became real calls, each boxing a sequence number above 2^31 into a new heap
// number. `(b - a) | 0` is the negation of seqSub's `(a - b) | 0` modulo 2^32, so for seqSub(a, b) = d:
// d < 0 exactly when `(b - a) | 0 > 0` (the half-way value -2^31 negates to itself), and d > 0
// exactly when `(b - a) | 0 < 0` (which includes the half-way case, as seqSub's +2^31 does).

/** `a` comes strictly before `b` (seqSub(a, b) < 0). */
export function seqLt(a: number, b: number): boolean {
  return ((b - a) | 0) > 0;
}

/** `a` comes before `b` or equals it (seqSub(a, b) <= 0). */
export function seqLe(a: number, b: number): boolean {
  return ((b - a) | 0) >= 0;
}

/** `a` comes strictly after `b` (seqSub(a, b) > 0). */
export function seqGt(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** `a` comes after `b` or equals it (seqSub(a, b) >= 0). */
export function seqGe(a: number, b: number): boolean {
  return ((b - a) | 0) <= 0;
}

/** The later of `a` and `b` (by {@link seqGt}); `a` when equal. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? b >>> 0 : a >>> 0;
}

/** The earlier of `a` and `b` (by {@link seqLt}); `a` when equal. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) > 0 ? b >>> 0 : a >>> 0;
}

/**
 * True when `x` lies in the window of `len` sequence numbers that starts at `start`, that is
 * `start <= x < start + len` around the circle. An empty window (`len <= 0`) contains nothing;
 * `len` is meaningful up to 2^32.
 */
export function seqInWindow(x: number, start: number, len: number): boolean {
  return (x - start) >>> 0 < len;
}
