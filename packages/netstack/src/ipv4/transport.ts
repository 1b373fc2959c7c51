/**
 * The contract between IPv4 input and the transports above it: the {@link Ipv4Delivery} each
 * datagram for this host is handed over in, and the {@link TransportHandler} a transport plugs in
 * with `Stack.registerProtocol`.
 */
import type { Ipv4Address, Ipv4Repr } from '@postern/wire';
import type { IcmpErrorReport } from '../icmp/icmp-errors.js';
import type { NetInterface } from '../link/interface.js';

/** How a delivered datagram was addressed. */
export type DestinationKind = 'unicast' | 'broadcast' | 'multicast';

/**
 * A datagram delivered to a transport (after reassembly and the input chain). Valid only during
 * the handler call: copy `payload` to keep it (it may be a view into a receive buffer), and copy
 * the fields to keep them (the object itself, and for an unfragmented datagram its `header`, are
 * reused for the next datagram).
 */
export interface Ipv4Delivery {
  /** The IPv4 header (for a reassembled datagram: the first fragment's, with the fragment fields cleared). */
  readonly header: Ipv4Repr;
  /** The IPv4 payload: the whole transport segment, as a view. */
  readonly payload: Uint8Array;
  /** The interface it arrived on (for a looped-back datagram: the one owning the destination). */
  readonly iface: NetInterface;
  /** How it was addressed at the IP layer. */
  readonly destination: DestinationKind;
  /** True when it came in a link-layer broadcast or multicast frame. */
  readonly linkBroadcast: boolean;
}

/**
 * A transport protocol plugged in with `Stack.registerProtocol` (TCP, for one).
 *
 * Contract: `receive` is called once per datagram addressed to this host with the protocol number
 * it was registered for, after the IPv4 header was checked, fragments were reassembled and the
 * `input` filter chain accepted it; the {@link Ipv4Delivery} and its payload are valid only during
 * the call. The transport verifies its own checksum (use `ipv4PseudoHeaderSum` with
 * `delivery.header.source`/`destination`). `icmpError` receives ICMP errors whose quoted datagram
 * carries this protocol. An exception thrown by either is caught and counted (`ipv4.handlerErrors`).
 */
export interface TransportHandler {
  /** Receives one datagram for this protocol. */
  receive(delivery: Ipv4Delivery): void;
  /** Receives an ICMP error about a datagram this protocol sent. */
  icmpError?(report: IcmpErrorReport): void;
  /** True when this protocol uses local `port` on `address` (a listener or a connection); NAT leaves such ports alone. */
  portInUse?(address: Ipv4Address, port: number): boolean;
}
