/**
 * What TCP needs from the IP layer below it, and nothing more: a route (source address and MTU) and
 * a zero-copy send in which TCP writes its segment straight into the outgoing frame. The `Tcp`
 * module is written against this interface; {@link ./stack-port.ts} implements it over a `Stack`,
 * and tests may implement it over anything.
 */
import type { SchedulerApi } from '@postern/irq';
import type { Ipv4Address } from '@postern/wire';

/** Writes one TCP segment in place. One writer object is reused for every segment (no closure per packet). */
export interface TcpSegmentWriter {
  /**
   * Fills `segment` (exactly the length asked for, inside the final frame buffer) with the TCP header
   * and payload and the checksum over the pseudo-header for `source` -> `destination`.
   */
  writeSegment(segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void;
  /**
   * Optional: {@link TcpSegmentWriter.writeSegment} for the `length` bytes at `frame[at]` (zeroed),
   * writing nothing else of `frame`, the same bytes. A port may call it instead, saving the view of
   * the segment. Do not keep `frame` after the call.
   */
  writeSegmentAt?(frame: Uint8Array, at: number, length: number, source: Ipv4Address, destination: Ipv4Address): void;
}

/** The route TCP uses toward a peer. */
export interface TcpRoute {
  /** The local address to send from. */
  source: Ipv4Address;
  /** MTU of the outgoing interface (IP header and payload). */
  mtu: number;
}

/** The IP layer as TCP sees it. */
export interface TcpIpPort {
  /** The scheduler that owns the clock, timers and randomness. */
  readonly scheduler: SchedulerApi;
  /**
   * The route toward `remote`. With `local` not 0 the packet must leave from that address. The
   * object returned may be the port's own, rewritten by its next call: read it at once.
   * @returns undefined when there is no route (or `local` is not an address of this host).
   */
  route(remote: Ipv4Address, local: Ipv4Address): TcpRoute | undefined;
  /** True if `address` is one of this host's unicast addresses. */
  isLocalAddress(address: Ipv4Address): boolean;
  /**
   * True when `port` on local address `local` belongs to someone else (a NAT mapping of that
   * external address): an ephemeral port is never chosen there. Optional (nothing reserved).
   */
  portReserved?(local: Ipv4Address, port: number): boolean;
  /**
   * Sends a `length`-byte TCP segment from `source` to `destination`, calling
   * `writer.writeSegment` once, synchronously, to fill it. With `dontFragment` (the default) the
   * IP datagram carries DF, so routers answer an oversize segment with ICMP fragmentation needed
   * (Path MTU discovery, RFC 1191) instead of fragmenting it.
   * @returns false if the packet could not be sent (no route, refused by a filter or the device);
   * TCP treats that as a loss.
   */
  send(
    source: Ipv4Address,
    destination: Ipv4Address,
    length: number,
    writer: TcpSegmentWriter,
    dontFragment?: boolean,
  ): boolean;
}
