/**
 * {@link TimeWaitQueue}: the TIME-WAIT records of one `Tcp`, oldest first, with ONE scheduler timer
 * for the whole queue (as Linux's TIME-WAIT death row). Every record waits the same 2*MSL, so the
 * order in which they end is the order in which they (re)entered TIME-WAIT: a record is appended,
 * a repeated FIN moves it to the end, and the timer is armed for the first record only. When it
 * fires, every record due ends (its 4-tuple is free again) and the timer is re-armed for the next.
 * A record that ends early (a new SYN, a RST, recycling) is simply unlinked; the timer, if armed
 * for it, fires once for nothing and re-arms itself.
 *
 * Ended records are kept for reuse (up to {@link TIME_WAIT_RECORDS_FREE_LIMIT}, taken by
 * {@link TimeWaitQueue.reusable}): at the TIME-WAIT limit every new record replaces the oldest, so a
 * short connection then allocates no record (a record lives long enough to be promoted to the old
 * generation: making one per connection is also promotion work for the collector).
 */
import type { Millis, SchedulerApi, Timer, TimerTarget } from '@postern/irq';
import type { ConnectionTable } from './demux.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** Most ended records a {@link TimeWaitQueue} keeps for reuse (about 200 bytes each). */
export const TIME_WAIT_RECORDS_FREE_LIMIT = 64;

/** The TIME-WAIT records of one `Tcp`, in expiry order, with one timer (whose target the queue is). */
export class TimeWaitQueue implements TimerTarget {
  private oldest: TimeWaitRecord | undefined = undefined;
  private newest: TimeWaitRecord | undefined = undefined;
  private count = 0;
  private timer: Timer | undefined = undefined;
  /** Ended records kept for reuse. */
  private readonly free: TimeWaitRecord[] = [];
  /**
   * The last TCB a record replaced, kept (one per `Tcp`) so that the hidden classes (V8 maps) of a
   * connection's objects keep a live instance between garbage collections: when every connection is
   * short and ends in a record, no TCB may be alive at a collection; V8 then collects the maps and
   * deoptimizes every function compiled for them, again at every collection (in-process, 10,000
   * short connections cost 2.3x the CPU without it).
   */
  shapeAnchor: object | undefined = undefined;
  private readonly scheduler: SchedulerApi;
  private readonly table: ConnectionTable;

  /** Records are indexed in `table` while they are queued. */
  constructor(scheduler: SchedulerApi, table: ConnectionTable) {
    this.scheduler = scheduler;
    this.table = table;
  }

  /** Number of records. */
  get size(): number {
    return this.count;
  }

  /** The record that ends first, or undefined. */
  get first(): TimeWaitRecord | undefined {
    return this.oldest;
  }

  /** Queues `record` in expiry order (at the end, unless it expires before records made later) and indexes it. */
  add(record: TimeWaitRecord): void {
    this.link(record);
    this.table.addTimeWait(record);
    this.count++;
    this.arm();
  }

  /** Moves `record`'s end to `expiresAt` (not earlier than now: a restarted 2*MSL). */
  restart(record: TimeWaitRecord, expiresAt: number): void {
    this.unlink(record);
    record.expiresAt = expiresAt;
    this.link(record);
    this.arm();
  }

  /** Ends `record` now: out of the queue and the table (an application handle's state reads CLOSED). */
  end(record: TimeWaitRecord): void {
    this.unlink(record);
    this.table.removeTimeWait(record);
    this.count--;
    record.ended = true;
    if (this.free.length < TIME_WAIT_RECORDS_FREE_LIMIT) this.free.push(record);
    if (this.count === 0) this.timer?.cancel();
  }

  /** An ended record to renew ({@link TimeWaitRecord.renew}) for a new connection, or undefined when none is kept. */
  reusable(): TimeWaitRecord | undefined {
    return this.free.pop();
  }

  /** Every record, oldest first (a copy). */
  all(): TimeWaitRecord[] {
    const out: TimeWaitRecord[] = [];
    for (let r = this.oldest; r !== undefined; r = r.newer) out.push(r);
    return out;
  }

  /** The timer fired (called by the scheduler): every record due ends, then the timer waits for the next. */
  onTimer(now: Millis): void {
    while (this.oldest !== undefined && this.oldest.expiresAt <= now) this.end(this.oldest);
    this.arm();
  }

  /** Arms the timer for the first record unless it is armed for that time or earlier. */
  private arm(): void {
    const first = this.oldest;
    if (first === undefined) return;
    const t = this.timer;
    if (t === undefined) this.timer = this.scheduler.timerAt(first.expiresAt, this);
    else if (!t.active || t.deadline > first.expiresAt) t.reset(first.expiresAt);
  }

  /** Links `record` after the last record that does not expire later than it. */
  private link(record: TimeWaitRecord): void {
    let before = this.newest;
    while (before !== undefined && before.expiresAt > record.expiresAt) before = before.older;
    record.older = before;
    record.newer = before === undefined ? this.oldest : before.newer;
    if (record.newer === undefined) this.newest = record;
    else record.newer.older = record;
    if (before === undefined) this.oldest = record;
    else before.newer = record;
  }

  private unlink(record: TimeWaitRecord): void {
    if (record.older === undefined) this.oldest = record.newer;
    else record.older.newer = record.newer;
    if (record.newer === undefined) this.newest = record.older;
    else record.newer.older = record.older;
    record.older = undefined;
    record.newer = undefined;
  }
}
