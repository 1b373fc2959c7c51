/**
 * ARP (RFC 826) for Ethernet hardware addresses and IPv4 protocol addresses, the only kind Postern
 * speaks. Any other hardware or protocol type is rejected with {@link UnsupportedError}.
 */
import type { Ipv4Address, MacAddress } from './address.js';
import { readMac, writeMac } from './address.js';
import { TruncatedError, UnsupportedError, viewOf } from './errors.js';
import { emitError, writeUint16, writeUint32 } from './emit-util.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';

/** ARP hardware type of Ethernet. */
export const ARP_HARDWARE_ETHERNET = 1;
/** ARP operation: request. */
export const ARP_OP_REQUEST = 1;
/** ARP operation: reply. */
export const ARP_OP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet (an Ethernet frame pads it to 46 bytes; the padding is ignored). */
export const ARP_PACKET_LENGTH = 28;

/** The ARP operations Postern decodes. */
export type ArpOperation = typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY;

const FORMAT = 'arp';
const HARDWARE_TYPE_OFFSET = 0;
const PROTOCOL_TYPE_OFFSET = 2;
const HARDWARE_LENGTH_OFFSET = 4;
const PROTOCOL_LENGTH_OFFSET = 5;
const OPERATION_OFFSET = 6;
const SENDER_HARDWARE_OFFSET = 8;
const SENDER_PROTOCOL_OFFSET = 14;
const TARGET_HARDWARE_OFFSET = 18;
const TARGET_PROTOCOL_OFFSET = 24;
/** Bytes needed to tell which hardware and protocol the packet is for. */
const FIXED_HEADER_LENGTH = 6;
const MAC_LENGTH = 6;
const IPV4_LENGTH = 4;

/**
 * A checked view of an Ethernet/IPv4 ARP packet.
 *
 * Invariant: after {@link ArpPacket.checked} returns, the packet is for Ethernet (hardware type 1,
 * 6-byte addresses) and IPv4 (protocol type 0x0800, 4-byte addresses), holds at least 28 bytes, and
 * no accessor throws. Bytes after the 28th (Ethernet padding) are ignored.
 */
export class ArpPacket {
  /** The ARP packet, hardware type first. */
  readonly bytes: Uint8Array;
  /** A view over exactly {@link ArpPacket.bytes}. */
  readonly view: DataView;

  private constructor(bytes: Uint8Array, view: DataView) {
    this.bytes = bytes;
    this.view = view;
  }

  /**
   * Wraps `bytes` after checking the hardware and protocol types and the length.
   * @throws {@link TruncatedError} if the bytes end before the types are known or before byte 28.
   * @throws {@link UnsupportedError} for any ARP other than Ethernet/IPv4.
   */
  static checked(bytes: Uint8Array): ArpPacket {
    if (bytes.length < FIXED_HEADER_LENGTH) throw new TruncatedError(FORMAT, FIXED_HEADER_LENGTH, bytes.length);
    const view = viewOf(bytes);
    const hardwareType = view.getUint16(HARDWARE_TYPE_OFFSET);
    const protocolType = view.getUint16(PROTOCOL_TYPE_OFFSET);
    const hardwareLength = view.getUint8(HARDWARE_LENGTH_OFFSET);
    const protocolLength = view.getUint8(PROTOCOL_LENGTH_OFFSET);
    if (hardwareType !== ARP_HARDWARE_ETHERNET || hardwareLength !== MAC_LENGTH) {
      throw new UnsupportedError(
        FORMAT,
        `hardware type ${hardwareType} with ${hardwareLength}-byte addresses (only Ethernet)`,
      );
    }
    if (protocolType !== ETHERTYPE_IPV4 || protocolLength !== IPV4_LENGTH) {
      throw new UnsupportedError(
        FORMAT,
        `protocol type 0x${protocolType.toString(16)} with ${protocolLength}-byte addresses (only IPv4)`,
      );
    }
    if (bytes.length < ARP_PACKET_LENGTH) throw new TruncatedError(FORMAT, ARP_PACKET_LENGTH, bytes.length);
    return new ArpPacket(bytes, view);
  }

  /** The operation field (1 request, 2 reply; other values exist, e.g. RARP). */
  get operation(): number {
    return this.view.getUint16(OPERATION_OFFSET);
  }

  /** Sender hardware address. */
  get senderHardwareAddress(): MacAddress {
    return readMac(this.bytes, SENDER_HARDWARE_OFFSET);
  }

  /** Sender protocol address. */
  get senderProtocolAddress(): Ipv4Address {
    return this.view.getUint32(SENDER_PROTOCOL_OFFSET);
  }

  /** Target hardware address (zero in a request, by convention). */
  get targetHardwareAddress(): MacAddress {
    return readMac(this.bytes, TARGET_HARDWARE_OFFSET);
  }

  /** Target protocol address. */
  get targetProtocolAddress(): Ipv4Address {
    return this.view.getUint32(TARGET_PROTOCOL_OFFSET);
  }
}

/** The validated contents of an Ethernet/IPv4 ARP packet. */
export interface ArpRepr {
  /** Request or reply. */
  operation: ArpOperation;
  /** Sender hardware address. */
  senderHardwareAddress: MacAddress;
  /** Sender protocol address. */
  senderProtocolAddress: Ipv4Address;
  /** Target hardware address. */
  targetHardwareAddress: MacAddress;
  /** Target protocol address. */
  targetProtocolAddress: Ipv4Address;
}

/**
 * Reads a checked ARP packet.
 * @throws {@link UnsupportedError} for an operation other than request or reply.
 */
export function parseArp(packet: ArpPacket): ArpRepr {
  const operation = packet.operation;
  if (operation !== ARP_OP_REQUEST && operation !== ARP_OP_REPLY)
    throw new UnsupportedError(FORMAT, `operation ${operation}`);
  return {
    operation,
    senderHardwareAddress: packet.senderHardwareAddress,
    senderProtocolAddress: packet.senderProtocolAddress,
    targetHardwareAddress: packet.targetHardwareAddress,
    targetProtocolAddress: packet.targetProtocolAddress,
  };
}

/** Buffer length needed to emit `repr`: always {@link ARP_PACKET_LENGTH}. */
export function arpBufferLength(_repr: ArpRepr): number {
  return ARP_PACKET_LENGTH;
}

/**
 * Writes `repr` as a 28-byte Ethernet/IPv4 ARP packet at the start of `buffer`.
 * @returns {@link ARP_PACKET_LENGTH}.
 * @throws RangeError if `buffer` is shorter than {@link ARP_PACKET_LENGTH}.
 */
export function emitArp(repr: ArpRepr, buffer: Uint8Array): number {
  if (buffer.length < ARP_PACKET_LENGTH)
    throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${ARP_PACKET_LENGTH}`);
  writeUint16(buffer, HARDWARE_TYPE_OFFSET, ARP_HARDWARE_ETHERNET);
  writeUint16(buffer, PROTOCOL_TYPE_OFFSET, ETHERTYPE_IPV4);
  buffer[HARDWARE_LENGTH_OFFSET] = MAC_LENGTH;
  buffer[PROTOCOL_LENGTH_OFFSET] = IPV4_LENGTH;
  writeUint16(buffer, OPERATION_OFFSET, repr.operation);
  writeMac(buffer, SENDER_HARDWARE_OFFSET, repr.senderHardwareAddress);
  writeUint32(buffer, SENDER_PROTOCOL_OFFSET, repr.senderProtocolAddress);
  writeMac(buffer, TARGET_HARDWARE_OFFSET, repr.targetHardwareAddress);
  writeUint32(buffer, TARGET_PROTOCOL_OFFSET, repr.targetProtocolAddress);
  return ARP_PACKET_LENGTH;
}
