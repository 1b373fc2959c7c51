/**
 * Connection tracking for the packet filter: which packets belong to a connection this host or
 * this gateway let through, so that replies (and ICMP errors about them) can be accepted without
 * opening the reverse direction.
 *
 * Model (a coarse form of Linux's nf_conntrack, without NAT):
 * - A connection is keyed by its 5-tuple in both directions: the original tuple (as the first
 *   packet saw it) and the reply tuple (the original reversed; for ICMP echo the identifier stays
 *   in `srcPort`). Both tuples index one hash table, so a packet of either direction finds it in
 *   one probe plus a short chain walk (the hash is seeded; pass a random seed from the scheduler).
 * - The packet's state: `new` for a packet in the original direction of a connection that has not
 *   yet seen a reply (or that would create one), `established` once a reply was seen (and for every
 *   reply-direction packet), `related` for an ICMP error quoting a tracked connection, `invalid`
 *   for a packet that cannot start a connection and belongs to none (a TCP segment without SYN, an
 *   echo reply nobody asked for, an ICMP error quoting nothing we know).
 * - Two phases: {@link Conntrack.classify} looks the packet up and changes nothing;
 *   {@link Conntrack.commit} (called only for a packet the filter accepted) creates or advances the
 *   connection. So packets the filter drops never take table space.
 * - TCP is followed coarsely: `syn-sent` → `syn-recv` (SYN+ACK from the responder) → `established`
 *   (ACK from the originator) → `fin-wait` (a FIN seen) → `time-wait` (FINs both ways); an RST
 *   moves any state to `closed`; a fresh SYN on a `time-wait` or `closed` connection reopens it.
 *   Each state has its own timeout; UDP and other protocols have an unreplied and a replied one;
 *   ICMP echo one.
 * - Bound: at most {@link ConntrackOptions.maxConnections}. When a new connection would exceed it,
 *   the table first drops expired connections and then evicts the least recently seen connection
 *   that never saw a reply ("early drop", as Linux does), looking at most
 *   {@link ConntrackOptions.evictionScan} connections from the least-recently-seen end; if all of
 *   those saw replies, the new connection is refused (`commit` returns false, counted `tableFull`)
 *   so established traffic is never pushed out by a flood of new attempts.
 * - Expiry is lazy (an expired connection found by a lookup is removed) plus {@link Conntrack.expire},
 *   which the owner calls periodically (for example once a second) to reclaim idle entries.
 */
import type { Ipv4Address } from '@postern/wire';
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IP_PROTO_ICMP as PROTO_ICMP,
  IP_PROTO_TCP as PROTO_TCP,
  IP_PROTO_UDP as PROTO_UDP,
  TcpFlag,
  ipv4ToString,
} from '@postern/wire';
import { Counters } from '../counters.js';
import { isIcmpError, type PacketMeta } from './packet-meta.js';

/** The connection state of one packet, as filter rules match it. */
export type ConnState = 'new' | 'established' | 'related' | 'invalid';

/** The coarse TCP state of a tracked connection. */
export type TcpTrackState = 'syn-sent' | 'syn-recv' | 'established' | 'fin-wait' | 'time-wait' | 'closed';

/** Timeouts in milliseconds; every field optional in {@link ConntrackOptions}. */
export interface ConntrackTimeouts {
  /** SYN seen, no SYN+ACK yet. Default 120 s (Linux). */
  tcpSynSent: number;
  /** SYN+ACK seen, handshake not finished. Default 60 s (Linux). */
  tcpSynRecv: number;
  /** Established TCP. Default 2 h 4 min (RFC 5382 REQ-5's minimum). */
  tcpEstablished: number;
  /** A FIN seen. Default 120 s. */
  tcpFinWait: number;
  /** FINs both ways. Default 120 s (Linux TIME_WAIT). */
  tcpTimeWait: number;
  /** After an RST. Default 10 s (Linux CLOSE). */
  tcpClosed: number;
  /** UDP before a reply. Default 30 s (Linux). */
  udpUnreplied: number;
  /** UDP after a reply. Default 120 s (Linux "stream"; RFC 4787 REQ-5 asks for at least 2 min). */
  udpReplied: number;
  /** ICMP echo. Default 30 s (Linux). */
  icmp: number;
  /** Any other protocol. Default 600 s (Linux generic). */
  generic: number;
}

/** Defaults for {@link ConntrackTimeouts}. */
export const DEFAULT_CONNTRACK_TIMEOUTS: Readonly<ConntrackTimeouts> = Object.freeze({
  tcpSynSent: 120_000,
  tcpSynRecv: 60_000,
  tcpEstablished: 7_440_000,
  tcpFinWait: 120_000,
  tcpTimeWait: 120_000,
  tcpClosed: 10_000,
  udpUnreplied: 30_000,
  udpReplied: 120_000,
  icmp: 30_000,
  generic: 600_000,
});

/** Limits and tuning of a {@link Conntrack}. */
export interface ConntrackOptions {
  /** Most connections tracked at once. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  maxConnections?: number;
  /** How many least-recently-seen connections a full table inspects for one to evict. Default 16. */
  evictionScan?: number;
  /** Per-state timeouts, overriding {@link DEFAULT_CONNTRACK_TIMEOUTS}. */
  timeouts?: Partial<ConntrackTimeouts>;
  /** Hash seed (use the scheduler's `randomUint32()` so remote hosts cannot aim at one chain). Default 0. */
  hashSeed?: number;
}

/** Default for {@link ConntrackOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 4096;

/** Names of the connection tracker's counters. */
export type ConntrackCounterName = 'created' | 'expired' | 'evicted' | 'tableFull' | 'invalid' | 'related' | 'reopened';

/** One tracked connection as the admin API lists it. */
export interface ConnectionInfo {
  /** IP protocol number. */
  readonly protocol: number;
  /** Source of the original direction (the side that opened the connection). */
  readonly src: Ipv4Address;
  /** Destination of the original direction. */
  readonly dst: Ipv4Address;
  /** Source port of the original direction (for ICMP echo: the identifier). */
  readonly srcPort: number;
  /** Destination port of the original direction (0 for ICMP echo). */
  readonly dstPort: number;
  /** True once a packet was seen in the reply direction. */
  readonly replied: boolean;
  /** The TCP state, for TCP connections. */
  readonly tcpState: TcpTrackState | undefined;
  /** Milliseconds until it expires if idle. */
  readonly expiresIn: number;
  /** Packets seen, original direction then reply direction. */
  readonly packets: readonly [number, number];
  /** Bytes seen, original direction then reply direction. */
  readonly bytes: readonly [number, number];
}

const ORIGINAL = 0;
const REPLY = 1;

/** One hash-chain node: a connection seen from one of its two directions. */
interface TupleNode {
  readonly conn: Connection;
  readonly dir: 0 | 1;
  readonly hash: number;
  next: TupleNode | undefined;
}

class Connection {
  readonly id: number;
  readonly protocol: number;
  readonly src: number;
  readonly dst: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The reply tuple's ports (the original's swapped, except for ICMP echo). */
  readonly replySrcPort: number;
  readonly replyDstPort: number;
  replied = false;
  tcpState: TcpTrackState | undefined;
  finSeen = 0; // bit 0: FIN from originator, bit 1: FIN from responder
  expiresAt = 0;
  readonly packets: [number, number] = [0, 0];
  readonly bytes: [number, number] = [0, 0];
  readonly nodes: [TupleNode, TupleNode];

  constructor(id: number, m: PacketMeta, seed: number) {
    this.id = id;
    this.protocol = m.protocol;
    this.src = m.src;
    this.dst = m.dst;
    this.srcPort = m.srcPort;
    this.dstPort = m.dstPort;
    const icmp = m.protocol === PROTO_ICMP;
    this.replySrcPort = icmp ? m.srcPort : m.dstPort;
    this.replyDstPort = icmp ? m.dstPort : m.srcPort;
    this.tcpState = m.protocol === PROTO_TCP ? 'syn-sent' : undefined;
    this.nodes = [
      {
        conn: this,
        dir: ORIGINAL,
        hash: tupleHash(seed, this.src, this.dst, this.protocol, this.srcPort, this.dstPort),
        next: undefined,
      },
      {
        conn: this,
        dir: REPLY,
        hash: tupleHash(seed, this.dst, this.src, this.protocol, this.replySrcPort, this.replyDstPort),
        next: undefined,
      },
    ];
  }

  matches(dir: 0 | 1, src: number, dst: number, protocol: number, sp: number, dp: number): boolean {
    if (protocol !== this.protocol) return false;
    return dir === ORIGINAL
      ? src === this.src && dst === this.dst && sp === this.srcPort && dp === this.dstPort
      : src === this.dst && dst === this.src && sp === this.replySrcPort && dp === this.replyDstPort;
  }
}

/** A connection tracker. See the module comment for the model, the bound and the eviction policy. */
export class Conntrack {
  /** The named limit on tracked connections. */
  readonly maxConnections: number;
  /** Connections inspected for eviction when the table is full. */
  readonly evictionScan: number;
  /** The timeouts in force. */
  readonly timeouts: Readonly<ConntrackTimeouts>;
  /** `created`, `expired`, `evicted` (early drop), `tableFull` (new connection refused), `invalid`, `related`, `reopened`. */
  readonly stats = new Counters<ConntrackCounterName>('conntrack', [
    'created',
    'expired',
    'evicted',
    'tableFull',
    'invalid',
    'related',
    'reopened',
  ]);
  private readonly seed: number;
  private readonly buckets = new Map<number, TupleNode>();
  /** Every connection by id, least recently seen first (a packet moves its connection to the end). */
  private readonly lru = new Map<number, Connection>();
  private nextId = 1;
  // The result of the last classify(), consumed by commit().
  private lastConn: Connection | undefined;
  private lastDir: 0 | 1 = ORIGINAL;
  private lastState: ConnState = 'invalid';
  private lastCreates = false;

  constructor(options: ConntrackOptions = {}) {
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.evictionScan = options.evictionScan ?? 16;
    this.timeouts = Object.freeze({ ...DEFAULT_CONNTRACK_TIMEOUTS, ...options.timeouts });
    this.seed = (options.hashSeed ?? 0) >>> 0;
  }

  /** Connections currently held (some may have expired and not been reclaimed yet). */
  get size(): number {
    return this.lru.size;
  }

  /**
   * The connection state of the packet `m` at `now`. Changes nothing in the table except removing
   * an expired connection it runs into. Remembers its finding for the next {@link commit}.
   */
  classify(m: PacketMeta, now: number): ConnState {
    this.lastConn = undefined;
    this.lastCreates = false;
    this.lastState = this.classifyInner(m, now);
    if (this.lastState === 'invalid') this.stats.inc('invalid');
    else if (this.lastState === 'related') this.stats.inc('related');
    return this.lastState;
  }

  /**
   * Applies the packet last given to {@link classify} (the same `m`, unchanged) to the table: creates
   * its connection or advances and refreshes it. Call it only for packets that are let through.
   * Returns false when a new connection had to be refused because the table is full (the caller
   * should drop the packet); true otherwise (also for `related` and `invalid`, which change nothing).
   */
  commit(m: PacketMeta, now: number): boolean {
    let conn = this.lastConn;
    const dir = this.lastDir;
    if (conn === undefined) {
      if (!this.lastCreates) return true;
      if (this.lru.size >= this.maxConnections && !this.makeRoom(now)) {
        this.stats.inc('tableFull');
        return false;
      }
      conn = new Connection(this.nextId++, m, this.seed);
      this.link(conn.nodes[ORIGINAL]);
      this.link(conn.nodes[REPLY]);
      this.stats.inc('created');
    } else {
      this.lru.delete(conn.id);
    }
    this.lru.set(conn.id, conn);
    this.lastConn = undefined;
    this.lastCreates = false;
    if (dir === REPLY) conn.replied = true;
    conn.packets[dir]++;
    conn.bytes[dir] += m.length;
    if (conn.protocol === PROTO_TCP) this.advanceTcp(conn, dir, m.tcpFlags);
    conn.expiresAt = now + this.timeoutOf(conn);
    return true;
  }

  /** Removes every connection idle past its timeout at `now`; returns how many. O(connections). */
  expire(now: number): number {
    let n = 0;
    for (const conn of this.lru.values()) {
      if (conn.expiresAt <= now) {
        this.remove(conn);
        n++;
      }
    }
    this.stats.inc('expired', n);
    return n;
  }

  /** Forgets every connection. */
  clear(): void {
    this.buckets.clear();
    this.lru.clear();
    this.lastConn = undefined;
  }

  /** Every live connection at `now`, least recently seen first. */
  list(now: number): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const c of this.lru.values()) {
      if (c.expiresAt <= now) continue;
      out.push({
        protocol: c.protocol,
        src: c.src,
        dst: c.dst,
        srcPort: c.srcPort,
        dstPort: c.dstPort,
        replied: c.replied,
        tcpState: c.tcpState,
        expiresIn: c.expiresAt - now,
        packets: [c.packets[0], c.packets[1]],
        bytes: [c.bytes[0], c.bytes[1]],
      });
    }
    return out;
  }

  /** A one-line description of a connection, for logs and the admin API. */
  static describe(c: ConnectionInfo): string {
    return `proto ${c.protocol} ${ipv4ToString(c.src)}:${c.srcPort} -> ${ipv4ToString(c.dst)}:${c.dstPort}${c.tcpState ? ` ${c.tcpState}` : ''}${c.replied ? '' : ' [unreplied]'}`;
  }

  private classifyInner(m: PacketMeta, now: number): ConnState {
    if (m.protocol === PROTO_ICMP) {
      if (isIcmpError(m.icmpType)) {
        if (m.innerProtocol < 0) return 'invalid';
        const node = this.find(now, m.innerSrc, m.innerDst, m.innerProtocol, m.innerSrcPort, m.innerDstPort);
        return node === undefined ? 'invalid' : 'related';
      }
      if (m.icmpType !== ICMP_ECHO_REQUEST && m.icmpType !== ICMP_ECHO_REPLY) return 'new'; // informational, untracked
      const node = this.find(now, m.src, m.dst, PROTO_ICMP, m.srcPort, 0);
      if (m.icmpType === ICMP_ECHO_REPLY) {
        if (node === undefined || node.dir !== REPLY) return 'invalid';
        return this.found(node);
      }
      if (node === undefined) return this.creates();
      if (node.dir !== ORIGINAL) return 'invalid';
      return this.found(node);
    }
    const node = this.find(now, m.src, m.dst, m.protocol, m.srcPort, m.dstPort);
    if (m.protocol === PROTO_TCP) {
      const flags = m.tcpFlags;
      const pureSyn = (flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST | TcpFlag.FIN)) === TcpFlag.SYN;
      if (node === undefined) return pureSyn ? this.creates() : 'invalid';
      const st = node.conn.tcpState;
      if (pureSyn && node.dir === ORIGINAL && (st === 'time-wait' || st === 'closed')) {
        this.lastConn = node.conn;
        this.lastDir = ORIGINAL;
        return 'new';
      }
      return this.found(node);
    }
    return node === undefined ? this.creates() : this.found(node);
  }

  private creates(): ConnState {
    this.lastCreates = true;
    this.lastDir = ORIGINAL;
    return 'new';
  }

  private found(node: TupleNode): ConnState {
    this.lastConn = node.conn;
    this.lastDir = node.dir;
    return node.dir === REPLY || node.conn.replied ? 'established' : 'new';
  }

  private advanceTcp(c: Connection, dir: 0 | 1, flags: number): void {
    const syn = (flags & TcpFlag.SYN) !== 0;
    const ack = (flags & TcpFlag.ACK) !== 0;
    if ((flags & TcpFlag.RST) !== 0) {
      c.tcpState = 'closed';
      return;
    }
    switch (c.tcpState) {
      case 'syn-sent':
        if (dir === REPLY && syn && ack) c.tcpState = 'syn-recv';
        break;
      case 'syn-recv':
        if (dir === ORIGINAL && ack && !syn) c.tcpState = 'established';
        break;
      case 'time-wait':
      case 'closed':
        if (dir === ORIGINAL && syn && !ack) {
          c.tcpState = 'syn-sent';
          c.replied = false;
          c.finSeen = 0;
          this.stats.inc('reopened');
          return;
        }
        break;
      default:
        break;
    }
    if (
      (flags & TcpFlag.FIN) !== 0 &&
      (c.tcpState === 'established' || c.tcpState === 'fin-wait' || c.tcpState === 'syn-recv')
    ) {
      c.finSeen |= dir === ORIGINAL ? 1 : 2;
      c.tcpState = c.finSeen === 3 ? 'time-wait' : 'fin-wait';
    }
  }

  private timeoutOf(c: Connection): number {
    const t = this.timeouts;
    switch (c.protocol) {
      case PROTO_TCP:
        switch (c.tcpState) {
          case 'syn-sent':
            return t.tcpSynSent;
          case 'syn-recv':
            return t.tcpSynRecv;
          case 'established':
            return t.tcpEstablished;
          case 'fin-wait':
            return t.tcpFinWait;
          case 'time-wait':
            return t.tcpTimeWait;
          default:
            return t.tcpClosed;
        }
      case PROTO_UDP:
        return c.replied ? t.udpReplied : t.udpUnreplied;
      case PROTO_ICMP:
        return t.icmp;
      default:
        return t.generic;
    }
  }

  /** Frees room for one connection: expired ones first, then the oldest unreplied. */
  private makeRoom(now: number): boolean {
    let scanned = 0;
    let victim: Connection | undefined;
    for (const c of this.lru.values()) {
      if (scanned++ >= this.evictionScan) break;
      if (c.expiresAt <= now) {
        this.remove(c);
        this.stats.inc('expired');
        return true;
      }
      if (victim === undefined && !c.replied) victim = c;
    }
    if (victim === undefined) return false;
    this.remove(victim);
    this.stats.inc('evicted');
    return true;
  }

  private find(now: number, src: number, dst: number, protocol: number, sp: number, dp: number): TupleNode | undefined {
    let node = this.buckets.get(tupleHash(this.seed, src, dst, protocol, sp, dp));
    while (node !== undefined) {
      if (node.conn.matches(node.dir, src, dst, protocol, sp, dp)) {
        if (node.conn.expiresAt <= now) {
          this.remove(node.conn);
          this.stats.inc('expired');
          return undefined;
        }
        return node;
      }
      node = node.next;
    }
    return undefined;
  }

  private link(node: TupleNode): void {
    node.next = this.buckets.get(node.hash);
    this.buckets.set(node.hash, node);
  }

  private unlink(node: TupleNode): void {
    let cur = this.buckets.get(node.hash);
    if (cur === node) {
      if (node.next === undefined) this.buckets.delete(node.hash);
      else this.buckets.set(node.hash, node.next);
      return;
    }
    while (cur !== undefined && cur.next !== node) cur = cur.next;
    if (cur !== undefined) cur.next = node.next;
  }

  private remove(c: Connection): void {
    this.unlink(c.nodes[ORIGINAL]);
    this.unlink(c.nodes[REPLY]);
    this.lru.delete(c.id);
    if (this.lastConn === c) this.lastConn = undefined;
  }
}

/** A seeded 32-bit hash of a 5-tuple (murmur3 finaliser steps). */
function tupleHash(seed: number, src: number, dst: number, protocol: number, sp: number, dp: number): number {
  let h = seed ^ Math.imul(src | 0, 0xcc9e2d51);
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  h ^= Math.imul(dst | 0, 0xcc9e2d51);
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  h ^= Math.imul(((sp << 16) | dp) ^ (protocol << 8), 0xcc9e2d51);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
