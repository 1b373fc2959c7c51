/**
 * {@link FlushList}: the TCBs that owe an ACK at the end of the receive batch, in queuing order.
 * A TCB whose ACK went out another way (on a reply) is struck off by its flag, not searched for,
 * and the list empties itself when no TCB on it owes anything any more; it keeps its storage, so
 * queuing one TCB per request allocates nothing once the list has grown to its working size.
 */
import type { Tcb } from './tcb.js';

/** TCBs owing an ACK "soon" (`tcb.flushQueued` marks the ones still owing). @internal */
export class FlushList {
  /** TCBs on the list that still owe their ACK. */
  owing = 0;
  private readonly items: (Tcb | undefined)[] = [];
  private head = 0;
  private tail = 0;

  /** Queues `tcb` unless it is queued and still owing. */
  add(tcb: Tcb): void {
    if (tcb.flushQueued) return;
    tcb.flushQueued = true;
    this.owing++;
    this.items[this.tail++] = tcb;
  }

  /** Takes the first TCB that still owes its ACK off the list (no longer marked), or undefined. */
  take(): Tcb | undefined {
    const items = this.items;
    while (this.head < this.tail) {
      const tcb = items[this.head]!;
      items[this.head++] = undefined;
      if (!tcb.flushQueued) continue;
      tcb.flushQueued = false;
      this.owing--;
      if (this.head === this.tail) this.head = this.tail = 0;
      return tcb;
    }
    this.head = this.tail = 0;
    return undefined;
  }

  /**
   * `tcb`'s ACK went out another way: it owes nothing here any more. Returns true when that left no
   * TCB on the list owing anything (the list is then empty).
   */
  carried(tcb: Tcb): boolean {
    if (!tcb.flushQueued) return false;
    tcb.flushQueued = false;
    if (--this.owing > 0) return false;
    // A loop, not `fill`: Array.prototype.fill with a range is a call into the runtime from optimized
    // code, and the list holds one or two TCBs here.
    const items = this.items;
    for (let i = this.head; i < this.tail; i++) items[i] = undefined;
    this.head = this.tail = 0;
    return true;
  }
}
