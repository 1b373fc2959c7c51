/**
 * UDP (RFC 768): bindings by port (to one local address or to all), demultiplexing (a binding to
 * the exact destination address wins over a wildcard one), checksum verification (a zero checksum
 * means none and is accepted), ICMP port unreachable for unicast datagrams to closed ports, and
 * sending with the header and checksum written in place in the final frame.
 */
import {
  IP_PROTO_UDP,
  UDP_HEADER_LENGTH,
  UdpPacket,
  DecodeError,
  emitUdp,
  ipv4ToString,
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_PORT,
  type Ipv4Address,
} from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import type { Counters } from '../counters.js';
import { BindError, SendError } from '../errors.js';
import { quoteDatagram, type IcmpErrorReport, type IcmpErrorSender } from '../icmp/icmp-errors.js';
import type { NetInterface } from '../link/interface.js';
import type { Ipv4Output } from '../ipv4/output.js';
import type { DestinationKind, Ipv4Delivery } from '../ipv4/transport.js';
import type { InterfaceTable } from '../link/interface-table.js';
import { isIpv4Address } from '../ipv4/prefix.js';
import type { UdpCounterName } from '../stack-counters.js';

/** First port of the ephemeral range (IANA, RFC 6335). */
export const UDP_EPHEMERAL_FIRST = 49152;
/** Last port of the ephemeral range. */
export const UDP_EPHEMERAL_LAST = 65535;
/** Largest UDP payload over IPv4: 65535 minus the IP and UDP headers. */
export const UDP_MAX_PAYLOAD = 65535 - 20 - UDP_HEADER_LENGTH;

/**
 * Where a datagram came from and went to. The stack passes ONE reused object to every handler
 * call: read it during the call, copy what you keep.
 */
export interface UdpMessageInfo {
  /** Sender address. */
  src: Ipv4Address;
  /** Sender port. */
  srcPort: number;
  /** Destination address (ours, a broadcast, or a group). */
  dst: Ipv4Address;
  /** Destination port. */
  dstPort: number;
  /** The interface it arrived on. */
  iface: NetInterface;
  /** How it was addressed. */
  destination: DestinationKind;
  /** IP TTL as received. */
  ttl: number;
}

/** Receives one datagram. `payload` is a view valid only during the call; copy it to keep it. */
export type UdpHandler = (payload: Uint8Array, info: UdpMessageInfo) => void;

/** Receives an ICMP error about a datagram the binding sent (port unreachable, frag needed, ...). */
export type UdpErrorHandler = (report: IcmpErrorReport) => void;

/** Options of one datagram sent with {@link UdpService.send}. */
export interface UdpSendOptions {
  /** Source address; default chosen by the route. */
  src?: Ipv4Address;
  /** Source port, 0..65535. */
  srcPort: number;
  /** Destination address. */
  dst: Ipv4Address;
  /** Destination port, 1..65535. */
  dstPort: number;
  /** IP TTL. */
  ttl?: number;
  /** IP type-of-service octet. */
  tos?: number;
  /** Don't Fragment. */
  df?: boolean;
  /** Interface for a limited broadcast or multicast. */
  ifIndex?: number;
}

/** A bound UDP port. Made by {@link UdpService.bind}. */
export class UdpSocket {
  private open = true;

  /** @internal */
  constructor(
    private readonly service: UdpService,
    /** The bound port. */
    readonly port: number,
    /** The bound local address, or `undefined` for all of this host's addresses. */
    readonly address: Ipv4Address | undefined,
    /** @internal */ readonly handler: UdpHandler,
    /** @internal */ readonly onError: UdpErrorHandler | undefined,
  ) {}

  /** True until {@link close}. */
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Sends `payload` to `dst`:`dstPort` from this socket's port (and address, when bound to one).
   * @throws {@link SendError} (a closed socket: `INVALID_ARGUMENT`).
   */
  send(
    dst: Ipv4Address,
    dstPort: number,
    payload: Uint8Array,
    options: Omit<UdpSendOptions, 'dst' | 'dstPort' | 'srcPort'> = {},
  ): void {
    if (!this.open) throw new SendError('INVALID_ARGUMENT', `UDP socket on port ${this.port} is closed`);
    this.service.send({ src: this.address, ...options, srcPort: this.port, dst, dstPort }, payload);
  }

  /** Releases the port. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.service.release(this);
  }
}

/** What the UDP module needs from the rest of the stack. @internal The stack builds it. */
export interface UdpPorts {
  /** The seed of the ephemeral port search. */
  readonly scheduler: Pick<SchedulerApi, 'randomUint32'>;
  /** UDP counters. */
  readonly udpCounters: Counters<UdpCounterName>;
  /** Which addresses are ours (binding to one). */
  readonly interfaces: Pick<InterfaceTable, 'isLocal'>;
  /** Sends datagrams. */
  readonly output: Pick<Ipv4Output, 'send'>;
  /** Port unreachable. */
  readonly icmp: IcmpErrorSender;
  /**
   * True when a NAT mapping owns `port` on `address` (on any external address when `undefined`):
   * an ephemeral bind skips it, so the mapping's replies do not land on the socket. Optional.
   */
  readonly natOwns?: (address: Ipv4Address | undefined, port: number) => boolean;
}

/** The UDP module of a stack. Reach it as `Stack.udp`. */
export class UdpService {
  private readonly bindings = new Map<number, UdpSocket[]>();
  private nextEphemeral: number;
  private readonly info: UdpMessageInfo;

  /** @internal Created by the stack. */
  constructor(private readonly ports: UdpPorts) {
    this.nextEphemeral =
      UDP_EPHEMERAL_FIRST + (ports.scheduler.randomUint32() % (UDP_EPHEMERAL_LAST - UDP_EPHEMERAL_FIRST + 1));
    this.info = {
      src: 0,
      srcPort: 0,
      dst: 0,
      dstPort: 0,
      iface: undefined as unknown as NetInterface,
      destination: 'unicast',
      ttl: 0,
    };
  }

  /**
   * Binds `port` (0: a free ephemeral port) on `address` (omit for every address of this host) and
   * calls `handler` for each datagram to it. `onError` receives ICMP errors about datagrams sent
   * from the port.
   * @throws {@link BindError} `INVALID_ARGUMENT`, `ADDRESS_NOT_AVAILABLE`, `ADDRESS_IN_USE` (the port
   *   is bound to the same address, or either binding is to all addresses), `NO_FREE_PORT`.
   */
  bind(port: number, handler: UdpHandler): UdpSocket;
  bind(port: number, address: Ipv4Address | undefined, handler: UdpHandler, onError?: UdpErrorHandler): UdpSocket;
  bind(port: number, a: Ipv4Address | UdpHandler | undefined, b?: UdpHandler, onError?: UdpErrorHandler): UdpSocket {
    const address = typeof a === 'function' ? undefined : a;
    const handler = typeof a === 'function' ? a : b;
    if (typeof handler !== 'function')
      throw new BindError('INVALID_ARGUMENT', 'a UDP binding needs a handler function');
    if (!Number.isInteger(port) || port < 0 || port > 0xffff)
      throw new BindError('INVALID_ARGUMENT', `port must be 0..65535, got ${port}`);
    if (address !== undefined) {
      if (!isIpv4Address(address)) throw new BindError('INVALID_ARGUMENT', `not an IPv4 address: ${address}`);
      if (!this.ports.interfaces.isLocal(address))
        throw new BindError('ADDRESS_NOT_AVAILABLE', `${ipv4ToString(address)} is not an address of this host`);
    }
    const chosen = port === 0 ? this.freePort(address) : port;
    const existing = this.bindings.get(chosen) ?? [];
    if (existing.some((s) => s.address === undefined || address === undefined || s.address === address)) {
      throw new BindError(
        'ADDRESS_IN_USE',
        `UDP port ${chosen} is already bound${address === undefined ? '' : ` on ${ipv4ToString(address)}`}`,
      );
    }
    const socket = new UdpSocket(this, chosen, address, handler, onError);
    this.bindings.set(chosen, [...existing, socket]);
    return socket;
  }

  /**
   * Sends one datagram; the header, payload and checksum are written straight into the frame.
   * @throws {@link SendError} as `Stack.sendIpv4` does, and `INVALID_ARGUMENT` for bad ports or a
   *   payload over {@link UDP_MAX_PAYLOAD} bytes.
   */
  send(options: UdpSendOptions, payload: Uint8Array): void {
    const { srcPort, dstPort } = options;
    if (!Number.isInteger(srcPort) || srcPort < 0 || srcPort > 0xffff)
      throw new SendError('INVALID_ARGUMENT', `source port must be 0..65535, got ${srcPort}`);
    if (!Number.isInteger(dstPort) || dstPort < 1 || dstPort > 0xffff)
      throw new SendError('INVALID_ARGUMENT', `destination port must be 1..65535, got ${dstPort}`);
    if (payload.length > UDP_MAX_PAYLOAD)
      throw new SendError('INVALID_ARGUMENT', `UDP payload of ${payload.length} bytes exceeds ${UDP_MAX_PAYLOAD}`);
    const repr = { srcPort, dstPort };
    this.ports.output.send(
      {
        src: options.src,
        dst: options.dst,
        protocol: IP_PROTO_UDP,
        ttl: options.ttl,
        tos: options.tos,
        df: options.df,
        ifIndex: options.ifIndex,
      },
      UDP_HEADER_LENGTH + payload.length,
      (buf, src, dst) => emitUdp(repr, buf, src, dst, payload),
    );
    this.ports.udpCounters.inc('sent');
  }

  /** Bound ports with their addresses, for the admin UI. */
  list(): Array<{ port: number; address: Ipv4Address | undefined }> {
    const out: Array<{ port: number; address: Ipv4Address | undefined }> = [];
    for (const [port, sockets] of this.bindings) for (const s of sockets) out.push({ port, address: s.address });
    return out.sort((x, y) => x.port - y.port);
  }

  /** True when a binding holds `port` on `address` (bound to it or to every address). */
  portInUse(address: Ipv4Address, port: number): boolean {
    const list = this.bindings.get(port);
    if (list === undefined) return false;
    for (const s of list) if (s.address === undefined || s.address === address) return true;
    return false;
  }

  /** @internal */
  release(socket: UdpSocket): void {
    const list = this.bindings.get(socket.port);
    if (list === undefined) return;
    const rest = list.filter((s) => s !== socket);
    if (rest.length === 0) this.bindings.delete(socket.port);
    else this.bindings.set(socket.port, rest);
  }

  /** @internal Handles one UDP datagram delivered to this host. */
  input(d: Ipv4Delivery): void {
    const c = this.ports.udpCounters;
    c.inc('received');
    let udp: UdpPacket;
    try {
      udp = UdpPacket.checked(d.payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return c.inc('malformed');
    }
    if (udp.length !== d.payload.length) return c.inc('malformed');
    const h = d.header;
    if (!udp.verifyChecksum(h.source, h.destination)) return c.inc('badChecksum');
    const socket = this.lookup(udp.dstPort, h.destination);
    if (socket === undefined) {
      if (d.destination !== 'unicast') return c.inc('noPortBroadcast');
      c.inc('noPort');
      this.ports.icmp.sendError(
        ICMP_DEST_UNREACHABLE,
        ICMP_UNREACH_PORT,
        quoteDatagram(h, d.payload),
        d.iface,
        d.linkBroadcast,
      );
      return;
    }
    const info = this.info;
    info.src = h.source;
    info.srcPort = udp.srcPort;
    info.dst = h.destination;
    info.dstPort = udp.dstPort;
    info.iface = d.iface;
    info.destination = d.destination;
    info.ttl = h.ttl;
    c.inc('delivered');
    try {
      socket.handler(udp.payload, info);
    } catch {
      c.inc('handlerErrors');
    }
  }

  /** @internal Hands an ICMP error about one of our datagrams to the binding that sent it. */
  icmpError(report: IcmpErrorReport): void {
    const t = report.transport;
    if (t.length < 4) return;
    const srcPort = (t[0]! << 8) | t[1]!;
    const socket = this.lookup(srcPort, report.quoted.source);
    if (socket?.onError === undefined) return;
    this.ports.udpCounters.inc('icmpErrorsDelivered');
    try {
      socket.onError(report);
    } catch {
      this.ports.udpCounters.inc('handlerErrors');
    }
  }

  private lookup(port: number, address: Ipv4Address): UdpSocket | undefined {
    const list = this.bindings.get(port);
    if (list === undefined) return undefined;
    let wildcard: UdpSocket | undefined;
    for (const s of list) {
      if (s.address === address) return s;
      if (s.address === undefined) wildcard = s;
    }
    return wildcard;
  }

  private freePort(address: Ipv4Address | undefined): number {
    const span = UDP_EPHEMERAL_LAST - UDP_EPHEMERAL_FIRST + 1;
    const natOwns = this.ports.natOwns;
    for (let i = 0; i < span; i++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port === UDP_EPHEMERAL_LAST ? UDP_EPHEMERAL_FIRST : port + 1;
      const list = this.bindings.get(port);
      if (
        list === undefined ||
        !list.some((s) => s.address === undefined || address === undefined || s.address === address)
      ) {
        if (natOwns !== undefined && natOwns(address, port)) continue;
        return port;
      }
    }
    throw new BindError('NO_FREE_PORT', 'every ephemeral UDP port is bound');
  }
}
