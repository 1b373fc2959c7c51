/**
 * TCP on a `Stack`: {@link StackTcpPort} implements {@link TcpIpPort} with the stack's route lookup
 * and zero-copy `sendIpv4` or `sendIpv4InFrame` (DF set unless the connection asks otherwise), and {@link attachTcp}
 * registers a {@link Tcp} as IP protocol 6, for segments and for ICMP errors about them.
 */
import type { SchedulerApi } from '@postern/irq';
import { IP_PROTO_TCP, type Ipv4Address } from '@postern/wire';
import { SendError } from '../errors.js';
import type { Ipv4SendOptions } from '../ipv4/output.js';
import type { Stack } from '../stack.js';
import type { TcpIpPort, TcpRoute, TcpSegmentWriter } from './ip-port.js';
import { Tcp, type TcpOptions } from './tcp.js';

/** The IP port of a `Stack`. One send-options object and one bound writer serve every segment. */
export class StackTcpPort implements TcpIpPort {
  readonly scheduler: SchedulerApi;
  private readonly stack: Stack;
  private readonly sendOptions: Ipv4SendOptions = { src: 0, dst: 0, protocol: IP_PROTO_TCP, df: true };
  private writer: TcpSegmentWriter | undefined;
  /** What {@link StackTcpPort.route} returns, rewritten by each call (a passive open makes no route object). */
  private readonly routeOut: TcpRoute = { source: 0, mtu: 0 };
  private readonly write = (payload: Uint8Array, src: Ipv4Address, dst: Ipv4Address): void => {
    this.writer!.writeSegment(payload, src, dst);
  };
  /** For a writer that writes in place in the frame ({@link TcpSegmentWriter.writeSegmentAt}). */
  private readonly writeAt = (frame: Uint8Array, at: number, length: number, src: Ipv4Address, dst: Ipv4Address) => {
    this.writer!.writeSegmentAt!(frame, at, length, src, dst);
  };

  constructor(stack: Stack) {
    this.stack = stack;
    this.scheduler = stack.scheduler;
  }

  /** @inheritDoc */
  route(remote: Ipv4Address, local: Ipv4Address): TcpRoute | undefined {
    const r = this.stack.routeTo(remote, local === 0 ? undefined : local);
    if (r === undefined) return undefined;
    const out = this.routeOut;
    out.source = r.src;
    out.mtu = r.mtu;
    return out;
  }

  /** @inheritDoc */
  isLocalAddress(address: Ipv4Address): boolean {
    return this.stack.isLocalAddress(address);
  }

  /** @inheritDoc */
  portReserved(local: Ipv4Address, port: number): boolean {
    const nat = this.stack.nat;
    return nat !== undefined && nat.ownsPort(IP_PROTO_TCP, local, port, this.stack.now);
  }

  /** @inheritDoc */
  send(
    source: Ipv4Address,
    destination: Ipv4Address,
    length: number,
    writer: TcpSegmentWriter,
    dontFragment = true,
  ): boolean {
    this.sendOptions.src = source;
    this.sendOptions.dst = destination;
    this.sendOptions.df = dontFragment;
    this.writer = writer;
    try {
      if (writer.writeSegmentAt !== undefined) this.stack.sendIpv4InFrame(this.sendOptions, length, this.writeAt);
      else this.stack.sendIpv4(this.sendOptions, length, this.write);
      return true;
    } catch (err) {
      if (err instanceof SendError) return false;
      throw err;
    } finally {
      this.writer = undefined;
    }
  }
}

/**
 * Creates a {@link Tcp} on `stack` and registers it for IP protocol 6. Segments addressed to a
 * broadcast or multicast address are dropped (counted `notUnicast`). ICMP errors about TCP
 * segments go to {@link Tcp.icmpError}. Segments are sent with Don't Fragment (Path MTU discovery).
 * @throws `InterfaceError` `PROTOCOL_IN_USE` if protocol 6 already has a handler.
 */
export function attachTcp(stack: Stack, options: TcpOptions = {}): Tcp {
  const tcp = new Tcp(new StackTcpPort(stack), options);
  stack.registerProtocol(IP_PROTO_TCP, {
    receive(delivery) {
      if (delivery.destination !== 'unicast') {
        tcp.counters.inc('notUnicast');
        return;
      }
      tcp.input(delivery.header.source, delivery.header.destination, delivery.payload);
    },
    portInUse: (address, port) => tcp.portInUse(address, port),
    icmpError(report) {
      const q = report.quoted;
      tcp.icmpError({
        type: report.type,
        code: report.code,
        nextHopMtu: report.nextHopMtu,
        source: q.source,
        destination: q.destination,
        quotedTotalLength: q.totalLength,
        transport: report.transport,
      });
    },
  });
  return tcp;
}
