/**
 * Bootloader frames on a byte stream. The framing, header, CRC-8 and CRC-32 are exactly those of the
 * device protocol (docs/device-protocol.md §2-§4): this module reuses `@postern/wire`'s
 * {@link encodeSerialFrame} and {@link SerialFrameDecoder}. Bootloader types (0x40..0x47) are not
 * device-protocol types, so the device decoder hands them to its `onUnknown` path, which
 * {@link BootFrameDecoder} turns into its own delivery; the device decoder's `unknownType` counter
 * therefore counts bootloader frames and is not reported as an error here.
 */
import { SerialFrameDecoder, encodeSerialFrameToBytes, serialProtocol } from '@postern/wire';
import type { DecodedSerialFrame } from '@postern/wire';
import { isBootFrameType } from './protocol.js';

/** Header flags (device protocol §3). */
export const BootFrameFlag = serialProtocol.FrameFlag;

/** Largest payload of a bootloader frame (the device protocol's limit). */
export const BOOT_MAX_PAYLOAD = serialProtocol.SERIAL_MAX_PAYLOAD;

/** A frame a {@link BootFrameDecoder} delivers; valid only inside the callback (the decoder reuses it). */
export type BootFrame = DecodedSerialFrame;

/** Encodes one bootloader frame (`00 COBS(header ‖ payload ‖ crc32) 00`) into a new array. */
export function encodeBootFrame(type: number, flags: number, seq: number, payload: Uint8Array): Uint8Array {
  return encodeSerialFrameToBytes({ type, flags, seq, payload });
}

/** Counters of a {@link BootFrameDecoder}. */
export interface BootDecoderStats {
  /** Bootloader frames delivered. */
  frames: number;
  /** Frames discarded as damaged (bad header, bad CRC, truncated, oversize, framing). */
  damaged: number;
  /** Intact frames that are not bootloader frames (device-protocol or unknown types). */
  foreign: number;
}

/**
 * Streaming decoder for bootloader frames. `push` never throws. Damaged frames are counted and
 * dropped; intact frames of other types go to `onForeign` (a board answers them UNKNOWN_TYPE).
 */
export class BootFrameDecoder {
  /** Counters. */
  readonly stats: BootDecoderStats = { frames: 0, damaged: 0, foreign: 0 };
  private readonly decoder: SerialFrameDecoder;

  constructor(onFrame: (frame: BootFrame) => void, onForeign?: (frame: BootFrame) => void) {
    const foreign = (f: BootFrame): void => {
      this.stats.foreign++;
      onForeign?.(f);
    };
    this.decoder = new SerialFrameDecoder({
      verifyDataFcs: false,
      onFrame: foreign,
      onUnknown: (f) => {
        if (!isBootFrameType(f.type)) {
          foreign(f);
          return;
        }
        this.stats.frames++;
        onFrame(f);
      },
      onError: (kind) => {
        if (kind !== 'unknownType' && kind !== 'consumerErrors') this.stats.damaged++;
      },
    });
  }

  /** Feeds bytes; delivers every frame they complete. Never throws. */
  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }

  /** Forgets a partial frame (after a reconnect). */
  reset(): void {
    this.decoder.reset();
  }
}
