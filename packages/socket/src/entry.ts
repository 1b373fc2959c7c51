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
  private readonly watchers = new Set<() => void>();

  /** The poll events that hold now (`POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLRDHUP`). */
  abstract readiness(): number;

  /** Calls `fn` after each change; returns the function that stops it. */
  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** Wakes every watcher (a watcher added or removed during the wake-up is seen or skipped as a snapshot would). */
  notify(): void {
    const size = this.watchers.size;
    if (size === 0) return;
    if (size === 1) {
      // The common case (one stream face or one poll per socket): no snapshot array per event.
      for (const fn of this.watchers) {
        fn();
        return;
      }
    }
    for (const fn of [...this.watchers]) fn();
  }
}
