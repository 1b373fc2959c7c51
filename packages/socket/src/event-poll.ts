/**
 * {@link EventPoll}: an epoll-like readiness set over many descriptors of one {@link Sockets}
 * table. Level-triggered: `wait` reports every registered descriptor whose interest events hold, and
 * keeps reporting it while they do.
 *
 * Cost: a change on a socket puts its descriptor on a ready list (no scan of the interest set); `wait`
 * re-checks only the descriptors on that list, and drops those no longer ready. A descriptor that is
 * closed leaves the set by itself, as with epoll.
 */
import type { Timer } from '@postern/irq';
import { POLLERR, POLLHUP } from './constants.js';
import type { Fd } from './descriptor-table.js';
import type { SocketEntry } from './entry.js';
import { SocketError } from './errors.js';
import type { Sockets } from './sockets.js';

/** One ready descriptor from {@link EventPoll.wait}. */
export interface PollEvent<D = unknown> {
  /** The descriptor. */
  fd: Fd;
  /** The events that hold (interest events plus `POLLERR`, `POLLHUP`). */
  events: number;
  /** The value given to `add`/`modify`. */
  data: D | undefined;
}

/** Default most events one {@link EventPoll.wait} returns. */
export const EVENT_POLL_DEFAULT_MAX_EVENTS = 64;

interface Interest<D> {
  events: number;
  data: D | undefined;
  entry: SocketEntry;
  stop: () => void;
}

/** A readiness set. See the module comment. */
export class EventPoll<D = unknown> {
  private readonly interests = new Map<Fd, Interest<D>>();
  /** Descriptors that changed or were ready at the last check, oldest first. */
  private readonly ready = new Set<Fd>();
  private waiter: (() => void) | undefined;

  /** @param sockets The table whose descriptors this set watches. */
  constructor(private readonly sockets: Sockets) {}

  /** Descriptors in the set. */
  get size(): number {
    return this.interests.size;
  }

  /**
   * Adds `fd` with interest `events` (`POLLIN`, `POLLOUT`, `POLLRDHUP`) and a value `wait` returns with it.
   * @throws {@link SocketError} `EBADF`, `EEXIST`-like `EINVAL` when `fd` is in the set already.
   */
  add(fd: Fd, events: number, data?: D): void {
    const entry = this.sockets.entry(fd, 'epoll');
    if (this.interests.has(fd)) throw new SocketError('EINVAL', 'epoll', `descriptor ${fd} is already in the set`);
    const stop = entry.watch(() => this.changed(fd));
    this.interests.set(fd, { events, data, entry, stop });
    this.changed(fd);
  }

  /** Changes the interest (and value) of `fd`. @throws {@link SocketError} `EBADF`, `EINVAL` (not in the set). */
  modify(fd: Fd, events: number, data?: D): void {
    this.sockets.entry(fd, 'epoll');
    const i = this.interests.get(fd);
    if (i === undefined) throw new SocketError('EINVAL', 'epoll', `descriptor ${fd} is not in the set`);
    i.events = events;
    i.data = data;
    this.changed(fd);
  }

  /** Removes `fd` from the set. @throws {@link SocketError} `EINVAL` (not in the set). */
  delete(fd: Fd): void {
    const i = this.interests.get(fd);
    if (i === undefined) throw new SocketError('EINVAL', 'epoll', `descriptor ${fd} is not in the set`);
    this.remove(fd, i);
  }

  /**
   * Resolves with up to `maxEvents` ready descriptors, waiting up to `timeoutMs` (0: check only;
   * negative: no limit) for the first; resolves with [] on timeout. One `wait` at a time.
   * @throws {@link SocketError} `EINVAL` when another `wait` is pending or `maxEvents` < 1.
   */
  wait(maxEvents = EVENT_POLL_DEFAULT_MAX_EVENTS, timeoutMs = -1): Promise<PollEvent<D>[]> {
    if (this.waiter !== undefined)
      return Promise.reject(new SocketError('EINVAL', 'epoll', 'a wait is already pending'));
    if (!(Number.isInteger(maxEvents) && maxEvents >= 1))
      return Promise.reject(new SocketError('EINVAL', 'epoll', `maxEvents must be >= 1, got ${maxEvents}`));
    const now = this.collect(maxEvents);
    if (now.length > 0 || timeoutMs === 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      let timer: Timer | undefined;
      this.waiter = () => {
        const r = this.collect(maxEvents);
        if (r.length === 0) return;
        this.waiter = undefined;
        timer?.cancel();
        resolve(r);
      };
      if (timeoutMs > 0) {
        timer = this.sockets.scheduler.timerAfter(timeoutMs, () => {
          this.waiter = undefined;
          resolve([]);
        });
      }
    });
  }

  /** Removes every descriptor (a pending `wait` keeps waiting for its timeout). */
  close(): void {
    for (const [fd, i] of [...this.interests]) this.remove(fd, i);
  }

  private remove(fd: Fd, i: Interest<D>): void {
    i.stop();
    this.interests.delete(fd);
    this.ready.delete(fd);
  }

  private changed(fd: Fd): void {
    this.ready.add(fd);
    this.waiter?.();
  }

  private collect(maxEvents: number): PollEvent<D>[] {
    const out: PollEvent<D>[] = [];
    for (const fd of [...this.ready]) {
      if (out.length >= maxEvents) break;
      const i = this.interests.get(fd);
      this.ready.delete(fd);
      if (i === undefined) continue;
      if (this.sockets.table.peek(fd) !== i.entry) {
        this.remove(fd, i);
        continue;
      }
      const events = i.entry.readiness() & (i.events | POLLERR | POLLHUP);
      if (events === 0) continue;
      out.push({ fd, events, data: i.data });
      this.ready.add(fd); // level-triggered: still ready until a check says otherwise; to the back, for fairness
    }
    return out;
  }
}
