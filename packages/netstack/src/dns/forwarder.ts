/**
 * {@link DnsForwarder}: a caching DNS forwarder for the hosts behind the gateway (RFC 1035), on the
 * stack's UDP port 53 of the interfaces it listens on.
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
 * EDNS OPT record) goes as its header and question with TC set. Every outcome is counted.
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
import type { UdpMessageInfo, UdpSocket } from '../udp/udp.js';
import { DnsCache, type DnsCacheOptions } from './cache.js';

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
  | 'sendFailed';

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
];

/** Zone transfers (AXFR 252, IXFR 251): never over this forwarder. */
const TRANSFER_TYPES = new Set([251, 252]);

interface Pending {
  readonly client: Ipv4Address;
  readonly clientPort: number;
  readonly clientId: number;
  /** The largest answer the client takes over UDP (512, or its EDNS payload size). */
  readonly clientMax: number;
  /** The address the client asked (the answer comes from it). */
  readonly local: Ipv4Address;
  readonly question: DnsQuestion;
  readonly query: Uint8Array;
  readonly socket: UdpSocket;
  upstreamId: number;
  server: Ipv4Address;
  tries: number;
  timer: Timer | undefined;
}

/** The forwarder. See the module comment. */
export class DnsForwarder {
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

  /** Binds UDP port 53 (all addresses). @throws `BindError` when it is taken. */
  constructor(stack: Stack, options: DnsForwarderOptions) {
    this.stack = stack;
    this.options = options;
    this.listen = new Set(options.listen);
    this.cache = new DnsCache(options.cache);
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.tries = options.tries ?? 3;
    this.maxPending = options.maxPending ?? 256;
    this.socket = stack.udp.bind(DNS_PORT, undefined, (payload, info) => this.query(payload, info));
  }

  /** Queries waiting for an upstream answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops: releases port 53 and every upstream port, forgets queries in flight. Idempotent. */
  close(): void {
    this.socket.close();
    for (const p of this.pending) this.finish(p);
  }

  private query(payload: Uint8Array, info: UdpMessageInfo): void {
    const c = this.counters;
    if (!this.listen.has(info.iface) || info.destination !== 'unicast') return c.inc('notListening');
    c.inc('queries');
    if (payload.byteLength < DNS_HEADER_LENGTH || (payload[2]! & 0x80) !== 0) return c.inc('dropped');
    const flags = (payload[2]! << 8) | payload[3]!;
    const answer = (rcode: number, questionEnd?: number): void =>
      this.send(info.dst, info.src, info.srcPort, emitDnsErrorResponse(payload, rcode, questionEnd));
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
    const clientMax = opt === undefined ? DNS_UDP_MAX : Math.max(DNS_UDP_MAX, opt.class);
    const cached = this.cache.get(this.stack.now, q, m.header.id);
    if (cached !== undefined) {
      c.inc('cacheAnswers');
      return this.send(info.dst, info.src, info.srcPort, this.fit(cached, clientMax));
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
      client: info.src,
      clientPort: info.srcPort,
      clientId: m.header.id,
      clientMax,
      local: info.dst,
      question: { ...q },
      query,
      socket,
      upstreamId: 0,
      server: servers[0]!,
      tries: 0,
      timer: undefined,
    };
    ref.pending = p;
    this.pending.add(p);
    this.ask(p);
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
      return this.send(p.local, p.client, p.clientPort, reply);
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
    if (!this.pending.has(p)) return;
    if (
      from.src !== p.server ||
      from.srcPort !== DNS_PORT ||
      bytes.byteLength < DNS_HEADER_LENGTH ||
      ((bytes[0]! << 8) | bytes[1]!) !== p.upstreamId
    ) {
      return this.counters.inc('spoofed');
    }
    let m: DnsMessage;
    try {
      m = parseDns(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return this.counters.inc('spoofed');
    }
    const q = m.questions[0];
    if (
      (m.header.flags & DNS_FLAG.QR) === 0 ||
      m.questions.length !== 1 ||
      q!.type !== p.question.type ||
      q!.class !== p.question.class ||
      q!.name.toLowerCase() !== p.question.name.toLowerCase()
    ) {
      return this.counters.inc('spoofed');
    }
    this.counters.inc('upstreamAnswers');
    const copy = bytes.slice();
    this.cache.put(this.stack.now, copy, parseDns(copy));
    writeDnsId(copy, p.clientId);
    this.finish(p);
    this.send(p.local, p.client, p.clientPort, this.fit(copy, p.clientMax));
  }

  /**
   * `response` as the client may take it over UDP: whole when it fits `max`, else its header and
   * question with TC set and no records (RFC 1035 §4.2.1, RFC 6891 §7), so it asks again over TCP.
   */
  private fit(response: Uint8Array, max: number): Uint8Array {
    if (response.byteLength <= max) return response;
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
