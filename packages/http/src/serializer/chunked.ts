/**
 * The chunked transfer coding, sending side (RFC 9112 §7.1), shaped for `writev`: the data is never
 * copied, only framed.
 */
import { Buffer } from 'node:buffer';
import { HttpSerializeError } from './errors.js';
import { assertFieldName, assertFieldValue } from './fields.js';
import type { ResponseFields } from './response-head.js';

const CRLF_BYTES: Uint8Array = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK_BYTES: Uint8Array = Buffer.from('0\r\n\r\n', 'latin1');

/** Field names that frame or route a message and so must not be sent as trailers (RFC 9110 §6.5.1). */
const FORBIDDEN_TRAILERS = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'connection',
  'trailer',
  'te',
  'content-type',
  'content-encoding',
  'content-range',
]);

/**
 * Frames `data` as one chunk: `[sizeLine, data, CRLF]`, where `sizeLine` is the lower-case hex size
 * plus CRLF and `data` is the very same view passed in (not copied). An empty `data` yields `[]`,
 * because a zero-size chunk would end the body; end it with {@link encodeLastChunk}.
 *
 * The returned CRLF view is shared by all calls: write it, never modify it.
 */
export function encodeChunk(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [];
  return [Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF_BYTES];
}

/**
 * The end of a chunked body: `0\r\n`, the trailer fields, `\r\n`. Without trailers it returns a shared
 * constant view (write it, never modify it).
 *
 * @throws HttpSerializeError `INVALID_HEADER_NAME`, `INVALID_HEADER_VALUE`, or `INVALID_CHUNK` for a
 *   trailer that frames or routes the message (Content-Length, Transfer-Encoding, Host, ...)
 */
export function encodeLastChunk(trailers?: ResponseFields): Uint8Array {
  if (trailers === undefined || trailers.length === 0) return LAST_CHUNK_BYTES;
  let text = '0\r\n';
  for (const [name, raw] of trailers) {
    const value = typeof raw === 'number' ? String(raw) : raw;
    assertFieldName(name);
    assertFieldValue(name, value);
    if (FORBIDDEN_TRAILERS.has(name.toLowerCase())) {
      throw new HttpSerializeError('INVALID_CHUNK', `${name} cannot be sent as a trailer`);
    }
    text += `${name}: ${value}\r\n`;
  }
  return Buffer.from(text + '\r\n', 'latin1');
}
