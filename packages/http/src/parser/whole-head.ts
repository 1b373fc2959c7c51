/**
 * The one-pass path for a request head that arrives whole in one chunk (nearly every head): one scan
 * finds the lines, checks every byte and the limits, and records where each field's name and value
 * are; nothing is copied and no field is decoded until a reader asks for it ({@link HeaderList}).
 * Internal to the package.
 *
 * It only ever accepts: at the first thing that is not a plain valid head (a byte a field may not
 * hold, a bare CR or LF, obs-fold, a limit reached, the chunk ending before the empty line) it gives
 * up and the parser's incremental scanner takes the same bytes from the start, so every refusal, its
 * code and its order stay the scanner's. The request line is the exception only in form: it is checked
 * by the same {@link parseRequestLine} at the same point (its CRLF seen, nothing after it read).
 */
import { COLON as COLON_, CR as CR_, FIELD_VALUE as FIELD_VALUE_, LF as LF_, TOKEN as TOKEN_ } from './chars.js';
import { knownName } from './fields.js';
import { headFromFields, parseRequestLine } from './head.js';
import { HeaderList, type SpelledName } from './headers.js';
import { latin1View } from './latin1.js';
import type { ParserLimits, RequestHead } from './types.js';

// Module-local copies: hot loops read them without going through an import binding.
const COLON = COLON_;
const CR = CR_;
const LF = LF_;
const FIELD_VALUE = FIELD_VALUE_;
const TOKEN = TOKEN_;

/**
 * Scratch lists {@link parseWholeHead} fills while it scans (it is synchronous and never re-entered):
 * the head keeps exact-size copies, one allocation each, instead of arrays grown push by push (whose
 * first push alone reserves room for 17 entries).
 */
const SPANS_SCRATCH: number[] = [];
const SPELLED_SCRATCH: Array<SpelledName | null> = [];

/** Where {@link parseWholeHead} stopped: the position after the head's empty line. */
export interface WholeHeadEnd {
  end: number;
}

/**
 * Parses the head that starts at `chunk[start]` (a request line byte: no leading empty line) when all
 * of it, up to its empty line, is in `chunk[start, end)` and plain: returns the head and sets `out.end`
 * to the position after it. Returns null, having thrown nothing and kept nothing, when the head is not
 * complete in the chunk or anything about it needs the incremental scanner (see the module notes).
 *
 * The head's {@link HeaderList} refers to `chunk` (values decoded on demand).
 *
 * @throws HttpParseError from {@link parseRequestLine} (a complete request line that is invalid), and
 *   the framing and Host refusals of {@link headFromFields} (only for a head whose every line is valid)
 */
export function parseWholeHead(
  chunk: Uint8Array,
  start: number,
  end: number,
  limits: Readonly<ParserLimits>,
  out: WholeHeadEnd,
): RequestHead | null {
  // --- the request line: its CRLF, within the limit
  let i = start;
  while (i < end) {
    const b = chunk[i]!;
    if (b === CR || b === LF) break;
    i++;
  }
  if (i - start > limits.maxRequestLineBytes || i + 1 >= end || chunk[i] !== CR || chunk[i + 1] !== LF) return null;
  i += 2;
  const lineEnd = i;
  const line = parseRequestLine(chunk, start, lineEnd);

  // --- the field lines, to the empty line
  const maxSection = limits.maxHeaderBytes;
  const maxFields = limits.maxHeaders;
  const spans = SPANS_SCRATCH;
  const spelled = SPELLED_SCRATCH;
  let fields = 0;
  for (;;) {
    if (i - lineEnd > maxSection) return null;
    if (i >= end) return null;
    const lineStart = i;
    // name: a token, the colon right after it
    while (i < end && TOKEN[chunk[i]!] === 1) i++;
    if (i === lineStart) {
      // the empty line (or a line the scanner refuses: obs-fold, a bad name)
      if (chunk[i] !== CR || i + 1 >= end || chunk[i + 1] !== LF) return null;
      i += 2;
      if (i - lineEnd > maxSection) return null;
      break;
    }
    const nameEnd = i;
    if (i >= end || chunk[i] !== COLON) return null;
    i++;
    // value: OWS trimmed on both sides
    while (i < end && (chunk[i] === 0x20 || chunk[i] === 0x09)) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      if (i >= end) return null;
      const b = chunk[i]!;
      if (b === CR) break;
      if (FIELD_VALUE[b] !== 1) return null;
      i++;
      if (b !== 0x20 && b !== 0x09) valueEnd = i;
    }
    if (i + 1 >= end || chunk[i + 1] !== LF) return null;
    i += 2;
    if (fields === maxFields) return null;
    const at = 4 * fields;
    spans[at] = lineStart;
    spans[at + 1] = nameEnd;
    spans[at + 2] = valueStart;
    spans[at + 3] = valueEnd;
    spelled[fields++] = knownName(chunk, lineStart, nameEnd) ?? null;
  }
  out.end = i;
  const headers = HeaderList.fromSpans(latin1View(chunk), spans.slice(0, 4 * fields), spelled.slice(0, fields));
  return headFromFields(line, headers, limits);
}
