/**
 * Byte-class tables for HTTP/1.x parsing (RFC 9110 §5.6.2 tokens, §5.5 field values, RFC 3986 URI
 * characters). Each table is a 256-entry `Uint8Array` indexed by the byte: 1 = allowed, 0 = not.
 * Internal to the package.
 */

/** Carriage return. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
/** Space. */
export const SP = 0x20;
/** Horizontal tab. */
export const HTAB = 0x09;
/** `:` */
export const COLON = 0x3a;
/** `;` */
export const SEMI = 0x3b;
/** `=` */
export const EQUALS = 0x3d;
/** `"` */
export const DQUOTE = 0x22;
/** `\` */
export const BACKSLASH = 0x5c;
/** `,` */
export const COMMA = 0x2c;
/** `%` */
export const PERCENT = 0x25;

function table(pred: (b: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = pred(b) ? 1 : 0;
  return t;
}

const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

/** tchar (RFC 9110 §5.6.2): the bytes of methods, header names, coding names. */
export const TOKEN = table((b) => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));

/** Bytes allowed in a field value: HTAB, SP, VCHAR, obs-text (no NUL, no other CTL, no DEL). */
export const FIELD_VALUE = table((b) => b === HTAB || (b >= 0x20 && b !== 0x7f));

/**
 * Bytes allowed in a request-target: RFC 3986 unreserved, reserved minus `#` (no fragment is sent in a
 * request), and `%` (which must start a valid pct-encoding; checked separately).
 */
export const TARGET = table(
  (b) => isAlpha(b) || isDigit(b) || "-._~:/?[]@!$&'()*+,;=%".includes(String.fromCharCode(b)),
);

/** Bytes allowed in a Host value (uri-host [":" port]): unreserved, sub-delims, `%`, `[`, `]`, `:`. */
export const HOST = table((b) => isAlpha(b) || isDigit(b) || "-._~!$&'()*+,;=%[]:".includes(String.fromCharCode(b)));

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, `!`, `#`-`[`, `]`-`~`, obs-text. */
export const QDTEXT = table(
  (b) => b === HTAB || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80,
);

/** The value of a hex digit byte, or -1 (`HEX_VALUE[b]`). */
export const HEX_VALUE = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

/** Whether `b` is SP or HTAB (OWS / BWS). */
export function isWhitespace(b: number): boolean {
  return b === SP || b === HTAB;
}
