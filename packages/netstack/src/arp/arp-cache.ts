/**
 * The ARP neighbour cache of one interface, as a pure state machine: it sends nothing and reads no
 * clock. Every method takes `now`; what the caller must do (send a request, send queued packets to
 * a MAC, give up on queued packets) comes out as {@link ArpAction}s, collected in an outbox that
 * {@link ArpCache.takeActions} empties.
 *
 * States (a simplified form of RFC 4861's neighbour unreachability detection, as Linux applies it
 * to ARP):
 * - `incomplete`: a request was broadcast; packets wait in a bounded queue. The request is repeated
 *   every {@link ArpCacheOptions.retryMs} up to {@link ArpCacheOptions.maxRequests} times; then the
 *   entry is removed and its packets dropped with reason `unresolved` (the caller answers forwarded
 *   ones with ICMP host unreachable).
 * - `reachable`: the MAC was confirmed (a reply to us, or {@link ArpCache.confirm} from an upper
 *   layer) within {@link ArpCacheOptions.reachableMs}.
 * - `stale`: the MAC is still used, but unconfirmed. The first use of a stale entry starts a probe:
 *   up to `maxRequests` unicast requests `retryMs` apart; a reply makes it reachable again, silence
 *   removes it. A stale entry nobody uses for {@link ArpCacheOptions.staleMs} is removed.
 * - `static`: configured; never expires, never changed by received ARP.
 *
 * Received ARP (RFC 826's merge): an entry for the sender is updated with the sender's MAC (a
 * gratuitous ARP, sender = target, updates an existing entry this way and creates none); a packet
 * addressed to one of our addresses creates a `stale` entry for its sender if none exists. A reply
 * addressed to us makes the entry `reachable`; a changed MAC from anything else makes it `stale`.
 *
 * Bounds (each counted when hit): {@link ArpCacheOptions.maxEntries} entries (a full cache evicts
 * its least recently used stale entry, else refuses the new one and drops the packet with reason
 * `table-full`); {@link ArpCacheOptions.queuePerAddress} packets per unresolved address (the oldest
 * is dropped for a new one, reason `queue-full`); {@link ArpCacheOptions.queueTotal} packets over
 * all addresses (the new packet is dropped, reason `global-queue-full`).
 */
import type { ArpRepr, Ipv4Address, MacAddress } from '@postern/wire';
import { ARP_OP_REPLY, ipv4ToString, isMulticastMac } from '@postern/wire';
import { Counters } from '../counters.js';
import { addressKey, isIpv4Address } from '../ipv4/prefix.js';

/** The state of a cache entry. */
export type ArpState = 'incomplete' | 'reachable' | 'stale' | 'static';

/** Why queued packets were given up. */
export type ArpDropReason = 'unresolved' | 'queue-full' | 'global-queue-full' | 'table-full' | 'removed';

/** Something the caller must do for the cache. `P` is the caller's queued packet type. */
export type ArpAction<P> =
  /** Send an ARP request for `target`: broadcast, or unicast to `unicastMac` when probing a stale entry. */
  | { readonly type: 'request'; readonly target: Ipv4Address; readonly unicastMac: MacAddress | undefined }
  /** `target` resolved: send `packets` (in queue order) to `mac`. */
  | { readonly type: 'flush'; readonly target: Ipv4Address; readonly mac: MacAddress; readonly packets: readonly P[] }
  /** Give up on `packets` queued for `target`. */
  | {
      readonly type: 'drop';
      readonly target: Ipv4Address;
      readonly packets: readonly P[];
      readonly reason: ArpDropReason;
    };

/** One entry as the admin API lists it. */
export interface ArpEntryInfo {
  /** The neighbour's address. */
  readonly ip: Ipv4Address;
  /** Its MAC, once known. */
  readonly mac: MacAddress | undefined;
  /** The entry's state. */
  readonly state: ArpState;
  /** Packets waiting (incomplete entries). */
  readonly queued: number;
  /** True while a stale entry is being probed. */
  readonly probing: boolean;
  /** When the entry next changes by itself (retry, becoming stale, removal); `undefined` for static. */
  readonly nextEventAt: number | undefined;
}

/** Limits and timers of an {@link ArpCache}; every field optional. */
export interface ArpCacheOptions {
  /** Most entries. Default 256. */
  maxEntries?: number;
  /** How long a confirmation keeps an entry reachable, ms. Default 30 000 (Linux base_reachable_time). */
  reachableMs?: number;
  /** How long an unused stale entry is kept, ms. Default 60 000 (Linux gc_staletime). */
  staleMs?: number;
  /** Time between requests, ms. Default 1000. */
  retryMs?: number;
  /** Requests sent before giving up (when resolving, and when probing). Default 3. */
  maxRequests?: number;
  /**
   * Packets queued per unresolved address. Default 48: room for the largest IPv4 datagram (65,535
   * bytes) sent as 1500-byte-MTU fragments (45), so a fragmented datagram to a host not yet
   * resolved, or forwarded to one, is not cut short by its own fragments.
   */
  queuePerAddress?: number;
  /** Packets queued over all addresses. Default 256. */
  queueTotal?: number;
}

/** Stable codes of {@link ArpCacheError}. */
export type ArpCacheErrorCode = 'INVALID_ADDRESS' | 'INVALID_MAC' | 'TABLE_FULL' | 'NOT_FOUND';

/** A cache configuration operation was refused; branch on {@link ArpCacheError.code}. */
export class ArpCacheError extends Error {
  /** The stable code for this condition. */
  readonly code: ArpCacheErrorCode;
  constructor(code: ArpCacheErrorCode, message: string) {
    super(message);
    this.name = 'ArpCacheError';
    this.code = code;
  }
}

/** Names of the ARP cache's counters. */
export type ArpCounterName =
  | 'requests'
  | 'probes'
  | 'resolved'
  | 'unresolved'
  | 'probeFailed'
  | 'staleRemoved'
  | 'macChanged'
  | 'gratuitous'
  | 'staticConflict'
  | 'queueFull'
  | 'globalQueueFull'
  | 'tableFull'
  | 'evicted';

interface Entry<P> {
  readonly ip: Ipv4Address;
  mac: MacAddress | undefined;
  state: ArpState;
  /** incomplete: next request; reachable: becomes stale; stale: removed if unused. */
  deadline: number;
  /** Requests sent in the current resolution or probe. */
  tries: number;
  probing: boolean;
  /** Next probe (stale and probing). */
  probeAt: number;
  lastUsed: number;
  queue: P[];
}

/** An ARP neighbour cache for one interface. See the module comment for the state machine and bounds. */
export class ArpCache<P = Uint8Array> {
  /** Named limit: entries. */
  readonly maxEntries: number;
  /** How long a confirmation keeps an entry reachable, ms. */
  readonly reachableMs: number;
  /** How long an unused stale entry is kept, ms. */
  readonly staleMs: number;
  /** Time between requests, ms. */
  readonly retryMs: number;
  /** Named limit: requests per resolution or probe. */
  readonly maxRequests: number;
  /** Named limit: queued packets per address. */
  readonly queuePerAddress: number;
  /** Named limit: queued packets in total. */
  readonly queueTotal: number;
  /** Every event and every drop, by name. */
  readonly stats = new Counters<ArpCounterName>('arp', [
    'requests',
    'probes',
    'resolved',
    'unresolved',
    'probeFailed',
    'staleRemoved',
    'macChanged',
    'gratuitous',
    'staticConflict',
    'queueFull',
    'globalQueueFull',
    'tableFull',
    'evicted',
  ]);
  /** Entries by `addressKey` of their address (a small-integer key: looked up for every frame sent). */
  private readonly entries = new Map<number, Entry<P>>();
  /**
   * The entry {@link resolveKnown} found last (a gateway sends nearly every frame to one or a few
   * neighbours): checked before the map. Always an entry the map holds: forgotten whenever an
   * entry is replaced or deleted.
   */
  private lastResolved: Entry<P> | undefined;
  private outbox: ArpAction<P>[] = [];
  private queued = 0;

  constructor(options: ArpCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 256;
    this.reachableMs = options.reachableMs ?? 30_000;
    this.staleMs = options.staleMs ?? 60_000;
    this.retryMs = options.retryMs ?? 1000;
    this.maxRequests = options.maxRequests ?? 3;
    this.queuePerAddress = options.queuePerAddress ?? 48;
    this.queueTotal = options.queueTotal ?? 256;
  }

  /** Entries held. */
  get size(): number {
    return this.entries.size;
  }

  /** Packets waiting over all addresses. */
  get queuedPackets(): number {
    return this.queued;
  }

  /** The MAC for `ip` if one is known (reachable, stale or static); no side effects. */
  lookup(ip: Ipv4Address): MacAddress | undefined {
    return this.entries.get(addressKey(ip))?.mac;
  }

  /**
   * {@link ArpCache.resolve} for an address whose MAC is known (the path of almost every frame), so
   * the caller builds what it would queue only when this returns `undefined`; then it calls
   * `resolve`. Using a stale entry starts a probe, as in `resolve`.
   */
  resolveKnown(now: number, ip: Ipv4Address): MacAddress | undefined {
    let e = this.lastResolved;
    if (e === undefined || e.ip !== ip) {
      e = this.entries.get(addressKey(ip));
      if (e === undefined) return undefined;
      this.lastResolved = e;
    }
    return e.mac !== undefined ? this.use(now, e) : undefined;
  }

  /**
   * The MAC to send to `ip` now, or `undefined` when it is not known yet. In that case `packet` (if
   * given) is queued and a request goes out (or is already under way); it will come back in a
   * `flush` or `drop` action. Using a stale entry starts a probe. Never throws.
   */
  resolve(now: number, ip: Ipv4Address, packet?: P): MacAddress | undefined {
    let e = this.entries.get(addressKey(ip));
    if (e !== undefined && e.mac !== undefined) return this.use(now, e);
    if (e === undefined) {
      if (!this.makeRoom()) {
        if (packet !== undefined)
          this.outbox.push({ type: 'drop', target: ip, packets: [packet], reason: 'table-full' });
        return undefined;
      }
      e = {
        ip,
        mac: undefined,
        state: 'incomplete',
        deadline: now + this.retryMs,
        tries: 1,
        probing: false,
        probeAt: 0,
        lastUsed: now,
        queue: [],
      };
      this.entries.set(addressKey(ip), e);
      this.stats.inc('requests');
      this.outbox.push({ type: 'request', target: ip, unicastMac: undefined });
    }
    if (packet !== undefined) this.enqueue(e, packet);
    return undefined;
  }

  /**
   * Takes a received ARP packet. `targetIsLocal`: its target protocol address is one of this
   * interface's addresses. Updates or creates the sender's entry as the module comment says.
   */
  input(now: number, arp: ArpRepr, targetIsLocal: boolean): void {
    const ip = arp.senderProtocolAddress;
    const mac = arp.senderHardwareAddress;
    if (ip === 0 || isMulticastMac(mac)) return; // an RFC 5227 probe, or a bogus sender
    const gratuitous = ip === arp.targetProtocolAddress;
    if (gratuitous) this.stats.inc('gratuitous');
    const confirmed = targetIsLocal && arp.operation === ARP_OP_REPLY;
    const e = this.entries.get(addressKey(ip));
    if (e === undefined) {
      if (!targetIsLocal || gratuitous || !this.makeRoom()) return;
      this.lastResolved = undefined;
      this.entries.set(addressKey(ip), this.known(now, ip, mac, confirmed ? 'reachable' : 'stale'));
      return;
    }
    if (e.state === 'static') {
      if (e.mac !== mac) this.stats.inc('staticConflict');
      return;
    }
    const changed = e.mac !== undefined && e.mac !== mac;
    if (changed) this.stats.inc('macChanged');
    e.mac = mac;
    if (e.state === 'incomplete') {
      this.stats.inc('resolved');
      this.setState(now, e, confirmed ? 'reachable' : 'stale');
      const packets = e.queue;
      e.queue = [];
      this.queued -= packets.length;
      if (packets.length > 0) this.outbox.push({ type: 'flush', target: ip, mac, packets });
    } else if (confirmed) {
      this.setState(now, e, 'reachable');
    } else if (changed) {
      this.setState(now, e, 'stale');
    }
  }

  /** An upper layer saw forward progress with `ip` (RFC 4861 §7.3.1): a known entry becomes reachable. */
  confirm(now: number, ip: Ipv4Address): void {
    const e = this.entries.get(addressKey(ip));
    if (e !== undefined && e.mac !== undefined && e.state !== 'static') this.setState(now, e, 'reachable');
  }

  /**
   * Adds or replaces a static entry. Packets queued for `ip` are flushed to `mac`. Throws
   * {@link ArpCacheError} `INVALID_ADDRESS`, `INVALID_MAC` (not a 48-bit unicast address), `TABLE_FULL`.
   */
  addStatic(ip: Ipv4Address, mac: MacAddress): void {
    if (!isIpv4Address(ip) || ip === 0) throw new ArpCacheError('INVALID_ADDRESS', `not a usable IPv4 address: ${ip}`);
    if (!Number.isInteger(mac) || mac < 0 || mac > 0xffff_ffff_ffff || isMulticastMac(mac))
      throw new ArpCacheError('INVALID_MAC', `not a unicast MAC address: ${mac}`);
    const e = this.entries.get(addressKey(ip));
    if (e === undefined) {
      if (!this.makeRoom())
        throw new ArpCacheError('TABLE_FULL', `the ARP cache holds its limit of ${this.maxEntries} entries`);
      this.lastResolved = undefined;
      this.entries.set(addressKey(ip), this.known(0, ip, mac, 'static'));
      return;
    }
    const packets = e.queue;
    e.queue = [];
    this.queued -= packets.length;
    e.mac = mac;
    e.state = 'static';
    e.probing = false;
    if (packets.length > 0) this.outbox.push({ type: 'flush', target: ip, mac, packets });
  }

  /** Removes the entry for `ip` (any state); its queued packets are dropped with reason `removed`. Throws `NOT_FOUND`. */
  remove(ip: Ipv4Address): void {
    const e = this.entries.get(addressKey(ip));
    if (e === undefined) throw new ArpCacheError('NOT_FOUND', `no ARP entry for ${ipv4ToString(ip)}`);
    this.delete(e, 'removed');
  }

  /** Every entry, in insertion order. */
  list(): ArpEntryInfo[] {
    return [...this.entries.values()].map((e) => ({
      ip: e.ip,
      mac: e.mac,
      state: e.state,
      queued: e.queue.length,
      probing: e.probing,
      nextEventAt: this.nextEvent(e),
    }));
  }

  /** When {@link poll} next has work (a retry, a probe, an expiry), or `undefined` when nothing is pending. O(entries). */
  pollAt(): number | undefined {
    let at: number | undefined;
    for (const e of this.entries.values()) {
      const t = this.nextEvent(e);
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    return at;
  }

  /** Runs every retry, probe and expiry due at `now`; the resulting actions go to the outbox. */
  poll(now: number): void {
    for (const e of this.entries.values()) {
      switch (e.state) {
        case 'incomplete':
          if (now < e.deadline) break;
          if (e.tries < this.maxRequests) {
            e.tries++;
            e.deadline = now + this.retryMs;
            this.stats.inc('requests');
            this.outbox.push({ type: 'request', target: e.ip, unicastMac: undefined });
          } else {
            this.stats.inc('unresolved');
            this.delete(e, 'unresolved');
          }
          break;
        case 'reachable':
          if (now >= e.deadline) this.setState(now, e, 'stale', Math.max(e.lastUsed, e.deadline) + this.staleMs);
          break;
        case 'stale':
          if (e.probing && now >= e.probeAt) {
            if (e.tries < this.maxRequests) {
              e.tries++;
              e.probeAt = now + this.retryMs;
              this.stats.inc('probes');
              this.outbox.push({ type: 'request', target: e.ip, unicastMac: e.mac });
            } else {
              this.stats.inc('probeFailed');
              this.delete(e, 'unresolved');
            }
          } else if (!e.probing && now >= e.deadline) {
            this.stats.inc('staleRemoved');
            this.delete(e, 'removed');
          }
          break;
        default:
          break;
      }
    }
  }

  /** Actions waiting in the outbox: lets a caller skip {@link takeActions} (and its array) when there are none. */
  get pendingActions(): number {
    return this.outbox.length;
  }

  /** Returns the actions produced since the last call, in order, and empties the outbox. */
  takeActions(): ArpAction<P>[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  private known(now: number, ip: Ipv4Address, mac: MacAddress, state: 'reachable' | 'stale' | 'static'): Entry<P> {
    // `mac` starts as undefined, as in `resolve`, and is set after: the field then holds a tagged
    // value (V8 would keep a field that only ever held numbers as an unboxed double), so `use`
    // returns the MAC boxed here, not a fresh box (a 48-bit number) per frame sent.
    const e: Entry<P> = {
      ip,
      mac: undefined,
      state,
      deadline: 0,
      tries: 0,
      probing: false,
      probeAt: 0,
      lastUsed: now,
      queue: [],
    };
    e.mac = mac;
    if (state !== 'static') this.setState(now, e, state);
    return e;
  }

  private setState(now: number, e: Entry<P>, state: 'reachable' | 'stale', deadline?: number): void {
    e.state = state;
    e.probing = false;
    e.tries = 0;
    e.deadline = deadline ?? now + (state === 'reachable' ? this.reachableMs : this.staleMs);
  }

  private nextEvent(e: Entry<P>): number | undefined {
    if (e.state === 'static') return undefined;
    return e.state === 'stale' && e.probing ? e.probeAt : e.deadline;
  }

  private enqueue(e: Entry<P>, packet: P): void {
    if (e.queue.length >= this.queuePerAddress) {
      const oldest = e.queue.shift()!;
      this.queued--;
      this.stats.inc('queueFull');
      this.outbox.push({ type: 'drop', target: e.ip, packets: [oldest], reason: 'queue-full' });
    }
    if (this.queued >= this.queueTotal) {
      this.stats.inc('globalQueueFull');
      this.outbox.push({ type: 'drop', target: e.ip, packets: [packet], reason: 'global-queue-full' });
      return;
    }
    e.queue.push(packet);
    this.queued++;
  }

  /** Makes room for one more entry: true if there is (or now is) room. */
  private makeRoom(): boolean {
    if (this.entries.size < this.maxEntries) return true;
    let victim: Entry<P> | undefined;
    for (const e of this.entries.values()) {
      if (e.state === 'stale' && (victim === undefined || e.lastUsed < victim.lastUsed)) victim = e;
    }
    if (victim === undefined) {
      this.stats.inc('tableFull');
      return false;
    }
    this.stats.inc('evicted');
    this.delete(victim, 'removed');
    return true;
  }

  /** Sends to a known entry `e` now: refreshes its use, starts a probe if it is stale; returns its MAC. */
  private use(now: number, e: Entry<P>): MacAddress {
    e.lastUsed = now;
    if (e.state === 'stale') {
      e.deadline = Math.max(e.deadline, now + this.staleMs);
      if (!e.probing) {
        e.probing = true;
        e.tries = 1;
        e.probeAt = now + this.retryMs;
        this.stats.inc('probes');
        this.outbox.push({ type: 'request', target: e.ip, unicastMac: e.mac });
      }
    }
    return e.mac!;
  }

  private delete(e: Entry<P>, reason: ArpDropReason): void {
    this.lastResolved = undefined;
    this.entries.delete(addressKey(e.ip));
    if (e.queue.length > 0) {
      this.queued -= e.queue.length;
      this.outbox.push({ type: 'drop', target: e.ip, packets: e.queue, reason });
      e.queue = [];
    }
  }
}
