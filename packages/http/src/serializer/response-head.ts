/**
 * Serialization of a response head: status line and field lines (RFC 9112 §4, §5).
 */
import { Buffer } from 'node:buffer';
import { HttpSerializeError } from './errors.js';
import { assertFieldName, assertFieldValue } from './fields.js';
import { reasonPhrase } from './status.js';

/** Response fields in the order to send: `[name, value]` pairs; numbers are written in decimal. */
export type ResponseFields = ReadonlyArray<readonly [name: string, value: string | number]>;

/** What {@link serializeResponseHead} writes. */
export interface ResponseHead {
  /** Three-digit status code, 100..999. */
  readonly status: number;
  /** Reason phrase; defaults to {@link reasonPhrase} of `status`. */
  readonly reason?: string;
  /** Header fields, in order. The serializer adds none (no Date, no Content-Length). */
  readonly headers?: ResponseFields;
}

/**
 * Writes `HTTP/1.1 <status> <reason>\r\n`, each field as `name: value\r\n`, then the empty line, as
 * latin1 bytes in one fresh buffer. The version is always HTTP/1.1 (a server sends its own highest
 * version, RFC 9110 §2.5, also to 1.0 clients). Every name, value and the reason are validated first.
 *
 * @throws HttpSerializeError `INVALID_STATUS`, `INVALID_REASON`, `INVALID_HEADER_NAME`,
 *   `INVALID_HEADER_VALUE` (then nothing is returned, so nothing half-valid can be written)
 */
export function serializeResponseHead(head: ResponseHead): Uint8Array {
  const status = head.status;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new HttpSerializeError('INVALID_STATUS', `invalid status ${String(status)}`);
  }
  const reason = head.reason ?? reasonPhrase(status);
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
      throw new HttpSerializeError('INVALID_REASON', 'reason phrase contains a control character or a non-latin1 one');
    }
  }
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  const headers = head.headers;
  if (headers !== undefined) {
    for (const [name, raw] of headers) {
      const value = typeof raw === 'number' ? String(raw) : raw;
      assertFieldName(name);
      assertFieldValue(name, value);
      text += `${name}: ${value}\r\n`;
    }
  }
  text += '\r\n';
  return Buffer.from(text, 'latin1');
}
