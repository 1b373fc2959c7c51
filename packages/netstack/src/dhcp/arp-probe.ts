/**
 * The ARP probe of RFC 5227 §2.1.1: a broadcast ARP request for an address from a host that does
 * not own it yet (sender protocol address 0.0.0.0, target hardware address zero), which a host
 * using the address answers without learning anything wrong about the prober.
 */
import {
  ARP_OP_REQUEST,
  ARP_PACKET_LENGTH,
  ETHERNET_HEADER_LENGTH,
  ETHERTYPE_ARP,
  MAC_BROADCAST,
  emitArp,
} from '@postern/wire';
import type { Ipv4Address } from '@postern/wire';
import { allocateFrame, writeEthernetDestination, writeEthernetSource } from '../link/frame.js';
import type { NetInterface } from '../link/interface.js';

/** Broadcasts an ARP probe for `address` from `iface`. @returns false when the device refused the frame. */
export function sendArpProbe(iface: NetInterface, address: Ipv4Address): boolean {
  const frame = allocateFrame(ARP_PACKET_LENGTH);
  writeEthernetDestination(frame, MAC_BROADCAST);
  writeEthernetSource(frame, iface.mac, ETHERTYPE_ARP);
  emitArp(
    {
      operation: ARP_OP_REQUEST,
      senderHardwareAddress: iface.mac,
      senderProtocolAddress: 0,
      targetHardwareAddress: 0,
      targetProtocolAddress: address,
    },
    frame.subarray(ETHERNET_HEADER_LENGTH),
  );
  return iface.device.transmit(frame);
}
