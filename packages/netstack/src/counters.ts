/**
 * Named counters: the one pattern every stack module uses so that "every drop has a named counter"
 * looks the same everywhere and the admin API can list all of them.
 *
 * A {@link Counters} set is created once with a fixed list of names; incrementing is a store into
 * a typed array (no allocation, no string built at run time; per-packet paths skip the name lookup
 * too, through a slot taken once). Names are
 * checked by the type system: `counters.inc('overlap')` fails to compile when `'overlap'` is not
 * one of the set's names.
 */

/** One counter as the admin API lists it. */
export interface CounterEntry {
  /** The set's group, e.g. `"reassembly"`. */
  readonly group: string;
  /** The counter's name within its group, e.g. `"overlap"`. */
  readonly name: string;
  /** The current value (a non-negative integer). */
  readonly value: number;
}

/** Anything that can list its counters (a {@link Counters} set, or a module that owns several). */
export interface CounterSource {
  /** Every counter of this source, in declaration order. */
  counters(): CounterEntry[];
}

/**
 * A fixed set of named, monotonically increasing counters.
 *
 * Invariants: the names never change after construction; every value starts at 0 and only grows
 * (until {@link Counters.reset}); {@link Counters.counters} lists the names in the order given.
 *
 * Each name has a slot (its index in the values array). {@link Counters.inc} finds the slot by name;
 * a per-packet path takes the slot once with {@link Counters.slotOf} and counts with
 * {@link Counters.incSlot}, which is an array store (no lookup by name).
 */
export class Counters<Name extends string> implements CounterSource {
  /** The group name shown by the admin API. */
  readonly group: string;
  /** The counter names, in declaration order. */
  readonly names: readonly Name[];
  private readonly slots: Record<Name, number>;
  private readonly values: Float64Array;

  /** Creates the set `group` with every counter in `names` at 0. Duplicate names are ignored. */
  constructor(group: string, names: readonly Name[]) {
    this.group = group;
    this.names = [...new Set(names)];
    this.slots = Object.create(null) as Record<Name, number>;
    this.names.forEach((n, i) => (this.slots[n] = i));
    this.values = new Float64Array(this.names.length);
  }

  /** Adds `by` (default 1) to the counter `name`. */
  inc(name: Name, by = 1): void {
    this.values[this.slots[name]]! += by;
  }

  /** The slot of `name`, for {@link Counters.incSlot}; fixed for the set's life. */
  slotOf(name: Name): number {
    return this.slots[name];
  }

  /** Adds `by` (default 1) to the counter in `slot` (from {@link Counters.slotOf}). */
  incSlot(slot: number, by = 1): void {
    this.values[slot]! += by;
  }

  /** The current value of `name`. */
  get(name: Name): number {
    return this.values[this.slots[name]]!;
  }

  /** A frozen copy of every value keyed by name (for tests and snapshots). */
  snapshot(): Readonly<Record<Name, number>> {
    const out = {} as Record<Name, number>;
    for (const n of this.names) out[n] = this.get(n);
    return Object.freeze(out);
  }

  /** Every counter as a {@link CounterEntry}, in declaration order. */
  counters(): CounterEntry[] {
    return this.names.map((name) => ({ group: this.group, name, value: this.get(name) }));
  }

  /** Sets every counter back to 0. */
  reset(): void {
    this.values.fill(0);
  }
}

/** Concatenates the counters of several sources (for a module that owns more than one set). */
export function listCounters(...sources: readonly CounterSource[]): CounterEntry[] {
  const out: CounterEntry[] = [];
  for (const s of sources) out.push(...s.counters());
  return out;
}
