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

/** Base of the table's entries. */
export abstract class SocketEntry {
  /** O_NONBLOCK: calls that would block fail with `EAGAIN`/`EINPROGRESS` instead. */
  nonBlocking = false;
  /** True once the descriptor was closed (the entry may live on for its connection's teardown). */
  closed = false;
  /** The only watcher (the common case: one stream face or one poll per socket), or undefined. */
  private watcher: (() => void) | undefined;
  /** Every watcher once there were two at a time (then {@link SocketEntry.watcher} is unused). */
  private watchers: Set<() => void> | undefined;

  /** The poll events that hold now (`POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLRDHUP`). */
  abstract readiness(): number;

  /** Calls `fn` after each change; returns the function that stops it. */
  watch(fn: () => void): () => void {
    if (this.watchers !== undefined) {
      this.watchers.add(fn);
    } else if (this.watcher === undefined || this.watcher === fn) {
      this.watcher = fn;
    } else {
      this.watchers = new Set([this.watcher, fn]);
      this.watcher = undefined;
    }
    return () => this.unwatch(fn);
  }

  /** Stops calling `fn` (what the function {@link SocketEntry.watch} returned does). */
  unwatch(fn: () => void): void {
    if (this.watchers !== undefined) this.watchers.delete(fn);
    else if (this.watcher === fn) this.watcher = undefined;
  }

  /** Wakes every watcher (a watcher added or removed during the wake-up is seen or skipped as a snapshot would). */
  notify(): void {
    const one = this.watcher;
    if (one !== undefined) {
      one();
      return;
    }
    const all = this.watchers;
    if (all === undefined || all.size === 0) return;
    for (const fn of [...all]) fn();
  }
}
