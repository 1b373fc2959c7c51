/**
 * The virtio-net header (`struct virtio_net_hdr`, 10 bytes) that a TAP descriptor opened with
 * `IFF_VNET_HDR` puts before every frame it reads and expects before every frame written to it: it
 * tells the other side what the frame's checksums and segmentation still need, the way a
 * paravirtual NIC talks to its host.
 *
 * Layout (the driver asks the kernel for little-endian fields, `TUNSETVNETLE`):
 *
 * | offset | field | meaning |
 * |---|---|---|
 * | 0 | flags (u8) | {@link VNET_F_NEEDS_CSUM}, {@link VNET_F_DATA_VALID} |
 * | 1 | gso_type (u8) | {@link VNET_GSO_NONE}, {@link VNET_GSO_TCPV4}, ... |
 * | 2 | hdr_len (u16) | bytes of Ethernet + IP + TCP headers in a GSO frame |
 * | 4 | gso_size (u16) | payload bytes per segment of a GSO frame |
 * | 6 | csum_start (u16) | with NEEDS_CSUM: where the checksummed range starts |
 * | 8 | csum_offset (u16) | with NEEDS_CSUM: where the checksum goes, from `csum_start` |
 */

/** Bytes of the virtio-net header (`struct virtio_net_hdr`, without the `num_buffers` of the mergeable variant). */
export const VNET_HDR_LEN = 10;

/** Flag: the checksum from `csum_start` on is still to be computed and stored at `csum_offset`. */
export const VNET_F_NEEDS_CSUM = 1;
/** Flag: the frame's checksums were verified already. */
export const VNET_F_DATA_VALID = 2;

/** gso_type: an ordinary frame. */
export const VNET_GSO_NONE = 0;
/** gso_type: a TCP/IPv4 super-frame to be cut into segments of `gso_size` payload bytes. */
export const VNET_GSO_TCPV4 = 1;

/** The fields of a virtio-net header, as {@link readVnetHeader} finds them. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/**
 * Writes a virtio-net header at `offset` of `buf` (little-endian fields). `flags` and `gsoType`
 * are bytes; the rest 16-bit. Zeros everywhere (the defaults) describe an ordinary frame whose
 * checksums are all in place.
 */
export function writeVnetHeader(
  buf: Uint8Array,
  offset: number,
  flags = 0,
  gsoType = VNET_GSO_NONE,
  hdrLen = 0,
  gsoSize = 0,
): void {
  buf[offset] = flags;
  buf[offset + 1] = gsoType;
  buf[offset + 2] = hdrLen & 0xff;
  buf[offset + 3] = hdrLen >>> 8;
  buf[offset + 4] = gsoSize & 0xff;
  buf[offset + 5] = gsoSize >>> 8;
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  buf[offset + 8] = 0;
  buf[offset + 9] = 0;
}

/** Reads the virtio-net header at `offset` of `buf` (the caller checks that 10 bytes are there). */
export function readVnetHeader(buf: Uint8Array, offset = 0): VnetHeader {
  const u16 = (at: number): number => buf[offset + at]! | (buf[offset + at + 1]! << 8);
  return {
    flags: buf[offset]!,
    gsoType: buf[offset + 1]!,
    hdrLen: u16(2),
    gsoSize: u16(4),
    csumStart: u16(6),
    csumOffset: u16(8),
  };
}

/**
 * True when a header read from the kernel describes a frame that needs nothing more: no checksum
 * left to compute and no segmentation. The driver turns the kernel's offloads off, so every frame
 * should be one; anything else is dropped and counted.
 */
export function isPlainVnetFrame(buf: Uint8Array, offset = 0): boolean {
  return (buf[offset]! & VNET_F_NEEDS_CSUM) === 0 && buf[offset + 1]! === VNET_GSO_NONE;
}
