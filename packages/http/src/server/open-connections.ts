/**
 * {@link OpenConnections}: a server's open connections and how many each client address holds, kept
 * with no allocation per connection: the connections form an intrusive list (links in the connection
 * itself) and each client address has one {@link ClientTally} that outlives its connections, so a
 * client that connects, closes and connects again (short HTTP/1.0 connections one after another) costs
 * no hash-table insert or delete per connection (a `Set` or `Map` that grows and shrinks with each
 * connection reallocates its table every time).
 */

/** The open connections of one client address. */
export interface ClientTally {
  /** The address (as the transport reported it; `''` when unknown). */
  readonly address: string;
  /** Connections of this address in the list now. */
  open: number;
}

/**
 * Something {@link OpenConnections} can hold. The list keeps its bookkeeping in these fields (no
 * object of its own per entry): they start undefined and only the list writes them.
 */
export interface OpenEntry<T extends OpenEntry<T>> {
  /** @internal The client's tally while the entry is in a list, undefined otherwise. */
  openTally: ClientTally | undefined;
  /** @internal The entry added before this one (undefined: the first). */
  openPrev: T | undefined;
  /** @internal The entry added after this one (undefined: the last). */
  openNext: T | undefined;
}

/** Tallies at zero are dropped once the table holds this many beyond twice the open connections. */
const IDLE_TALLY_SLACK = 256;

/**
 * Open connections in the order they were added, with a count per client address.
 *
 * Invariants: an entry is in the list at most once (`openTally` is set exactly while it is); the
 * tally of an address counts exactly its entries in the list; tallies at zero are kept for the next
 * connection of their address but never more than `2 * size + 256` of them (a sweep drops every
 * zero tally when a new address would pass that bound), so the table stays bounded by the open
 * connections, not by every address ever seen.
 */
export class OpenConnections<T extends OpenEntry<T>> {
  private first: T | undefined;
  private last: T | undefined;
  private count = 0;
  private readonly tallies = new Map<string, ClientTally>();

  /** Entries in the list. */
  get size(): number {
    return this.count;
  }

  /** Open connections of `address` now (0 when none). */
  openOf(address: string): number {
    return this.tallies.get(address)?.open ?? 0;
  }

  /** Client addresses with a tally kept (open or recently closed connections); for tests and stats. */
  get talliesKept(): number {
    return this.tallies.size;
  }

  /**
   * The tally of client `address`, made (at zero) when it has none: read its `open` for a cap, then
   * hand it to {@link OpenConnections.add}. One table lookup per connection.
   */
  tallyOf(address: string): ClientTally {
    let tally = this.tallies.get(address);
    if (tally === undefined) {
      if (this.tallies.size >= 2 * this.count + IDLE_TALLY_SLACK) this.sweep();
      tally = { address, open: 0 };
      this.tallies.set(address, tally);
    }
    return tally;
  }

  /**
   * Adds `entry` at the end, counted on `tally` (from {@link OpenConnections.tallyOf} of this list, just
   * before); no-op when the entry is in a list already.
   */
  add(entry: T, tally: ClientTally): void {
    if (entry.openTally !== undefined) return;
    tally.open++;
    entry.openTally = tally;
    entry.openPrev = this.last;
    entry.openNext = undefined;
    if (this.last === undefined) this.first = entry;
    else this.last.openNext = entry;
    this.last = entry;
    this.count++;
  }

  /** Takes `entry` out; false (and nothing changes) when it is not in the list. */
  remove(entry: T): boolean {
    const tally = entry.openTally;
    if (tally === undefined) return false;
    tally.open--;
    const prev = entry.openPrev;
    const next = entry.openNext;
    if (prev === undefined) this.first = next;
    else prev.openNext = next;
    if (next === undefined) this.last = prev;
    else next.openPrev = prev;
    entry.openTally = undefined;
    entry.openPrev = undefined;
    entry.openNext = undefined;
    this.count--;
    return true;
  }

  /** The entry added earliest, or undefined; walk on with `openNext`. */
  get head(): T | undefined {
    return this.first;
  }

  /** The entries in the order they were added (a copy: the list may change while the caller walks it). */
  toArray(): T[] {
    const out: T[] = [];
    for (let e = this.first; e !== undefined; e = e.openNext) out.push(e);
    return out;
  }

  /** Drops every tally at zero. */
  private sweep(): void {
    for (const [address, tally] of this.tallies) if (tally.open === 0) this.tallies.delete(address);
  }
}
