/**
 * {@link TimeWaitTcbs}: the TCBs in TIME-WAIT that are still whole (their application holds them,
 * or something is pending on them; see `lifecycle.ts`), oldest first. A list chained through the
 * TCBs themselves ({@link Tcb.timeWaitOlder}, {@link Tcb.timeWaitNewer}), so entering and leaving
 * TIME-WAIT adds and removes no object (a set grown and emptied by every short connection made and
 * dropped hash tables).
 */
import type { Tcb } from './tcb.js';

/** The whole TIME-WAIT TCBs of one `Tcp`, in the order they (re)entered TIME-WAIT. */
export class TimeWaitTcbs {
  private oldestTcb: Tcb | undefined = undefined;
  private newestTcb: Tcb | undefined = undefined;
  private count = 0;

  /** Number of TCBs listed. */
  get size(): number {
    return this.count;
  }

  /** The TCB listed longest, or undefined. */
  get oldest(): Tcb | undefined {
    return this.oldestTcb;
  }

  /** True when `tcb` is listed. */
  has(tcb: Tcb): boolean {
    return tcb.timeWaitOlder !== undefined || this.oldestTcb === tcb;
  }

  /** Lists `tcb` as the newest (moving it there if it was listed). */
  add(tcb: Tcb): void {
    this.delete(tcb);
    tcb.timeWaitOlder = this.newestTcb;
    if (this.newestTcb === undefined) this.oldestTcb = tcb;
    else this.newestTcb.timeWaitNewer = tcb;
    this.newestTcb = tcb;
    this.count++;
  }

  /** Takes `tcb` off the list if it is listed. */
  delete(tcb: Tcb): void {
    if (!this.has(tcb)) return;
    const older = tcb.timeWaitOlder;
    const newer = tcb.timeWaitNewer;
    if (older === undefined) this.oldestTcb = newer;
    else older.timeWaitNewer = newer;
    if (newer === undefined) this.newestTcb = older;
    else newer.timeWaitOlder = older;
    tcb.timeWaitOlder = undefined;
    tcb.timeWaitNewer = undefined;
    this.count--;
  }
}
