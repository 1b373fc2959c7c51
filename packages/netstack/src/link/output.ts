/**
 * The link side of sending: putting IPv4 packets into Ethernet frames for an interface, resolving
 * next hops through the interface's ARP cache (queueing while a request is out), sending ARP
 * requests, replies and gratuitous announcements, and carrying out the ARP cache's actions
 * (flush the queue to the resolved MAC; count dropped packets and answer forwarded ones with ICMP
 * host unreachable).
 */
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ARP_PACKET_LENGTH,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_ARP,
  ICMP_DEST_UNREACHABLE,
  ICMP_UNREACH_HOST,
  MAC_BROADCAST,
  emitArp,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';
import type { SchedulerApi } from '@postern/irq';
import type { ArpAction } from '../arp/arp-cache.js';
import type { Counters } from '../counters.js';
import { allocateFrame, writeEthernetDestination, writeEthernetSource } from './frame.js';
import type { IcmpErrorSender } from '../icmp/icmp-errors.js';
import type { NetInterface, PendingFrame } from './interface.js';
import type { ArpIoCounterName, Ipv4CounterName } from '../stack-counters.js';

/** Pass as `linkDestination` to resolve the next hop with ARP. */
export const RESOLVE_WITH_ARP = -1;

/** What link output needs from the rest of the stack. */
export interface LinkOutputPorts {
  /** The time source of ARP resolution. */
  readonly scheduler: Pick<SchedulerApi, 'now'>;
  /** Counts device refusals and packets ARP dropped. */
  readonly ipCounters: Counters<Ipv4CounterName>;
  /** Counts ARP requests, replies and announcements sent. */
  readonly arpCounters: Counters<ArpIoCounterName>;
  /** Answers a forwarded packet whose next hop did not resolve (host unreachable). */
  readonly icmp: IcmpErrorSender;
  /** Re-arms the stack timer after the ARP caches changed. */
  requestWake(): void;
}

/** Link output for one stack. @internal The stack owns the one instance. */
export class LinkOutput {
  constructor(private readonly ports: LinkOutputPorts) {}

  /**
   * Sends the IPv4 frame `frame` (packet at offset 14, FCS room at the end) on `iface` to
   * `linkDestination`, or, when that is {@link RESOLVE_WITH_ARP}, to the MAC of `nextHop` (queueing
   * the frame while ARP resolves it). The frame is given up to the device or the queue.
   */
  sendIpv4Frame(
    iface: NetInterface,
    frame: Uint8Array,
    nextHop: Ipv4Address,
    linkDestination: MacAddress,
    forwarded: boolean,
  ): void {
    // Source MAC and EtherType: eight stores (TypedArray.prototype.set is a builtin call per frame).
    const source = iface.ipv4LinkSource();
    frame[6] = source[0]!;
    frame[7] = source[1]!;
    frame[8] = source[2]!;
    frame[9] = source[3]!;
    frame[10] = source[4]!;
    frame[11] = source[5]!;
    frame[12] = source[6]!;
    frame[13] = source[7]!;
    let mac = linkDestination;
    if (mac === RESOLVE_WITH_ARP) {
      const arp = iface.arp;
      const now = this.ports.scheduler.now;
      // A known neighbour (nearly every frame) needs no pending-frame record.
      const resolved = arp.resolveKnown(now, nextHop) ?? arp.resolve(now, nextHop, { frame, forwarded });
      if (arp.pendingActions > 0) this.runArpActions(iface);
      if (resolved === undefined) return;
      mac = resolved;
    }
    writeEthernetDestination(frame, mac);
    this.transmit(iface, frame);
  }

  /** Hands `frame` to the device, counting a refusal. */
  transmit(iface: NetInterface, frame: Uint8Array): void {
    if (!iface.device.transmit(frame)) this.ports.ipCounters.inc('txDeviceRefused');
  }

  /** Carries out every action waiting in `iface`'s ARP cache, and re-arms the stack timer. */
  runArpActions(iface: NetInterface): void {
    const actions = iface.arp.takeActions();
    for (const action of actions) this.runAction(iface, action);
    this.ports.requestWake();
  }

  private runAction(iface: NetInterface, action: ArpAction<PendingFrame>): void {
    switch (action.type) {
      case 'request':
        this.sendRequest(iface, action.target, action.unicastMac);
        break;
      case 'flush':
        for (const p of action.packets) {
          writeEthernetDestination(p.frame, action.mac);
          this.transmit(iface, p.frame);
        }
        break;
      case 'drop': {
        const unresolved = action.reason === 'unresolved' || action.reason === 'removed';
        this.ports.ipCounters.inc(unresolved ? 'arpUnresolved' : 'arpQueueDropped', action.packets.length);
        if (action.reason !== 'unresolved') break;
        for (const p of action.packets) {
          if (!p.forwarded) continue;
          const ip = p.frame.subarray(ETHERNET_HEADER_LENGTH);
          this.ports.icmp.sendError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_HOST, ip, undefined);
        }
        break;
      }
    }
  }

  /** Broadcasts (or, probing, unicasts to `unicastMac`) an ARP request for `target` from `iface`. */
  sendRequest(iface: NetInterface, target: Ipv4Address, unicastMac: MacAddress | undefined): void {
    const source = iface.sourceFor(target);
    if (source === undefined) {
      this.ports.arpCounters.inc('txNoSourceAddress');
      return;
    }
    this.ports.arpCounters.inc('txRequests');
    this.sendArp(iface, ARP_OP_REQUEST, source, target, 0, unicastMac ?? MAC_BROADCAST);
  }

  /** Broadcasts a gratuitous ARP request announcing `address` on `iface` (sender = target = `address`). */
  sendGratuitous(iface: NetInterface, address: Ipv4Address): void {
    this.ports.arpCounters.inc('txGratuitous');
    this.sendArp(iface, ARP_OP_REQUEST, address, address, 0, MAC_BROADCAST);
  }

  /** Answers a request for our `address` from `requesterIp`/`requesterMac`. */
  sendReply(iface: NetInterface, address: Ipv4Address, requesterIp: Ipv4Address, requesterMac: MacAddress): void {
    this.ports.arpCounters.inc('txReplies');
    this.sendArp(iface, ARP_OP_REPLY, address, requesterIp, requesterMac, requesterMac);
  }

  private sendArp(
    iface: NetInterface,
    operation: 1 | 2,
    senderIp: Ipv4Address,
    targetIp: Ipv4Address,
    targetMac: MacAddress,
    to: MacAddress,
  ): void {
    const frame = allocateFrame(ARP_PACKET_LENGTH);
    writeEthernetDestination(frame, to);
    writeEthernetSource(frame, iface.mac, ETHERTYPE_ARP);
    emitArp(
      {
        operation,
        senderHardwareAddress: iface.mac,
        senderProtocolAddress: senderIp,
        targetHardwareAddress: targetMac,
        targetProtocolAddress: targetIp,
      },
      frame.subarray(ETHERNET_HEADER_LENGTH),
    );
    this.transmit(iface, frame);
  }
}
