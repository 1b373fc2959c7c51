/**
 * Typed decode errors shared by every parser in this package.
 *
 * Contract: a parser given arbitrary or truncated bytes throws only {@link DecodeError}
 * (never a RangeError or TypeError). "Need more bytes" ({@link TruncatedError}) is kept apart
 * from "malformed" ({@link MalformedError}) so that stream decoders can wait for more input.
 */

/** Stable codes for every decode failure; callers branch on these, never on message text. */
export type DecodeErrorCode = 'TRUNCATED' | 'MALFORMED' | 'BAD_CHECKSUM' | 'UNSUPPORTED';

/** Base class of every error a wire parser throws. */
export class DecodeError extends Error {
  /** The stable code for this condition. */
  readonly code: DecodeErrorCode;
  /** The format being decoded, e.g. `"ipv4"`, `"tcp"`, `"pcap"`. */
  readonly format: string;
  constructor(code: DecodeErrorCode, format: string, message: string) {
    super(`${format}: ${message}`);
    this.name = new.target.name;
    this.code = code;
    this.format = format;
  }
}

/** The buffer ends before the structure does: more bytes may make it valid. */
export class TruncatedError extends DecodeError {
  /** Bytes needed in total, when known. */
  readonly needed: number;
  /** Bytes that were available. */
  readonly available: number;
  constructor(format: string, needed: number, available: number) {
    super('TRUNCATED', format, `need ${needed} bytes, have ${available}`);
    this.needed = needed;
    this.available = available;
  }
}

/** The bytes are present but can never be valid (bad version, length field out of range, ...). */
export class MalformedError extends DecodeError {
  constructor(format: string, message: string) {
    super('MALFORMED', format, message);
  }
}

/** A checksum or FCS does not match the bytes it covers. */
export class ChecksumError extends DecodeError {
  constructor(format: string, message = 'checksum mismatch') {
    super('BAD_CHECKSUM', format, message);
  }
}

/** Valid bytes that describe something this package does not decode (e.g. a non-Ethernet ARP). */
export class UnsupportedError extends DecodeError {
  constructor(format: string, message: string) {
    super('UNSUPPORTED', format, message);
  }
}

/** Throws {@link TruncatedError} unless `bytes` holds at least `needed` bytes. */
export function requireLength(format: string, bytes: Uint8Array, needed: number): void {
  if (bytes.length < needed) throw new TruncatedError(format, needed, bytes.length);
}

/** A `DataView` over exactly the bytes of `bytes` (honouring its offset into a shared buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}
