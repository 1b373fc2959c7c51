/**
 * A TCP reflector: the frame logic of the bare Node TAP ceiling (`tap-reflector.ts`). It is a
 * measuring instrument, not a TCP stack: it answers each received frame with at most the frames
 * the kernel's client needs to go on, computed from that frame alone, so that what it costs per
 * request is what any Node program pays to read one frame from a TAP device and write one back.
 *
 * - ARP requests for its address: one reply. ICMP echo requests: one echo reply (the received frame
 *   rewritten; both from `arp-echo-reply.ts`).
 * - TCP to its port: SYN -> SYN-ACK (MSS 1460; window scale 0 when the SYN offered scaling; no
 *   SACK, no timestamps). A segment with data -> one segment carrying the ACK of that data and the
 *   canned answer (`response`), its sequence number the segment's acknowledgment number: stateless,
 *   right as long as the client sends its next request only after the answer to the last (wrk and
 *   curl do). A request that asks the server to close ({@link requestAsksToClose}: HTTP/1.0 without
 *   `Connection: keep-alive`, or `Connection: close`) -> one segment carrying the ACK, `closeResponse`
 *   and our FIN, as the gateway sends it to a short-connection client. FIN -> FIN-ACK, or a pure ACK
 *   when the FIN acknowledges the FIN we sent with a close answer (the one bit of state per short
 *   connection: our FIN's sequence number, by client port, until the client's FIN, RST or next SYN
 *   on that port). Pure ACKs and RSTs -> nothing. Correct IPv4 and TCP checksums.
 * - `GET /big` (the request's first bytes): the one stateful case, the bulk ceiling. A window-limited
 *   sender of `bigHead` + `bigBytes` bytes (the `a`..`z` pattern the bench's `/big` holds) in
 *   1,460-byte segments: each ACK of the flow advances the left edge and sends what the client's
 *   window (scaled) allows, at most {@link MAX_IN_FLIGHT} bytes in flight; three duplicate ACKs or
 *   {@link tick} without progress go back to the first unacknowledged byte (go-back-N). No
 *   congestion control, no SACK, no retransmission timer of its own beyond `tick`.
 *
 * It checks nothing it does not need (no IPv4 options, fragments or checksums of received frames
 * are checked); every answer is a fresh frame from a pool of {@link POOL_FRAMES} (the TAP driver
 * keeps a frame until the end of the scheduler step, at most 256 of them), so nothing is allocated
 * per keep-alive request: the answer frames hold the canned payload from the start, and per request
 * 44 header bytes and two checksums are written.
 *
 * Frames per short connection, the same as the gateway's once warm (tcpdump of both): SYN-ACK, the
 * answer with FIN, the ACK of the client's FIN. The options differ: no SACK-permitted and no
 * timestamps here (the gateway sends both), so the reflector's frames are 12 bytes shorter.
 */
import { onesComplementSum } from '@postern/wire';
import { arpReply, echoReply } from './arp-echo-reply.js';

/** Ethernet + IPv4 (no options) + TCP (no options) header bytes. */
const HEADERS = 54;
const ETH = 14;
const IP = 14;
const TCP = 34;
/** Payload bytes per bulk segment (MSS 1460). */
export const SEGMENT_BYTES = 1460;
/** The most unacknowledged bulk bytes in flight, whatever the client's window. */
export const MAX_IN_FLIGHT = 4 * 1024 * 1024;
/** Answer frames in each pool (twice the TAP driver's 256-frame TX queue). */
export const POOL_FRAMES = 512;
/** Bytes a driver frame reserves after the payload for an FCS (never written by a TAP). */
const FCS = 4;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const FIN = 0x01;
const BIG_REQUEST = Buffer.from('GET /big ', 'latin1');
const HTTP10 = Buffer.from(' HTTP/1.0', 'latin1');
/** `\nconnection:` in lower case: the start of a Connection header line. */
const CONNECTION = Buffer.from('\nconnection:', 'latin1');
const CLOSE = Buffer.from('close', 'latin1');
const KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');

/** Whether `b[at, at + word.length)` equals `word` ignoring ASCII case (`word` in lower case). */
function matchesLower(b: Uint8Array, at: number, end: number, word: Uint8Array): boolean {
  if (at + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if ((b[at + i]! | 0x20) !== (word[i]! | 0x20)) return false;
  return true;
}

/**
 * Whether the HTTP request head in `b[from, to)` asks the server to close the connection after its
 * answer: an HTTP/1.0 request line without a `Connection: keep-alive` header (`ab -k` sends that),
 * or a `Connection: close` header. Looks only at the request line's version and the first token of
 * the first Connection header; no allocation.
 */
export function requestAsksToClose(b: Uint8Array, from: number, to: number): boolean {
  let lineEnd = from;
  while (lineEnd < to && b[lineEnd] !== 0x0d && b[lineEnd] !== 0x0a) lineEnd++;
  const http10 = lineEnd - HTTP10.length >= from && matchesLower(b, lineEnd - HTTP10.length, to, HTTP10);
  for (let i = lineEnd; i < to; i++) {
    if (b[i] !== 0x0a || !matchesLower(b, i, to, CONNECTION)) continue;
    let v = i + CONNECTION.length;
    while (v < to && (b[v] === 0x20 || b[v] === 0x09)) v++;
    if (matchesLower(b, v, to, CLOSE)) return true;
    if (matchesLower(b, v, to, KEEP_ALIVE)) return false;
    break;
  }
  return http10;
}

/** What a {@link TcpReflector} answers as. */
export interface TcpReflectorOptions {
  /** Its MAC address (6 bytes). */
  readonly mac: Uint8Array;
  /** Its IPv4 address (a 32-bit number). */
  readonly address: number;
  /** The TCP port it answers on (80). */
  readonly port: number;
  /** The canned answer to any request but `GET /big` (HTTP head + body, at most one segment). */
  readonly response: Uint8Array;
  /**
   * The canned answer to a request that asks to close ({@link requestAsksToClose}), sent with our
   * FIN (the server's answer to an HTTP/1.0 request: `Connection: close`); default `response`.
   */
  readonly closeResponse?: Uint8Array;
  /** The head of the answer to `GET /big`. */
  readonly bigHead: Uint8Array;
  /** The body size of the answer to `GET /big` (the pattern `a`..`z`, restarting every 64 KiB). */
  readonly bigBytes: number;
}

/** One `GET /big` being sent: sequence numbers are absolute (mod 2^32). */
interface BulkFlow {
  /** The sequence number of the first byte of the answer. */
  readonly start: number;
  /** Bytes of the answer (head + body). */
  readonly length: number;
  /** Offset (from `start`) of the first unacknowledged byte. */
  una: number;
  /** Offset of the next byte to send. */
  next: number;
  /** The client's window (scaled), bytes beyond `una`. */
  window: number;
  dupAcks: number;
  /** `una` at the last {@link TcpReflector.tick}. */
  lastTickUna: number;
}

/** A pool of equal frames handed out in turn. */
class FramePool {
  private readonly frames: Uint8Array[] = [];
  private at = 0;
  constructor(size: number, fill?: (frame: Uint8Array) => void) {
    for (let i = 0; i < POOL_FRAMES; i++) {
      const frame = new Uint8Array(size);
      fill?.(frame);
      this.frames.push(frame);
    }
  }
  next(): Uint8Array {
    const frame = this.frames[this.at]!;
    this.at = (this.at + 1) % POOL_FRAMES;
    return frame;
  }
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The (unfolded) sum of the big-endian 16-bit words of `b[from, to)` (`to - from` even) plus `initial`: no view, no allocation. */
function wordSum(b: Uint8Array, from: number, to: number, initial: number): number {
  let sum = initial;
  for (let i = from; i < to; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  return sum;
}

/** Folds a sum of 16-bit words to 16 bits (end-around carry) and inverts it: the checksum field. */
function checksumOf(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The ones'-complement sum of a 32-bit value's two 16-bit words. */
const sum32 = (v: number) => (v >>> 16) + (v & 0xffff);

/** See the module documentation. */
export class TcpReflector {
  private readonly mac: Uint8Array;
  private readonly address: number;
  private readonly port: number;
  private readonly response: Uint8Array;
  /** The ones'-complement sum of the canned answer (added to every answer's TCP checksum). */
  private readonly responseSum: number;
  private readonly answers: FramePool;
  private readonly closeResponse: Uint8Array;
  private readonly closeResponseSum: number;
  private readonly closeAnswers: FramePool;
  /** For each client port we sent a close answer to: the acknowledgment number that covers our FIN. */
  private readonly finAcked = new Map<number, number>();
  private readonly segments: FramePool;
  /** The bulk answer's head followed by 64 KiB + one segment of the pattern (bytes are copied from here). */
  private readonly bigHead: Uint8Array;
  private readonly pattern: Uint8Array;
  private readonly bigLength: number;
  /** The window scale each client offered in its SYN, by client port (0: none). */
  private readonly scales = new Map<number, number>();
  private readonly flows = new Map<number, BulkFlow>();
  /** The acknowledgment number of each bulk flow (the client's request, acknowledged in every segment). */
  private readonly ackSeq = new Map<number, number>();
  /** The headers of each bulk flow's request, copied (its addresses are the template of the segments). */
  private readonly templates = new Map<number, Uint8Array>();
  /** Frames answered, by kind (read by tests and the program's exit line). */
  readonly counts = {
    arp: 0,
    ping: 0,
    synAck: 0,
    answers: 0,
    closeAnswers: 0,
    finAck: 0,
    lastAck: 0,
    bulkSegments: 0,
    goBackN: 0,
  };

  constructor(options: TcpReflectorOptions) {
    this.mac = options.mac;
    this.address = options.address;
    this.port = options.port;
    this.response = options.response;
    if (options.response.byteLength > SEGMENT_BYTES)
      throw new RangeError('tcp reflector: the canned answer exceeds one segment');
    this.responseSum = onesComplementSum(options.response);
    const size = HEADERS + options.response.byteLength + FCS;
    this.answers = new FramePool(size, (f) => f.set(options.response, HEADERS));
    const close = options.closeResponse ?? options.response;
    if (close.byteLength > SEGMENT_BYTES) throw new RangeError('tcp reflector: the close answer exceeds one segment');
    this.closeResponse = close;
    this.closeResponseSum = onesComplementSum(close);
    this.closeAnswers = new FramePool(HEADERS + close.byteLength + FCS, (f) => f.set(close, HEADERS));
    this.segments = new FramePool(HEADERS + SEGMENT_BYTES + FCS);
    this.bigHead = options.bigHead;
    this.bigLength = options.bigHead.byteLength + options.bigBytes;
    this.pattern = new Uint8Array(65536 + SEGMENT_BYTES);
    for (let i = 0; i < this.pattern.length; i++) this.pattern[i] = 97 + ((i % 65536) % 26);
  }

  /** Answers one received Ethernet frame (no FCS): `send` gets each answer frame (with 4 FCS bytes reserved). */
  input(frame: Uint8Array, send: (frame: Uint8Array) => void): void {
    if (frame.byteLength < 42) return;
    const type = u16(frame, 12);
    if (type === 0x0806) this.arp(frame, send);
    else if (type === 0x0800 && u32(frame, IP + 16) === this.address) {
      const protocol = frame[IP + 9];
      if (protocol === 6) this.tcp(frame, send);
      else if (protocol === 1) this.ping(frame, send);
    }
  }

  /** Bulk flows with no progress since the last call go back to their first unacknowledged byte. */
  tick(send: (frame: Uint8Array) => void): void {
    for (const [port, flow] of this.flows) {
      if (flow.una === flow.lastTickUna && flow.next !== flow.una) {
        flow.next = flow.una;
        this.counts.goBackN++;
        this.pump(port, flow, send);
      }
      flow.lastTickUna = flow.una;
    }
  }

  private arp(frame: Uint8Array, send: (frame: Uint8Array) => void): void {
    const out = arpReply(frame, this.mac, this.address);
    if (out === undefined) return;
    this.counts.arp++;
    send(out);
  }

  private ping(frame: Uint8Array, send: (frame: Uint8Array) => void): void {
    const out = echoReply(frame, this.mac, this.address);
    if (out === undefined) return;
    this.counts.ping++;
    send(out);
  }

  private tcp(frame: Uint8Array, send: (frame: Uint8Array) => void): void {
    const ihl = (frame[IP]! & 0x0f) * 4;
    const t = ETH + ihl;
    if (frame.byteLength < t + 20 || u16(frame, t + 2) !== this.port) return;
    const clientPort = u16(frame, t);
    const flags = frame[t + 13]!;
    const seq = u32(frame, t + 4);
    const ack = u32(frame, t + 8);
    const dataAt = t + (frame[t + 12]! >>> 4) * 4;
    const dataLength = Math.max(0, ETH + u16(frame, IP + 2) - dataAt);
    if ((flags & RST) !== 0) {
      this.flows.delete(clientPort);
      this.finAcked.delete(clientPort);
      return;
    }
    if ((flags & SYN) !== 0) {
      this.finAcked.delete(clientPort);
      this.synAck(frame, t, clientPort, seq, send);
      return;
    }
    if ((flags & FIN) !== 0) {
      this.fin(frame, clientPort, seq, ack, dataLength, send);
      return;
    }
    const flow = this.flows.get(clientPort);
    if (flow !== undefined) {
      this.bulkAck(clientPort, flow, frame, t, ack, dataLength, send);
      return;
    }
    if (dataLength === 0) return; // a pure ACK
    if (this.isBigRequest(frame, dataAt, dataLength)) {
      const started: BulkFlow = {
        start: ack,
        length: this.bigLength,
        una: 0,
        next: 0,
        window: u16(frame, t + 14) << (this.scales.get(clientPort) ?? 0),
        dupAcks: 0,
        lastTickUna: -1,
      };
      this.flows.set(clientPort, started);
      this.ackSeq.set(clientPort, (seq + dataLength) >>> 0);
      this.templates.set(clientPort, frame.slice(0, t + 20));
      this.pump(clientPort, started, send);
      return;
    }
    if (requestAsksToClose(frame, dataAt, dataAt + dataLength)) {
      const length = this.closeResponse.byteLength;
      const out = this.closeAnswers.next();
      this.header(out, frame, ack, (seq + dataLength) >>> 0, FIN | PSH | ACK, length, this.closeResponseSum);
      this.finAcked.set(clientPort, (ack + length + 1) >>> 0);
      this.counts.closeAnswers++;
      send(out);
      return;
    }
    const out = this.answers.next();
    this.header(out, frame, ack, (seq + dataLength) >>> 0, PSH | ACK, this.response.byteLength, this.responseSum);
    this.counts.answers++;
    send(out);
  }

  /**
   * The client's FIN: when it acknowledges the FIN of our close answer, a pure ACK (the connection is
   * done, as the gateway's goes to TIME-WAIT); otherwise our FIN with the ACK (the client closes first,
   * as wrk does at its end).
   */
  private fin(
    frame: Uint8Array,
    clientPort: number,
    seq: number,
    ack: number,
    dataLength: number,
    send: (frame: Uint8Array) => void,
  ): void {
    this.flows.delete(clientPort);
    this.scales.delete(clientPort);
    const ours = this.finAcked.get(clientPort);
    this.finAcked.delete(clientPort);
    const out = this.segments.next();
    const ackOfFin = (seq + dataLength + 1) >>> 0;
    if (ours === ack) {
      this.counts.lastAck++;
      send(this.header(out, frame, ack, ackOfFin, ACK, 0));
      return;
    }
    this.counts.finAck++;
    send(this.header(out, frame, ack, ackOfFin, FIN | ACK, 0));
  }

  private isBigRequest(frame: Uint8Array, at: number, length: number): boolean {
    if (length < BIG_REQUEST.length) return false;
    for (let i = 0; i < BIG_REQUEST.length; i++) if (frame[at + i] !== BIG_REQUEST[i]) return false;
    return true;
  }

  private synAck(
    frame: Uint8Array,
    t: number,
    clientPort: number,
    seq: number,
    send: (frame: Uint8Array) => void,
  ): void {
    // The client's window scale, if its SYN offers one (then ours is offered too: shift 0).
    let scale = -1;
    const end = t + (frame[t + 12]! >>> 4) * 4;
    for (let o = t + 20; o < end;) {
      const kind = frame[o]!;
      if (kind === 0) break;
      if (kind === 1) {
        o++;
        continue;
      }
      if (kind === 3 && o + 2 < end) scale = Math.min(14, frame[o + 2]!);
      o += Math.max(2, frame[o + 1] ?? 2);
    }
    this.scales.set(clientPort, Math.max(0, scale));
    const options = scale >= 0 ? 8 : 4;
    const out = new Uint8Array(HEADERS + options + FCS);
    const isn = Math.imul(clientPort, 0x9e3779b1) >>> 0;
    // Options: MSS 1460, then NOP + window scale 0.
    out.set(scale >= 0 ? [2, 4, 0x05, 0xb4, 1, 3, 3, 0] : [2, 4, 0x05, 0xb4], HEADERS);
    this.header(
      out,
      frame,
      isn,
      (seq + 1) >>> 0,
      SYN | ACK,
      0,
      onesComplementSum(out.subarray(HEADERS, HEADERS + options)),
      options,
    );
    this.counts.synAck++;
    send(out);
  }

  /** An ACK (or data) on a bulk flow: advance, count duplicates, send what the window allows. */
  private bulkAck(
    clientPort: number,
    flow: BulkFlow,
    frame: Uint8Array,
    t: number,
    ack: number,
    dataLength: number,
    send: (frame: Uint8Array) => void,
  ): void {
    const offset = (ack - flow.start) | 0;
    const window = u16(frame, t + 14) << (this.scales.get(clientPort) ?? 0);
    if (offset > flow.una && offset <= flow.length) {
      flow.una = offset;
      flow.dupAcks = 0;
      if (flow.next < flow.una) flow.next = flow.una;
    } else if (offset === flow.una && dataLength === 0 && window === flow.window && flow.next > flow.una) {
      if (++flow.dupAcks === 3) {
        flow.next = flow.una;
        this.counts.goBackN++;
      }
    }
    flow.window = window;
    if (flow.una >= flow.length) {
      this.flows.delete(clientPort);
      this.ackSeq.delete(clientPort);
      this.templates.delete(clientPort);
      return;
    }
    this.pump(clientPort, flow, send);
  }

  /** Sends the bulk flow's segments the client's window allows. */
  private pump(clientPort: number, flow: BulkFlow, send: (frame: Uint8Array) => void): void {
    const template = this.templates.get(clientPort);
    const ackSeq = this.ackSeq.get(clientPort);
    if (template === undefined || ackSeq === undefined) return;
    const limit = Math.min(flow.length, flow.una + Math.min(flow.window, MAX_IN_FLIGHT));
    while (flow.next < limit) {
      const length = Math.min(SEGMENT_BYTES, limit - flow.next);
      if (length < SEGMENT_BYTES && flow.next + length < flow.length) break; // no runt segments mid-stream
      const out = this.segments.next();
      this.copyBulk(out, flow.next, length);
      const frame = this.header(out, template, (flow.start + flow.next) >>> 0, ackSeq, ACK, length);
      flow.next += length;
      this.counts.bulkSegments++;
      send(frame);
    }
  }

  /** Copies the bulk answer's bytes [at, at + length) into `out` after the headers. */
  private copyBulk(out: Uint8Array, at: number, length: number): void {
    let to = HEADERS;
    let from = at;
    let left = length;
    const head = this.bigHead.byteLength;
    if (from < head) {
      const n = Math.min(left, head - from);
      out.set(this.bigHead.subarray(from, from + n), to);
      to += n;
      from += n;
      left -= n;
    }
    if (left > 0) {
      const o = (from - head) % 65536;
      out.set(this.pattern.subarray(o, o + left), to);
    }
  }

  /**
   * Writes the Ethernet, IPv4 and TCP headers of an answer to `received` into `out` (whose payload of
   * `length` bytes, after `options` option bytes, is in place) and the checksums; `payloadSum` is
   * the ones'-complement sum of options + payload when the caller knows it. Returns the frame to send
   * (`out` itself, or a view when the payload is shorter than the pool frame).
   */
  private header(
    out: Uint8Array,
    received: Uint8Array,
    seq: number,
    ack: number,
    flags: number,
    length: number,
    payloadSum?: number,
    options = 0,
  ): Uint8Array {
    const ihl = (received[IP]! & 0x0f) * 4;
    const t = ETH + ihl;
    out.set(received.subarray(6, 12), 0);
    out.set(this.mac, 6);
    out[12] = 0x08;
    out[13] = 0x00;
    const ipLength = 20 + 20 + options + length;
    out[IP] = 0x45;
    out[IP + 1] = 0;
    put16(out, IP + 2, ipLength);
    put32(out, IP + 4, 0x00004000); // id 0, DF
    out[IP + 8] = 64;
    out[IP + 9] = 6;
    put16(out, IP + 10, 0);
    out.set(received.subarray(IP + 16, IP + 20), IP + 12);
    out.set(received.subarray(IP + 12, IP + 16), IP + 16);
    put16(out, IP + 10, checksumOf(wordSum(out, IP, IP + 20, 0)));
    put16(out, TCP, this.port);
    out[TCP + 2] = received[t]!;
    out[TCP + 3] = received[t + 1]!;
    put32(out, TCP + 4, seq);
    put32(out, TCP + 8, ack);
    out[TCP + 12] = (5 + (options >>> 2)) << 4;
    out[TCP + 13] = flags;
    put16(out, TCP + 14, 0xffff);
    put16(out, TCP + 16, 0);
    put16(out, TCP + 18, 0);
    const client = u32(received, IP + 12);
    const segment = 20 + options + length;
    const pseudo = sum32(this.address) + sum32(client) + 6 + segment;
    const end = TCP + segment;
    const sum =
      payloadSum === undefined
        ? onesComplementSum(out.subarray(TCP, end), pseudo)
        : wordSum(out, TCP, TCP + 20, pseudo + payloadSum);
    put16(out, TCP + 16, checksumOf(sum));
    return end + FCS === out.byteLength ? out : out.subarray(0, end + FCS);
  }
}
