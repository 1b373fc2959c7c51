/**
 * {@link WorkList}: the scheduler's queues of deferred work. Internal to the package.
 */

/**
 * A list that keeps its storage. {@link WorkList.clear} drops the references it holds but not the
 * array's capacity, so a list refilled on every host turn allocates nothing once it has grown to its
 * working size (an array emptied with `length = 0` gives its storage back, and the next `push`
 * allocates it again: one allocation per queued frame on the hot path).
 */
export class WorkList<T> {
  /** Items in the list. */
  length = 0;
  private readonly items: (T | undefined)[] = [];

  /** Appends `item`. */
  push(item: T): void {
    this.items[this.length++] = item;
  }

  /** The item at `index`; the caller keeps `index` below {@link length}. */
  get(index: number): T {
    return this.items[index] as T;
  }

  /** Whether `item` is in the list (a linear scan: the lists are short). */
  includes(item: T): boolean {
    for (let i = 0; i < this.length; i++) if (this.items[i] === item) return true;
    return false;
  }

  /** Removes the first occurrence of `item`, keeping the order of the rest; false when absent (a linear scan). */
  remove(item: T): boolean {
    const items = this.items;
    for (let i = 0; i < this.length; i++) {
      if (items[i] !== item) continue;
      items.copyWithin(i, i + 1, this.length);
      items[--this.length] = undefined;
      return true;
    }
    return false;
  }

  /** Empties the list, keeping its capacity. */
  clear(): void {
    // A plain loop: the list usually holds one to a few items (a round's bottom halves), where a
    // call of the `fill` builtin costs more than the stores it makes.
    const items = this.items;
    for (let i = 0; i < this.length; i++) items[i] = undefined;
    this.length = 0;
  }
}
