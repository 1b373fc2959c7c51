/**
 * {@link DnsCache}: whole DNS responses kept by question (name case-insensitive, type, class) for
 * as long as their records live (RFC 1035 §7.4, RFC 2181 §5.2: the least TTL of the answer and
 * authority records; negative answers, RFC 2308, for the SOA's TTL capped by its minimum field).
 *
 * A hit is a copy of the stored response with the asker's id and every TTL lowered by the seconds
 * it spent in the cache. Not cached: truncated responses, rcodes other than NOERROR and NXDOMAIN,
 * a TTL of 0, negative answers without an SOA. A pure state machine: every method takes `now` (ms
 * on the scheduler clock); bounded ({@link DnsCacheOptions.maxEntries}, least recently used out).
 */
import {
  DNS_FLAG,
  DNS_RCODE,
  DNS_TYPE,
  dnsRcode,
  readDnsName,
  writeDnsId,
  writeDnsTtl,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from '@postern/wire';
import { Counters } from '../counters.js';

/** Options of a {@link DnsCache}. */
export interface DnsCacheOptions {
  /** Most responses kept. Default 1024. */
  readonly maxEntries?: number;
  /** Longest time a response is kept, s (a cap on the TTL). Default 86 400. */
  readonly maxTtlSeconds?: number;
  /** Longest time a negative answer is kept, s. Default 300. */
  readonly maxNegativeTtlSeconds?: number;
}

/** One cached response as {@link DnsCache.list} shows it. */
export interface DnsCacheEntryInfo {
  /** The question's name (lower case). */
  readonly name: string;
  /** The record type. */
  readonly type: number;
  /** The response code (0 NOERROR, 3 NXDOMAIN). */
  readonly rcode: number;
  /** Answer records. */
  readonly answers: number;
  /** Seconds left. */
  readonly ttl: number;
}

/** Counter names of a {@link DnsCache}. */
export type DnsCacheCounterName = 'hits' | 'misses' | 'stored' | 'uncacheable' | 'expired' | 'evicted';

interface Entry {
  readonly bytes: Uint8Array;
  readonly ttlOffsets: readonly number[];
  readonly ttls: readonly number[];
  readonly storedAt: number;
  readonly expiresAt: number;
  readonly name: string;
  readonly type: number;
  readonly rcode: number;
  readonly answers: number;
}

/** The key of a question. */
export function dnsCacheKey(q: DnsQuestion): string {
  return `${q.name.toLowerCase()}|${q.type}|${q.class}`;
}

/** The DNS response cache. See the module comment. */
export class DnsCache {
  /** Hits, misses, stores and evictions. */
  readonly counters = new Counters<DnsCacheCounterName>('dnsCache', [
    'hits',
    'misses',
    'stored',
    'uncacheable',
    'expired',
    'evicted',
  ]);
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxTtl: number;
  private readonly maxNegativeTtl: number;

  constructor(options: DnsCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1024;
    this.maxTtl = options.maxTtlSeconds ?? 86_400;
    this.maxNegativeTtl = options.maxNegativeTtlSeconds ?? 300;
  }

  /** Responses held (expired ones included until touched). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Keeps `response` (its bytes, `parsed` its parse) for its question, when cacheable.
   * @returns whether it was stored.
   */
  put(now: number, response: Uint8Array, parsed: DnsMessage): boolean {
    const q = parsed.questions[0];
    const rcode = dnsRcode(parsed.header.flags);
    const ttl = parsed.questions.length === 1 ? this.ttlOf(response, parsed, rcode) : 0;
    if (q === undefined || ttl <= 0 || (parsed.header.flags & DNS_FLAG.TC) !== 0) {
      this.counters.inc('uncacheable');
      return false;
    }
    const records = [...parsed.answers, ...parsed.authorities, ...parsed.additionals].filter(
      (r) => r.type !== DNS_TYPE.OPT,
    );
    const key = dnsCacheKey(q);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value!);
      this.counters.inc('evicted');
    }
    this.entries.set(key, {
      bytes: response.slice(),
      ttlOffsets: records.map((r) => r.ttlOffset),
      ttls: records.map((r) => r.ttl),
      storedAt: now,
      expiresAt: now + ttl * 1000,
      name: q.name.toLowerCase(),
      type: q.type,
      rcode,
      answers: parsed.answers.length,
    });
    this.counters.inc('stored');
    return true;
  }

  /** A copy of the response cached for `q` with id `id` and its TTLs aged, or `undefined`. */
  get(now: number, q: DnsQuestion, id: number): Uint8Array | undefined {
    const key = dnsCacheKey(q);
    const e = this.entries.get(key);
    if (e === undefined) {
      this.counters.inc('misses');
      return undefined;
    }
    if (now >= e.expiresAt) {
      this.entries.delete(key);
      this.counters.inc('expired');
      this.counters.inc('misses');
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e); // most recently used last
    this.counters.inc('hits');
    const out = e.bytes.slice();
    writeDnsId(out, id);
    const aged = Math.floor((now - e.storedAt) / 1000);
    e.ttlOffsets.forEach((offset, i) => writeDnsTtl(out, offset, Math.max(0, e.ttls[i]! - aged)));
    return out;
  }

  /** The live entries, most recently used last. */
  list(now: number): DnsCacheEntryInfo[] {
    const out: DnsCacheEntryInfo[] = [];
    for (const e of this.entries.values()) {
      if (now < e.expiresAt)
        out.push({
          name: e.name,
          type: e.type,
          rcode: e.rcode,
          answers: e.answers,
          ttl: Math.ceil((e.expiresAt - now) / 1000),
        });
    }
    return out;
  }

  /** Empties the cache. */
  clear(): void {
    this.entries.clear();
  }

  /** Seconds the response may be kept; 0 when it may not. */
  private ttlOf(bytes: Uint8Array, m: DnsMessage, rcode: number): number {
    if (rcode !== DNS_RCODE.NOERROR && rcode !== DNS_RCODE.NXDOMAIN) return 0;
    if (rcode === DNS_RCODE.NOERROR && m.answers.length > 0) {
      return Math.min(this.maxTtl, ...[...m.answers, ...m.authorities].map((r) => r.ttl));
    }
    // Negative (NXDOMAIN, or NOERROR without answers): the SOA of the authority section.
    const soa = m.authorities.find((r) => r.type === DNS_TYPE.SOA);
    if (soa === undefined) return 0;
    const minimum = soaMinimum(bytes, soa);
    return minimum === undefined ? 0 : Math.min(this.maxNegativeTtl, soa.ttl, minimum);
  }
}

/** The MINIMUM field of an SOA record (the last 4 bytes after its two names), or `undefined` when malformed. */
function soaMinimum(message: Uint8Array, soa: DnsRecord): number | undefined {
  const start = soa.data.byteOffset - message.byteOffset;
  try {
    const mname = readDnsName(message, start);
    const rname = readDnsName(message, mname.next);
    if (rname.next + 20 !== start + soa.data.length) return undefined;
  } catch {
    return undefined;
  }
  const d = soa.data;
  const at = d.length - 4;
  return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
}
