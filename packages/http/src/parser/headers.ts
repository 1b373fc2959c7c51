/**
 * An ordered list of header (or trailer) fields as received, with case-insensitive lookup.
 */
import type { Buffer } from 'node:buffer';
import { latin1Text } from './latin1.js';

/** A field name spelled as a client commonly sends it, and its lower case (shared strings). */
export interface SpelledName {
  /** The name as sent. */
  readonly name: string;
  /** Its lower case. */
  readonly lower: string;
}

/** Numbers per field in a span list: name start, name end, value start, value end. */
const SPAN = 4;

/** Whether `buf[start, end)` with its ASCII capitals lowered is `lower`. */
function bytesEqualLower(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    let b = buf[start + k]!;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (b !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * Header fields in wire order. Names keep their case in {@link HeaderList.raw}; lookups compare
 * lower-cased names. Lookups are linear scans (no map is built per request): the list is bounded by
 * {@link ParserLimits.maxHeaders}. Instances are immutable once built by the parser.
 *
 * A list the parser decoded from one received chunk keeps the field positions in that chunk and decodes
 * a name or value only when it is read ({@link HeaderList.valueAt}, {@link HeaderList.get}, ...; `raw`
 * and `lowerNames` decode every field once, on first use): a request whose handler reads two fields
 * makes two strings, not one per field. Such a list refers to the chunk's memory, which the transport
 * must not reuse while the list is in use (Node's and Postern's sockets hand out a new chunk per read).
 */
export class HeaderList {
  /** Names and values as strings (made on first use for a list decoded lazily). */
  private rawList: readonly string[] | undefined;
  /** The lower-cased names as strings (made on first use for a list decoded lazily). */
  private lowerList: readonly string[] | undefined;
  /** Lazily decoded lists: the bytes the fields are in (dropped once every field is decoded). */
  private bytes: Buffer | undefined;
  /** Lazily decoded lists: {@link SPAN} positions per field in {@link HeaderList.bytes}. */
  private spans: readonly number[] | undefined;
  /** Lazily decoded lists: each field's name when it is a commonly spelled one, else null. */
  private spelled: ReadonlyArray<SpelledName | null> | undefined;
  private fieldCount: number;

  /**
   * @param raw interleaved names and values (even length)
   * @param lowerNames the lower-cased names, one per pair; computed from `raw` when omitted
   */
  constructor(raw: readonly string[], lowerNames?: readonly string[]) {
    this.rawList = raw;
    if (lowerNames === undefined) {
      const lower: string[] = [];
      for (let i = 0; i < raw.length; i += 2) lower.push(raw[i]!.toLowerCase());
      lowerNames = lower;
    }
    this.lowerList = lowerNames;
    this.bytes = undefined;
    this.spans = undefined;
    this.spelled = undefined;
    this.fieldCount = lowerNames.length;
  }

  /**
   * @internal A list decoded on demand from `bytes` (see the class notes): field `i`'s name is
   * `bytes[spans[4i], spans[4i+1])` (or `spelled[i].name` when not null) and its value
   * `bytes[spans[4i+2], spans[4i+3])`, both already validated by the parser.
   */
  static fromSpans(bytes: Buffer, spans: readonly number[], spelled: ReadonlyArray<SpelledName | null>): HeaderList {
    const list = new HeaderList(NO_STRINGS, NO_STRINGS);
    list.rawList = undefined;
    list.lowerList = undefined;
    list.bytes = bytes;
    list.spans = spans;
    list.spelled = spelled;
    list.fieldCount = spelled.length;
    return list;
  }

  /** An empty list (shared). */
  static readonly EMPTY: HeaderList = new HeaderList([], []);

  /** Names and values interleaved, `[name0, value0, name1, value1, ...]`, as on the wire (OWS trimmed). */
  get raw(): readonly string[] {
    return (this.rawList ??= this.decodeRaw());
  }

  /** The lower-cased names, index i matching field i (`raw[2 * i]`). */
  get lowerNames(): readonly string[] {
    return (this.lowerList ??= this.decodeLower());
  }

  /** Number of field lines. */
  get size(): number {
    return this.fieldCount;
  }

  /** The name of field `i` as received (case preserved). */
  nameAt(i: number): string {
    const raw = this.rawList;
    if (raw !== undefined) return raw[2 * i] ?? '';
    if (!(i >= 0 && i < this.fieldCount)) return '';
    return this.spelled![i]?.name ?? latin1Text(this.bytes!, this.spans![SPAN * i]!, this.spans![SPAN * i + 1]!);
  }

  /** The value of field `i` (leading/trailing whitespace removed). */
  valueAt(i: number): string {
    const raw = this.rawList;
    if (raw !== undefined) return raw[2 * i + 1] ?? '';
    if (!(i >= 0 && i < this.fieldCount)) return '';
    return latin1Text(this.bytes!, this.spans![SPAN * i + 2]!, this.spans![SPAN * i + 3]!);
  }

  /** Whether a field named `name` (any case) is present. */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** The index of the first field named `name` (any case), or -1. */
  indexOf(name: string, from = 0): number {
    const lower = name.toLowerCase();
    const names = this.lowerList;
    if (names !== undefined) {
      for (let i = from; i < names.length; i++) if (names[i] === lower) return i;
      return -1;
    }
    for (let i = Math.max(0, from); i < this.fieldCount; i++) if (this.nameIs(i, lower)) return i;
    return -1;
  }

  /**
   * @internal Whether field `i`'s name, lower-cased, is `lower` (a lower-case string), decoding nothing.
   */
  nameIs(i: number, lower: string): boolean {
    const names = this.lowerList;
    if (names !== undefined) return names[i] === lower;
    const spelled = this.spelled![i];
    if (spelled !== null && spelled !== undefined) return spelled.lower === lower;
    const spans = this.spans!;
    return bytesEqualLower(this.bytes!, spans[SPAN * i]!, spans[SPAN * i + 1]!, lower);
  }

  /** @internal The length of field `i`'s name. */
  nameLength(i: number): number {
    const names = this.lowerList;
    if (names !== undefined) return names[i]?.length ?? 0;
    const spans = this.spans!;
    return spans[SPAN * i + 1]! - spans[SPAN * i]!;
  }

  /**
   * @internal Decodes every field now and lets go of the bytes (for a list kept beyond its request,
   * such as a remembered head): afterwards it holds strings only.
   */
  detach(): void {
    if (this.bytes === undefined) return;
    this.rawList ??= this.decodeRaw();
    this.lowerList ??= this.decodeLower();
    this.bytes = undefined;
    this.spans = undefined;
    this.spelled = undefined;
  }

  /**
   * The value of `name` (any case): the single value, or all values joined with `", "` in order
   * (the list combination of RFC 9110 §5.3), or `undefined` when absent. Do not use for `Set-Cookie`.
   */
  get(name: string): string | undefined {
    let i = this.indexOf(name);
    if (i < 0) return undefined;
    let value = this.valueAt(i);
    while ((i = this.indexOf(name, i + 1)) >= 0) value += ', ' + this.valueAt(i);
    return value;
  }

  /** Every value of `name` (any case), in order; empty when absent. */
  getAll(name: string): string[] {
    const out: string[] = [];
    for (let i = this.indexOf(name); i >= 0; i = this.indexOf(name, i + 1)) out.push(this.valueAt(i));
    return out;
  }

  /** Counts the fields named `name` (any case). */
  count(name: string): number {
    let n = 0;
    for (let i = this.indexOf(name); i >= 0; i = this.indexOf(name, i + 1)) n++;
    return n;
  }

  /** `[name, value]` pairs in order (allocates; for tests and logging). */
  entries(): Array<[string, string]> {
    const raw = this.raw;
    const out: Array<[string, string]> = [];
    for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
    return out;
  }

  private decodeRaw(): string[] {
    const raw: string[] = [];
    for (let i = 0; i < this.fieldCount; i++) raw.push(this.nameAt(i), this.valueAt(i));
    return raw;
  }

  private decodeLower(): string[] {
    const lower: string[] = [];
    for (let i = 0; i < this.fieldCount; i++) lower.push(this.spelled![i]?.lower ?? this.nameAt(i).toLowerCase());
    return lower;
  }
}

/** The placeholder arrays {@link HeaderList.fromSpans} constructs with (replaced at once). */
const NO_STRINGS: readonly string[] = Object.freeze([]);
