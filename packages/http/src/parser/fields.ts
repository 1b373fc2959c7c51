/**
 * Parses the field lines of a complete header or trailer section. Internal to the package.
 *
 * Precondition (guaranteed by the parser's section scanner): `bytes[start, end)` is a run of lines,
 * each ended by CRLF, with no bare CR and no bare LF, the closing empty line excluded.
 */
import { Buffer } from 'node:buffer';
import {
  COLON as COLON_,
  CR as CR_,
  FIELD_VALUE as FIELD_VALUE_,
  TOKEN as TOKEN_,
  isWhitespace as isWhitespace_,
} from './chars.js';
import { HttpParseError } from './errors.js';
import { HeaderList } from './headers.js';

// Module-local copies: hot loops read them without going through an import binding.
const COLON = COLON_;
const CR = CR_;
const FIELD_VALUE = FIELD_VALUE_;
const TOKEN = TOKEN_;
const isWhitespace = isWhitespace_;

/**
 * A latin1 decoder over one contiguous section: `bytes` itself when it is a `Buffer` already (what a
 * socket delivers), else one `Buffer` view of the same memory; one string per field.
 */
export function latin1View(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Buffer's own latin1 decoder, the one `toString('latin1', start, end)` ends in. */
type Latin1Slicer = (this: Buffer, start: number, end: number) => string;

/**
 * Node's `Buffer.prototype.latin1Slice` when the runtime has it (called directly it skips
 * `toString`'s encoding dispatch and argument handling), else `toString('latin1', ...)`.
 */
const latin1Slice: Latin1Slicer =
  (Buffer.prototype as unknown as { latin1Slice?: Latin1Slicer }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

/** The latin1 text of `buf[start, end)` (`start <= end <= buf.length`). */
export function latin1Text(buf: Buffer, start: number, end: number): string {
  return latin1Slice.call(buf, start, end);
}

/**
 * Field names most requests carry, each as sent by the usual clients and in lower case: a name
 * matching one byte for byte is that string, and its lower case the shared one (no decoding, no
 * lowering per request).
 */
const COMMON_NAMES = [
  'Host',
  'User-Agent',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Connection',
  'Content-Length',
  'Content-Type',
  'Cache-Control',
  'Cookie',
  'Referer',
  'Origin',
  'If-None-Match',
  'If-Modified-Since',
  'Range',
  'Authorization',
  'Pragma',
  'Upgrade-Insecure-Requests',
  'Sec-Fetch-Site',
  'Sec-Fetch-Mode',
  'Sec-Fetch-Dest',
];

/** A common name as sent: its bytes, the string, and the shared lower case. */
interface KnownName {
  readonly bytes: Uint8Array;
  readonly name: string;
  readonly lower: string;
}

/** {@link COMMON_NAMES} (both spellings) by length. */
const KNOWN_BY_LENGTH: KnownName[][] = [];
for (const name of COMMON_NAMES) {
  const lower = name.toLowerCase();
  for (const spelling of new Set([name, lower])) {
    (KNOWN_BY_LENGTH[spelling.length] ??= []).push({ bytes: Buffer.from(spelling, 'latin1'), name: spelling, lower });
  }
}

/** The {@link KnownName} spelled exactly as `buf[start, end)`, or undefined. */
function knownName(buf: Uint8Array, start: number, end: number): KnownName | undefined {
  const candidates = KNOWN_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  for (let k = 0; k < candidates.length; k++) {
    const known = candidates[k]!;
    const bytes = known.bytes;
    let j = 0;
    while (j < bytes.length && bytes[j] === buf[start + j]) j++;
    if (j === bytes.length) return known;
  }
  return undefined;
}

/**
 * Decodes the field lines in `buf[start, end)` into a {@link HeaderList}, strictly: no obs-fold, a
 * token name, the colon right after it, a value of field-vchar/SP/HTAB with surrounding OWS removed.
 *
 * @throws HttpParseError `OBS_FOLD`, `INVALID_HEADER_NAME`, `WHITESPACE_BEFORE_COLON`, `MISSING_COLON`,
 *   `INVALID_HEADER_VALUE`
 */
export function parseFieldLines(buf: Buffer, start: number, end: number): HeaderList {
  const raw: string[] = [];
  const lower: string[] = [];
  let i = start;
  while (i < end) {
    const lineStart = i;
    const first = buf[i]!;
    if (isWhitespace(first)) throw new HttpParseError('OBS_FOLD', 'a field line starts with whitespace (obs-fold)');
    while (TOKEN[buf[i]!] === 1) i++;
    const nameEnd = i;
    const stop = buf[i]!;
    if (stop !== COLON) {
      if (nameEnd === lineStart)
        throw new HttpParseError('INVALID_HEADER_NAME', `invalid byte 0x${stop.toString(16)} in a field name`);
      if (isWhitespace(stop))
        throw new HttpParseError('WHITESPACE_BEFORE_COLON', 'whitespace between a field name and its colon');
      if (stop === CR) throw new HttpParseError('MISSING_COLON', 'a field line has no colon');
      throw new HttpParseError('INVALID_HEADER_NAME', `invalid byte 0x${stop.toString(16)} in a field name`);
    }
    if (nameEnd === lineStart) throw new HttpParseError('INVALID_HEADER_NAME', 'empty field name');
    i++; // colon
    while (isWhitespace(buf[i]!)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      const b = buf[i]!;
      if (b === CR) break;
      if (FIELD_VALUE[b] !== 1)
        throw new HttpParseError('INVALID_HEADER_VALUE', `control byte 0x${b.toString(16)} in a field value`);
      i++;
      if (!isWhitespace(b)) valueEnd = i;
    }
    i += 2; // CRLF
    const known = knownName(buf, lineStart, nameEnd);
    const name = known?.name ?? latin1Text(buf, lineStart, nameEnd);
    raw.push(name, latin1Text(buf, valueStart, valueEnd));
    lower.push(known?.lower ?? name.toLowerCase());
  }
  return new HeaderList(raw, lower);
}
