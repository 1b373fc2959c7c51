/**
 * ARP receive: parse, let the interface's cache merge the sender (RFC 826), answer requests for
 * our addresses, and carry out whatever the cache now wants done (flush queued packets).
 */
import { ARP_OP_REQUEST, ArpPacket, DecodeError, parseArp } from '@postern/wire';
import type { NetInterface } from './interface.js';
import type { Stack } from './stack.js';

/** Handles one ARP frame received on `iface` (the payload starts at `headerLength`). Never throws for bad input. */
export function arpInput(stack: Stack, iface: NetInterface, frame: Uint8Array, headerLength: number): void {
  const counters = stack.arpCounters;
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
  const targetIsLocal = iface.hasAddress(arp.targetProtocolAddress);
  iface.arp.input(stack.now, arp, targetIsLocal);
  if (isRequest) {
    if (targetIsLocal && arp.senderProtocolAddress !== arp.targetProtocolAddress) {
      stack.link.sendReply(iface, arp.targetProtocolAddress, arp.senderProtocolAddress, arp.senderHardwareAddress);
    } else if (!targetIsLocal) {
      counters.inc('rxNotForUs');
    }
  }
  stack.link.runArpActions(iface);
}
