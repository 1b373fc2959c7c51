/**
 * The serial bootloader protocol (docs/flash-protocol.md; section numbers below refer to it): frame
 * types, error codes, slot states and the request/response payload formats. Framing, header and
 * CRCs are those of the device protocol (docs/device-protocol.md §2-§4), reused from `@postern/wire`.
 *
 * Parsers throw only {@link BootProtocolError}s (`BAD_LENGTH` when the payload is shorter than its
 * format); trailing bytes are ignored (forward compatibility). Emitters return fresh, exactly sized
 * arrays: bootloader frames are few.
 */

/** The bootloader protocol version this code speaks (§3). */
export const BOOT_PROTOCOL_VERSION = 1;
/** The chunk size a board of this reference design uses (§5.3). */
export const DEFAULT_CHUNK_SIZE = 1024;
/** Bytes before the data in a WRITE request (§5.3). */
export const WRITE_HEADER_LENGTH = 12;
/** Bytes of a key fingerprint and of a SHA-256 digest. */
export const DIGEST_LENGTH = 32;
/** Most chunk bits in one CHUNK_MAP response (§5.4): 1024 bytes of bitmap. */
export const CHUNK_MAP_MAX_BITS = 8192;
/** The value of a slot field meaning "no slot". */
export const NO_SLOT = 0xff;

/** Frame types of the bootloader protocol (§4); all are requests answered with the same type. */
export const BootFrameType = {
  INFO: 0x40,
  ERASE: 0x41,
  WRITE: 0x42,
  CHUNK_MAP: 0x43,
  VERIFY: 0x44,
  SELECT: 0x45,
  REBOOT: 0x46,
  CONFIRM: 0x47,
} as const;
/** A bootloader frame type value. */
export type BootFrameTypeValue = (typeof BootFrameType)[keyof typeof BootFrameType];

/** True for a type this version defines. */
export function isBootFrameType(type: number): type is BootFrameTypeValue {
  return type >= BootFrameType.INFO && type <= BootFrameType.CONFIRM;
}

/** Error codes of an error response (§6). 1..6 mean what they mean in the device protocol. */
export const BootErrorCode = {
  UNKNOWN_TYPE: 1,
  BAD_LENGTH: 2,
  BAD_ARGUMENT: 4,
  BUSY: 6,
  BAD_SLOT: 16,
  TOO_LARGE: 17,
  NOT_ERASED: 18,
  CHUNK_CRC: 19,
  CHUNK_CONFLICT: 20,
  INCOMPLETE: 21,
  DIGEST_MISMATCH: 22,
  BAD_IMAGE: 23,
  WRONG_BOARD: 24,
  BAD_SIGNATURE: 25,
  NOT_VERIFIED: 26,
  NOT_RUNNING: 27,
} as const;
/** An error code name. */
export type BootErrorName = keyof typeof BootErrorCode;

/** The name of an error code, or `UNKNOWN_<n>`. */
export function bootErrorName(code: number): string {
  for (const [name, value] of Object.entries(BootErrorCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

/** A malformed bootloader payload (`code` is a {@link BootErrorName}). */
export class BootProtocolError extends Error {
  override readonly name = 'BootProtocolError';
  constructor(
    readonly code: BootErrorName,
    message: string,
    /** The error response's detail field. */
    readonly detail = 0,
  ) {
    super(message);
  }
}

/** Slot states (§5.1). */
export const SlotState = {
  /** Erased, nothing declared. */
  EMPTY: 0,
  /** An image was declared by ERASE; chunks are being written. */
  WRITING: 1,
  /** Every chunk written and VERIFY passed: may be selected. */
  VERIFIED: 2,
  /** VERIFY failed; only ERASE leaves this state. */
  INVALID: 3,
  /** The image that boots when no trial is pending: it was confirmed by its running firmware. */
  CONFIRMED: 4,
  /** Booted on trial and never confirmed: the board rolled back from it. */
  REJECTED: 5,
} as const;
/** A slot state value. */
export type SlotStateValue = (typeof SlotState)[keyof typeof SlotState];

/** The name of a slot state. */
export function slotStateName(state: number): string {
  for (const [name, value] of Object.entries(SlotState)) if (value === state) return name;
  return `UNKNOWN_${state}`;
}

/** INFO response flags (§5.1). */
export const InfoFlag = {
  /** The running firmware booted on trial and has not confirmed yet. */
  RUNNING_TRIAL: 0x01,
  /** The last boot rolled back from an unconfirmed trial image. */
  ROLLED_BACK: 0x02,
  /** A slot is selected to boot on trial at the next reboot. */
  TRIAL_PENDING: 0x04,
} as const;

/** One slot as INFO reports it. */
export interface SlotInfo {
  /** A {@link SlotState}. */
  readonly state: SlotStateValue;
  /** The declared (or verified) image size, 0 when empty. */
  readonly imageSize: number;
  /** SHA-256 of the whole declared image (32 bytes; zeros when empty). */
  readonly imageDigest: Uint8Array;
  /** Chunks written so far. */
  readonly writtenChunks: number;
}

/** The INFO response (§5.1). */
export interface BootInfo {
  /** The bootloader protocol version the board speaks ({@link BOOT_PROTOCOL_VERSION}). */
  readonly protocolVersion: number;
  /** The bootloader's own version. */
  readonly bootloaderVersion: { readonly major: number; readonly minor: number };
  /** Bytes per WRITE chunk (every chunk but the last), at most 1024. */
  readonly chunkSize: number;
  /** Bytes per slot: the largest image the board takes. */
  readonly slotSize: number;
  /** The slot whose firmware is running, or {@link NO_SLOT}. */
  readonly runningSlot: number;
  /** The confirmed slot (the one the board falls back to), or {@link NO_SLOT}. */
  readonly confirmedSlot: number;
  /** The slot selected to boot on trial, or {@link NO_SLOT}. */
  readonly trialSlot: number;
  /** {@link InfoFlag} bits. */
  readonly flags: number;
  /** SHA-256 of the raw Ed25519 public key the board trusts. */
  readonly keyFingerprint: Uint8Array;
  /** One record per slot, slot 0 (A) first. */
  readonly slots: readonly SlotInfo[];
  /** The board id images must target. */
  readonly boardId: string;
}

const SLOT_RECORD_LENGTH = 48;
const INFO_FIXED_LENGTH = 48;

function need(payload: Uint8Array, n: number, what: string): DataView {
  if (payload.length < n) throw new BootProtocolError('BAD_LENGTH', `${what}: ${payload.length} bytes, need ${n}`);
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Encodes an INFO response. */
export function encodeInfo(info: BootInfo): Uint8Array {
  const id = Buffer.from(info.boardId, 'utf8').subarray(0, 255);
  const out = new Uint8Array(INFO_FIXED_LENGTH + SLOT_RECORD_LENGTH * info.slots.length + 1 + id.length);
  const v = new DataView(out.buffer);
  out[0] = info.protocolVersion;
  out[1] = info.bootloaderVersion.major;
  out[2] = info.bootloaderVersion.minor;
  out[3] = info.slots.length;
  v.setUint16(4, info.chunkSize);
  v.setUint32(8, info.slotSize);
  out[12] = info.runningSlot;
  out[13] = info.confirmedSlot;
  out[14] = info.trialSlot;
  out[15] = info.flags;
  out.set(info.keyFingerprint.subarray(0, DIGEST_LENGTH), 16);
  info.slots.forEach((s, i) => {
    const o = INFO_FIXED_LENGTH + SLOT_RECORD_LENGTH * i;
    out[o] = s.state;
    v.setUint32(o + 4, s.imageSize);
    out.set(s.imageDigest.subarray(0, DIGEST_LENGTH), o + 8);
    v.setUint32(o + 40, s.writtenChunks);
  });
  const o = INFO_FIXED_LENGTH + SLOT_RECORD_LENGTH * info.slots.length;
  out[o] = id.length;
  out.set(id, o + 1);
  return out;
}

/** Parses an INFO response. */
export function parseInfo(payload: Uint8Array): BootInfo {
  const v = need(payload, INFO_FIXED_LENGTH, 'INFO');
  const count = payload[3]!;
  const idAt = INFO_FIXED_LENGTH + SLOT_RECORD_LENGTH * count;
  need(payload, idAt + 1, 'INFO');
  const idLength = payload[idAt]!;
  need(payload, idAt + 1 + idLength, 'INFO');
  const slots: SlotInfo[] = [];
  for (let i = 0; i < count; i++) {
    const o = INFO_FIXED_LENGTH + SLOT_RECORD_LENGTH * i;
    slots.push({
      state: payload[o]! as SlotStateValue,
      imageSize: v.getUint32(o + 4),
      imageDigest: payload.slice(o + 8, o + 40),
      writtenChunks: v.getUint32(o + 40),
    });
  }
  return {
    protocolVersion: payload[0]!,
    bootloaderVersion: { major: payload[1]!, minor: payload[2]! },
    chunkSize: v.getUint16(4),
    slotSize: v.getUint32(8),
    runningSlot: payload[12]!,
    confirmedSlot: payload[13]!,
    trialSlot: payload[14]!,
    flags: payload[15]!,
    keyFingerprint: payload.slice(16, 48),
    slots,
    boardId: Buffer.from(payload.subarray(idAt + 1, idAt + 1 + idLength)).toString('utf8'),
  };
}

/** ERASE request (§5.2): erase `slot` and declare the image about to be written. */
export interface EraseRequest {
  readonly slot: number;
  readonly imageSize: number;
  /** SHA-256 of the whole image (32 bytes). */
  readonly imageDigest: Uint8Array;
}

/** Encodes an ERASE request. */
export function encodeErase(r: EraseRequest): Uint8Array {
  const out = new Uint8Array(8 + DIGEST_LENGTH);
  out[0] = r.slot;
  new DataView(out.buffer).setUint32(4, r.imageSize);
  out.set(r.imageDigest.subarray(0, DIGEST_LENGTH), 8);
  return out;
}

/** Parses an ERASE request. */
export function parseErase(payload: Uint8Array): EraseRequest {
  const v = need(payload, 8 + DIGEST_LENGTH, 'ERASE');
  return { slot: payload[0]!, imageSize: v.getUint32(4), imageDigest: payload.subarray(8, 8 + DIGEST_LENGTH) };
}

/** A slot and a 32-bit count: the response of ERASE (chunk count), WRITE (chunks written) and VERIFY (image size). */
export interface SlotCount {
  readonly slot: number;
  readonly count: number;
}

/** Encodes a {@link SlotCount} (8 bytes: slot, 3 reserved, u32). */
export function encodeSlotCount(r: SlotCount): Uint8Array {
  const out = new Uint8Array(8);
  out[0] = r.slot;
  new DataView(out.buffer).setUint32(4, r.count);
  return out;
}

/** Parses a {@link SlotCount}. */
export function parseSlotCount(payload: Uint8Array): SlotCount {
  const v = need(payload, 8, 'response');
  return { slot: payload[0]!, count: v.getUint32(4) };
}

/** Encodes a one-slot request (SELECT, VERIFY: slot, 3 reserved bytes). */
export function encodeSlot(slot: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = slot;
  return out;
}

/** Parses a one-slot request. */
export function parseSlot(payload: Uint8Array): number {
  need(payload, 1, 'slot');
  return payload[0]!;
}

/** A WRITE request (§5.3). `data` is a view. */
export interface WriteRequest {
  readonly slot: number;
  readonly chunk: number;
  /** CRC-32 (ISO-HDLC) of `data`. */
  readonly crc: number;
  readonly data: Uint8Array;
}

/** Encodes a WRITE request. */
export function encodeWrite(r: WriteRequest): Uint8Array {
  const out = new Uint8Array(WRITE_HEADER_LENGTH + r.data.length);
  const v = new DataView(out.buffer);
  out[0] = r.slot;
  v.setUint16(2, r.data.length);
  v.setUint32(4, r.chunk);
  v.setUint32(8, r.crc >>> 0);
  out.set(r.data, WRITE_HEADER_LENGTH);
  return out;
}

/** Parses a WRITE request; `data` is a view into `payload`. */
export function parseWrite(payload: Uint8Array): WriteRequest {
  const v = need(payload, WRITE_HEADER_LENGTH, 'WRITE');
  const length = v.getUint16(2);
  need(payload, WRITE_HEADER_LENGTH + length, 'WRITE');
  return {
    slot: payload[0]!,
    chunk: v.getUint32(4),
    crc: v.getUint32(8),
    data: payload.subarray(WRITE_HEADER_LENGTH, WRITE_HEADER_LENGTH + length),
  };
}

/** CHUNK_MAP request (§5.4). `first` must be a multiple of 8. */
export interface ChunkMapRequest {
  readonly slot: number;
  readonly first: number;
}

/** Encodes a CHUNK_MAP request. */
export function encodeChunkMapRequest(r: ChunkMapRequest): Uint8Array {
  const out = new Uint8Array(8);
  out[0] = r.slot;
  new DataView(out.buffer).setUint32(4, r.first);
  return out;
}

/** Parses a CHUNK_MAP request. */
export function parseChunkMapRequest(payload: Uint8Array): ChunkMapRequest {
  const v = need(payload, 8, 'CHUNK_MAP');
  return { slot: payload[0]!, first: v.getUint32(4) };
}

/** CHUNK_MAP response: bit `i` of `bitmap` (LSB first within each byte) is chunk `first + i`. */
export interface ChunkMap {
  readonly slot: number;
  readonly first: number;
  /** Chunks in the declared image. */
  readonly total: number;
  /** Bits in this response. */
  readonly count: number;
  readonly bitmap: Uint8Array;
}

/** Encodes a CHUNK_MAP response. */
export function encodeChunkMap(r: ChunkMap): Uint8Array {
  const bytes = Math.ceil(r.count / 8);
  const out = new Uint8Array(16 + bytes);
  const v = new DataView(out.buffer);
  out[0] = r.slot;
  v.setUint32(4, r.first);
  v.setUint32(8, r.total);
  v.setUint32(12, r.count);
  out.set(r.bitmap.subarray(0, bytes), 16);
  return out;
}

/** Parses a CHUNK_MAP response. */
export function parseChunkMap(payload: Uint8Array): ChunkMap {
  const v = need(payload, 16, 'CHUNK_MAP');
  const count = v.getUint32(12);
  need(payload, 16 + Math.ceil(count / 8), 'CHUNK_MAP');
  return {
    slot: payload[0]!,
    first: v.getUint32(4),
    total: v.getUint32(8),
    count,
    bitmap: payload.slice(16, 16 + Math.ceil(count / 8)),
  };
}

/** An error response payload (§6): code, reserved, detail. */
export function encodeBootError(code: number, detail: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = code;
  new DataView(out.buffer).setUint16(2, detail & 0xffff);
  return out;
}

/** Parses an error response payload. */
export function parseBootError(payload: Uint8Array): { code: number; detail: number } {
  const v = need(payload, 4, 'error');
  return { code: payload[0]!, detail: v.getUint16(2) };
}
