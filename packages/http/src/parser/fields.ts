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
import { HeaderList, type SpelledName } from './headers.js';
import { latin1Text } from './latin1.js';

// Module-local copies: hot loops read them without going through an import binding.
const COLON = COLON_;
const CR = CR_;
const FIELD_VALUE = FIELD_VALUE_;
const TOKEN = TOKEN_;
const isWhitespace = isWhitespace_;

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
export interface KnownName extends SpelledName {
  readonly bytes: Uint8Array;
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
export function knownName(buf: Uint8Array, start: number, end: number): KnownName | undefined {
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
