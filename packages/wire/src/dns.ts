/**
 * DNS messages (RFC 1035 §4): the header, names with compression, questions and resource records.
 *
 * Names are decoded defensively: a label over 63 bytes, a name over 255 bytes, the reserved label
 * types (0x40, 0x80), a compression pointer past the end of the message, and a pointer that does
 * not point strictly backwards (the only way to loop) are each a {@link DecodeError}. Record data
 * stays a view into the message; each record remembers where its TTL is, so a cache can rewrite
 * TTLs in a copy of the message without parsing it again.
 */
import type { Ipv4Address } from './address.js';
import { emitError, readUint16, readUint32, writeUint16, writeUint32 } from './emit-util.js';
import { MalformedError, TruncatedError } from './errors.js';

const FORMAT = 'dns';

/** The DNS port. */
export const DNS_PORT = 53;
/** Length of the header. */
export const DNS_HEADER_LENGTH = 12;
/** Largest DNS message over UDP without EDNS (RFC 1035 §4.2.1). */
export const DNS_UDP_MAX = 512;
/** Longest label. */
export const DNS_MAX_LABEL = 63;
/** Longest name in wire form, length bytes and root included. */
export const DNS_MAX_NAME = 255;

/** Record types this package names. */
export const DNS_TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const;
/** The Internet class. */
export const DNS_CLASS_IN = 1;
/** Response codes. */
export const DNS_RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** The standard query opcode. */
export const DNS_OPCODE_QUERY = 0;

/** Header flag bits (the second 16-bit word). */
export const DNS_FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

/** The header of a message. */
export interface DnsHeader {
  /** Message id. */
  id: number;
  /** The whole flags word (see {@link DNS_FLAG}; opcode in bits 11..14, rcode in bits 0..3). */
  flags: number;
  /** Questions. */
  qdcount: number;
  /** Answer records. */
  ancount: number;
  /** Authority records. */
  nscount: number;
  /** Additional records. */
  arcount: number;
}

/** The opcode of a flags word. */
export function dnsOpcode(flags: number): number {
  return (flags >>> 11) & 0xf;
}

/** The response code of a flags word. */
export function dnsRcode(flags: number): number {
  return flags & 0xf;
}

/** One question. */
export interface DnsQuestion {
  /** The name, labels joined with dots, no trailing dot (`""` for the root), case as sent. */
  name: string;
  /** Record type. */
  type: number;
  /** Class. */
  class: number;
}

/** One resource record. */
export interface DnsRecord extends DnsQuestion {
  /** Time to live, seconds. */
  ttl: number;
  /** Offset of the TTL field in the message (for rewriting TTLs in a copy). */
  ttlOffset: number;
  /** RDATA, a view into the message (names in it may be compressed against the message). */
  data: Uint8Array;
}

/** A parsed message. */
export interface DnsMessage {
  /** The header. */
  header: DnsHeader;
  /** The question section. */
  questions: DnsQuestion[];
  /** The answer section. */
  answers: DnsRecord[];
  /** The authority section. */
  authorities: DnsRecord[];
  /** The additional section. */
  additionals: DnsRecord[];
}

/** Reads the header. @throws {@link TruncatedError} under 12 bytes. */
export function parseDnsHeader(bytes: Uint8Array): DnsHeader {
  if (bytes.length < DNS_HEADER_LENGTH) throw new TruncatedError(FORMAT, DNS_HEADER_LENGTH, bytes.length);
  return {
    id: readUint16(bytes, 0),
    flags: readUint16(bytes, 2),
    qdcount: readUint16(bytes, 4),
    ancount: readUint16(bytes, 6),
    nscount: readUint16(bytes, 8),
    arcount: readUint16(bytes, 10),
  };
}

/**
 * Decodes the name at `offset` of `message`.
 * @returns the name and the offset just after it (after the first pointer, when compressed).
 * @throws {@link DecodeError} as the module comment lists.
 */
export function readDnsName(message: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = offset;
  let next = -1;
  let wireLength = 1;
  // Every pointer must go strictly below the lowest position read so far: no loop can form.
  let floor = offset;
  for (;;) {
    if (at >= message.length) throw new MalformedError(FORMAT, `name at ${offset} runs past the end of the message`);
    const len = message[at]!;
    if (len === 0) {
      if (next < 0) next = at + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (at + 1 >= message.length) throw new MalformedError(FORMAT, `compression pointer at ${at} is cut off`);
      const target = ((len & 0x3f) << 8) | message[at + 1]!;
      if (target >= message.length)
        throw new MalformedError(FORMAT, `compression pointer at ${at} points past the end (${target})`);
      if (target >= floor)
        throw new MalformedError(FORMAT, `compression pointer at ${at} does not point backwards (${target}): a loop`);
      if (next < 0) next = at + 2;
      floor = target;
      at = target;
      continue;
    }
    if (kind !== 0) throw new MalformedError(FORMAT, `reserved label type 0x${kind.toString(16)} at ${at}`);
    if (len > DNS_MAX_LABEL) throw new MalformedError(FORMAT, `label of ${len} bytes at ${at} (over ${DNS_MAX_LABEL})`);
    if (at + 1 + len > message.length)
      throw new MalformedError(FORMAT, `label at ${at} runs past the end of the message`);
    wireLength += 1 + len;
    if (wireLength > DNS_MAX_NAME) throw new MalformedError(FORMAT, `name at ${offset} is over ${DNS_MAX_NAME} bytes`);
    labels.push(labelText(message, at + 1, len));
    at += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function labelText(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length; i++) {
    const c = bytes[i]!;
    // Printable ASCII but for the dot and the backslash; anything else escaped as \DDD (RFC 4343).
    s +=
      c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

/**
 * Parses a whole message: header, questions and every record.
 * @throws {@link DecodeError} for a bad name (see the module comment), or a section that runs past
 *   the end (truncated).
 */
export function parseDns(bytes: Uint8Array): DnsMessage {
  const header = parseDnsHeader(bytes);
  let at = DNS_HEADER_LENGTH;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const { name, next } = readDnsName(bytes, at);
    if (next + 4 > bytes.length) throw new TruncatedError(FORMAT, next + 4, bytes.length);
    questions.push({ name, type: readUint16(bytes, next), class: readUint16(bytes, next + 2) });
    at = next + 4;
  }
  const section = (count: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < count; i++) {
      const { name, next } = readDnsName(bytes, at);
      if (next + 10 > bytes.length) throw new TruncatedError(FORMAT, next + 10, bytes.length);
      const rdlength = readUint16(bytes, next + 8);
      const end = next + 10 + rdlength;
      if (end > bytes.length) throw new TruncatedError(FORMAT, end, bytes.length);
      out.push({
        name,
        type: readUint16(bytes, next),
        class: readUint16(bytes, next + 2),
        ttl: readUint32(bytes, next + 4),
        ttlOffset: next + 4,
        data: bytes.subarray(next + 10, end),
      });
      at = end;
    }
    return out;
  };
  const answers = section(header.ancount);
  const authorities = section(header.nscount);
  const additionals = section(header.arcount);
  return { header, questions, answers, authorities, additionals };
}

/**
 * The wire form of `name` (dotted, a trailing dot allowed, `\DDD` and `\.` escapes honoured).
 * @throws RangeError for an empty label, a label over 63 bytes or a name over 255 bytes.
 */
export function encodeDnsName(name: string): Uint8Array {
  const out: number[] = [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (text.length > 0) {
    let label: number[] = [];
    const flush = (): void => {
      if (label.length === 0) throw emitError(FORMAT, `empty label in ${JSON.stringify(name)}`);
      if (label.length > DNS_MAX_LABEL)
        throw emitError(FORMAT, `label of ${label.length} bytes in ${JSON.stringify(name)} (over ${DNS_MAX_LABEL})`);
      out.push(label.length, ...label);
      label = [];
    };
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '.') flush();
      else if (ch === '\\' && /^[0-9]{3}$/.test(text.slice(i + 1, i + 4))) {
        label.push(Number(text.slice(i + 1, i + 4)) & 0xff);
        i += 3;
      } else if (ch === '\\' && i + 1 < text.length) label.push(text.charCodeAt(++i) & 0xff);
      else {
        const c = text.charCodeAt(i);
        if (c > 0x7f) throw emitError(FORMAT, `non-ASCII character in ${JSON.stringify(name)}`);
        label.push(c);
      }
    }
    flush();
  }
  out.push(0);
  if (out.length > DNS_MAX_NAME) throw emitError(FORMAT, `name ${JSON.stringify(name)} is over ${DNS_MAX_NAME} bytes`);
  return Uint8Array.from(out);
}

/** A query to build with {@link emitDnsQuery}. */
export interface DnsQueryRepr {
  /** Message id. */
  id: number;
  /** The name asked about. */
  name: string;
  /** Record type. */
  type: number;
  /** Recursion desired. Default true. */
  recursionDesired?: boolean;
}

/**
 * A new buffer holding a standard query for `repr` (one question, class IN).
 * @throws RangeError for a bad name (see {@link encodeDnsName}).
 */
export function emitDnsQuery(repr: DnsQueryRepr): Uint8Array {
  const name = encodeDnsName(repr.name);
  const out = new Uint8Array(DNS_HEADER_LENGTH + name.length + 4);
  writeUint16(out, 0, repr.id & 0xffff);
  writeUint16(out, 2, repr.recursionDesired === false ? 0 : DNS_FLAG.RD);
  writeUint16(out, 4, 1);
  out.set(name, DNS_HEADER_LENGTH);
  writeUint16(out, DNS_HEADER_LENGTH + name.length, repr.type);
  writeUint16(out, DNS_HEADER_LENGTH + name.length + 2, DNS_CLASS_IN);
  return out;
}

/**
 * A new buffer holding an error response (`rcode`) to `query`: its header with QR and RA set and
 * the counts cleared, and, when `questionEnd` is given (the offset just after its question
 * section), its question section copied back with `qdcount` kept.
 */
export function emitDnsErrorResponse(query: Uint8Array, rcode: number, questionEnd?: number): Uint8Array {
  const end = questionEnd ?? DNS_HEADER_LENGTH;
  const out = new Uint8Array(end);
  out.set(query.subarray(0, end));
  const flags = readUint16(query, 2);
  // Keep opcode and RD; set QR and RA; the rcode given.
  writeUint16(out, 2, DNS_FLAG.QR | (flags & (0x7800 | DNS_FLAG.RD)) | DNS_FLAG.RA | (rcode & 0xf));
  if (questionEnd === undefined) writeUint16(out, 4, 0);
  writeUint16(out, 6, 0);
  writeUint16(out, 8, 0);
  writeUint16(out, 10, 0);
  return out;
}

/** The IPv4 addresses of the A records of `records` whose RDATA is 4 bytes. */
export function dnsARecords(records: readonly DnsRecord[]): Ipv4Address[] {
  const out: Ipv4Address[] = [];
  for (const r of records)
    if (r.type === DNS_TYPE.A && r.class === DNS_CLASS_IN && r.data.length === 4) out.push(readUint32(r.data, 0));
  return out;
}

/** Writes `ttl` into the TTL field at `ttlOffset` of `message` (see {@link DnsRecord.ttlOffset}). */
export function writeDnsTtl(message: Uint8Array, ttlOffset: number, ttl: number): void {
  writeUint32(message, ttlOffset, ttl >>> 0);
}

/** Writes `id` into the id field of `message`. */
export function writeDnsId(message: Uint8Array, id: number): void {
  writeUint16(message, 0, id & 0xffff);
}
