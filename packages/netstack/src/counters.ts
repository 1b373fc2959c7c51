/**
 * Named counters: the one pattern every stack module uses so that "every drop has a named counter"
 * looks the same everywhere and the admin API can list all of them.
 *
 * A {@link Counters} set is created once with a fixed list of names; incrementing is a property
 * write on a plain object (no allocation, no map lookup by string built at run time). Names are
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
 */
export class Counters<Name extends string> implements CounterSource {
  /** The group name shown by the admin API. */
  readonly group: string;
  /** The counter names, in declaration order. */
  readonly names: readonly Name[];
  private readonly values: Record<Name, number>;

  /** Creates the set `group` with every counter in `names` at 0. Duplicate names are ignored. */
  constructor(group: string, names: readonly Name[]) {
    this.group = group;
    this.names = [...new Set(names)];
    this.values = Object.create(null) as Record<Name, number>;
    for (const n of this.names) this.values[n] = 0;
  }

  /** Adds `by` (default 1) to the counter `name`. */
  inc(name: Name, by = 1): void {
    this.values[name] += by;
  }

  /** The current value of `name`. */
  get(name: Name): number {
    return this.values[name];
  }

  /** A frozen copy of every value keyed by name (for tests and snapshots). */
  snapshot(): Readonly<Record<Name, number>> {
    return Object.freeze({ ...this.values });
  }

  /** Every counter as a {@link CounterEntry}, in declaration order. */
  counters(): CounterEntry[] {
    return this.names.map((name) => ({ group: this.group, name, value: this.values[name] }));
  }

  /** Sets every counter back to 0. */
  reset(): void {
    for (const n of this.names) this.values[n] = 0;
  }
}

/** Concatenates the counters of several sources (for a module that owns more than one set). */
export function listCounters(...sources: readonly CounterSource[]): CounterEntry[] {
  const out: CounterEntry[] = [];
  for (const s of sources) out.push(...s.counters());
  return out;
}
