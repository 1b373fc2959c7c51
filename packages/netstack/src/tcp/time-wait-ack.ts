/**
 * {@link TimeWaitAckWriter}: the one segment a TIME-WAIT record sends, an ACK, written byte for byte
 * as the connection's own output writes an ACK in TIME-WAIT (`SegmentBuilder`): the timestamps
 * option when negotiated (NOP, NOP, TSval, TSecr), then, with SACK, a D-SACK block when a duplicate
 * was received (RFC 2883). Its fields are set just before the send: answering allocates nothing.
 */
import { TcpFlag, type Ipv4Address } from '@postern/wire';
import type { TcpSegmentWriter } from './ip-port.js';
import { TCP_HEADER, TCP_TIMESTAMP_OPTION_SPACE, finishChecksum, writeHeader } from './output.js';

/** Bytes of a SACK option holding one block, with its two NOPs. */
const ONE_SACK_BLOCK_SPACE = 4 + 8;

function putUint32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Writes NOP, NOP and a 10-byte option of `kind` holding two 32-bit words (the timestamps option,
 * or a SACK option with one block) at `at`; returns the offset after it.
 */
function putPaddedOption(b: Uint8Array, at: number, kind: number, first: number, second: number): number {
  b[at] = 1;
  b[at + 1] = 1;
  b[at + 2] = kind;
  b[at + 3] = 10;
  putUint32(b, at + 4, first);
  putUint32(b, at + 8, second);
  return at + 12;
}

/** Writes a TIME-WAIT ACK from the fields set just before the send. */
export class TimeWaitAckWriter implements TcpSegmentWriter {
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  window = 0;
  timestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** A D-SACK block `[dsackLeft, dsackRight)` follows the timestamps. */
  dsack = false;
  dsackLeft = 0;
  dsackRight = 0;

  /** The segment's length (header and options: an ACK carries no data). */
  get length(): number {
    return TCP_HEADER + (this.timestamps ? TCP_TIMESTAMP_OPTION_SPACE : 0) + (this.dsack ? ONE_SACK_BLOCK_SPACE : 0);
  }

  /** @inheritDoc */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
    writeHeader(segment, this.srcPort, this.dstPort, this.seq, this.ack, this.length, TcpFlag.ACK, this.window);
    let at = TCP_HEADER;
    if (this.timestamps) at = putPaddedOption(segment, at, 8, this.tsVal, this.tsEcr);
    if (this.dsack) putPaddedOption(segment, at, 5, this.dsackLeft, this.dsackRight);
    finishChecksum(segment, source, destination);
  }
}
