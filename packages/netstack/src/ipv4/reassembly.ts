/**
 * IPv4 fragment reassembly (RFC 791 §3.2, RFC 815), hardened the way modern stacks are.
 *
 * A datagram under reassembly is keyed by (source, destination, protocol, identification) and
 * holds its fragments as sorted, non-overlapping intervals, each a copy of the fragment's payload
 * (the caller's buffers belong to the NIC ring and are reused). The datagram is complete when the
 * last fragment (More Fragments clear) fixed the total length, the first (offset 0) arrived and the
 * bytes held equal the total. The completed payload is one new frame buffer with room for the
 * Ethernet and IPv4 headers in front, so a datagram reassembled to be forwarded (NAT, firewall)
 * becomes one packet again without another copy ({@link reassembledPacketFrame}). That frame is an
 * `ArrayBuffer` of its own, exactly the frame's length (not a view into a shared frame slab): a
 * reassembled payload that an application keeps (a UDP socket's queue, say) keeps only its own
 * datagram's bytes alive, never a slab of other frames.
 *
 * Rejections, each a named counter:
 * - `duplicate`: a fragment with exactly the offset and length of one held (dropped alone);
 * - `overlap`: any other overlap drops the whole datagram (RFC 5722's rule for IPv6, which Linux
 *   also applies to IPv4): overlapping fragments are how filters are evaded (RFC 1858, RFC 3128);
 * - `tinyFirst`: a first fragment too short to hold the transport header fields a filter reads
 *   (TCP 20 bytes, UDP and ICMP 8), and `tinyOffset`: a later fragment starting inside that header
 *   (for TCP, the offset-8 attack of RFC 1858 §3.1); both drop the datagram;
 * - `oversize`: offset plus length beyond what fits in 65535 bytes with the header (ping of death);
 * - `badLast`: a second, different last fragment, data beyond the last fragment's end, or a last
 *   fragment ending before data already held;
 * - `misaligned`: a fragment other than the last whose length is not a multiple of 8;
 * - `empty`: a zero-length fragment other than the last (dropped alone);
 * - `tooManyFragments`: more than {@link ReassemblyOptions.maxFragmentsPerDatagram};
 * - `memoryEvicted` and `memoryLimit`: see below; `timeout`: see {@link Reassembler.poll}.
 *
 * Memory: every held payload byte plus {@link DATAGRAM_OVERHEAD_BYTES} per datagram counts
 * against {@link ReassemblyOptions.maxBytes}. When a fragment would exceed it, the oldest other
 * datagrams are evicted (counted `memoryEvicted`): the oldest are the likeliest to be abandoned or
 * hostile, and a flood of incomplete datagrams then cannot starve traffic that completes quickly.
 * If the fragment still cannot fit, its datagram is dropped (`memoryLimit`).
 *
 * Time: a datagram expires {@link ReassemblyOptions.timeoutMs} after its first fragment arrived,
 * whatever arrives later (RFC 791's timer is not restarted, so an attacker cannot keep one alive).
 * Datagrams are kept in arrival order, so {@link Reassembler.pollAt} is O(1).
 */
import {
  ETHERNET_HEADER_LENGTH,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_MAX_TOTAL_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  emitIpv4,
  type Ipv4Repr,
} from '@postern/wire';
import { Counters } from '../counters.js';
import { allocateFrame, frameLength } from '../link/frame.js';

/** Limits of a {@link Reassembler}. */
export interface ReassemblyOptions {
  /** Lifetime of an incomplete datagram from its first fragment, in ms. Default 30 000 (RFC 791 suggests 15 s upward; Linux uses 30 s). */
  timeoutMs?: number;
  /** Memory cap over all datagrams (payload bytes plus per-datagram overhead). Default {@link DEFAULT_REASSEMBLY_MAX_BYTES}. */
  maxBytes?: number;
  /** Most fragments one datagram may have. Default 64. */
  maxFragmentsPerDatagram?: number;
  /** The group name of its counters (`stats`). Default `reassembly`; a stack's second reassembler needs another. */
  counterGroup?: string;
}

/** Default for {@link ReassemblyOptions.maxBytes}: 256 KiB. */
export const DEFAULT_REASSEMBLY_MAX_BYTES = 256 * 1024;
/** Bytes charged per datagram under reassembly, on top of its payload (bookkeeping and the kept header). */
export const DATAGRAM_OVERHEAD_BYTES = 128;

/** Names of the reassembler's counters. */
export type ReassemblyCounterName =
  | 'fragments'
  | 'reassembled'
  | 'duplicate'
  | 'overlap'
  | 'tinyFirst'
  | 'tinyOffset'
  | 'oversize'
  | 'badLast'
  | 'misaligned'
  | 'empty'
  | 'tooManyFragments'
  | 'memoryEvicted'
  | 'memoryLimit'
  | 'timeout';

/** Why {@link Reassembler.add} dropped a fragment (and, except for `duplicate` and `empty`, its datagram). */
export type ReassemblyDropReason = Exclude<
  ReassemblyCounterName,
  'fragments' | 'reassembled' | 'memoryEvicted' | 'timeout'
>;

/**
 * The outcome of {@link Reassembler.add}. `pending` and `dropped` results are shared constants.
 * `complete` carries `largestFragment`: the total length (header included) of the largest fragment
 * received, or of the packet itself when it was no fragment. A router that reassembled for its
 * filter fragments again to at most this size (as Linux's `frag_max_size`), so it changes neither
 * the fragment sizes nor the path MTU behaviour the sender sees. `frame`, set only when fragments
 * were reassembled, is the frame buffer the payload sits in (at offset 14 plus the header length),
 * the whole of an `ArrayBuffer` of its own: see {@link reassembledPacketFrame}.
 */
export type ReassemblyResult =
  | {
      readonly status: 'complete';
      readonly header: Ipv4Repr;
      readonly payload: Uint8Array;
      readonly largestFragment: number;
      readonly frame?: Uint8Array;
    }
  | { readonly status: 'pending' }
  | { readonly status: 'dropped'; readonly reason: ReassemblyDropReason };

/** A datagram that timed out after its first fragment arrived: enough to send ICMP time exceeded (code 1). */
export interface ExpiredDatagram {
  /** The first fragment's header (options copied). */
  readonly header: Ipv4Repr;
  /** The first fragment's payload (a copy): the ICMP error quotes its first 8 bytes. */
  readonly firstPayload: Uint8Array;
}

interface Piece {
  readonly offset: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface Pending {
  readonly key: string;
  readonly deadline: number;
  readonly pieces: Piece[];
  first: Ipv4Repr | undefined;
  /** Payload length once the last fragment arrived, else -1. */
  total: number;
  held: number;
  /** Total length (header included) of the largest fragment accepted. */
  largest: number;
}

/** Every counter of a reassembler, in the order its `stats` lists them. */
const COUNTER_NAMES: readonly ReassemblyCounterName[] = [
  'fragments',
  'reassembled',
  'duplicate',
  'overlap',
  'tinyFirst',
  'tinyOffset',
  'oversize',
  'badLast',
  'misaligned',
  'empty',
  'tooManyFragments',
  'memoryEvicted',
  'memoryLimit',
  'timeout',
];
/** The counters that count no {@link ReassemblyDropReason}. */
const NOT_DROPS: ReadonlySet<ReassemblyCounterName> = new Set(['fragments', 'reassembled', 'memoryEvicted', 'timeout']);

function isDropReason(name: ReassemblyCounterName): name is ReassemblyDropReason {
  return !NOT_DROPS.has(name);
}

/** The `dropped` result of each reason, shared by every reassembler (frozen). */
const DROPPED = Object.fromEntries(
  COUNTER_NAMES.filter(isDropReason).map((reason) => [reason, Object.freeze({ status: 'dropped', reason })]),
) as Record<ReassemblyDropReason, ReassemblyResult>;

const PENDING: ReassemblyResult = Object.freeze({ status: 'pending' });
const NO_EXPIRED: readonly ExpiredDatagram[] = Object.freeze([]);

/** The shortest first fragment accepted for `protocol`: the transport header bytes a filter inspects. */
export function minFirstFragmentLength(protocol: number): number {
  switch (protocol) {
    case IP_PROTO_TCP:
      return 20;
    case IP_PROTO_UDP:
    case IP_PROTO_ICMP:
      return 8;
    default:
      return 0;
  }
}

/** An IPv4 reassembler. Pure state: takes `now`, never reads a clock. See the module comment. */
export class Reassembler {
  /** Named limit: datagram lifetime in ms. */
  readonly timeoutMs: number;
  /** Named limit: memory cap in bytes. */
  readonly maxBytes: number;
  /** Named limit: fragments per datagram. */
  readonly maxFragmentsPerDatagram: number;
  /** One counter per outcome; see the module comment. */
  readonly stats: Counters<ReassemblyCounterName>;
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.stats = new Counters<ReassemblyCounterName>(options.counterGroup ?? 'reassembly', COUNTER_NAMES);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBytes = options.maxBytes ?? DEFAULT_REASSEMBLY_MAX_BYTES;
    this.maxFragmentsPerDatagram = options.maxFragmentsPerDatagram ?? 64;
  }

  /** Datagrams under reassembly. */
  get datagrams(): number {
    return this.pending.size;
  }

  /** Bytes charged against {@link maxBytes} now. */
  get memory(): number {
    return this.bytes;
  }

  /**
   * Takes one fragment: its parsed header and its payload (a view; it is copied, the caller keeps
   * its buffer). `header.payloadLength` is ignored in favour of `payload.byteLength`. A packet that
   * is not a fragment (offset 0, More Fragments clear) comes straight back as `complete`, uncopied.
   * Never throws.
   */
  add(now: number, header: Ipv4Repr, payload: Uint8Array): ReassemblyResult {
    const offset = header.fragmentOffset;
    const length = payload.length;
    const end = offset + length;
    const more = header.moreFragments;
    if (offset === 0 && !more)
      return {
        status: 'complete',
        header,
        payload,
        largestFragment: IPV4_MIN_HEADER_LENGTH + header.options.length + length,
      };
    this.stats.inc('fragments');
    const key = `${header.source}>${header.destination}/${header.protocol}#${header.identification}`;
    let p = this.pending.get(key);
    if (p !== undefined && p.deadline <= now) {
      this.discard(p);
      this.stats.inc('timeout');
      p = undefined;
    }

    if (length === 0 && more) return this.drop('empty', undefined);
    if (end > IPV4_MAX_TOTAL_LENGTH - IPV4_MIN_HEADER_LENGTH) return this.drop('oversize', p);
    if (more && length % 8 !== 0) return this.drop('misaligned', p);
    const minHeader = minFirstFragmentLength(header.protocol);
    if (offset === 0 && length < minHeader) return this.drop('tinyFirst', p);
    if (offset > 0 && offset < minHeader) return this.drop('tinyOffset', p);

    // A new datagram joins the table (and is charged) only once its first fragment passed every check.
    const fresh = p === undefined;
    p ??= { key, deadline: now + this.timeoutMs, pieces: [], first: undefined, total: -1, held: 0, largest: 0 };
    const pieces = p.pieces;
    if (!more) {
      if ((p.total >= 0 && p.total !== end) || (pieces.length > 0 && pieces[pieces.length - 1]!.end > end))
        return this.drop('badLast', p);
      p.total = end;
    } else if (p.total >= 0 && end > p.total) {
      return this.drop('badLast', p);
    }

    // Find the insertion point: the first piece that ends after our offset.
    let i = 0;
    while (i < pieces.length && pieces[i]!.end <= offset) i++;
    const next = pieces[i];
    if (next !== undefined && next.offset < end) {
      if (next.offset === offset && next.end === end) {
        this.stats.inc('duplicate');
        return DROPPED.duplicate;
      }
      return this.drop('overlap', p);
    }
    if (pieces.length >= this.maxFragmentsPerDatagram) return this.drop('tooManyFragments', p);
    const need = length + (fresh ? DATAGRAM_OVERHEAD_BYTES : 0);
    if (this.bytes + need > this.maxBytes) {
      for (const other of this.pending.values()) {
        if (this.bytes + need <= this.maxBytes) break;
        if (other === p) continue;
        this.discard(other);
        this.stats.inc('memoryEvicted');
      }
      if (this.bytes + need > this.maxBytes) return this.drop('memoryLimit', p);
    }
    if (fresh) {
      this.pending.set(key, p);
      this.bytes += DATAGRAM_OVERHEAD_BYTES;
    }

    pieces.splice(i, 0, { offset, end, data: payload.slice() });
    p.held += length;
    p.largest = Math.max(p.largest, IPV4_MIN_HEADER_LENGTH + header.options.length + length);
    this.bytes += length;
    if (offset === 0) p.first = copyHeader(header);
    if (p.first === undefined || p.total < 0 || p.held !== p.total) return PENDING;

    const first = p.first;
    if (p.total + 20 + first.options.length > IPV4_MAX_TOTAL_LENGTH) return this.drop('oversize', p);
    // The payload goes where it sits in a frame carrying the whole datagram: a buffer of its own, so
    // a payload kept by its receiver pins this datagram only (see the module comment).
    const at = ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH + first.options.length;
    const frame = new Uint8Array(frameLength(at - ETHERNET_HEADER_LENGTH + p.total));
    const out = frame.subarray(at, at + p.total);
    for (const piece of pieces) out.set(piece.data, piece.offset);
    this.discard(p);
    this.stats.inc('reassembled');
    return {
      status: 'complete',
      header: { ...first, moreFragments: false, fragmentOffset: 0, payloadLength: p.total },
      payload: out,
      largestFragment: p.largest,
      frame,
    };
  }

  /** When {@link poll} next has work: the earliest datagram deadline, or `undefined` when idle. */
  pollAt(): number | undefined {
    for (const p of this.pending.values()) return p.deadline;
    return undefined;
  }

  /**
   * Expires every datagram whose deadline is at or before `now` (counted `timeout`). Returns those
   * whose first fragment had arrived, for the caller to answer with ICMP time exceeded, code 1
   * (RFC 792; RFC 1122 §3.3.2 sends it only when fragment zero was received).
   */
  poll(now: number): readonly ExpiredDatagram[] {
    let out: ExpiredDatagram[] | undefined;
    for (const p of this.pending.values()) {
      if (p.deadline > now) break;
      this.discard(p);
      this.stats.inc('timeout');
      const firstPiece = p.pieces[0];
      if (p.first !== undefined && firstPiece !== undefined)
        (out ??= []).push({ header: p.first, firstPayload: firstPiece.data });
    }
    return out ?? NO_EXPIRED;
  }

  /** Drops every datagram under reassembly (not counted). */
  clear(): void {
    this.pending.clear();
    this.bytes = 0;
  }

  private drop(reason: ReassemblyDropReason, p: Pending | undefined): ReassemblyResult {
    this.stats.inc(reason);
    if (p !== undefined) this.discard(p);
    return DROPPED[reason];
  }

  private discard(p: Pending): void {
    if (this.pending.get(p.key) !== p) return;
    this.pending.delete(p.key);
    this.bytes -= DATAGRAM_OVERHEAD_BYTES + p.held;
  }
}

/**
 * The complete datagram `header` + `payload` (a `complete` result of {@link Reassembler.add}) as
 * one IPv4 packet at offset 14 of a frame buffer, as forwarding sends it (see `allocateFrame`):
 * the header is written in front of a reassembled payload, in the room `frame` left for it, without
 * copying the payload; a result without `frame` (a packet that was no fragment) is copied into a
 * new frame. The header's fragment fields are written as they are (a result's are cleared).
 * Returns the frame; the packet is its bytes from 14 for `20 + options + payload` bytes.
 */
export function reassembledPacketFrame(result: {
  readonly header: Ipv4Repr;
  readonly payload: Uint8Array;
  readonly frame?: Uint8Array;
}): Uint8Array {
  const { header, payload } = result;
  const total = IPV4_MIN_HEADER_LENGTH + header.options.length + payload.length;
  let frame = result.frame;
  if (
    frame === undefined ||
    payload.buffer !== frame.buffer ||
    payload.byteOffset !== frame.byteOffset + ETHERNET_HEADER_LENGTH + total - payload.length
  )
    frame = allocateFrame(total);
  emitIpv4({ ...header, payloadLength: payload.length }, frame, payload, ETHERNET_HEADER_LENGTH);
  return frame;
}

function copyHeader(h: Ipv4Repr): Ipv4Repr {
  return { ...h, options: h.options.slice() };
}
