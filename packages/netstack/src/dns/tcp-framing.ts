/**
 * DNS messages over a TCP byte stream (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by
 * its length as two bytes, most significant first. {@link DnsStreamReader} cuts a stream into
 * messages whatever the segment boundaries (a length prefix split across reads, several messages
 * in one read); {@link frameDnsMessage} adds the prefix.
 */
import { DNS_HEADER_LENGTH } from '@postern/wire';

/** The largest DNS message a two-byte length prefix can carry. */
export const DNS_TCP_MAX = 0xffff;

/**
 * `message` with its two-byte length prefix, in a new array.
 * @throws RangeError when `message` is longer than {@link DNS_TCP_MAX}.
 */
export function frameDnsMessage(message: Uint8Array): Uint8Array {
  const n = message.length;
  if (n > DNS_TCP_MAX) throw new RangeError(`a DNS message over TCP is at most ${DNS_TCP_MAX} bytes, got ${n}`);
  const out = new Uint8Array(2 + n);
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  out.set(message, 2);
  return out;
}

/**
 * Cuts a DNS-over-TCP byte stream into messages. Holds at most one message being received (its
 * length prefix says how much to allocate, so at most {@link DNS_TCP_MAX} bytes). A length below a
 * DNS header (12 bytes) makes the stream malformed: {@link DnsStreamReader.feed} says so and the
 * reader takes nothing more.
 */
export class DnsStreamReader {
  /** The first byte of a length prefix whose second byte has not come, or -1. */
  private lengthHigh = -1;
  private message: Uint8Array | undefined = undefined;
  private filled = 0;
  private broken = false;

  /** True while part of a message (or of its length prefix) has come and the rest has not. */
  get partial(): boolean {
    return this.lengthHigh >= 0 || this.message !== undefined;
  }

  /** True once a length below a DNS header was read. */
  get malformed(): boolean {
    return this.broken;
  }

  /**
   * Takes the next bytes of the stream (copied: `bytes` may be reused afterwards) and calls
   * `onMessage` with each message completed, in order; each is a fresh array the callee owns. Returns
   * false when the stream is (or was already) malformed; the bytes after the bad prefix are ignored.
   */
  feed(bytes: Uint8Array, onMessage: (message: Uint8Array) => void): boolean {
    let at = 0;
    const end = bytes.length;
    while (at < end && !this.broken) {
      const message = this.message;
      if (message === undefined) {
        const b = bytes[at++]!;
        if (this.lengthHigh < 0) {
          this.lengthHigh = b;
          continue;
        }
        const length = (this.lengthHigh << 8) | b;
        this.lengthHigh = -1;
        if (length < DNS_HEADER_LENGTH) {
          this.broken = true;
          break;
        }
        this.message = new Uint8Array(length);
        this.filled = 0;
        continue;
      }
      const take = Math.min(end - at, message.length - this.filled);
      message.set(bytes.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === message.length) {
        this.message = undefined;
        onMessage(message);
      }
    }
    return !this.broken;
  }
}
