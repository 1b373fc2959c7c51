/**
 * Answers a packet the filter rejected: an ICMP destination unreachable with the rule's code
 * (through the ICMP error rules and rate limiter), or a TCP RST built here with the wire TCP
 * emitter (RFC 9293 §3.10.7.1: for a segment with ACK, `seq = SEG.ACK`, flags RST; otherwise
 * `seq = 0`, `ack = SEG.SEQ + SEG.LEN`, flags RST+ACK; a segment that is itself an RST is never
 * answered).
 */
import {
  ICMP_DEST_UNREACHABLE,
  IP_PROTO_TCP,
  TcpFlag,
  TcpPacket,
  DecodeError,
  emitTcp,
  parseIpv4Packet,
  Ipv4Packet,
  TCP_MIN_HEADER_LENGTH,
  type Ipv4Address,
  type Ipv4Repr,
} from '@postern/wire';
import type { Counters } from '../counters.js';
import type { RejectWith } from './filter.js';
import { quoteDatagram, type IcmpErrorSender } from '../icmp/icmp-errors.js';
import type { NetInterface } from '../link/interface.js';
import type { Ipv4Output } from '../ipv4/output.js';
import type { InterfaceTable } from '../link/interface-table.js';
import type { Ipv4CounterName } from '../stack-counters.js';

const IGNORE_CHECKSUM = { checksum: 'ignore' } as const;
const BYPASS_FILTER = { bypassFilter: true } as const;

/** What answering rejected packets needs from the rest of the stack. */
export interface RejecterPorts {
  /** Sends the ICMP unreachable answers. */
  readonly icmp: IcmpErrorSender;
  /** Which addresses are ours (the source of a reset). */
  readonly interfaces: Pick<InterfaceTable, 'isLocal'>;
  /** Sends the resets (bypassing the output chain). */
  readonly output: Pick<Ipv4Output, 'send'>;
  /** Counts resets sent and failed. */
  readonly ipCounters: Counters<Ipv4CounterName>;
}

/** Answers packets the filter rejected. @internal The stack owns the one instance. */
export class Rejecter {
  constructor(private readonly ports: RejecterPorts) {}

  /** Answers the rejected datagram `header` + `payload` (whole, reassembled) that arrived on `iface`. */
  reject(how: RejectWith | undefined, header: Ipv4Repr, payload: Uint8Array, iface: NetInterface): void {
    if (how === undefined) return;
    if (how.kind === 'icmp-unreachable') {
      this.ports.icmp.sendError(ICMP_DEST_UNREACHABLE, how.code, quoteDatagram(header, payload), iface);
      return;
    }
    if (header.protocol !== IP_PROTO_TCP || header.fragmentOffset !== 0) return;
    this.sendTcpReset(header.source, header.destination, payload);
  }

  /** Answers the rejected packet whose raw bytes (header first, to its total length) are `ip`. */
  rejectRaw(how: RejectWith | undefined, ip: Uint8Array, iface: NetInterface): void {
    if (how === undefined) return;
    if (how.kind === 'icmp-unreachable') {
      this.ports.icmp.sendError(ICMP_DEST_UNREACHABLE, how.code, ip, iface);
      return;
    }
    const packet = Ipv4Packet.checked(ip);
    if (packet.protocol !== IP_PROTO_TCP || packet.fragmentOffset !== 0) return;
    const header = parseIpv4Packet(packet, IGNORE_CHECKSUM);
    this.sendTcpReset(header.source, header.destination, packet.payload);
  }

  /**
   * Sends the RST answering `segment` (a TCP segment from `src` to `dst`), from `dst` to `src`,
   * bypassing the output chain. Does nothing for an RST, a truncated segment, or when `dst` is not
   * one of our addresses and no route leads back.
   */
  sendTcpReset(src: Ipv4Address, dst: Ipv4Address, segment: Uint8Array): void {
    let tcp: TcpPacket;
    try {
      tcp = TcpPacket.checked(segment);
    } catch (err) {
      if (err instanceof DecodeError) return;
      throw err;
    }
    const flags = tcp.flags;
    if ((flags & TcpFlag.RST) !== 0) return;
    const hasAck = (flags & TcpFlag.ACK) !== 0;
    const repr = {
      srcPort: tcp.dstPort,
      dstPort: tcp.srcPort,
      seq: hasAck ? tcp.ack : 0,
      ack: hasAck ? 0 : (tcp.seq + tcp.segmentLength) >>> 0,
      flags: hasAck ? TcpFlag.RST : TcpFlag.RST | TcpFlag.ACK,
      window: 0,
      urgentPointer: 0,
      options: [],
    };
    const ports = this.ports;
    const source = ports.interfaces.isLocal(dst) ? dst : undefined;
    try {
      ports.output.send(
        { dst: src, src: source, protocol: IP_PROTO_TCP },
        TCP_MIN_HEADER_LENGTH,
        (buf, from, to) => emitTcp(repr, buf, from, to),
        BYPASS_FILTER,
      );
      ports.ipCounters.inc('rejectResets');
    } catch {
      ports.ipCounters.inc('rejectResetFailed');
    }
  }
}
