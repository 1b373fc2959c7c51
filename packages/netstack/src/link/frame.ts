/**
 * Outgoing Ethernet frames as the stack builds them: one buffer holding the 14-byte Ethernet
 * header, the packet, zero padding up to the 60-byte minimum, and 4 bytes of room for the FCS that
 * `NetDevice.transmit` fills in.
 */
import {
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME_LENGTH,
  FCS_LENGTH,
  writeMac,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';

/** Offset of the EtherType in an untagged frame. */
const ETHERTYPE_OFFSET = 12;

/** Length of the frame buffer that carries a `packetLength`-byte packet: header, packet, padding, FCS room. */
export function frameLength(packetLength: number): number {
  return Math.max(ETHERNET_HEADER_LENGTH + packetLength, ETHERNET_MIN_FRAME_LENGTH) + FCS_LENGTH;
}

/**
 * Size of one frame slab: outgoing frames are carved from shared `ArrayBuffer`s of this size, so a
 * frame costs a view, not a buffer of its own (a fresh `ArrayBuffer` per frame was the largest
 * single cost of bulk TCP). 64 KiB holds 43 full-size frames; a slab is freed by the garbage
 * collector when no frame carved from it is referenced any more, so a frame kept alive (a UDP
 * payload a socket still queues, say) keeps at most this much memory alive with it.
 */
const FRAME_SLAB_BYTES = 64 * 1024;
/** Frames longer than this get a buffer of their own (large loopback or to-be-fragmented datagrams). */
const SLAB_MAX_FRAME = FRAME_SLAB_BYTES >>> 2;
/** Frames start at multiples of 8 bytes inside a slab (word-aligned checksum loads). */
const SLAB_ALIGN_MASK = 7;

let slab = new ArrayBuffer(0);
let slabUsed = 0;

/**
 * A zeroed frame buffer for a `packetLength`-byte packet (see {@link frameLength}); the packet goes
 * at offset 14.
 *
 * The frame is a view of exactly `frameLength(packetLength)` bytes into a slab no other frame
 * overlaps, and no byte of it is ever handed out again: whoever receives the frame owns those
 * bytes for good and may keep views into them or write into them (forwarding in place does), but
 * must not assume `frame.byteOffset` is 0 or that `frame.buffer` holds only this frame.
 */
export function allocateFrame(packetLength: number): Uint8Array {
  const length = frameLength(packetLength);
  if (length > SLAB_MAX_FRAME) return new Uint8Array(length);
  if (slabUsed + length > slab.byteLength) {
    slab = new ArrayBuffer(FRAME_SLAB_BYTES);
    slabUsed = 0;
  }
  const frame = new Uint8Array(slab, slabUsed, length);
  slabUsed += (length + SLAB_ALIGN_MASK) & ~SLAB_ALIGN_MASK;
  return frame;
}

/** Writes the source MAC and EtherType of an untagged header at the start of `frame`. */
export function writeEthernetSource(frame: Uint8Array, source: MacAddress, etherType: number): void {
  writeMac(frame, 6, source);
  frame[ETHERTYPE_OFFSET] = etherType >>> 8;
  frame[ETHERTYPE_OFFSET + 1] = etherType & 0xff;
}

/** Writes the destination MAC at the start of `frame`. */
export function writeEthernetDestination(frame: Uint8Array, destination: MacAddress): void {
  writeMac(frame, 0, destination);
}

/** The Ethernet multicast MAC of IPv4 group `group` (RFC 1112 §6.4: 01:00:5e plus the low 23 bits). */
export function ipv4MulticastMac(group: Ipv4Address): MacAddress {
  return 0x01_00_5e_00_00_00 + (group & 0x7f_ffff);
}

/** True for 224.0.0.0/4. */
export function isIpv4Multicast(a: Ipv4Address): boolean {
  return a >>> 28 === 0xe;
}

/**
 * True when `a` may be the source of a packet this host answers (RFC 1122 §3.2.1.3, §3.2.2):
 * not 0.0.0.0, not 127/8, not multicast, not class E (which includes 255.255.255.255).
 */
export function isUnicastSource(a: Ipv4Address): boolean {
  const top = a >>> 24;
  return a !== 0 && top !== 127 && top < 224;
}
