/**
 * ICMP (RFC 792, RFC 1122 §3.2.2): echo replies, errors this host sends (with the RFC 1122 rules
 * and the rate limiter), errors it receives (handed to the transport that sent the quoted
 * datagram), and an echo client (`ping`).
 *
 * Errors are never sent (counted `errorSuppressed`) about: a packet that came as a link-layer
 * broadcast or multicast; a packet to a broadcast or multicast address; a packet whose source is
 * not a unicast host (0.0.0.0, 127/8, multicast, class E, or a directed broadcast of ours); a
 * fragment other than the first; an ICMP error message (or an ICMP message whose type cannot be
 * read). What is left goes through the {@link IcmpRateLimiter} (`errorRateLimited`). An error
 * quotes the offending packet's header and as much of its payload as keeps the error within 576
 * bytes. Its source is the offending packet's destination when that is ours, else the address of
 * the interface it arrived on that faces its sender.
 */
import {
  DecodeError,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LENGTH,
  ICMP_TIME_EXCEEDED,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_BROADCAST,
  Icmpv4Packet,
  Ipv4Packet,
  emitIcmpv4,
  ipv4ToString,
  parseIcmpv4,
  type Icmpv4Repr,
  type Ipv4Address,
  readUint32,
} from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import type { Counters } from '../counters.js';
import { PingError, SendError } from '../errors.js';
import { isIpv4Multicast, isUnicastSource } from '../link/frame.js';
import { ICMP_QUOTE_LIMIT, type IcmpErrorReport, type IcmpErrorSender } from './icmp-errors.js';
import { IcmpRateLimiter, TokenBucket, type IcmpRateLimiterOptions } from './icmp-rate-limit.js';
import type { NetInterface } from '../link/interface.js';
import type { Ipv4Output } from '../ipv4/output.js';
import type { Ipv4Delivery, TransportHandler } from '../ipv4/transport.js';
import type { InterfaceTable } from '../link/interface-table.js';
import { isIcmpError } from '../filter/packet-meta.js';
import type { IcmpCounterName, Ipv4CounterName } from '../stack-counters.js';

export type { IcmpErrorReport } from './icmp-errors.js';

/** Options of one echo request ({@link IcmpService.echo}, `Stack.ping`). */
export interface EchoOptions {
  /** Whom to ask. */
  dst: Ipv4Address;
  /** Source address; default chosen by the route. */
  src?: Ipv4Address;
  /** Bytes of echo data (a pattern). Default 56, as ping(8). Ignored when `data` is given. */
  size?: number;
  /** The echo data itself. */
  data?: Uint8Array;
  /** Time to live. */
  ttl?: number;
  /** Don't Fragment. */
  df?: boolean;
  /** Give up after this many ms. Default 1000. */
  timeoutMs?: number;
  /**
   * Echo identifier, 0..65535. Default: the stack's own (random per stack; NAT never maps another
   * host's echoes to it), or the next one when a NAT mapping owns it all the same.
   */
  identifier?: number;
  /** Sequence number, 0..65535. Default: the next of the stack's counter. */
  sequence?: number;
}

/** A matched echo reply. */
export interface EchoReply {
  /** Who replied. */
  readonly from: Ipv4Address;
  /** Identifier. */
  readonly identifier: number;
  /** Sequence number. */
  readonly sequence: number;
  /** Echo data length in bytes. */
  readonly size: number;
  /** True when the data came back unchanged. */
  readonly dataMatches: boolean;
  /** TTL of the reply. */
  readonly ttl: number;
  /** Round-trip time in ms on the scheduler clock. */
  readonly rttMs: number;
}

/** Receives the outcome of one echo request: an error, or the reply. Called exactly once (unless cancelled). */
export type EchoCallback = (error: PingError | undefined, reply: EchoReply | undefined) => void;

interface Outstanding {
  readonly key: number;
  readonly sentAt: number;
  readonly deadline: number;
  readonly data: Uint8Array;
  readonly callback: EchoCallback;
}

/** Default echo data size (ping's). */
export const DEFAULT_ECHO_SIZE = 56;
/** Default echo timeout in ms. */
export const DEFAULT_ECHO_TIMEOUT_MS = 1000;
/** Most echo requests outstanding at once (a bound; more are refused with `INVALID_ARGUMENT`). */
export const MAX_OUTSTANDING_ECHOES = 1024;
/** Type of service of errors this host sends: precedence "internetwork control" (RFC 1812 §4.3.2.5). */
const ERROR_TOS = 0xc0;

/**
 * An optional global limit on the echo replies a host sends (a token bucket). Off by default, as in
 * Linux, whose `icmp_ratemask` leaves echo replies out of ICMP rate limiting: a reply costs no more
 * than the request it answers (same size, one per request, no amplification) and goes through the
 * same bounded device queue as everything else, so a ping flood is bounded by the link. Turn it on
 * to cap the CPU and uplink a flood can take from other traffic; refused requests count
 * `echoRateLimited`.
 */
export interface EchoReplyRateLimit {
  /** Echo replies per second, >= 0. */
  ratePerSecond: number;
  /** Largest burst of replies, >= 1. */
  burst: number;
}

/** What the ICMP module needs from the rest of the stack. @internal The stack builds it. */
export interface IcmpPorts {
  /** The time source of echo deadlines and the rate limiters, and the seed of the echo identifier. */
  readonly scheduler: Pick<SchedulerApi, 'now' | 'randomUint32'>;
  /** ICMP counters. */
  readonly icmpCounters: Counters<IcmpCounterName>;
  /** IPv4 counters (a transport's ICMP error handler that throws: `handlerErrors`). */
  readonly ipCounters: Counters<Ipv4CounterName>;
  /** Which addresses are ours, which are broadcasts (the RFC 1122 error rules and the error's source). */
  readonly interfaces: Pick<InterfaceTable, 'isLocal' | 'isBroadcast'>;
  /** Sends echo requests, replies and errors. */
  readonly output: Pick<Ipv4Output, 'send'>;
  /** Receives ICMP errors about UDP datagrams. */
  readonly udp: { icmpError(report: IcmpErrorReport): void };
  /** The registered transports by protocol number (ICMP errors about their datagrams). */
  readonly protocols: ReadonlyMap<number, TransportHandler>;
  /** Re-arms the stack timer (an echo deadline). */
  requestWake(): void;
  /**
   * True when a NAT mapping owns echo identifier `identifier` on an external address: an echo
   * request that does not name its identifier then takes another, so its reply is not translated
   * to the inside host. Optional.
   */
  readonly natOwns?: (identifier: number) => boolean;
}

const BYPASS_FILTER = { bypassFilter: true } as const;

/** The ICMP module of a stack. Reach it as `Stack.icmp`. */
export class IcmpService implements IcmpErrorSender {
  /** The rate limiter for errors this host sends. */
  readonly limiter: IcmpRateLimiter;
  /** The echo-reply limit, when one was configured (see {@link EchoReplyRateLimit}). */
  readonly echoReplyLimiter: TokenBucket | undefined;
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly identifier: number;
  private sequence = 0;

  /** @internal Created by the stack. */
  constructor(
    private readonly ports: IcmpPorts,
    limits: IcmpRateLimiterOptions = {},
    echoReplyLimit?: EchoReplyRateLimit,
  ) {
    const now = ports.scheduler.now;
    this.limiter = new IcmpRateLimiter(limits, now);
    this.echoReplyLimiter =
      echoReplyLimit === undefined
        ? undefined
        : new TokenBucket(echoReplyLimit.ratePerSecond, echoReplyLimit.burst, now);
    this.identifier = ports.scheduler.randomUint32() & 0xffff;
  }

  /** Echo requests waiting for a reply. */
  get outstandingEchoes(): number {
    return this.outstanding.size;
  }

  /**
   * True when this host uses echo identifier `identifier`: it is the host's own (the default of
   * {@link IcmpService.echo}) or an echo request waiting for its reply carries it. NAT asks it
   * before giving a new ICMP query mapping an identifier; walks the outstanding requests (at most
   * {@link MAX_OUTSTANDING_ECHOES}): not for the per-packet path.
   */
  identifierInUse(identifier: number): boolean {
    if (identifier === this.identifier) return true;
    for (const key of this.outstanding.keys()) if (key >>> 16 === identifier) return true;
    return false;
  }

  /** @internal Handles one ICMP message delivered to this host. */
  input(d: Ipv4Delivery): void {
    const c = this.ports.icmpCounters;
    c.inc('received');
    let packet: Icmpv4Packet;
    try {
      packet = Icmpv4Packet.checked(d.payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return c.inc('malformed');
    }
    if (!packet.verifyChecksum()) return c.inc('badChecksum');
    const type = packet.type;
    if (type === ICMP_ECHO_REQUEST) return this.answerEcho(d, packet);
    if (type === ICMP_ECHO_REPLY) return this.matchReply(d, packet);
    if (!isIcmpError(type)) return c.inc('otherIgnored');
    c.inc('errorsReceived');
    let repr: Icmpv4Repr;
    let quoted: Ipv4Packet;
    try {
      repr = parseIcmpv4(packet, { checksum: 'ignore' });
      const bytes = repr.kind === 'destinationUnreachable' || repr.kind === 'timeExceeded' ? repr.quoted : packet.data;
      quoted = Ipv4Packet.checkedHeader(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return c.inc('malformed');
    }
    const report: IcmpErrorReport = {
      type,
      code: packet.code,
      nextHopMtu: repr.kind === 'destinationUnreachable' ? repr.nextHopMtu : 0,
      reporter: d.header.source,
      quoted,
      transport: quoted.payload,
    };
    this.dispatchError(report);
  }

  private answerEcho(d: Ipv4Delivery, packet: Icmpv4Packet): void {
    const c = this.ports.icmpCounters;
    c.inc('echoRequests');
    if (d.destination !== 'unicast' || d.linkBroadcast) return c.inc('echoBroadcastIgnored');
    if (this.echoReplyLimiter !== undefined && !this.echoReplyLimiter.take(this.ports.scheduler.now))
      return c.inc('echoRateLimited');
    const repr: Icmpv4Repr = {
      kind: 'echoReply',
      identifier: packet.identifier,
      sequenceNumber: packet.sequenceNumber,
      data: packet.data,
    };
    try {
      this.ports.output.send(
        {
          dst: d.header.source,
          src: d.header.destination,
          protocol: IP_PROTO_ICMP,
          tos: (d.header.dscp << 2) | d.header.ecn,
        },
        d.payload.length,
        (buf) => emitIcmpv4(repr, buf),
      );
      c.inc('echoReplies');
    } catch (err) {
      if (!(err instanceof SendError)) throw err;
      c.inc('errorSendFailed');
    }
  }

  private matchReply(d: Ipv4Delivery, packet: Icmpv4Packet): void {
    const c = this.ports.icmpCounters;
    const key = packet.identifier * 0x10000 + packet.sequenceNumber;
    const o = this.outstanding.get(key);
    if (o === undefined) return c.inc('echoReplyUnmatched');
    this.outstanding.delete(key);
    c.inc('echoReplyMatched');
    const data = packet.data;
    o.callback(undefined, {
      from: d.header.source,
      identifier: packet.identifier,
      sequence: packet.sequenceNumber,
      size: data.length,
      dataMatches: equalBytes(data, o.data),
      ttl: d.header.ttl,
      rttMs: this.ports.scheduler.now - o.sentAt,
    });
  }

  private dispatchError(report: IcmpErrorReport): void {
    const protocol = report.quoted.protocol;
    if (protocol === IP_PROTO_ICMP) {
      const t = report.transport;
      if (t.length < ICMP_HEADER_LENGTH || t[0] !== ICMP_ECHO_REQUEST) return;
      const key = ((t[4]! << 8) | t[5]!) * 0x10000 + ((t[6]! << 8) | t[7]!);
      const o = this.outstanding.get(key);
      if (o === undefined) return;
      this.outstanding.delete(key);
      const code = report.type === ICMP_TIME_EXCEEDED ? 'TIME_EXCEEDED' : 'UNREACHABLE';
      o.callback(
        new PingError(
          code,
          `${ipv4ToString(report.reporter)} answered ICMP type ${report.type} code ${report.code}`,
          report.code,
          report.reporter,
        ),
        undefined,
      );
      return;
    }
    if (protocol === IP_PROTO_UDP) {
      this.ports.udp.icmpError(report);
      return;
    }
    const handler = this.ports.protocols.get(protocol);
    try {
      handler?.icmpError?.(report);
    } catch {
      this.ports.ipCounters.inc('handlerErrors');
    }
  }

  /**
   * Sends ICMP error `type`/`code` about the packet whose raw bytes (IPv4 header first) are `ip`,
   * if RFC 1122 §3.2.2 and the rate limiter allow it (see the module comment). `arrivedOn`: the
   * interface the packet came in on, if any; `linkBroadcast`: it came in a link-layer broadcast or
   * multicast frame; `nextHopMtu`: for fragmentation needed. Returns whether it was sent. Never throws.
   */
  sendError(
    type: number,
    code: number,
    ip: Uint8Array,
    arrivedOn: NetInterface | undefined,
    linkBroadcast = false,
    nextHopMtu = 0,
  ): boolean {
    const ports = this.ports;
    const c = ports.icmpCounters;
    if (!this.errorAllowed(ip, linkBroadcast)) {
      c.inc('errorSuppressed');
      return false;
    }
    const src = readUint32(ip, 12);
    const dst = readUint32(ip, 16);
    if (!this.limiter.allow(ports.scheduler.now, src)) {
      c.inc('errorRateLimited');
      return false;
    }
    const total = (ip[2]! << 8) | ip[3]!;
    const quoted = ip.subarray(0, Math.min(total, ip.length, ICMP_QUOTE_LIMIT));
    const repr: Icmpv4Repr =
      type === ICMP_DEST_UNREACHABLE
        ? { kind: 'destinationUnreachable', code, nextHopMtu, quoted }
        : type === ICMP_TIME_EXCEEDED
          ? { kind: 'timeExceeded', code, quoted }
          : { kind: 'other', type, code, restOfHeader: 0, data: quoted };
    const source = ports.interfaces.isLocal(dst) ? dst : arrivedOn?.sourceFor(src);
    try {
      ports.output.send(
        { dst: src, src: source, protocol: IP_PROTO_ICMP, tos: ERROR_TOS },
        ICMP_HEADER_LENGTH + quoted.length,
        (buf) => emitIcmpv4(repr, buf),
        BYPASS_FILTER,
      );
    } catch (err) {
      if (!(err instanceof SendError)) throw err;
      c.inc('errorSendFailed');
      return false;
    }
    c.inc(type === ICMP_TIME_EXCEEDED ? 'sentTimeExceeded' : 'sentUnreachable');
    return true;
  }

  /** RFC 1122 §3.2.2: may an error be sent about `ip`? */
  private errorAllowed(ip: Uint8Array, linkBroadcast: boolean): boolean {
    if (linkBroadcast || ip.length < 20) return false;
    const src = readUint32(ip, 12);
    const dst = readUint32(ip, 16);
    if (!isUnicastSource(src) || this.ports.interfaces.isBroadcast(src)) return false;
    if (dst === IPV4_BROADCAST || isIpv4Multicast(dst) || this.ports.interfaces.isBroadcast(dst)) return false;
    if ((((ip[6]! << 8) | ip[7]!) & 0x1fff) !== 0) return false;
    if (ip[9] === IP_PROTO_ICMP) {
      const headerLength = (ip[0]! & 0x0f) * 4;
      if (ip.length <= headerLength) return false;
      if (isIcmpError(ip[headerLength]!)) return false;
    }
    return true;
  }

  /**
   * Sends an echo request and calls `callback` once with the reply, or with a {@link PingError}
   * (`TIMEOUT`, `UNREACHABLE`, `TIME_EXCEEDED`). Returns a function that cancels the wait (the
   * callback is then called with `CANCELLED`).
   * @throws {@link SendError} when the request cannot be sent at all (no route, `MESSAGE_TOO_LONG`, ...),
   *   or `INVALID_ARGUMENT` for bad options or {@link MAX_OUTSTANDING_ECHOES} already outstanding.
   */
  echo(options: EchoOptions, callback: EchoCallback): () => void {
    const ports = this.ports;
    const identifier = options.identifier ?? this.ownIdentifier();
    const sequence = options.sequence ?? (this.sequence = (this.sequence + 1) & 0xffff);
    const timeoutMs = options.timeoutMs ?? DEFAULT_ECHO_TIMEOUT_MS;
    const size = options.data?.byteLength ?? options.size ?? DEFAULT_ECHO_SIZE;
    if (!isU16(identifier) || !isU16(sequence))
      throw new SendError('INVALID_ARGUMENT', `identifier and sequence must be 0..65535`);
    if (!Number.isInteger(size) || size < 0)
      throw new SendError('INVALID_ARGUMENT', `echo size must be a non-negative integer, got ${size}`);
    if (!(timeoutMs > 0)) throw new SendError('INVALID_ARGUMENT', `timeout must be positive, got ${timeoutMs}`);
    if (this.outstanding.size >= MAX_OUTSTANDING_ECHOES)
      throw new SendError('INVALID_ARGUMENT', `${MAX_OUTSTANDING_ECHOES} echo requests are already outstanding`);
    const key = identifier * 0x10000 + sequence;
    if (this.outstanding.has(key))
      throw new SendError('INVALID_ARGUMENT', `echo ${identifier}/${sequence} is already outstanding`);
    const data = options.data ?? patternData(size);
    const repr: Icmpv4Repr = { kind: 'echoRequest', identifier, sequenceNumber: sequence, data };
    ports.output.send(
      { dst: options.dst, src: options.src, protocol: IP_PROTO_ICMP, ttl: options.ttl, df: options.df },
      ICMP_HEADER_LENGTH + size,
      (buf) => emitIcmpv4(repr, buf),
    );
    ports.icmpCounters.inc('pingsSent');
    const now = ports.scheduler.now;
    const o: Outstanding = { key, sentAt: now, deadline: now + timeoutMs, data, callback };
    this.outstanding.set(key, o);
    ports.requestWake();
    return () => {
      if (this.outstanding.get(key) !== o) return;
      this.outstanding.delete(key);
      callback(new PingError('CANCELLED', `echo ${identifier}/${sequence} cancelled`), undefined);
    };
  }

  /**
   * The identifier of an echo request that names none: the host's own, unless a NAT mapping owns
   * it (then the next one no mapping owns, for this request only).
   */
  private ownIdentifier(): number {
    const owned = this.ports.natOwns;
    const own = this.identifier;
    if (owned === undefined || !owned(own)) return own;
    for (let i = 1; i <= 0xffff; i++) {
      const id = (own + i) & 0xffff;
      if (!owned(id)) return id;
    }
    return own;
  }

  /** {@link echo} as a promise: resolves with the reply, rejects with a {@link PingError} or {@link SendError}. */
  ping(options: EchoOptions): Promise<EchoReply> {
    return new Promise((resolve, reject) => {
      try {
        this.echo(options, (error, reply) => (error !== undefined ? reject(error) : resolve(reply!)));
      } catch (err) {
        reject(err);
      }
    });
  }

  /** @internal The earliest echo deadline, or `undefined`. */
  pollAt(): number | undefined {
    let at: number | undefined;
    for (const o of this.outstanding.values()) if (at === undefined || o.deadline < at) at = o.deadline;
    return at;
  }

  /** @internal Times out echo requests whose deadline passed. */
  poll(now: number): void {
    for (const o of [...this.outstanding.values()]) {
      if (o.deadline > now) continue;
      this.outstanding.delete(o.key);
      this.ports.icmpCounters.inc('pingTimeouts');
      o.callback(new PingError('TIMEOUT', `no echo reply within ${o.deadline - o.sentAt} ms`), undefined);
    }
  }
}

function isU16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

/** Echo data as ping(8) fills it: byte i is i mod 256. */
function patternData(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = i & 0xff;
  return data;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
