/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), with an optional IEEE 802.1Q customer tag and
 * an optional IEEE 802.1ad service tag outside it (QinQ).
 *
 * The bytes handed to {@link EthernetPacket.checked} hold the frame from the destination address to
 * the end of the payload, WITHOUT the frame check sequence (the FCS is checked and stripped by the
 * link layer). A received frame may carry padding after its upper-layer packet; the upper layer
 * bounds its own payload by its own length field (IPv4 total length, for example).
 */
import type { MacAddress } from './address.js';
import { readMac, writeMac } from './address.js';
import { TruncatedError, UnsupportedError, viewOf } from './errors.js';
import { copyPayloadUnlessInPlace, emitError, readUint16, writeUint16 } from './emit-util.js';

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** Tag protocol identifier of an IEEE 802.1Q customer VLAN tag (C-tag). */
export const ETHERTYPE_VLAN = 0x8100;
/** Tag protocol identifier of an IEEE 802.1ad service VLAN tag (S-tag, the outer tag of QinQ). */
export const ETHERTYPE_QINQ = 0x88a8;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;
/**
 * The smallest value of the type field that is an EtherType; smaller values are IEEE 802.3 length
 * fields (an LLC frame, not Ethernet II).
 */
export const ETHERTYPE_MIN = 0x0600;

/** Length of an untagged Ethernet II header: two addresses and the EtherType. */
export const ETHERNET_HEADER_LENGTH = 14;
/** Length of one VLAN tag (TPID and TCI). */
export const VLAN_TAG_LENGTH = 4;
/** The smallest frame a sender may transmit, without its FCS (64 bytes with it). Shorter frames are padded. */
export const ETHERNET_MIN_FRAME_LENGTH = 60;

const FORMAT = 'ethernet';
const DESTINATION_OFFSET = 0;
const SOURCE_OFFSET = 6;
/** The first type field: the EtherType of an untagged frame, otherwise the TPID of the outer tag. */
const TYPE_OFFSET = 12;
/** Within a tag, the TCI follows the TPID. */
const TCI_OFFSET_IN_TAG = 2;
const NO_TAG = -1;

/** The 16-bit tag control information of a VLAN tag, split into its fields. */
export interface VlanTag {
  /** Priority code point (IEEE 802.1p), 0..7. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN identifier, 0..4095 (0: priority tag only; 4095 reserved). */
  vid: number;
}

/**
 * A checked view of an Ethernet II frame (no FCS).
 *
 * Invariant: after {@link EthernetPacket.checked} returns, the bytes hold the whole header including
 * every recognised tag, and no accessor throws. Tags are recognised in this order only: an optional
 * 802.1ad S-tag (TPID 0x88a8), then an optional 802.1Q C-tag (TPID 0x8100). A type field after them
 * is the {@link EthernetPacket.etherType}, whatever its value.
 */
export class EthernetPacket {
  /** The frame, destination address first, FCS excluded. */
  readonly bytes: Uint8Array;
  /** Backs {@link EthernetPacket.view}, made on first use: the accessors read the bytes directly. */
  private dataView: DataView | undefined = undefined;
  /** Length of the header: 14, plus 4 for each tag. */
  readonly headerLength: number;
  /** Offset of the S-tag's TPID, or -1. */
  private readonly serviceTagOffset: number;
  /** Offset of the C-tag's TPID, or -1. */
  private readonly customerTagOffset: number;

  private constructor(bytes: Uint8Array, headerLength: number, serviceTagOffset: number, customerTagOffset: number) {
    this.bytes = bytes;
    this.headerLength = headerLength;
    this.serviceTagOffset = serviceTagOffset;
    this.customerTagOffset = customerTagOffset;
  }

  /**
   * Wraps `bytes` after checking that they hold the whole header (including tags).
   * @throws {@link TruncatedError} if the bytes end inside the header.
   */
  static checked(bytes: Uint8Array): EthernetPacket {
    let needed = ETHERNET_HEADER_LENGTH;
    if (bytes.length < needed) throw new TruncatedError(FORMAT, needed, bytes.length);
    let typeOffset = TYPE_OFFSET;
    let serviceTagOffset = NO_TAG;
    let customerTagOffset = NO_TAG;
    if (readUint16(bytes, typeOffset) === ETHERTYPE_QINQ) {
      serviceTagOffset = typeOffset;
      typeOffset += VLAN_TAG_LENGTH;
      needed += VLAN_TAG_LENGTH;
      if (bytes.length < needed) throw new TruncatedError(FORMAT, needed, bytes.length);
    }
    if (readUint16(bytes, typeOffset) === ETHERTYPE_VLAN) {
      customerTagOffset = typeOffset;
      needed += VLAN_TAG_LENGTH;
      if (bytes.length < needed) throw new TruncatedError(FORMAT, needed, bytes.length);
    }
    return new EthernetPacket(bytes, needed, serviceTagOffset, customerTagOffset);
  }

  /**
   * A `DataView` over exactly {@link EthernetPacket.bytes}, made on first use and then kept. The field
   * accessors do not use it (they read the bytes directly, so checking a packet allocates no view).
   */
  get view(): DataView {
    return (this.dataView ??= viewOf(this.bytes));
  }

  /** Destination MAC address. */
  get destination(): MacAddress {
    return readMac(this.bytes, DESTINATION_OFFSET);
  }

  /** Source MAC address. */
  get source(): MacAddress {
    return readMac(this.bytes, SOURCE_OFFSET);
  }

  /** The EtherType of the payload (after any tags). Below {@link ETHERTYPE_MIN} it is an 802.3 length. */
  get etherType(): number {
    return readUint16(this.bytes, this.headerLength - 2);
  }

  /** True if the frame carries an 802.1Q C-tag. */
  get hasVlan(): boolean {
    return this.customerTagOffset !== NO_TAG;
  }

  /** The C-tag's tag control information (PCP, DEI, VID), or 0 when there is no C-tag. */
  get vlanTci(): number {
    return this.customerTagOffset === NO_TAG ? 0 : readUint16(this.bytes, this.customerTagOffset + TCI_OFFSET_IN_TAG);
  }

  /** The C-tag's VLAN identifier, or 0 when there is no C-tag. */
  get vlanId(): number {
    return this.vlanTci & 0x0fff;
  }

  /** True if the frame carries an 802.1ad S-tag. */
  get hasServiceVlan(): boolean {
    return this.serviceTagOffset !== NO_TAG;
  }

  /** The S-tag's tag control information, or 0 when there is no S-tag. */
  get serviceVlanTci(): number {
    return this.serviceTagOffset === NO_TAG ? 0 : readUint16(this.bytes, this.serviceTagOffset + TCI_OFFSET_IN_TAG);
  }

  /** The payload: every byte after the header (including any padding), as a view into the frame. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }

  /** Overwrites the destination address in place (for forwarding). */
  setDestination(mac: MacAddress): void {
    writeMac(this.bytes, DESTINATION_OFFSET, mac);
  }

  /** Overwrites the source address in place (for forwarding). */
  setSource(mac: MacAddress): void {
    writeMac(this.bytes, SOURCE_OFFSET, mac);
  }
}

/** The validated contents of an Ethernet II header. */
export interface EthernetRepr {
  /** Destination MAC address. */
  destination: MacAddress;
  /** Source MAC address. */
  source: MacAddress;
  /** EtherType of the payload: at least {@link ETHERTYPE_MIN}, never a TPID (0x8100, 0x88a8). */
  etherType: number;
  /** The 802.1Q C-tag, or null for none. */
  vlan: VlanTag | null;
  /** The 802.1ad S-tag outside the C-tag (QinQ), or null for none. */
  serviceVlan: VlanTag | null;
}

function tagFromTci(tci: number): VlanTag {
  return { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
}

function tciFromTag(tag: VlanTag): number {
  return ((tag.pcp & 0x7) << 13) | (tag.dei ? 0x1000 : 0) | (tag.vid & 0x0fff);
}

/**
 * Reads the header of a checked frame.
 * @throws {@link UnsupportedError} if the type field is an 802.3 length (an LLC frame, not Ethernet II).
 * @throws {@link UnsupportedError} if the EtherType after the recognised tags is itself a TPID
 * (0x8100 twice, or 0x88a8 inside a C-tag): tag stacks other than S-tag + C-tag are not decoded.
 */
export function parseEthernet(packet: EthernetPacket): EthernetRepr {
  const etherType = packet.etherType;
  if (etherType < ETHERTYPE_MIN)
    throw new UnsupportedError(FORMAT, `type field 0x${etherType.toString(16)} is an 802.3 length, not an EtherType`);
  if (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ)
    throw new UnsupportedError(
      FORMAT,
      `unsupported VLAN tag 0x${etherType.toString(16)} after ${packet.headerLength - ETHERNET_HEADER_LENGTH} tag bytes`,
    );
  return {
    destination: packet.destination,
    source: packet.source,
    etherType,
    vlan: packet.hasVlan ? tagFromTci(packet.vlanTci) : null,
    serviceVlan: packet.hasServiceVlan ? tagFromTci(packet.serviceVlanTci) : null,
  };
}

/** Header length `repr` emits: 14 bytes plus 4 per tag. */
export function ethernetHeaderLength(repr: EthernetRepr): number {
  return (
    ETHERNET_HEADER_LENGTH +
    (repr.vlan === null ? 0 : VLAN_TAG_LENGTH) +
    (repr.serviceVlan === null ? 0 : VLAN_TAG_LENGTH)
  );
}

/** Buffer length needed to emit `repr` followed by `payloadLength` bytes (no padding, no FCS). */
export function ethernetBufferLength(repr: EthernetRepr, payloadLength: number): number {
  return ethernetHeaderLength(repr) + payloadLength;
}

/**
 * Writes the header of `repr` at the start of `buffer`, then `payload` after it unless the payload
 * already sits there (same underlying buffer, right offset). The payload may lie anywhere, even
 * overlapping the header: it is moved before the header is written. Does not pad to
 * {@link ETHERNET_MIN_FRAME_LENGTH} and writes no FCS.
 * @returns the frame length: header length plus `payload.byteLength` (header length alone without a payload).
 * @throws RangeError if `buffer` is too short or `repr.etherType` is below {@link ETHERTYPE_MIN} or a TPID
 * (such a frame would not parse back to `repr`).
 */
export function emitEthernet(repr: EthernetRepr, buffer: Uint8Array, payload?: Uint8Array): number {
  const { etherType } = repr;
  if (
    !(etherType >= ETHERTYPE_MIN && etherType <= 0xffff) ||
    etherType === ETHERTYPE_VLAN ||
    etherType === ETHERTYPE_QINQ
  ) {
    throw emitError(FORMAT, `cannot emit EtherType 0x${etherType.toString(16)}`);
  }
  const headerLength = ethernetHeaderLength(repr);
  const payloadLength = payload === undefined ? 0 : payload.length;
  if (buffer.length < headerLength + payloadLength)
    throw emitError(FORMAT, `buffer of ${buffer.length} bytes, need ${headerLength + payloadLength}`);
  // The payload first: it may overlap the header it is about to be moved out of.
  if (payload !== undefined) copyPayloadUnlessInPlace(buffer, headerLength, payload);
  writeMac(buffer, DESTINATION_OFFSET, repr.destination);
  writeMac(buffer, SOURCE_OFFSET, repr.source);
  let offset = TYPE_OFFSET;
  if (repr.serviceVlan !== null) {
    writeUint16(buffer, offset, ETHERTYPE_QINQ);
    writeUint16(buffer, offset + TCI_OFFSET_IN_TAG, tciFromTag(repr.serviceVlan));
    offset += VLAN_TAG_LENGTH;
  }
  if (repr.vlan !== null) {
    writeUint16(buffer, offset, ETHERTYPE_VLAN);
    writeUint16(buffer, offset + TCI_OFFSET_IN_TAG, tciFromTag(repr.vlan));
    offset += VLAN_TAG_LENGTH;
  }
  writeUint16(buffer, offset, etherType);
  return headerLength + payloadLength;
}
