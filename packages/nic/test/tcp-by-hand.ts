/**
 * A TCP sender written by hand on top of a bare {@link NicDriver}, for the TAP driver's offload
 * tests: the NIC package sits below the stack, so to make the kernel receive a TCP stream through
 * the driver the test speaks TCP itself. Just enough of it: a handshake, bursts of full-size
 * segments (all transmitted in one JavaScript turn, so they leave in one TX flush, where the driver
 * may merge them), each burst waited out until the kernel acknowledges all of it, then a FIN. No
 * retransmission: on a TAP nothing is lost, so a burst the kernel does not acknowledge is a failure
 * (reported by {@link HandTcpSender.sendBurst} resolving false).
 */
import { eventually } from '@postern/netlab';
import { internetChecksum, writeMac, type MacAddress } from '@postern/wire';
import type { NicDriver } from '../src/index.js';

const SYN = 0x02;
const FIN = 0x01;
const ACK = 0x10;
const PSH = 0x08;
const RST = 0x04;

/** Addresses and ports of the connection, IPv4 as 4 bytes. */
export interface HandTcpEnds {
  ourMac: MacAddress;
  peerMac: MacAddress;
  ourIp: Uint8Array;
  peerIp: Uint8Array;
  ourPort: number;
  peerPort: number;
}

/** What the sender has seen of the peer. */
export interface HandTcpPeerState {
  /** The peer's last acknowledgment number (relative to our ISN). */
  acked: number;
  /** The peer's last advertised window (unscaled: we offer no window scaling). */
  window: number;
  /** The peer's next sequence number, known after the handshake. */
  rcvNxt: number;
  /** Whether it answered with a RST. */
  reset: boolean;
}

/** A one-way TCP sender over `driver` (see the module documentation). */
export class HandTcpSender {
  readonly peer: HandTcpPeerState = { acked: 0, window: 0, rcvNxt: 0, reset: false };
  private readonly isn = 0x7000_0000;
  /** Bytes sent so far (sequence numbers relative to the ISN, SYN excluded). */
  private sent = 0;
  private ipId = 1;

  constructor(
    private readonly driver: NicDriver,
    private readonly ends: HandTcpEnds,
    readonly mss = 1460,
  ) {}

  /** Feed every frame the driver receives here. */
  receive(frame: Uint8Array): void {
    const e = this.ends;
    if (frame.length < 54 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 6) return;
    const ihl = (frame[14]! & 0x0f) * 4;
    const t = 14 + ihl;
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    if (view.getUint16(t) !== e.peerPort || view.getUint16(t + 2) !== e.ourPort) return;
    const flags = frame[t + 13]!;
    if ((flags & RST) !== 0) this.peer.reset = true;
    if ((flags & SYN) !== 0) this.peer.rcvNxt = (view.getUint32(t + 4) + 1) >>> 0;
    if ((flags & ACK) !== 0) {
      const acked = (view.getUint32(t + 8) - this.isn - 1) | 0;
      if (acked > this.peer.acked) this.peer.acked = acked;
      this.peer.window = view.getUint16(t + 14);
    }
  }

  /** Sends the SYN and our ACK of the SYN-ACK; resolves whether the handshake completed. */
  async connect(): Promise<boolean> {
    const mssOption = [2, 4, this.mss >>> 8, this.mss & 0xff];
    this.transmit(this.segment(-1, SYN, new Uint8Array(0), mssOption));
    if (!(await eventually(() => this.peer.rcvNxt !== 0 || this.peer.reset, 5000))) return false;
    if (this.peer.reset) return false;
    this.transmit(this.segment(0, ACK, new Uint8Array(0)));
    return true;
  }

  /**
   * Transmits `data` as full-size segments (the last shorter, with PSH), all in this turn, then
   * waits until the peer acknowledges all of it. `damage`, when given, flips a payload bit of that
   * segment after its checksum was computed. Resolves whether everything was acknowledged.
   */
  async sendBurst(data: Uint8Array, damage?: number): Promise<boolean> {
    const start = this.sent;
    const frames: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += this.mss) {
      const payload = data.subarray(off, Math.min(off + this.mss, data.length));
      const last = off + this.mss >= data.length;
      const f = this.segment(start + off, last ? ACK | PSH : ACK, payload);
      if (damage === frames.length) f[f.length - 4 - 1]! ^= 0x01; // the last payload byte (before the FCS room)
      frames.push(f);
    }
    for (const f of frames) this.transmit(f);
    const end = start + data.length;
    const done = await eventually(() => this.peer.acked >= end, damage === undefined ? 5000 : 300);
    if (done) this.sent = end;
    return done;
  }

  /** Sends our FIN. */
  close(): void {
    this.transmit(this.segment(this.sent, FIN | ACK, new Uint8Array(0)));
  }

  private transmit(frame: Uint8Array): void {
    if (!this.driver.transmit(frame)) throw new Error('the driver refused a frame');
  }

  /** One Ethernet + IPv4 + TCP frame (4 bytes of FCS room at the end) with correct checksums. */
  private segment(relSeq: number, flags: number, payload: Uint8Array, options: number[] = []): Uint8Array {
    const e = this.ends;
    const tcpHeader = 20 + options.length;
    const ipLength = 20 + tcpHeader + payload.length;
    const f = new Uint8Array(14 + ipLength + 4);
    const v = new DataView(f.buffer);
    writeMac(f, 0, e.peerMac);
    writeMac(f, 6, e.ourMac);
    v.setUint16(12, 0x0800);
    f[14] = 0x45;
    v.setUint16(16, ipLength);
    v.setUint16(18, this.ipId++ & 0xffff);
    v.setUint16(20, 0x4000);
    f[22] = 64;
    f[23] = 6;
    f.set(e.ourIp, 26);
    f.set(e.peerIp, 30);
    v.setUint16(24, internetChecksum(f.subarray(14, 34)));
    const t = 34;
    v.setUint16(t, e.ourPort);
    v.setUint16(t + 2, e.peerPort);
    v.setUint32(t + 4, (this.isn + 1 + relSeq) >>> 0);
    v.setUint32(t + 8, (flags & ACK) !== 0 ? this.peer.rcvNxt : 0);
    f[t + 12] = (tcpHeader / 4) << 4;
    f[t + 13] = flags;
    v.setUint16(t + 14, 0xffff);
    f.set(options, t + 20);
    f.set(payload, t + tcpHeader);
    const pseudo = new Uint8Array(12 + tcpHeader + payload.length);
    pseudo.set(e.ourIp, 0);
    pseudo.set(e.peerIp, 4);
    pseudo[9] = 6;
    new DataView(pseudo.buffer).setUint16(10, tcpHeader + payload.length);
    pseudo.set(f.subarray(t, t + tcpHeader + payload.length), 12);
    v.setUint16(t + 16, internetChecksum(pseudo));
    return f;
  }
}
