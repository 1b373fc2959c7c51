/**
 * The writers of the segments TCP sends without a TCB: a bare RST ({@link ResetWriter}) and the
 * stateless SYN-ACK of a SYN cookie ({@link CookieSynAckWriter}). Each is one object per `Tcp`
 * whose fields are set just before the send, so answering a segment allocates nothing; each writes
 * in place in the frame when the IP port offers it (`writeSegmentAt`: no view of the segment).
 */
import { TcpFlag, type Ipv4Address } from '@postern/wire';
import type { TcpSegmentWriter } from './ip-port.js';
import { TCP_HEADER, finishChecksumAt, writeHeader } from './output.js';

function putUint32(b: Uint8Array, at: number, v: number): number {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
  return at + 4;
}

/** Writes a bare RST (or RST+ACK) from the fields set just before the send. */
export class ResetWriter implements TcpSegmentWriter {
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;

  /** @inheritDoc */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
    this.writeSegmentAt(segment, 0, segment.length, source, destination);
  }

  /** @inheritDoc */
  writeSegmentAt(frame: Uint8Array, at: number, length: number, source: Ipv4Address, destination: Ipv4Address): void {
    writeHeader(frame, at, this.srcPort, this.dstPort, this.seq, this.ack, TCP_HEADER, this.flags, 0);
    finishChecksumAt(frame, at, length, source, destination);
  }
}

/**
 * Writes a cookie SYN-ACK: the MSS option, and when the client sent timestamps also
 * SACK-permitted (if it offered it), timestamps and our window scale (if it offered one).
 */
export class CookieSynAckWriter implements TcpSegmentWriter {
  srcPort = 0;
  dstPort = 0;
  /** The cookie: our ISN. */
  seq = 0;
  ack = 0;
  window = 0;
  mss = 0;
  /** The client sent timestamps: our options carry them (see syn-cookies.ts). */
  timestamps = false;
  tsVal = 0;
  tsEcr = 0;
  sackPermitted = false;
  /** Our window shift, or -1 for none. */
  windowShift = -1;
  /** Option bytes: 4 (MSS), or 16 or 20 with timestamps. */
  optionBytes = 4;

  /** @inheritDoc */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
    this.writeSegmentAt(segment, 0, segment.length, source, destination);
  }

  /** @inheritDoc */
  writeSegmentAt(
    segment: Uint8Array,
    base: number,
    length: number,
    source: Ipv4Address,
    destination: Ipv4Address,
  ): void {
    writeHeader(
      segment,
      base,
      this.srcPort,
      this.dstPort,
      this.seq,
      this.ack,
      TCP_HEADER + this.optionBytes,
      TcpFlag.SYN | TcpFlag.ACK,
      this.window,
    );
    let at = base + TCP_HEADER;
    segment[at++] = 2;
    segment[at++] = 4;
    segment[at++] = this.mss >>> 8;
    segment[at++] = this.mss & 0xff;
    if (this.timestamps) {
      segment[at++] = this.sackPermitted ? 4 : 1;
      segment[at++] = this.sackPermitted ? 2 : 1;
      segment[at++] = 8;
      segment[at++] = 10;
      at = putUint32(segment, at, this.tsVal);
      at = putUint32(segment, at, this.tsEcr);
      if (this.windowShift >= 0) {
        segment[at++] = 1;
        segment[at++] = 3;
        segment[at++] = 3;
        segment[at++] = this.windowShift;
      }
    }
    finishChecksumAt(segment, base, length, source, destination);
  }
}
