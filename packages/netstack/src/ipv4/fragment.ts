/**
 * IPv4 fragmentation on send (RFC 791 §3.2, RFC 1812 §5.2.5 when forwarding).
 *
 * A datagram larger than the link MTU is cut into fragments whose payloads (all but the last) are
 * multiples of 8 bytes; every fragment but the last has More Fragments set. The first fragment
 * carries every option; the others carry only the options whose copied flag (the type octet's top
 * bit) is set, padded with End of Option List to a multiple of 4. Fragmenting a fragment (a router
 * forwarding one onto a smaller link) keeps its offset base and its More Fragments flag on the last
 * piece. Each fragment is emitted with the wire package's `emitIpv4`.
 */
import { IPV4_MIN_HEADER_LENGTH, Ipv4OptionReader, emitIpv4, type Ipv4Repr } from '@postern/wire';

/** The smallest MTU every IPv4 link must carry (RFC 791): 60 header bytes and 8 data bytes. */
export const IPV4_MIN_MTU = 68;

/** Stable codes of {@link FragmentError}. */
export type FragmentErrorCode = 'DONT_FRAGMENT' | 'MTU_TOO_SMALL' | 'PAYLOAD_LENGTH';

/** The datagram cannot be fragmented as asked; branch on {@link FragmentError.code}. */
export class FragmentError extends Error {
  /** `DONT_FRAGMENT` (too big with DF set: the caller answers ICMP fragmentation needed), `MTU_TOO_SMALL`, `PAYLOAD_LENGTH`. */
  readonly code: FragmentErrorCode;
  constructor(code: FragmentErrorCode, message: string) {
    super(message);
    this.name = 'FragmentError';
    this.code = code;
  }
}

/** Allocates the buffer for one fragment of `length` bytes (a pool may hand out larger ones). */
export type FragmentAllocator = (length: number) => Uint8Array;

const defaultAllocate: FragmentAllocator = (length) => new Uint8Array(length);

/** The options of `options` a fragment after the first must repeat: those with the copied flag, padded to 4. */
export function copiedOptions(options: Uint8Array): Uint8Array {
  if (options.length === 0) return options;
  const reader = new Ipv4OptionReader(options);
  const kept: Uint8Array[] = [];
  let length = 0;
  while (reader.next()) {
    if ((reader.type & 0x80) === 0) continue;
    kept.push(options.subarray(reader.offset, reader.offset + reader.length));
    length += reader.length;
  }
  const out = new Uint8Array((length + 3) & ~3); // zero padding is End of Option List
  let at = 0;
  for (const k of kept) {
    out.set(k, at);
    at += k.length;
  }
  return out;
}

/**
 * Splits the datagram `repr` + `payload` into packets of at most `mtu` bytes and returns them
 * (each a complete IPv4 packet with its checksum, in offset order; one packet when it already
 * fits). `repr.payloadLength` must equal `payload.byteLength`.
 * @throws {@link FragmentError} `DONT_FRAGMENT` when it does not fit and `repr.dontFragment` is set;
 * `MTU_TOO_SMALL` when `mtu` is below {@link IPV4_MIN_MTU} or leaves fewer than 8 data bytes;
 * `PAYLOAD_LENGTH` when the lengths disagree.
 */
export function fragmentIpv4(
  repr: Ipv4Repr,
  payload: Uint8Array,
  mtu: number,
  allocate: FragmentAllocator = defaultAllocate,
): Uint8Array[] {
  if (payload.length !== repr.payloadLength)
    throw new FragmentError('PAYLOAD_LENGTH', `payload of ${payload.length} bytes, header says ${repr.payloadLength}`);
  if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU)
    throw new FragmentError('MTU_TOO_SMALL', `MTU ${mtu} is below ${IPV4_MIN_MTU}`);
  const firstHeader = IPV4_MIN_HEADER_LENGTH + repr.options.length;
  if (firstHeader + payload.length <= mtu) {
    const out = allocate(firstHeader + payload.length);
    const n = emitIpv4(repr, out, payload);
    return [out.subarray(0, n)];
  }
  if (repr.dontFragment)
    throw new FragmentError(
      'DONT_FRAGMENT',
      `${firstHeader + payload.length} bytes do not fit MTU ${mtu} and Don't Fragment is set`,
    );
  const laterOptions = copiedOptions(repr.options);
  const laterHeader = IPV4_MIN_HEADER_LENGTH + laterOptions.length;
  if (((mtu - firstHeader) & ~7) === 0)
    throw new FragmentError(
      'MTU_TOO_SMALL',
      `MTU ${mtu} leaves no 8-byte data unit after a ${firstHeader}-byte header`,
    );

  const fragments: Uint8Array[] = [];
  const total = payload.length;
  let at = 0;
  while (at < total) {
    const headerLength = at === 0 ? firstHeader : laterHeader;
    const room = (mtu - headerLength) & ~7;
    const length = Math.min(room, total - at);
    const last = at + length === total;
    const piece: Ipv4Repr = {
      ...repr,
      options: at === 0 ? repr.options : laterOptions,
      fragmentOffset: repr.fragmentOffset + at,
      moreFragments: last ? repr.moreFragments : true,
      payloadLength: length,
    };
    const out = allocate(headerLength + length);
    const n = emitIpv4(piece, out, payload.subarray(at, at + length));
    fragments.push(out.subarray(0, n));
    at += length;
  }
  return fragments;
}
