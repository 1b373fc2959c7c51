/**
 * Demultiplexing: which TCB, TIME-WAIT record or listener a segment belongs to.
 *
 * Connections are found by their exact 4-tuple. The map key is a keyed 32-bit hash of the remote
 * endpoint (a small integer: no string and no boxed number is built per packet, and a map lookup
 * by it is the cheapest V8 has); the bucket holds the few TCBs whose remote endpoint hashes alike,
 * chained through the TCBs themselves ({@link Tcb.bucketNext}: no array per bucket, so a connection
 * adds and removes no object), each compared on the whole 4-tuple. The key of the hash is a secret of the owning module, so an
 * off-path sender cannot choose endpoints that crowd into one bucket. Listeners are found by local
 * port, then by exact local address before the wildcard 0.0.0.0.
 *
 * TIME-WAIT records ({@link TimeWaitRecord}, connections whose application let go) are kept in a
 * second index of the same table, by the same key and chained through the records themselves (no
 * array per bucket); a segment that finds no TCB looks there before the listeners. That index is a
 * plain array of chain heads (the key's low bits pick the slot), doubled when the records outnumber
 * its slots, not a map: with short connections, thousands of records come and go, one each per
 * connection, and a map that large re-hashes and re-allocates its table as they do.
 */
import type { Ipv4Address } from '@postern/wire';
import type { Tcb } from './tcb.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** Record slots a table starts with (a power of two). */
const RECORD_SLOTS_INITIAL = 64;

/** `n` empty chain heads (a packed array of `undefined`). */
function emptySlots(n: number): (TimeWaitRecord | undefined)[] {
  const heads: (TimeWaitRecord | undefined)[] = [];
  for (let i = 0; i < n; i++) heads.push(undefined);
  return heads;
}

/** A listener as the demux sees it. */
export interface Bound {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
}

/** The connection table: TCBs by 4-tuple. */
export class ConnectionTable {
  /** The first TCB of each bucket's chain ({@link Tcb.bucketNext}), oldest first. */
  private readonly buckets = new Map<number, Tcb>();
  private count = 0;
  /** TIME-WAIT records by the same key's low bits: the first of each chain ({@link TimeWaitRecord.bucketNext}). */
  private recordHeads = emptySlots(RECORD_SLOTS_INITIAL);
  /** `recordHeads.length - 1` (the length is a power of two). */
  private recordMask = RECORD_SLOTS_INITIAL - 1;
  private recordCount = 0;
  private readonly seed: number;

  /** @param seed the key of the bucket hash (any 32-bit value; a secret of the owning module). */
  constructor(seed = 0) {
    this.seed = seed | 0;
  }

  /** The bucket of a remote endpoint: a 32-bit signed integer (a small integer to V8). */
  private remoteKey(remoteAddress: Ipv4Address, remotePort: number): number {
    let h = Math.imul(remoteAddress ^ this.seed, 0x9e37_79b1) ^ Math.imul(remotePort + this.seed, 0x85eb_ca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2_ae35);
    return h ^ (h >>> 13);
  }

  /** Number of TCBs held (every state, TIME-WAIT TCBs included; records are counted by {@link ConnectionTable.timeWaitRecords}). */
  get size(): number {
    return this.count;
  }

  /** Number of TIME-WAIT records held. */
  get timeWaitRecords(): number {
    return this.recordCount;
  }

  /** The TCB for this 4-tuple, or undefined. Allocates nothing. */
  find(localAddress: Ipv4Address, localPort: number, remoteAddress: Ipv4Address, remotePort: number): Tcb | undefined {
    for (
      let tcb = this.buckets.get(this.remoteKey(remoteAddress, remotePort));
      tcb !== undefined;
      tcb = tcb.bucketNext
    ) {
      if (
        tcb.remotePort === remotePort &&
        tcb.localPort === localPort &&
        tcb.remoteAddress === remoteAddress &&
        tcb.localAddress === localAddress
      )
        return tcb;
    }
    return undefined;
  }

  /** Adds `tcb` (at the end of its bucket's chain). The caller checked that its 4-tuple is free. */
  add(tcb: Tcb): void {
    const key = this.remoteKey(tcb.remoteAddress, tcb.remotePort);
    tcb.bucketNext = undefined;
    let last = this.buckets.get(key);
    if (last === undefined) this.buckets.set(key, tcb);
    else {
      while (last.bucketNext !== undefined) last = last.bucketNext;
      last.bucketNext = tcb;
    }
    this.count++;
  }

  /** Removes `tcb` if present. */
  remove(tcb: Tcb): void {
    const key = this.remoteKey(tcb.remoteAddress, tcb.remotePort);
    const first = this.buckets.get(key);
    if (first === tcb) {
      if (tcb.bucketNext === undefined) this.buckets.delete(key);
      else this.buckets.set(key, tcb.bucketNext);
    } else {
      let before = first;
      while (before !== undefined && before.bucketNext !== tcb) before = before.bucketNext;
      if (before === undefined) return;
      before.bucketNext = tcb.bucketNext;
    }
    tcb.bucketNext = undefined;
    this.count--;
  }

  /** The TIME-WAIT record for this 4-tuple, or undefined. Allocates nothing. */
  findTimeWait(
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
  ): TimeWaitRecord | undefined {
    if (this.recordCount === 0) return undefined;
    const slot = this.remoteKey(remoteAddress, remotePort) & this.recordMask;
    for (let r = this.recordHeads[slot]; r !== undefined; r = r.bucketNext) {
      if (
        r.remotePort === remotePort &&
        r.localPort === localPort &&
        r.remoteAddress === remoteAddress &&
        r.localAddress === localAddress
      )
        return r;
    }
    return undefined;
  }

  /** True when a TCB or a TIME-WAIT record holds this 4-tuple. */
  inUse(localAddress: Ipv4Address, localPort: number, remoteAddress: Ipv4Address, remotePort: number): boolean {
    return (
      this.find(localAddress, localPort, remoteAddress, remotePort) !== undefined ||
      this.findTimeWait(localAddress, localPort, remoteAddress, remotePort) !== undefined
    );
  }

  /** Adds a TIME-WAIT record. The caller checked that its 4-tuple is free (its TCB left the table). */
  addTimeWait(record: TimeWaitRecord): void {
    if (this.recordCount >= this.recordHeads.length) this.growRecordSlots();
    this.linkRecord(this.recordHeads, this.recordMask, record);
    this.recordCount++;
  }

  /** Puts `record` at the head of its chain in `heads`. */
  private linkRecord(heads: (TimeWaitRecord | undefined)[], mask: number, record: TimeWaitRecord): void {
    const slot = this.remoteKey(record.remoteAddress, record.remotePort) & mask;
    record.bucketNext = heads[slot];
    heads[slot] = record;
  }

  /** Doubles the record slots, moving every record into the new ones. */
  private growRecordSlots(): void {
    const old = this.recordHeads;
    const heads = emptySlots(old.length * 2);
    const mask = heads.length - 1;
    for (let i = 0; i < old.length; i++) {
      let r = old[i];
      while (r !== undefined) {
        const next = r.bucketNext;
        this.linkRecord(heads, mask, r);
        r = next;
      }
    }
    this.recordHeads = heads;
    this.recordMask = mask;
  }

  /** Removes a TIME-WAIT record if present. */
  removeTimeWait(record: TimeWaitRecord): void {
    const slot = this.remoteKey(record.remoteAddress, record.remotePort) & this.recordMask;
    let r = this.recordHeads[slot];
    if (r === record) {
      this.recordHeads[slot] = record.bucketNext;
    } else {
      while (r !== undefined && r.bucketNext !== record) r = r.bucketNext;
      if (r === undefined) return;
      r.bucketNext = record.bucketNext;
    }
    record.bucketNext = undefined;
    this.recordCount--;
  }

  /** Every TIME-WAIT record (a copy, in no particular order, for inspection). */
  allTimeWait(): TimeWaitRecord[] {
    const out: TimeWaitRecord[] = [];
    for (const first of this.recordHeads)
      for (let r: TimeWaitRecord | undefined = first; r; r = r.bucketNext) out.push(r);
    return out;
  }

  /** True when some TCB uses local port `localPort` (on any address). */
  usesLocalPort(localPort: number): boolean {
    for (const first of this.buckets.values())
      for (let tcb: Tcb | undefined = first; tcb !== undefined; tcb = tcb.bucketNext)
        if (tcb.localPort === localPort) return true;
    return false;
  }

  /** Every TCB (a copy, for shutdown and inspection). */
  all(): Tcb[] {
    const out: Tcb[] = [];
    for (const first of this.buckets.values())
      for (let tcb: Tcb | undefined = first; tcb !== undefined; tcb = tcb.bucketNext) out.push(tcb);
    return out;
  }
}

/** The listener table: by local port, exact address before wildcard. */
export class ListenerTable<L extends Bound> {
  private readonly byPort = new Map<number, L[]>();

  /** The listener for a segment to `localAddress:localPort`: an exact bind first, then 0.0.0.0. */
  find(localAddress: Ipv4Address, localPort: number): L | undefined {
    const list = this.byPort.get(localPort);
    if (list === undefined) return undefined;
    let wildcard: L | undefined;
    for (let i = 0; i < list.length; i++) {
      const l = list[i]!;
      if (l.localAddress === localAddress) return l;
      if (l.localAddress === 0) wildcard = l;
    }
    return wildcard;
  }

  /** True when a listener holds `localPort` on `localAddress`, or on an overlapping address (wildcard vs any). */
  conflicts(localAddress: Ipv4Address, localPort: number): boolean {
    const list = this.byPort.get(localPort);
    if (list === undefined) return false;
    return list.some((l) => l.localAddress === localAddress || l.localAddress === 0 || localAddress === 0);
  }

  /** True when any listener uses `localPort`. */
  usesPort(localPort: number): boolean {
    return this.byPort.has(localPort);
  }

  /** Adds a listener. The caller checked {@link ListenerTable.conflicts}. */
  add(listener: L): void {
    const list = this.byPort.get(listener.localPort);
    if (list === undefined) this.byPort.set(listener.localPort, [listener]);
    else list.push(listener);
  }

  /** Every listener (a copy). */
  all(): L[] {
    const out: L[] = [];
    for (const list of this.byPort.values()) out.push(...list);
    return out;
  }

  /** Removes a listener if present. */
  remove(listener: L): void {
    const list = this.byPort.get(listener.localPort);
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(listener.localPort);
  }
}
