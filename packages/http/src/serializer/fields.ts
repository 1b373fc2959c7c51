/**
 * Validation of response field names and values before they are written (no header injection).
 */
import { HttpSerializeError } from './errors.js';

// tchar (RFC 9110 §5.6.2) as a 128-entry table; anything >= 0x80 is never a token byte.
const TOKEN = new Uint8Array(128);
for (let b = 0; b < 128; b++) {
  const c = String.fromCharCode(b);
  TOKEN[b] = /[A-Za-z0-9!#$%&'*+\-.^_`|~]/.test(c) ? 1 : 0;
}

/** Whether `name` is a non-empty token (a valid field name or method). */
export function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

/**
 * Whether `value` can be written as a field value: only HTAB, SP, visible ASCII and U+0080..U+00FF
 * (written as single latin1 bytes), no leading or trailing whitespace.
 */
export function isValidFieldValue(value: string): boolean {
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  if (n > 0) {
    const first = value.charCodeAt(0);
    const last = value.charCodeAt(n - 1);
    if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  }
  return true;
}

/** @throws HttpSerializeError `INVALID_HEADER_NAME` unless `name` is a token. */
export function assertFieldName(name: string): void {
  if (!isToken(name)) throw new HttpSerializeError('INVALID_HEADER_NAME', `invalid field name ${JSON.stringify(name)}`);
}

/**
 * @throws HttpSerializeError `INVALID_HEADER_VALUE` unless {@link isValidFieldValue} (so CR, LF and
 *   NUL can never reach the wire).
 */
export function assertFieldValue(name: string, value: string): void {
  if (!isValidFieldValue(value)) {
    throw new HttpSerializeError('INVALID_HEADER_VALUE', `invalid value for field ${JSON.stringify(name)}`);
  }
}
