/**
 * {@link DnsResolver}: the gateway's own stub resolver (RFC 1035 §7): A records of a name from a
 * recursive server.
 *
 * Each try asks one server (cycling through the list) over UDP with a fresh id and source port from
 * the scheduler's seeded generator, and waits {@link DnsResolverOptions.timeoutMs}. An answer counts
 * only from the server and port asked, with the id and question asked. A truncated answer (TC) is
 * asked again over TCP (RFC 7766; two-byte length prefix) when a TCP module was given. NXDOMAIN
 * ends the lookup; SERVFAIL, REFUSED, a timeout or a TCP failure moves to the next try.
 */
import type { Timer } from '@postern/irq';
import {
  DNS_FLAG,
  DNS_PORT,
  DNS_RCODE,
  DNS_TYPE,
  DecodeError,
  dnsARecords,
  dnsRcode,
  emitDnsQuery,
  parseDns,
  type DnsMessage,
  type Ipv4Address,
} from '@postern/wire';
import { Counters } from '../counters.js';
import type { Stack } from '../stack.js';
import type { Tcp } from '../tcp/tcp.js';
import type { UdpMessageInfo, UdpSocket } from '../udp/udp.js';
import { bindRandomUdpPort } from './forwarder.js';
import { DnsStreamReader, frameDnsMessage } from './tcp-framing.js';

/** Stable codes of {@link DnsLookupError}. */
export type DnsLookupErrorCode = 'BAD_NAME' | 'NO_SERVERS' | 'NXDOMAIN' | 'FAILED';

/** A lookup failed; branch on {@link DnsLookupError.code}. */
export class DnsLookupError extends Error {
  /** The stable code. */
  readonly code: DnsLookupErrorCode;
  constructor(code: DnsLookupErrorCode, message: string) {
    super(message);
    this.name = 'DnsLookupError';
    this.code = code;
  }
}

/** Options of a {@link DnsResolver}. */
export interface DnsResolverOptions {
  /** The recursive servers (a function: they may come from a DHCP lease). */
  readonly servers: () => readonly Ipv4Address[];
  /** The TCP module, for answers truncated over UDP. Without it a truncated answer is used as it is. */
  readonly tcp?: Tcp;
  /** Wait for one answer, ms. Default 2000. */
  readonly timeoutMs?: number;
  /** Tries in all. Default 4. */
  readonly tries?: number;
}

/** Counter names of a {@link DnsResolver}. */
export type DnsResolverCounterName =
  'lookups' | 'queries' | 'timeouts' | 'truncated' | 'tcpQueries' | 'tcpFailed' | 'spoofed' | 'answers' | 'failures';

/** The stub resolver. See the module comment. */
export class DnsResolver {
  /** Lookups, queries and what became of them. */
  readonly counters = new Counters<DnsResolverCounterName>('dnsResolver', [
    'lookups',
    'queries',
    'timeouts',
    'truncated',
    'tcpQueries',
    'tcpFailed',
    'spoofed',
    'answers',
    'failures',
  ]);
  private readonly stack: Stack;
  private readonly options: DnsResolverOptions;

  constructor(stack: Stack, options: DnsResolverOptions) {
    this.stack = stack;
    this.options = options;
  }

  /**
   * The IPv4 addresses of `name` (empty when it has no A record).
   * @throws {@link DnsLookupError} `BAD_NAME`, `NO_SERVERS`, `NXDOMAIN`, or `FAILED` after every try.
   */
  async resolve(name: string): Promise<Ipv4Address[]> {
    this.counters.inc('lookups');
    const tries = this.options.tries ?? 4;
    let last = 'no answer';
    for (let i = 0; i < tries; i++) {
      const servers = this.options.servers();
      if (servers.length === 0) throw new DnsLookupError('NO_SERVERS', `no DNS server to ask for ${name}`);
      const server = servers[i % servers.length]!;
      const id = this.stack.scheduler.randomUint32() & 0xffff;
      let query: Uint8Array;
      try {
        query = emitDnsQuery({ id, name, type: DNS_TYPE.A });
      } catch (err) {
        throw new DnsLookupError('BAD_NAME', `${JSON.stringify(name)}: ${(err as Error).message}`);
      }
      let m = await this.askUdp(server, id, name, query);
      if (m !== undefined && (m.header.flags & DNS_FLAG.TC) !== 0 && this.options.tcp !== undefined) {
        this.counters.inc('truncated');
        m = await this.askTcp(server, id, name, query);
      }
      if (m === undefined) {
        last = 'no answer';
        continue;
      }
      const rcode = dnsRcode(m.header.flags);
      if (rcode === DNS_RCODE.NXDOMAIN) {
        this.counters.inc('failures');
        throw new DnsLookupError('NXDOMAIN', `${name}: no such name`);
      }
      if (rcode === DNS_RCODE.NOERROR) {
        this.counters.inc('answers');
        return dnsARecords(m.answers);
      }
      last = `rcode ${rcode}`;
    }
    this.counters.inc('failures');
    throw new DnsLookupError('FAILED', `${name}: ${last} after ${tries} tries`);
  }

  /** One UDP query; `undefined` on timeout. */
  private askUdp(server: Ipv4Address, id: number, name: string, query: Uint8Array): Promise<DnsMessage | undefined> {
    return new Promise((resolve) => {
      const held: { socket?: UdpSocket; timer?: Timer } = {};
      const done = (m: DnsMessage | undefined): void => {
        held.timer?.cancel();
        held.socket?.close();
        resolve(m);
      };
      const socket = bindRandomUdpPort(this.stack, (bytes: Uint8Array, info: UdpMessageInfo) => {
        const m = info.src === server && info.srcPort === DNS_PORT ? this.check(bytes, id, name) : undefined;
        if (m === undefined) return this.counters.inc('spoofed');
        done(m);
      });
      held.socket = socket;
      held.timer = this.stack.scheduler.timerAfter(this.options.timeoutMs ?? 2000, () => {
        this.counters.inc('timeouts');
        done(undefined);
      });
      this.counters.inc('queries');
      try {
        socket.send(server, DNS_PORT, query);
      } catch {
        // no route yet: the timeout moves on
      }
    });
  }

  /** One TCP query (RFC 7766 framing, {@link frameDnsMessage} and {@link DnsStreamReader}); `undefined` on failure or timeout. */
  private askTcp(server: Ipv4Address, id: number, name: string, query: Uint8Array): Promise<DnsMessage | undefined> {
    this.counters.inc('tcpQueries');
    return new Promise((resolve) => {
      let settled = false;
      let conn: ReturnType<Tcp['connect']> | undefined;
      const finish = (m: DnsMessage | undefined): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (m === undefined) this.counters.inc('tcpFailed');
        conn?.close();
        resolve(m);
      };
      const timer = this.stack.scheduler.timerAfter(this.options.timeoutMs ?? 2000, () => {
        conn?.abort();
        finish(undefined);
      });
      try {
        conn = this.options.tcp!.connect({ remoteAddress: server, remotePort: DNS_PORT });
      } catch {
        return finish(undefined);
      }
      const framed = frameDnsMessage(query);
      const reader = new DnsStreamReader();
      let answer: Uint8Array | undefined;
      const take = (message: Uint8Array): void => void (answer ??= message);
      conn.onConnect = () => void conn!.write(framed);
      conn.onReadable = () => {
        const c = conn!;
        for (let view = c.readView(); view !== undefined && !settled; view = c.readView()) {
          const ok = reader.feed(view, take);
          c.consume(view.length);
          if (!ok) return finish(undefined);
          if (answer !== undefined) return finish(this.check(answer, id, name));
        }
      };
      conn.onClose = () => finish(undefined);
      conn.onError = () => finish(undefined);
    });
  }

  /** The parsed answer when it is a response to our query (`id`, one question for `name`, type A). */
  private check(bytes: Uint8Array, id: number, name: string): DnsMessage | undefined {
    let m: DnsMessage;
    try {
      m = parseDns(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return undefined;
    }
    const q = m.questions[0];
    if (m.header.id !== id || (m.header.flags & DNS_FLAG.QR) === 0 || q === undefined || q.type !== DNS_TYPE.A)
      return undefined;
    return q.name.toLowerCase() === name.replace(/\.$/, '').toLowerCase() ? m : undefined;
  }
}
