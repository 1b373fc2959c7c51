/**
 * {@link UdpEntry}: a `SOCK_DGRAM` socket of the descriptor table over a `Stack` UDP binding. Each
 * datagram is copied into a bounded receive queue (the binding's view is valid only during its
 * handler); the queue holds at most `SO_RCVBUF` bytes, and a datagram that does not fit is dropped
 * and counted ({@link UdpEntry.drops}), as a kernel's full socket buffer does.
 */
import type { UdpSocket } from '@postern/netstack';
import type { Ipv4Address } from '@postern/wire';
import { POLLERR, POLLIN, POLLOUT } from './constants.js';
import { SocketEntry, type SocketAddress } from './entry.js';
import type { SocketError } from './errors.js';

/** Default `SO_RCVBUF` of a datagram socket, bytes. */
export const UDP_DEFAULT_RCVBUF = 256 * 1024;

/** One queued datagram. */
export interface QueuedDatagram {
  /** The payload (a copy the socket owns). */
  data: Uint8Array;
  /** Sender address. */
  address: Ipv4Address;
  /** Sender port. */
  port: number;
}

/** One datagram socket. */
export class UdpEntry extends SocketEntry {
  /** The stack binding, once bound (explicitly or by the first send). */
  binding: UdpSocket | undefined;
  /** The default destination (`connect`), which also filters what is received. */
  peer: SocketAddress | undefined;
  /** Bytes the receive queue may hold (`SO_RCVBUF`). */
  rcvbuf = UDP_DEFAULT_RCVBUF;
  /** `SO_SNDBUF` as set (datagrams are not buffered on send; recorded for `getsockopt`). */
  sndbuf = UDP_DEFAULT_RCVBUF;
  /** `SO_REUSEADDR` as set (recorded; the stack's UDP has one binding per port). */
  reuseAddr = false;
  /** Datagrams dropped because the receive queue was full. */
  drops = 0;
  /** The pending error (an ICMP port unreachable on a connected socket: `ECONNREFUSED`). */
  error: SocketError | undefined;
  /** `shutdown(SHUT_RD)`: arriving datagrams are dropped. */
  readShut = false;
  /** `shutdown(SHUT_WR)`: sends fail with `EPIPE`. */
  writeShut = false;
  private readonly queue: QueuedDatagram[] = [];
  private head = 0;
  private bytes = 0;

  /** Datagrams waiting. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Bytes waiting. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Copies and queues one datagram (the stack's handler). */
  deliver(payload: Uint8Array, address: Ipv4Address, port: number): void {
    if (this.readShut || this.closed) return;
    if (this.peer !== undefined && (this.peer.address !== address || this.peer.port !== port)) return;
    if (this.bytes + payload.length > this.rcvbuf) {
      this.drops++;
      return;
    }
    this.queue.push({ data: payload.slice(), address, port });
    this.bytes += payload.length;
    this.notify();
  }

  /** The oldest datagram, without taking it. */
  peek(): QueuedDatagram | undefined {
    return this.queue[this.head];
  }

  /** Takes the oldest datagram. */
  take(): QueuedDatagram | undefined {
    const d = this.queue[this.head];
    if (d === undefined) return undefined;
    this.queue[this.head] = undefined as unknown as QueuedDatagram;
    this.head++;
    this.bytes -= d.data.length;
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return d;
  }

  /** @inheritDoc */
  readiness(): number {
    return (this.queued > 0 || this.readShut ? POLLIN : 0) | (this.error !== undefined ? POLLERR : 0) | POLLOUT;
  }
}
