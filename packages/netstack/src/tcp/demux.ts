/**
 * Demultiplexing: which TCB, TIME-WAIT record or listener a segment belongs to.
 *
 * Connections are found by their exact 4-tuple. The key is a keyed 32-bit hash of the remote
 * endpoint (a small integer: no string and no boxed number is built per packet); its low bits pick
 * a slot of a plain array of chain heads, and the chain holds the few TCBs of that slot, linked
 * through the TCBs themselves ({@link Tcb.bucketNext}: no array per slot), each compared on the
 * whole 4-tuple. The slots double when the TCBs outnumber them and never shrink, so a connection
 * that comes and goes adds and removes no object (a `Map` by key re-hashes and re-allocates its
 * table as keys come and go: ~150 bytes per short connection). The key of the hash is a secret of
 * the owning module, so an off-path sender cannot choose endpoints that crowd into one slot.
 * Listeners are found by local port, then by exact local address before the wildcard 0.0.0.0.
 *
 * The TCBs are also kept in the order they were added (oldest first, linked through
 * {@link Tcb.tableOlder} and {@link Tcb.tableNewer}), which is the order {@link ConnectionTable.all}
 * lists them in.
 *
 * Which local endpoints are in use (a question NAT asks when it picks a new mapping's port) is
 * answered from per-port counts ({@link LocalPorts}), not by a walk.
 *
 * TIME-WAIT records ({@link TimeWaitRecord}, connections whose application let go) are kept in a
 * second index by the same key ({@link RecordIndex}); a segment that finds no TCB (every SYN) looks
 * there before the listeners. With short connections, thousands of records are held (up to
 * `maxTimeWait`) and one comes and goes per connection, and the records are scattered over the heap:
 * reading one is a cache miss. So that index is open addressing over a typed array of the keys
 * themselves: a lookup compares keys in one small array and reads a record only when its key
 * matches (a chain through the records read one cold record per probe: about 1 us per SYN under
 * short connections, measured on the gateway).
 */
import type { Ipv4Address } from '@postern/wire';
import type { Tcb } from './tcb.js';
import type { TimeWaitRecord } from './time-wait-record.js';

/** Slots each index starts with (a power of two). */
const SLOTS_INITIAL = 64;

/** An entry of a {@link ChainIndex}: chained through its own field, found by its remote endpoint. */
interface Chained<T> {
  readonly remoteAddress: Ipv4Address;
  readonly remotePort: number;
  bucketNext: T | undefined;
}

/** `n` empty chain heads (a packed array of `undefined`). */
function emptySlots<T>(n: number): (T | undefined)[] {
  const heads: (T | undefined)[] = [];
  for (let i = 0; i < n; i++) heads.push(undefined);
  return heads;
}

/**
 * Chains of entries in an array of chain heads picked by a key's low bits, doubled when the entries
 * outnumber the slots. The owner computes the keys ({@link ConnectionTable}'s keyed hash) and walks
 * a chain itself from {@link ChainIndex.first} (one kind of entry per walk: no polymorphic lookup).
 */
class ChainIndex<T extends Chained<T>> {
  private heads = emptySlots<T>(SLOTS_INITIAL);
  /** `heads.length - 1` (the length is a power of two). */
  private mask = SLOTS_INITIAL - 1;
  /** Entries held. */
  size = 0;

  constructor(private readonly keyOf: (remoteAddress: Ipv4Address, remotePort: number) => number) {}

  /** The first entry of the chain of `key`. */
  first(key: number): T | undefined {
    return this.heads[key & this.mask];
  }

  /** Adds `entry` at the head of its chain. */
  add(entry: T): void {
    if (this.size >= this.heads.length) this.grow();
    this.link(this.heads, this.mask, entry);
    this.size++;
  }

  /** Removes `entry`; false (nothing changed) when it is not held. */
  remove(entry: T): boolean {
    const slot = this.keyOf(entry.remoteAddress, entry.remotePort) & this.mask;
    let e = this.heads[slot];
    if (e === entry) this.heads[slot] = entry.bucketNext;
    else {
      while (e !== undefined && e.bucketNext !== entry) e = e.bucketNext;
      if (e === undefined) return false;
      e.bucketNext = entry.bucketNext;
    }
    entry.bucketNext = undefined;
    this.size--;
    return true;
  }

  /** Every entry (in slot order). */
  all(): T[] {
    const out: T[] = [];
    for (const first of this.heads) for (let e: T | undefined = first; e !== undefined; e = e.bucketNext) out.push(e);
    return out;
  }

  /** Puts `entry` at the head of its chain in `heads`. */
  private link(heads: (T | undefined)[], mask: number, entry: T): void {
    const slot = this.keyOf(entry.remoteAddress, entry.remotePort) & mask;
    entry.bucketNext = heads[slot];
    heads[slot] = entry;
  }

  /** Doubles the slots, moving every entry into the new ones. */
  private grow(): void {
    const old = this.heads;
    const heads = emptySlots<T>(old.length * 2);
    const mask = heads.length - 1;
    for (let i = 0; i < old.length; i++) {
      let e = old[i];
      while (e !== undefined) {
        const next = e.bucketNext;
        this.link(heads, mask, e);
        e = next;
      }
    }
    this.heads = heads;
    this.mask = mask;
  }
}

/**
 * The TIME-WAIT records by remote endpoint: open addressing with linear probing over two parallel
 * arrays, `keys` (an `Int32Array` of each held record's key, 0 for a free slot) and `refs` (the
 * records). A record's key is the owner's 32-bit keyed hash of its remote endpoint, made nonzero;
 * its home slot is the key's low bits. Lookups compare keys and read a record only when its key
 * matches; removal shifts the following entries back (no tombstones), reading keys only. The slots
 * double when more than half are used, and never shrink. Allocates nothing but when they double.
 */
class RecordIndex {
  private keys = new Int32Array(SLOTS_INITIAL);
  private refs = emptySlots<TimeWaitRecord>(SLOTS_INITIAL);
  /** `keys.length - 1` (the length is a power of two). */
  private mask = SLOTS_INITIAL - 1;
  /** Records held. */
  size = 0;

  constructor(private readonly keyOf: (remoteAddress: Ipv4Address, remotePort: number) => number) {}

  /** The key of a remote endpoint: its hash, never 0 (the mark of a free slot). */
  keyFor(remoteAddress: Ipv4Address, remotePort: number): number {
    return this.keyOf(remoteAddress, remotePort) | 0 || 1;
  }

  /** The record for this 4-tuple, whose remote endpoint has key `key`, or undefined. */
  find(
    key: number,
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
  ): TimeWaitRecord | undefined {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === 0) return undefined;
      if (k !== key) continue;
      const r = this.refs[i]!;
      if (
        r.remotePort === remotePort &&
        r.localPort === localPort &&
        r.remoteAddress === remoteAddress &&
        r.localAddress === localAddress
      )
        return r;
    }
  }

  /** Adds `record` (not held: the caller checked that its 4-tuple is free). */
  add(record: TimeWaitRecord): void {
    if (2 * (this.size + 1) > this.keys.length) this.grow();
    this.place(this.keyFor(record.remoteAddress, record.remotePort), record);
    this.size++;
  }

  /** Removes `record`; false (nothing changed) when it is not held. */
  remove(record: TimeWaitRecord): boolean {
    const keys = this.keys;
    const refs = this.refs;
    const mask = this.mask;
    let i = this.keyFor(record.remoteAddress, record.remotePort) & mask;
    while (refs[i] !== record) {
      if (keys[i] === 0) return false;
      i = (i + 1) & mask;
    }
    // Backward shift: an entry after the hole moves into it unless its home slot lies cyclically
    // after the hole (up to the entry itself), where a lookup would not pass the hole to reach it.
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = keys[j]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        keys[i] = keys[j]!;
        refs[i] = refs[j];
        i = j;
      }
    }
    keys[i] = 0;
    refs[i] = undefined;
    this.size--;
    return true;
  }

  /** Every record (in slot order). */
  all(): TimeWaitRecord[] {
    const out: TimeWaitRecord[] = [];
    for (const r of this.refs) if (r !== undefined) out.push(r);
    return out;
  }

  /** Puts `record` with key `key` in the first free slot from its home. */
  private place(key: number, record: TimeWaitRecord): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = key & mask;
    while (keys[i] !== 0) i = (i + 1) & mask;
    keys[i] = key;
    this.refs[i] = record;
  }

  /** Doubles the slots, placing every record again by its stored key. */
  private grow(): void {
    const oldKeys = this.keys;
    const oldRefs = this.refs;
    const n = oldKeys.length * 2;
    this.keys = new Int32Array(n);
    this.refs = emptySlots<TimeWaitRecord>(n);
    this.mask = n - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== 0) this.place(k, oldRefs[i]!);
    }
  }
}

/**
 * The local endpoints TCBs and TIME-WAIT records use, by local port: how many use each port, and the
 * one local address they all share (0 once two addresses shared the port, until its count is 0 again;
 * also for a user with local address 0). So whether an endpoint is in use is known at once unless one
 * port is in use on two addresses at the same time. Two arrays of 2^16 counts and addresses, made on
 * first use; adding and removing a user costs one or two array writes.
 */
class LocalPorts {
  private counts: Int32Array | undefined = undefined;
  private addresses: Int32Array | undefined = undefined;

  /** One more user of `localAddress:localPort`. */
  add(localAddress: Ipv4Address, localPort: number): void {
    let counts = this.counts;
    let addresses = this.addresses;
    if (counts === undefined || addresses === undefined) {
      counts = this.counts = new Int32Array(65_536);
      addresses = this.addresses = new Int32Array(65_536);
    }
    const n = counts[localPort]!;
    if (n === 0) addresses[localPort] = localAddress | 0;
    else if (addresses[localPort] !== (localAddress | 0)) addresses[localPort] = 0;
    counts[localPort] = n + 1;
  }

  /** One user of `localPort` fewer (it was added). */
  remove(localPort: number): void {
    this.counts![localPort]!--;
  }

  /**
   * Whether `localAddress:localPort` is in use: true or false when the counts tell, undefined when the
   * port has users on more than one address (or on address 0) and the caller must look at them.
   */
  uses(localAddress: Ipv4Address, localPort: number): boolean | undefined {
    const counts = this.counts;
    if (counts === undefined || counts[localPort] === 0) return false;
    const shared = this.addresses![localPort]!;
    if (shared !== 0) return shared === (localAddress | 0);
    return undefined;
  }

  /** Whether some user has local port `localPort` (on any address). */
  usesPort(localPort: number): boolean {
    const counts = this.counts;
    return counts !== undefined && counts[localPort] !== 0;
  }
}

/** A listener as the demux sees it. */
export interface Bound {
  readonly localAddress: Ipv4Address;
  readonly localPort: number;
}

/** The connection table: TCBs by 4-tuple, and the TIME-WAIT records. */
export class ConnectionTable {
  private readonly seed: number;
  private readonly tcbs: ChainIndex<Tcb>;
  private readonly records: RecordIndex;
  /** The local endpoints of the TCBs and the records. */
  private readonly locals = new LocalPorts();
  /** The TCB added first and the one added last of those held ({@link Tcb.tableOlder}/{@link Tcb.tableNewer}). */
  private oldest: Tcb | undefined = undefined;
  private newest: Tcb | undefined = undefined;

  /** @param seed the key of the bucket hash (any 32-bit value; a secret of the owning module). */
  constructor(seed = 0) {
    this.seed = seed | 0;
    const key = (remoteAddress: Ipv4Address, remotePort: number): number => this.remoteKey(remoteAddress, remotePort);
    this.tcbs = new ChainIndex<Tcb>(key);
    this.records = new RecordIndex(key);
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
    return this.tcbs.size;
  }

  /** Number of TIME-WAIT records held. */
  get timeWaitRecords(): number {
    return this.records.size;
  }

  /** The TCB for this 4-tuple, or undefined. Allocates nothing. */
  find(localAddress: Ipv4Address, localPort: number, remoteAddress: Ipv4Address, remotePort: number): Tcb | undefined {
    for (
      let tcb = this.tcbs.first(this.remoteKey(remoteAddress, remotePort));
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

  /** Adds `tcb` (the newest). The caller checked that its 4-tuple is free. Allocates nothing (but when the slots double). */
  add(tcb: Tcb): void {
    this.tcbs.add(tcb);
    this.locals.add(tcb.localAddress, tcb.localPort);
    tcb.tableOlder = this.newest;
    tcb.tableNewer = undefined;
    if (this.newest === undefined) this.oldest = tcb;
    else this.newest.tableNewer = tcb;
    this.newest = tcb;
  }

  /** Removes `tcb` if present. Allocates nothing. */
  remove(tcb: Tcb): void {
    if (!this.tcbs.remove(tcb)) return;
    this.locals.remove(tcb.localPort);
    const older = tcb.tableOlder;
    const newer = tcb.tableNewer;
    if (older === undefined) this.oldest = newer;
    else older.tableNewer = newer;
    if (newer === undefined) this.newest = older;
    else newer.tableOlder = older;
    tcb.tableOlder = undefined;
    tcb.tableNewer = undefined;
  }

  /** The TIME-WAIT record for this 4-tuple, or undefined. Allocates nothing. */
  findTimeWait(
    localAddress: Ipv4Address,
    localPort: number,
    remoteAddress: Ipv4Address,
    remotePort: number,
  ): TimeWaitRecord | undefined {
    const records = this.records;
    if (records.size === 0) return undefined;
    return records.find(records.keyFor(remoteAddress, remotePort), localAddress, localPort, remoteAddress, remotePort);
  }

  /**
   * True when a TCB (any state) or a TIME-WAIT record has local endpoint `localAddress:localPort`,
   * whatever its remote. Answered from per-port counts; walks the TCBs and records only while the
   * port is in use on more than one local address at once.
   */
  usesLocal(localAddress: Ipv4Address, localPort: number): boolean {
    const known = this.locals.uses(localAddress, localPort);
    if (known !== undefined) return known;
    for (let tcb = this.oldest; tcb !== undefined; tcb = tcb.tableNewer)
      if (tcb.localPort === localPort && tcb.localAddress === localAddress) return true;
    for (const r of this.records.all()) if (r.localPort === localPort && r.localAddress === localAddress) return true;
    return false;
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
    this.records.add(record);
    this.locals.add(record.localAddress, record.localPort);
  }

  /** Removes a TIME-WAIT record if present. */
  removeTimeWait(record: TimeWaitRecord): void {
    if (this.records.remove(record)) this.locals.remove(record.localPort);
  }

  /** Every TIME-WAIT record (a copy, in no particular order, for inspection). */
  allTimeWait(): TimeWaitRecord[] {
    return this.records.all();
  }

  /** True when some TCB or TIME-WAIT record uses local port `localPort` (on any address). */
  usesLocalPort(localPort: number): boolean {
    return this.locals.usesPort(localPort);
  }

  /** Every TCB (a copy, for shutdown and inspection), in the order they were added: oldest first. */
  all(): Tcb[] {
    const out: Tcb[] = [];
    for (let tcb = this.oldest; tcb !== undefined; tcb = tcb.tableNewer) out.push(tcb);
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
