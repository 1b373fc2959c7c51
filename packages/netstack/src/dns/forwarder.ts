/**
 * {@link DnsForwarder}: a caching DNS forwarder for the hosts behind the gateway (RFC 1035), on the
 * stack's UDP port 53 of the interfaces it listens on, and on TCP port 53 too when given the stack's
 * TCP module (RFC 7766, see {@link DnsTcpServer}): on the addresses of those interfaces only, one
 * listener each, following their addresses as they come and go (a SYN to another address, the WAN
 * one, gets the stack's RST); a connection is taken when the route back to its peer leaves by an
 * interface it listens on. Both share the cache and the bound on queries in flight.
 *
 * A standard query (QR 0, opcode QUERY, one question of class IN, no answer or authority records)
 * is answered from the {@link DnsCache}, or sent on to an upstream server with a fresh id and from a
 * fresh source port (both from the scheduler's seeded generator, RFC 5452), retried on the next
 * server after {@link DnsForwarderOptions.timeoutMs}, and the answer relayed to the asker with its
 * own id. An answer is taken only from the server and port asked, with the id and the question
 * asked (else counted `spoofed`). Refused with an error response: an opcode other than QUERY
 * (NOTIMP), a message that does not parse or has other than one question or carries answers
 * (FORMERR), a class other than IN or a zone transfer (REFUSED); no upstream, no answer after every
 * try, or too many queries in flight: SERVFAIL. Anything too short for a header, and responses, are
 * dropped. An answer larger than the client takes over UDP (512 bytes, or the payload size of its
 * EDNS OPT record) goes as its header and question with TC set. An upstream answer with TC set is
 * asked again of the same server over TCP when the TCP module was given (same timeout and tries; a
 * failure moves on to the next try). Every outcome is counted.
 */
import type { Timer } from '@postern/irq';
import {
  DNS_CLASS_IN,
  DNS_FLAG,
  DNS_HEADER_LENGTH,
  DNS_OPCODE_QUERY,
  DNS_PORT,
  DNS_RCODE,
  DNS_TYPE,
  DNS_UDP_MAX,
  DecodeError,
  dnsOpcode,
  emitDnsErrorResponse,
  parseDns,
  readDnsName,
  writeDnsId,
  type DnsMessage,
  type DnsQuestion,
  type Ipv4Address,
} from '@postern/wire';
import { BindError } from '../errors.js';
import { Counters } from '../counters.js';
import type { NetInterface } from '../link/interface.js';
import type { Stack } from '../stack.js';
import type { TcpConnection } from '../tcp/connection.js';
import type { Tcp } from '../tcp/tcp.js';
import type { UdpMessageInfo, UdpSocket } from '../udp/udp.js';
import { DnsCache, type DnsCacheOptions } from './cache.js';
import { DnsStreamReader, frameDnsMessage } from './tcp-framing.js';
import {
  DNS_TCP_COUNTER_NAMES,
  DnsTcpServer,
  type DnsAsker,
  type DnsQueryHandler,
  type DnsTcpCounterName,
} from './tcp-server.js';

/** Options of a {@link DnsForwarder}. */
export interface DnsForwarderOptions {
  /** The interfaces whose hosts may ask (queries arriving elsewhere are dropped, counted `notListening`). */
  readonly listen: readonly NetInterface[];
  /** The upstream servers, asked in order (a function: they may come from a DHCP lease). */
  readonly upstream: () => readonly Ipv4Address[];
  /** Cache limits. */
  readonly cache?: DnsCacheOptions;
  /** Wait for one upstream answer, ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Upstream tries per query (cycling through the servers). Default 3. */
  readonly tries?: number;
  /** Most queries in flight upstream. Default 256. */
  readonly maxPending?: number;
  /** The stack's TCP module: with it the forwarder also answers on TCP port 53 and asks upstream over TCP after a truncated answer. */
  readonly tcp?: Tcp;
  /** Close a client's TCP connection idle this long, ms. Default 5000. */
  readonly tcpIdleMs?: number;
  /** Most client TCP connections at once. Default 64. */
  readonly maxTcpConnections?: number;
  /** Most queries of one TCP connection not yet answered. Default 16. */
  readonly maxTcpPendingPerConnection?: number;
}

/** Counter names of a {@link DnsForwarder}. */
export type DnsForwarderCounterName =
  | 'queries'
  | 'notListening'
  | 'dropped'
  | 'formerr'
  | 'notimp'
  | 'refused'
  | 'servfail'
  | 'cacheAnswers'
  | 'forwarded'
  | 'upstreamAnswers'
  | 'retries'
  | 'spoofed'
  | 'truncated'
  | 'sendFailed'
  | 'tcpUpstream'
  | 'tcpUpstreamFailed'
  | DnsTcpCounterName;

const COUNTER_NAMES: readonly DnsForwarderCounterName[] = [
  'queries',
  'notListening',
  'dropped',
  'formerr',
  'notimp',
  'refused',
  'servfail',
  'cacheAnswers',
  'forwarded',
  'upstreamAnswers',
  'retries',
  'spoofed',
  'truncated',
  'sendFailed',
  'tcpUpstream',
  'tcpUpstreamFailed',
  ...DNS_TCP_COUNTER_NAMES,
];

/** Zone transfers (AXFR 252, IXFR 251): never over this forwarder. */
const TRANSFER_TYPES = new Set([251, 252]);

interface Pending {
  /** Where the answer goes. */
  readonly asker: DnsAsker;
  readonly clientId: number;
  /** The largest answer the client takes (its transport's, or its EDNS payload size over UDP). */
  readonly clientMax: number;
  readonly question: DnsQuestion;
  readonly query: Uint8Array;
  readonly socket: UdpSocket;
  upstreamId: number;
  server: Ipv4Address;
  tries: number;
  timer: Timer | undefined;
  /** The TCP connection asking `server` again after its truncated UDP answer. */
  stream: TcpConnection | undefined;
}

/** The forwarder. See the module comment. */
export class DnsForwarder implements DnsQueryHandler {
  /** What it answered, forwarded and refused. */
  readonly counters = new Counters<DnsForwarderCounterName>('dnsForwarder', COUNTER_NAMES);
  /** The response cache. */
  readonly cache: DnsCache;
  private readonly stack: Stack;
  private readonly options: DnsForwarderOptions;
  private readonly listen: Set<NetInterface>;
  private readonly socket: UdpSocket;
  private readonly pending = new Set<Pending>();
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly maxPending: number;
  private readonly tcpServer: DnsTcpServer | undefined;
  private readonly unwatch: (() => void) | undefined;

  /**
   * Binds UDP port 53 (all addresses), and when `options.tcp` is given listens on TCP port 53 of each
   * address of the `listen` interfaces, now and as they change.
   * @throws `BindError` when the UDP port is taken; `TcpError` `EADDRINUSE` when the TCP one is.
   */
  constructor(stack: Stack, options: DnsForwarderOptions) {
    this.stack = stack;
    this.options = options;
    this.listen = new Set(options.listen);
    this.cache = new DnsCache(options.cache);
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.tries = options.tries ?? 3;
    this.maxPending = options.maxPending ?? 256;
    this.socket = stack.udp.bind(DNS_PORT, undefined, (payload, info) => this.query(payload, info));
    const tcp = options.tcp;
    try {
      this.tcpServer =
        tcp === undefined
          ? undefined
          : new DnsTcpServer({
              tcp,
              addresses: () => options.listen.flatMap((i) => i.addresses.map((a) => a.address)),
              scheduler: stack.scheduler,
              handler: this,
              accepts: (c) => this.listensTowards(c.remoteAddress),
              count: (name) => this.counters.inc(name),
              idleMs: options.tcpIdleMs,
              maxConnections: options.maxTcpConnections,
              maxPendingPerConnection: options.maxTcpPendingPerConnection,
            });
    } catch (err) {
      this.socket.close();
      throw err;
    }
    const server = this.tcpServer;
    this.unwatch =
      server === undefined
        ? undefined
        : stack.watchAddresses((iface) => {
            if (this.listen.has(iface)) server.sync();
          });
  }

  /** The local addresses whose TCP port 53 it listens on now (none without TCP). */
  get tcpAddresses(): Ipv4Address[] {
    return this.tcpServer?.addresses ?? [];
  }

  /** Client TCP connections open now (0 without TCP). */
  get tcpConnections(): number {
    return this.tcpServer?.connections ?? 0;
  }

  /** Queries waiting for an upstream answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Stops: releases port 53 (UDP and TCP, client connections reset) and every upstream port and
   * connection, forgets queries in flight. Idempotent.
   */
  close(): void {
    this.socket.close();
    this.unwatch?.();
    this.tcpServer?.close();
    for (const p of this.pending) this.finish(p);
  }

  /**
   * Answers one query (a whole message, at least a header, QR clear) to `asker`, from the cache or
   * upstream: the {@link DnsQueryHandler} contract, for the TCP server.
   */
  handle(payload: Uint8Array, asker: DnsAsker): void {
    const c = this.counters;
    c.inc('queries');
    if (payload.length < DNS_HEADER_LENGTH || (payload[2]! & 0x80) !== 0) return c.inc('dropped');
    const flags = (payload[2]! << 8) | payload[3]!;
    const answer = (rcode: number, questionEnd?: number): void =>
      asker.reply(emitDnsErrorResponse(payload, rcode, questionEnd));
    if (dnsOpcode(flags) !== DNS_OPCODE_QUERY) {
      c.inc('notimp');
      return answer(DNS_RCODE.NOTIMP);
    }
    let m: DnsMessage;
    try {
      m = parseDns(payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      c.inc('formerr');
      return answer(DNS_RCODE.FORMERR);
    }
    if (m.questions.length !== 1 || m.answers.length !== 0 || m.authorities.length !== 0) {
      c.inc('formerr');
      return answer(DNS_RCODE.FORMERR);
    }
    const q = m.questions[0]!;
    const questionEnd = readDnsName(payload, DNS_HEADER_LENGTH).next + 4;
    if (q.class !== DNS_CLASS_IN || TRANSFER_TYPES.has(q.type)) {
      c.inc('refused');
      return answer(DNS_RCODE.REFUSED, questionEnd);
    }
    const opt = m.additionals.find((r) => r.type === DNS_TYPE.OPT);
    const clientMax = opt === undefined ? asker.max : Math.max(asker.max, opt.class);
    const cached = this.cache.get(this.stack.now, q, m.header.id);
    if (cached !== undefined) {
      c.inc('cacheAnswers');
      return asker.reply(this.fit(cached, clientMax));
    }
    const servers = this.options.upstream();
    if (servers.length === 0 || this.pending.size >= this.maxPending) {
      c.inc('servfail');
      return answer(DNS_RCODE.SERVFAIL, questionEnd);
    }
    const query = payload.slice();
    const ref: { pending?: Pending } = {};
    const socket = bindRandomUdpPort(this.stack, (bytes, from) => {
      if (ref.pending !== undefined) this.upstreamAnswer(ref.pending, bytes, from);
    });
    const p: Pending = {
      asker,
      clientId: m.header.id,
      clientMax,
      question: { ...q },
      query,
      socket,
      upstreamId: 0,
      server: servers[0]!,
      tries: 0,
      timer: undefined,
      stream: undefined,
    };
    ref.pending = p;
    this.pending.add(p);
    this.ask(p);
  }

  /** Forgets the queries of `asker` still in flight (its TCP connection ended). */
  cancel(asker: DnsAsker): void {
    for (const p of this.pending) if (p.asker === asker) this.finish(p);
  }

  private query(payload: Uint8Array, info: UdpMessageInfo): void {
    if (!this.listen.has(info.iface) || info.destination !== 'unicast') return this.counters.inc('notListening');
    // `info` is the stack's, reused for the next datagram: keep what the answer needs.
    const { src, srcPort, dst } = info;
    this.handle(payload, { max: DNS_UDP_MAX, reply: (bytes) => this.send(dst, src, srcPort, bytes) });
  }

  /** True when the route back to `peer` leaves by an interface the forwarder listens on. */
  private listensTowards(peer: Ipv4Address): boolean {
    const route = this.stack.routeTo(peer);
    return route !== undefined && this.listen.has(route.iface);
  }

  /** Sends the query to the next server, or gives up with SERVFAIL after the last try. */
  private ask(p: Pending): void {
    const servers = this.options.upstream();
    if (p.tries >= this.tries || servers.length === 0) {
      this.counters.inc('servfail');
      const questionEnd = readDnsName(p.query, DNS_HEADER_LENGTH).next + 4;
      const reply = emitDnsErrorResponse(p.query, DNS_RCODE.SERVFAIL, questionEnd);
      writeDnsId(reply, p.clientId);
      this.finish(p);
      return p.asker.reply(reply);
    }
    if (p.tries > 0) this.counters.inc('retries');
    p.server = servers[p.tries % servers.length]!;
    p.tries++;
    p.upstreamId = this.stack.scheduler.randomUint32() & 0xffff;
    writeDnsId(p.query, p.upstreamId);
    this.counters.inc('forwarded');
    try {
      p.socket.send(p.server, DNS_PORT, p.query);
    } catch {
      this.counters.inc('sendFailed');
    }
    p.timer?.cancel();
    p.timer = this.stack.scheduler.timerAfter(this.timeoutMs, () => this.ask(p));
  }

  private upstreamAnswer(p: Pending, bytes: Uint8Array, from: UdpMessageInfo): void {
    if (!this.pending.has(p) || p.stream !== undefined) return;
    if (from.src !== p.server || from.srcPort !== DNS_PORT) return this.counters.inc('spoofed');
    const m = this.check(p, bytes);
    if (m === undefined) return this.counters.inc('spoofed');
    if ((m.header.flags & DNS_FLAG.TC) !== 0 && this.options.tcp !== undefined) return this.askOverTcp(p);
    this.deliver(p, bytes);
  }

  /** The parsed `bytes` when they answer `p`'s question with its upstream id; else `undefined`. */
  private check(p: Pending, bytes: Uint8Array): DnsMessage | undefined {
    if (bytes.length < DNS_HEADER_LENGTH || ((bytes[0]! << 8) | bytes[1]!) !== p.upstreamId) return undefined;
    let m: DnsMessage;
    try {
      m = parseDns(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return undefined;
    }
    const q = m.questions[0];
    if (
      (m.header.flags & DNS_FLAG.QR) === 0 ||
      m.questions.length !== 1 ||
      q!.type !== p.question.type ||
      q!.class !== p.question.class ||
      q!.name.toLowerCase() !== p.question.name.toLowerCase()
    ) {
      return undefined;
    }
    return m;
  }

  /** Caches the upstream answer `bytes` (checked) and relays it to the asker with its id. */
  private deliver(p: Pending, bytes: Uint8Array): void {
    this.counters.inc('upstreamAnswers');
    const copy = bytes.slice();
    this.cache.put(this.stack.now, copy, parseDns(copy));
    writeDnsId(copy, p.clientId);
    this.finish(p);
    p.asker.reply(this.fit(copy, p.clientMax));
  }

  /**
   * Asks `p.server` again over TCP after its truncated UDP answer (RFC 7766 §5): the same query
   * (same upstream id), one connection, the same timeout; a failure moves on to the next try.
   */
  private askOverTcp(p: Pending): void {
    this.counters.inc('tcpUpstream');
    p.timer?.cancel();
    p.timer = undefined;
    let stream: TcpConnection;
    try {
      stream = this.options.tcp!.connect({ remoteAddress: p.server, remotePort: DNS_PORT });
    } catch {
      this.counters.inc('tcpUpstreamFailed');
      return this.ask(p);
    }
    p.stream = stream;
    p.timer = this.stack.scheduler.timerAfter(this.timeoutMs, () => this.tcpFailed(p, stream));
    const reader = new DnsStreamReader();
    stream.onConnect = () => {
      try {
        stream.write(frameDnsMessage(p.query));
      } catch {
        this.tcpFailed(p, stream);
      }
    };
    stream.onReadable = () => {
      let answer: Uint8Array | undefined;
      const take = (message: Uint8Array): void => void (answer ??= message);
      for (let view = stream.readView(); view !== undefined && p.stream === stream; view = stream.readView()) {
        const ok = reader.feed(view, take);
        stream.consume(view.length);
        if (!ok) return this.tcpFailed(p, stream);
        if (answer !== undefined) break;
      }
      if (answer === undefined || p.stream !== stream) return;
      if (this.check(p, answer) === undefined) {
        this.counters.inc('spoofed');
        return this.tcpFailed(p, stream);
      }
      this.deliver(p, answer);
    };
    stream.onClose = () => this.tcpFailed(p, stream);
  }

  /** The TCP query `stream` of `p` failed (reset, closed early, timed out, a bad answer): the next try. */
  private tcpFailed(p: Pending, stream: TcpConnection): void {
    if (p.stream !== stream || !this.pending.has(p)) return;
    this.counters.inc('tcpUpstreamFailed');
    p.stream = undefined;
    stream.onClose = undefined;
    stream.abort();
    this.ask(p);
  }

  /**
   * `response` as the client may take it over UDP: whole when it fits `max`, else its header and
   * question with TC set and no records (RFC 1035 §4.2.1, RFC 6891 §7), so it asks again over TCP.
   */
  private fit(response: Uint8Array, max: number): Uint8Array {
    if (response.length <= max) return response;
    this.counters.inc('truncated');
    const out = response.slice(0, readDnsName(response, DNS_HEADER_LENGTH).next + 4);
    out[2]! |= DNS_FLAG.TC >>> 8;
    out.fill(0, 6, 12);
    return out;
  }

  private finish(p: Pending): void {
    p.timer?.cancel();
    p.socket.close();
    this.pending.delete(p);
    const stream = p.stream;
    if (stream !== undefined) {
      p.stream = undefined;
      stream.onClose = undefined;
      stream.close();
    }
  }

  private send(src: Ipv4Address, dst: Ipv4Address, dstPort: number, bytes: Uint8Array): void {
    try {
      this.stack.udp.send({ src, srcPort: DNS_PORT, dst, dstPort }, bytes);
    } catch {
      this.counters.inc('sendFailed');
    }
  }
}

/**
 * Binds a UDP socket (all addresses) on a port drawn from 1024..65535 with the scheduler's seeded
 * generator (RFC 5452 source-port randomisation), trying again on a taken port, then any free one.
 */
export function bindRandomUdpPort(stack: Stack, handler: (bytes: Uint8Array, info: UdpMessageInfo) => void): UdpSocket {
  for (let i = 0; i < 8; i++) {
    const port = 1024 + (stack.scheduler.randomUint32() % (65536 - 1024));
    try {
      return stack.udp.bind(port, undefined, handler);
    } catch (err) {
      if (!(err instanceof BindError) || err.code !== 'ADDRESS_IN_USE') throw err;
    }
  }
  return stack.udp.bind(0, undefined, handler);
}
