/** Wire frames for tests. */
import { writeFcs, writeMac } from '@postern/wire';
import type { MacAddress } from '@postern/wire';

/** What {@link wireFrame} builds. */
export interface FrameSpec {
  destination: MacAddress;
  source?: MacAddress;
  etherType?: number;
  /** 802.1Q VLAN id: adds a C-tag. */
  vlan?: number;
  /** Total wire length, FCS included. Default 64. */
  length?: number;
  /** Byte written at the first payload position (to tell frames apart). */
  mark?: number;
  /** Leave the FCS wrong. */
  badFcs?: boolean;
}

/** A wire frame (FCS included) per `spec`. */
export function wireFrame(spec: FrameSpec): Uint8Array {
  const length = spec.length ?? 64;
  const frame = new Uint8Array(length);
  writeMac(frame, 0, spec.destination);
  writeMac(frame, 6, spec.source ?? 0x02_00_00_00_00_99);
  let offset = 12;
  if (spec.vlan !== undefined) {
    frame[12] = 0x81;
    frame[13] = 0x00;
    frame[14] = (spec.vlan >>> 8) & 0x0f;
    frame[15] = spec.vlan & 0xff;
    offset = 16;
  }
  const type = spec.etherType ?? 0x0800;
  frame[offset] = type >>> 8;
  frame[offset + 1] = type & 0xff;
  for (let i = offset + 2; i < length - 4; i++) frame[i] = i & 0xff;
  if (length - 4 > offset + 2) frame[offset + 2] = spec.mark ?? 0;
  writeFcs(frame);
  if (spec.badFcs === true) frame[length - 1]! ^= 0xff;
  return frame;
}

/** The mark {@link wireFrame} wrote, read from a frame (with or without FCS), untagged or tagged. */
export function markOf(frame: Uint8Array): number {
  return frame[12] === 0x81 && frame[13] === 0x00 ? frame[18]! : frame[14]!;
}
