/**
 * ARP receive: parse, let the interface's cache merge the sender (RFC 826), answer requests for
 * our addresses, and carry out whatever the cache now wants done (flush queued packets).
 */
import type { SchedulerApi } from '@postern/irq';
import { ARP_OP_REQUEST, ArpPacket, DecodeError, parseArp } from '@postern/wire';
import type { Counters } from '../counters.js';
import type { NetInterface } from '../link/interface.js';
import type { LinkOutput } from '../link/output.js';
import type { ArpIoCounterName } from '../stack-counters.js';

/** What ARP input needs from the rest of the stack. */
export interface ArpInputPorts {
  /** The time source of the ARP caches. */
  readonly scheduler: Pick<SchedulerApi, 'now'>;
  /** Counts what arrived (and what was malformed or not for us). */
  readonly arpCounters: Counters<ArpIoCounterName>;
  /** Sends replies and carries out the cache's actions. */
  readonly link: Pick<LinkOutput, 'sendReply' | 'runArpActions'>;
}

/** The ARP receive path. @internal The stack owns the one instance. */
export class ArpInput {
  constructor(private readonly ports: ArpInputPorts) {}

  /** Handles one ARP frame received on `iface` (the payload starts at `headerLength`). Never throws for bad input. */
  receive(iface: NetInterface, frame: Uint8Array, headerLength: number): void {
    const ports = this.ports;
    const counters = ports.arpCounters;
    let arp;
    try {
      arp = parseArp(ArpPacket.checked(frame.subarray(headerLength)));
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      counters.inc('rxMalformed');
      return;
    }
    const isRequest = arp.operation === ARP_OP_REQUEST;
    counters.inc(isRequest ? 'rxRequests' : 'rxReplies');
    iface.arpObserver?.(arp);
    const targetIsLocal = iface.hasAddress(arp.targetProtocolAddress);
    iface.arp.input(ports.scheduler.now, arp, targetIsLocal);
    if (isRequest) {
      if (targetIsLocal && arp.senderProtocolAddress !== arp.targetProtocolAddress) {
        ports.link.sendReply(iface, arp.targetProtocolAddress, arp.senderProtocolAddress, arp.senderHardwareAddress);
      } else if (!targetIsLocal) {
        counters.inc('rxNotForUs');
      }
    }
    ports.link.runArpActions(iface);
  }
}
