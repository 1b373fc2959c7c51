/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * The sum is byte-order independent (RFC 1071 §2(B)): we add 16-bit words in big-endian order as
 * the wire defines them. {@link onesComplementSum} returns a partial, unfolded-safe sum so callers
 * can chain a pseudo-header and a payload without copying them together.
 */

/**
 * Adds the big-endian 16-bit words of `bytes` to `initial` and returns the folded 16-bit
 * ones'-complement sum (not yet inverted). An odd trailing byte is padded with zero, as RFC 1071 says.
 * Chaining: `onesComplementSum(b, onesComplementSum(a))` equals the sum over `a ++ b` only when
 * `a` has even length.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  const len = bytes.byteLength;
  const even = len & ~1;
  let i = 0;
  // Unrolled by 8 bytes; a Number holds the running sum exactly for any buffer below 2^37 bytes.
  const end8 = even & ~7;
  for (; i < end8; i += 8) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!);
  }
  for (; i < even; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (len & 1) sum += bytes[len - 1]! << 8;
  return foldSum(sum);
}

/** Folds a non-negative sum of 16-bit words (below 2^53) to 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of `bytes`: the ones'-complement of their ones'-complement sum. */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}

/**
 * RFC 1624 eqn. 3 incremental update: the new checksum after one 16-bit word of the covered data
 * changes from `oldWord` to `newWord`. `HC' = ~(~HC + ~m + m')`.
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** RFC 1624 update for a 32-bit field (e.g. an IPv4 address in a pseudo-header) changing value. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const c = checksumUpdate16(checksum, (oldValue >>> 16) & 0xffff, (newValue >>> 16) & 0xffff);
  return checksumUpdate16(c, oldValue & 0xffff, newValue & 0xffff);
}
