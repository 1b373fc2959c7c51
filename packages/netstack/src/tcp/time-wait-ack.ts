/**
 * {@link TimeWaitAckWriter}: the one segment a TIME-WAIT record sends, an ACK, its options written by
 * the connection output's own `writeSegmentOptions` (byte for byte a TIME-WAIT TCB's ACK): the timestamps
 * option when negotiated (NOP, NOP, TSval, TSecr), then, with SACK, a D-SACK block when a duplicate
 * was received (RFC 2883). Its fields are set just before the send: answering allocates nothing, and
 * it writes in place in the frame when the IP port offers it (`writeSegmentAt`).
 */
import { TcpFlag, type Ipv4Address } from '@postern/wire';
import type { TcpSegmentWriter } from './ip-port.js';
import {
  TCP_HEADER,
  TCP_TIMESTAMP_OPTION_SPACE,
  finishChecksumAt,
  writeHeader,
  writeSegmentOptions,
} from './output.js';

/** Bytes of a SACK option holding one block, with its two NOPs. */
const ONE_SACK_BLOCK_SPACE = 4 + 8;

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
  /** A D-SACK block `[dsackEdges[0], dsackEdges[1])` follows the timestamps. */
  dsack = false;
  /** The D-SACK block's left and right edges. */
  readonly dsackEdges = new Uint32Array(2);

  /** The segment's length (header and options: an ACK carries no data). */
  get length(): number {
    return TCP_HEADER + (this.timestamps ? TCP_TIMESTAMP_OPTION_SPACE : 0) + (this.dsack ? ONE_SACK_BLOCK_SPACE : 0);
  }

  /** @inheritDoc */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void {
    this.writeSegmentAt(segment, 0, segment.length, source, destination);
  }

  /** @inheritDoc */
  writeSegmentAt(frame: Uint8Array, at: number, length: number, source: Ipv4Address, destination: Ipv4Address): void {
    writeHeader(frame, at, this.srcPort, this.dstPort, this.seq, this.ack, this.length, TcpFlag.ACK, this.window);
    writeSegmentOptions(
      frame,
      at + TCP_HEADER,
      this.timestamps,
      this.tsVal,
      this.tsEcr,
      this.dsackEdges,
      this.dsack ? 1 : 0,
    );
    finishChecksumAt(frame, at, length, source, destination);
  }
}
