/**
 * {@link SpareStack}: objects kept for reuse (parsers of closed connections, jobs of ended requests),
 * last in first out, at most `capacity` of them.
 *
 * Why not a plain array with `push`/`pop`: a server with one connection (or one request) at a time
 * empties its spares at every take. An array that `pop()` empties gives its storage back (in V8's
 * runtime, off the inlined fast path) and the next `push` allocates it again: a runtime call and an
 * allocation per connection or request, for a list that holds one object. Here the array only grows
 * (to `capacity` at most) and a count says how much of it is in use; a taken slot is cleared, so a
 * spare stack keeps no object it handed out.
 */
export class SpareStack<T> {
  /** Most objects kept. */
  readonly capacity: number;
  private readonly items: (T | undefined)[] = [];
  private count = 0;

  /** @param capacity most objects kept (further {@link SpareStack.put}s are refused) */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Objects kept now. */
  get size(): number {
    return this.count;
  }

  /** The object put last (it leaves the stack), or undefined when none is kept. */
  take(): T | undefined {
    if (this.count === 0) return undefined;
    const i = --this.count;
    const item = this.items[i];
    this.items[i] = undefined;
    return item;
  }

  /** Keeps `item` for a later {@link SpareStack.take}; false (not kept) when `capacity` are kept already. */
  put(item: T): boolean {
    if (this.count >= this.capacity) return false;
    this.items[this.count++] = item;
    return true;
  }
}
