/**
 * {@link TcbList}: a list of TCBs, oldest first, chained through the TCBs themselves
 * ({@link Tcb.listOlder}, {@link Tcb.listNewer}, {@link Tcb.list}), so putting a TCB on a list and
 * taking it off adds and removes no object (a set grown and emptied by every short connection
 * re-allocates its hash table). A TCB is on at most one list at a time: a listener's copies in
 * SYN-RECEIVED, or the whole TCBs in TIME-WAIT (those states never overlap); adding it to one list
 * takes it off any other.
 */
import type { Tcb } from './tcb.js';

/** TCBs in the order they were (last) added. */
export class TcbList {
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

  /** True when `tcb` is on this list. */
  has(tcb: Tcb): boolean {
    return tcb.list === this;
  }

  /** Lists `tcb` as the newest (moving it there if it was listed; off any other list). */
  add(tcb: Tcb): void {
    (tcb.list as TcbList | undefined)?.delete(tcb);
    tcb.list = this;
    tcb.listOlder = this.newestTcb;
    if (this.newestTcb === undefined) this.oldestTcb = tcb;
    else this.newestTcb.listNewer = tcb;
    this.newestTcb = tcb;
    this.count++;
  }

  /** Takes `tcb` off this list if it is on it. */
  delete(tcb: Tcb): void {
    if (tcb.list !== this) return;
    const older = tcb.listOlder;
    const newer = tcb.listNewer;
    if (older === undefined) this.oldestTcb = newer;
    else older.listNewer = newer;
    if (newer === undefined) this.newestTcb = older;
    else newer.listOlder = older;
    tcb.list = undefined;
    tcb.listOlder = undefined;
    tcb.listNewer = undefined;
    this.count--;
  }

  /** Every TCB listed, oldest first (a copy). */
  all(): Tcb[] {
    const out: Tcb[] = [];
    for (let t = this.oldestTcb; t !== undefined; t = t.listNewer) out.push(t);
    return out;
  }
}
