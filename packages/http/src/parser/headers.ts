/**
 * An ordered list of header (or trailer) fields as received, with case-insensitive lookup.
 */

/**
 * Header fields in wire order. Names keep their case in {@link HeaderList.raw}; lookups compare
 * lower-cased names. Lookups are linear scans (no map is built per request): the list is bounded by
 * {@link ParserLimits.maxHeaders}. Instances are immutable once built by the parser.
 */
export class HeaderList {
  /** Names and values interleaved, `[name0, value0, name1, value1, ...]`, as on the wire (OWS trimmed). */
  readonly raw: readonly string[];
  /** The lower-cased names, index i matching field i (`raw[2 * i]`). */
  readonly lowerNames: readonly string[];

  /**
   * @param raw interleaved names and values (even length)
   * @param lowerNames the lower-cased names, one per pair; computed from `raw` when omitted
   */
  constructor(raw: readonly string[], lowerNames?: readonly string[]) {
    this.raw = raw;
    if (lowerNames === undefined) {
      const lower: string[] = [];
      for (let i = 0; i < raw.length; i += 2) lower.push(raw[i]!.toLowerCase());
      lowerNames = lower;
    }
    this.lowerNames = lowerNames;
  }

  /** An empty list (shared). */
  static readonly EMPTY: HeaderList = new HeaderList([], []);

  /** Number of field lines. */
  get size(): number {
    return this.lowerNames.length;
  }

  /** The name of field `i` as received (case preserved). */
  nameAt(i: number): string {
    return this.raw[2 * i] ?? '';
  }

  /** The value of field `i` (leading/trailing whitespace removed). */
  valueAt(i: number): string {
    return this.raw[2 * i + 1] ?? '';
  }

  /** Whether a field named `name` (any case) is present. */
  has(name: string): boolean {
    return this.indexOf(name) >= 0;
  }

  /** The index of the first field named `name` (any case), or -1. */
  indexOf(name: string, from = 0): number {
    const lower = name.toLowerCase();
    const names = this.lowerNames;
    for (let i = from; i < names.length; i++) if (names[i] === lower) return i;
    return -1;
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
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.raw.length; i += 2) out.push([this.raw[i]!, this.raw[i + 1]!]);
    return out;
  }
}
