/**
 * {@link splitPort}: one serial port, two protocols. A board has one USB serial function; on it the
 * host speaks the device protocol (docs/device-protocol.md, frame types below 0x40) to use the board
 * as its USB Ethernet device, and the bootloader protocol (docs/flash-protocol.md, types
 * 0x40..0x47) to flash it. Both use the same frame layer (`00 COBS(header ‖ payload ‖ crc32) 00`)
 * and their types do not overlap, so the board routes each frame by its type byte and needs no mode
 * switch: the USB Ethernet device keeps working while an image is flashed, and `postern-flash`
 * finds the bootloader whatever the board runs.
 *
 * The splitter cuts the byte stream at 0x00 delimiters, reads the type (the first byte of the
 * decoded header: the byte after the COBS code byte, or 0 when that code is 1) and hands the whole
 * delimited frame, unchanged, to the side that owns the type: {@link BOOTLOADER_TYPES} to the
 * bootloader, every other type to the device (whose decoder checks the CRCs and counts damage).
 * Bytes written by either side go to the port as they are: both sides write whole frames per write,
 * so their frames never interleave.
 */
import { Duplex } from 'node:stream';

/** The frame types routed to the bootloader: the bootloader protocol's range. */
export const BOOTLOADER_TYPES = { first: 0x40, last: 0x4f } as const;

/** Counters of a {@link splitPort}. */
export interface PortSplitStats {
  /** Frames routed to the device side. */
  deviceFrames: number;
  /** Frames routed to the bootloader side. */
  bootloaderFrames: number;
  /** Bytes of a frame longer than {@link MAX_DELIMITED_FRAME} discarded (until the next delimiter). */
  oversizeBytes: number;
}

/** The longest COBS-encoded frame kept (a 1536-byte payload, header, CRC and COBS overhead, with room). */
export const MAX_DELIMITED_FRAME = 4096;

/** The two sides of a split port. */
export interface SplitPort {
  /** The device protocol's stream (give it to the USB Ethernet function). */
  readonly device: Duplex;
  /** The bootloader protocol's stream (give it to the bootloader's `attach`). */
  readonly bootloader: Duplex;
  readonly stats: PortSplitStats;
  /** Stops reading the port and ends both sides. The port is left open. */
  stop(): void;
}

function side(port: Duplex): Duplex {
  return new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (port.destroyed || !port.writable) {
        callback();
        return;
      }
      port.write(chunk, () => callback());
    },
  });
}

/** Splits `port` by frame type. See the module contract. */
export function splitPort(port: Duplex): SplitPort {
  const device = side(port);
  const bootloader = side(port);
  const stats: PortSplitStats = { deviceFrames: 0, bootloaderFrames: 0, oversizeBytes: 0 };
  let parts: Buffer[] = [];
  let length = 0;
  let oversize = false;

  const route = (frame: Buffer): void => {
    const type = frame[0] === 1 ? 0 : (frame[1] ?? 0);
    const toBootloader = type >= BOOTLOADER_TYPES.first && type <= BOOTLOADER_TYPES.last;
    const out = Buffer.allocUnsafe(frame.length + 2);
    out[0] = 0;
    frame.copy(out, 1);
    out[out.length - 1] = 0;
    if (toBootloader) {
      stats.bootloaderFrames++;
      bootloader.push(out);
    } else {
      stats.deviceFrames++;
      device.push(out);
    }
  };

  const onData = (chunk: Buffer): void => {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0, start);
      const piece = chunk.subarray(start, end < 0 ? chunk.length : end);
      if (!oversize && length + piece.length > MAX_DELIMITED_FRAME) {
        oversize = true;
        stats.oversizeBytes += length;
        parts = [];
        length = 0;
      }
      if (oversize) stats.oversizeBytes += piece.length;
      else if (piece.length > 0) {
        parts.push(piece);
        length += piece.length;
      }
      if (end < 0) return;
      if (!oversize && length > 0) route(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length));
      parts = [];
      length = 0;
      oversize = false;
      start = end + 1;
    }
  };
  port.on('data', onData);
  return {
    device,
    bootloader,
    stats,
    stop: () => {
      port.off('data', onData);
      device.push(null);
      bootloader.push(null);
      device.destroy();
      bootloader.destroy();
    },
  };
}
