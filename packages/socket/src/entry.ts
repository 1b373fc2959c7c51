/**
 * The state every socket entry of the descriptor table shares: the blocking mode, and the watchers
 * that readiness changes wake (blocked calls, `poll`, `EventPoll`, the Node face).
 *
 * Contract: an entry calls {@link SocketEntry.notify} after any change that may alter
 * {@link SocketEntry.readiness} or unblock a call; watchers re-check state themselves (a wake-up
 * carries no event, so a spurious one is harmless).
 */
import type { Ipv4Address } from '@postern/wire';

/** An IPv4 socket address. */
export interface SocketAddress {
  /** IPv4 address as a 32-bit number (0: any). */
  address: Ipv4Address;
  /** Port, 0..65535 (0: any / not bound). */
  port: number;
}

/**
 * A watcher that is an object with a method rather than a function: a long-lived face (the Node
 * `Socket`) registers itself with {@link SocketEntry.observe} and needs no closure per socket.
 */
export interface EntryObserver {
  /** Called after each change of the entry (as a watcher function is). */
  entryChanged(): void;
}

/**
 * Base of the table's entries.
 *
 * Its fields are set in its constructor, not declared as class fields: Node 20's optimizing compiler
 * does not inline a base-class constructor that has class fields into the subclass's `super()` (the
 * accepting code called the find-constructor builtin, a construct stub and an object allocation of
 * their own for every accepted connection); a base constructor whose body assigns them is inlined.
 */
export abstract class SocketEntry {
  /** O_NONBLOCK: calls that would block fail with `EAGAIN`/`EINPROGRESS` instead. */
  declare nonBlocking: boolean;
  /** True once the descriptor was closed (the entry may live on for its connection's teardown). */
  declare closed: boolean;
  /** The only watcher (the common case: one stream face or one poll per socket), or undefined. */
  declare private watcher: (() => void) | EntryObserver | undefined;
  /** Every watcher once there were two at a time (then {@link SocketEntry.watcher} is unused). */
  declare private watchers: Set<(() => void) | EntryObserver> | undefined;

  constructor() {
    this.nonBlocking = false;
    this.closed = false;
    this.watcher = undefined;
    this.watchers = undefined;
  }

  /** The poll events that hold now (`POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLRDHUP`). */
  abstract readiness(): number;

  /** Calls `fn` after each change; returns the function that stops it. */
  watch(fn: () => void): () => void {
    this.addWatcher(fn);
    return () => this.unwatch(fn);
  }

  /** Stops calling `fn` (what the function {@link SocketEntry.watch} returned does). */
  unwatch(fn: () => void): void {
    this.removeWatcher(fn);
  }

  /** Calls `observer.entryChanged()` after each change, as {@link SocketEntry.watch} would call a function. */
  observe(observer: EntryObserver): void {
    this.addWatcher(observer);
  }

  /** Stops calling `observer` (see {@link SocketEntry.observe}). */
  unobserve(observer: EntryObserver): void {
    this.removeWatcher(observer);
  }

  private addWatcher(w: (() => void) | EntryObserver): void {
    if (this.watchers !== undefined) {
      this.watchers.add(w);
    } else if (this.watcher === undefined || this.watcher === w) {
      this.watcher = w;
    } else {
      this.watchers = new Set([this.watcher, w]);
      this.watcher = undefined;
    }
  }

  private removeWatcher(w: (() => void) | EntryObserver): void {
    if (this.watchers !== undefined) this.watchers.delete(w);
    else if (this.watcher === w) this.watcher = undefined;
  }

  /** Wakes every watcher (a watcher added or removed during the wake-up is seen or skipped as a snapshot would). */
  notify(): void {
    const one = this.watcher;
    if (one !== undefined) {
      if (typeof one === 'function') one();
      else one.entryChanged();
      return;
    }
    const all = this.watchers;
    if (all === undefined || all.size === 0) return;
    for (const w of [...all]) {
      if (typeof w === 'function') w();
      else w.entryChanged();
    }
  }
}
