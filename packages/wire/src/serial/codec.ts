/**
 * The frame codec of the serial device protocol (docs/device-protocol.md §2-§4), shared by the host
 * driver and the board (`@postern/nic`) and the bootloader link (`@postern/firmware`): {@link encodeSerialFrame} turns a frame into COBS-stuffed bytes between two
 * 0x00 delimiters, and {@link SerialFrameDecoder} turns an arbitrarily chunked byte stream back into
 * frames.
 *
 * Decoder contract:
 * - `push(chunk)` never throws, whatever the bytes, and never holds more than one frame's worth of
 *   memory (one buffer, allocated once).
 * - Every frame whose encoded bytes, delimiters included, arrive intact is delivered, whatever garbage,
 *   corruption or truncation came before it: a 0x00 always ends the frame in progress.
 * - Every discarded frame increments exactly one counter in {@link SerialDecoderErrors}; empty frames
 *   (consecutive delimiters) are not errors.
 * - The delivered {@link DecodedSerialFrame} object and its `payload` view are reused: they are valid
 *   only until the callback returns. Copy what you keep.
 */
import { emitError } from '../emit-util.js';
import { crc32 } from '../fcs.js';
import { crc8, hasValidCrc32Trailer } from './crc.js';
import {
  FrameType,
  HeaderOffset,
  SERIAL_CRC_LENGTH,
  SERIAL_HEADER_LENGTH,
  SERIAL_MAX_PAYLOAD,
  SERIAL_MIN_DATA_PAYLOAD,
  isKnownFrameType,
} from './protocol.js';

/** A frame to encode. For DATA, `payload` is the Ethernet frame with its FCS; other types get a CRC-32 appended. */
export interface SerialFrame {
  /** A {@link FrameType} (any byte 1..255 encodes; the decoder counts unknown ones). */
  type: number;
  /** {@link serialProtocol.FrameFlag} bits. */
  flags: number;
  /** Sequence number, 0..65535. */
  seq: number;
  /** The payload (at most {@link SERIAL_MAX_PAYLOAD} bytes). */
  payload: Uint8Array;
}

/** A decoded frame. Reused by the decoder: valid only inside the callback (see module contract). */
export interface DecodedSerialFrame {
  type: number;
  flags: number;
  seq: number;
  /** A view into the decoder's buffer; for non-DATA frames the CRC trailer is excluded. */
  payload: Uint8Array;
}

/**
 * The most bytes {@link encodeSerialFrame} writes for a payload of `payloadLength`: two delimiters,
 * the header, the payload, the CRC trailer and one COBS code byte per 254 bytes (plus one).
 */
export function maxEncodedLength(payloadLength: number): number {
  const n = SERIAL_HEADER_LENGTH + payloadLength + SERIAL_CRC_LENGTH;
  return n + Math.floor(n / 254) + 1 + 2;
}

/** Scratch for the 8 header bytes and 4 CRC bytes of the frame being encoded (encoding is synchronous). */
const scratch = new Uint8Array(SERIAL_HEADER_LENGTH + SERIAL_CRC_LENGTH);
const scratchHeader = scratch.subarray(0, SERIAL_HEADER_LENGTH);

/**
 * Writes `frame` into `out` at `offset` as `00 COBS(header ‖ payload ‖ [crc]) 00` and returns the
 * offset after the trailing delimiter. Does not allocate. Throws a `RangeError` (the caller broke the contract) when
 * the payload is longer than {@link SERIAL_MAX_PAYLOAD}, a field is out of range, or `out` has less
 * than {@link maxEncodedLength} bytes after `offset`; in that case `out` may hold partial bytes.
 */
export function encodeSerialFrame(frame: SerialFrame, out: Uint8Array, offset: number): number {
  const payload = frame.payload;
  const plen = payload.length;
  if (plen > SERIAL_MAX_PAYLOAD)
    throw emitError('serial-frame', `payload of ${plen} bytes exceeds ${SERIAL_MAX_PAYLOAD}`);
  if (
    !(frame.type >= 1 && frame.type <= 255) ||
    !(frame.flags >= 0 && frame.flags <= 255) ||
    !(frame.seq >= 0 && frame.seq <= 0xffff)
  ) {
    throw emitError(
      'serial-frame',
      `header field out of range (type ${frame.type}, flags ${frame.flags}, seq ${frame.seq})`,
    );
  }
  if (out.length - offset < maxEncodedLength(plen)) throw emitError('serial-frame', 'output buffer too small');
  const h = scratch;
  h[HeaderOffset.TYPE] = frame.type;
  h[HeaderOffset.FLAGS] = frame.flags;
  h[HeaderOffset.SEQ] = frame.seq >>> 8;
  h[HeaderOffset.SEQ + 1] = frame.seq & 0xff;
  h[HeaderOffset.LENGTH] = plen >>> 8;
  h[HeaderOffset.LENGTH + 1] = plen & 0xff;
  h[HeaderOffset.RESERVED] = 0;
  h[HeaderOffset.HCS] = crc8(h, 0, HeaderOffset.HCS);
  const withCrc = frame.type !== FrameType.DATA;
  if (withCrc) {
    const c = crc32(payload, crc32(scratchHeader));
    h[8] = c & 0xff;
    h[9] = (c >>> 8) & 0xff;
    h[10] = (c >>> 16) & 0xff;
    h[11] = c >>> 24;
  }
  out[offset] = 0;
  const w = cobsWriter;
  w.out = out;
  w.codePos = offset + 1;
  w.pos = offset + 2;
  w.code = 1;
  w.put(h, 0, SERIAL_HEADER_LENGTH);
  w.put(payload, 0, plen);
  if (withCrc) w.put(h, SERIAL_HEADER_LENGTH, SERIAL_HEADER_LENGTH + SERIAL_CRC_LENGTH);
  out[w.codePos] = w.code;
  out[w.pos] = 0;
  const end = w.pos + 1;
  w.out = EMPTY;
  return end;
}

/** Encodes one frame into a new, exactly sized array (for control frames and tests; hot paths batch into their own buffer). */
export function encodeSerialFrameToBytes(frame: SerialFrame): Uint8Array {
  const buf = new Uint8Array(maxEncodedLength(frame.payload.length));
  const end = encodeSerialFrame(frame, buf, 0);
  return buf.subarray(0, end);
}

const EMPTY = new Uint8Array(0);

/** COBS encoder state: `codePos` is where the current block's code byte goes, `code` is 1 + its data bytes so far. */
class CobsWriter {
  out: Uint8Array = EMPTY;
  pos = 0;
  codePos = 0;
  code = 1;

  /** Appends `src[start, end)`: zero-free runs are copied whole (native copy for long ones). */
  put(src: Uint8Array, start: number, end: number): void {
    const out = this.out;
    let pos = this.pos;
    let codePos = this.codePos;
    let code = this.code;
    let i = start;
    let nz = nextZero(src, i, end);
    while (i < end) {
      if (i === nz) {
        out[codePos] = code;
        codePos = pos++;
        code = 1;
        i++;
        nz = nextZero(src, i, end);
        continue;
      }
      let n = nz - i;
      const room = 0xff - code;
      if (n > room) n = room;
      copyRun(src, i, n, out, pos);
      pos += n;
      i += n;
      code += n;
      if (code === 0xff) {
        out[codePos] = 0xff;
        codePos = pos++;
        code = 1;
      }
    }
    this.pos = pos;
    this.codePos = codePos;
    this.code = code;
  }
}

/** Index of the first zero in `src[from, end)`, or `end`. */
function nextZero(src: Uint8Array, from: number, end: number): number {
  const z = src.indexOf(0, from);
  return z < 0 || z > end ? end : z;
}

/** Copies `src[from, from + n)` to `dst[to, ...)`: a loop for short runs, a native copy for long ones. */
function copyRun(src: Uint8Array, from: number, n: number, dst: Uint8Array, to: number): void {
  if (n < 24) {
    for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
  } else {
    dst.set(src.subarray(from, from + n), to);
  }
}

const cobsWriter = new CobsWriter();

/** Why the decoder discarded frames; each discarded frame counts once, in the first check it failed. */
export interface SerialDecoderErrors {
  /** More bytes arrived than the header's length field says (a lost delimiter merged two frames). */
  framing: number;
  /** The frame grew past the largest possible frame before its delimiter, or declared a payload over the limit. */
  oversize: number;
  /** The frame ended early: inside a COBS block, before the header was complete, before its declared length, or a DATA payload below 18 bytes. */
  truncated: number;
  /** The header check (CRC-8) does not match. */
  badHeader: number;
  /** A control frame's CRC-32 does not match. */
  badCrc: number;
  /** A DATA frame's Ethernet FCS does not match (only when FCS checking is on). */
  badFcs: number;
  /** An intact frame of a type this version does not define. */
  unknownType: number;
  /** The frame callback threw; the decoder carried on. */
  consumerErrors: number;
}

/** A zeroed {@link SerialDecoderErrors}. */
export function newDecoderErrors(): SerialDecoderErrors {
  return {
    framing: 0,
    oversize: 0,
    truncated: 0,
    badHeader: 0,
    badCrc: 0,
    badFcs: 0,
    unknownType: 0,
    consumerErrors: 0,
  };
}

/** Total of all counters in a {@link SerialDecoderErrors}. */
export function totalDecoderErrors(e: Readonly<SerialDecoderErrors>): number {
  return e.framing + e.oversize + e.truncated + e.badHeader + e.badCrc + e.badFcs + e.unknownType + e.consumerErrors;
}

/** Options for a {@link SerialFrameDecoder}. */
export interface SerialDecoderOptions {
  /** Called once per intact frame of a known type. See the module contract for the frame's lifetime. */
  onFrame: (frame: DecodedSerialFrame) => void;
  /** Called for an intact frame (CRC good) of an unknown type, after counting it; lets a board answer UNKNOWN_TYPE. */
  onUnknown?: (frame: DecodedSerialFrame) => void;
  /** Called with the counter name each time a frame is discarded. */
  onError?: (kind: keyof SerialDecoderErrors, error?: unknown) => void;
  /** Largest payload accepted (control CRC excluded). Default and maximum {@link SERIAL_MAX_PAYLOAD}. */
  maxPayload?: number;
  /** Check the Ethernet FCS at the end of DATA payloads and drop bad ones (counted as `badFcs`). Default true. */
  verifyDataFcs?: boolean;
}

/** Streaming decoder for the serial protocol. See the module contract. The constructor throws a `RangeError` for a `maxPayload` out of range. */
export class SerialFrameDecoder {
  /** Discard counters. */
  readonly errors: SerialDecoderErrors = newDecoderErrors();
  /** Frames delivered (known and unknown types). */
  frames = 0;
  /** Bytes pushed. */
  bytes = 0;

  private readonly buf: Uint8Array;
  private readonly cap: number;
  private readonly maxPayload: number;
  private readonly verifyFcs: boolean;
  private readonly onFrame: (frame: DecodedSerialFrame) => void;
  private readonly onUnknown: ((frame: DecodedSerialFrame) => void) | undefined;
  private readonly onError: ((kind: keyof SerialDecoderErrors, error?: unknown) => void) | undefined;
  private readonly frame: DecodedSerialFrame = { type: 0, flags: 0, seq: 0, payload: EMPTY };
  /** Decoded bytes of the frame in progress. */
  private len = 0;
  /** Data bytes left in the current COBS block (0: the next byte is a code byte). */
  private remaining = 0;
  /** The current block's code was below 0xFF, so a zero follows it if another block starts. */
  private zeroPending = false;
  /** Any byte of the current frame has arrived. */
  private started = false;
  /** Skipping to the next delimiter after an oversize frame. */
  private discarding = false;

  constructor(options: SerialDecoderOptions) {
    const maxPayload = options.maxPayload ?? SERIAL_MAX_PAYLOAD;
    if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > SERIAL_MAX_PAYLOAD) {
      throw emitError('serial-frame', `maxPayload must be an integer in 0..${SERIAL_MAX_PAYLOAD}`);
    }
    this.maxPayload = maxPayload;
    this.cap = SERIAL_HEADER_LENGTH + maxPayload + SERIAL_CRC_LENGTH;
    this.buf = new Uint8Array(this.cap);
    this.verifyFcs = options.verifyDataFcs ?? true;
    this.onFrame = options.onFrame;
    this.onUnknown = options.onUnknown;
    this.onError = options.onError;
  }

  /** Forgets the frame in progress (after a port reopen, say). Counters are kept. */
  reset(): void {
    this.len = 0;
    this.remaining = 0;
    this.zeroPending = false;
    this.started = false;
    this.discarding = false;
  }

  /** Feeds bytes; delivers every frame they complete. Never throws. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    this.bytes += n;
    const buf = this.buf;
    const cap = this.cap;
    let i = 0;
    // The next delimiter at or after i (n when none): bytes [i, nz) are all non-zero.
    let nz = -1;
    while (i < n) {
      if (nz < i) {
        nz = chunk.indexOf(0, i);
        if (nz < 0) nz = n;
      }
      if (i === nz) {
        i++;
        this.endFrame();
        continue;
      }
      if (this.discarding) {
        i = nz;
        continue;
      }
      this.started = true;
      if (this.remaining === 0) {
        // A code byte: a block of (code - 1) data bytes follows, then an implied zero unless code is 0xFF.
        const code = chunk[i++]!;
        if (this.zeroPending) {
          if (this.len >= cap) {
            this.overflow();
            continue;
          }
          buf[this.len++] = 0;
        }
        this.remaining = code - 1;
        this.zeroPending = code !== 0xff;
        continue;
      }
      let m = nz - i;
      if (m > this.remaining) m = this.remaining;
      if (this.len + m > cap) {
        this.overflow();
        i = nz;
        continue;
      }
      copyRun(chunk, i, m, buf, this.len);
      this.len += m;
      this.remaining -= m;
      i += m;
    }
  }

  private overflow(): void {
    this.count('oversize');
    this.reset();
    this.discarding = true;
  }

  private count(kind: keyof SerialDecoderErrors, error?: unknown): void {
    this.errors[kind]++;
    if (this.onError !== undefined) {
      try {
        this.onError(kind, error);
      } catch {
        // An observer must not break decoding.
      }
    }
  }

  private endFrame(): void {
    if (this.discarding) {
      this.reset();
      return;
    }
    if (!this.started) return;
    const len = this.len;
    const incomplete = this.remaining > 0;
    this.reset();
    if (incomplete || len < SERIAL_HEADER_LENGTH) {
      this.count('truncated');
      return;
    }
    const buf = this.buf;
    if (crc8(buf, 0, HeaderOffset.HCS) !== buf[HeaderOffset.HCS]) {
      this.count('badHeader');
      return;
    }
    const type = buf[HeaderOffset.TYPE]!;
    const plen = (buf[HeaderOffset.LENGTH]! << 8) | buf[HeaderOffset.LENGTH + 1]!;
    if (plen > this.maxPayload) {
      this.count('oversize');
      return;
    }
    const isData = type === FrameType.DATA;
    const expected = SERIAL_HEADER_LENGTH + plen + (isData ? 0 : SERIAL_CRC_LENGTH);
    if (len < expected) {
      this.count('truncated');
      return;
    }
    if (len > expected) {
      this.count('framing');
      return;
    }
    if (isData) {
      if (plen < SERIAL_MIN_DATA_PAYLOAD) {
        this.count('truncated');
        return;
      }
      if (this.verifyFcs && !hasValidCrc32Trailer(buf, SERIAL_HEADER_LENGTH, len)) {
        this.count('badFcs');
        return;
      }
    } else if (!hasValidCrc32Trailer(buf, 0, len)) {
      this.count('badCrc');
      return;
    }
    const f = this.frame;
    f.type = type;
    f.flags = buf[HeaderOffset.FLAGS]!;
    f.seq = (buf[HeaderOffset.SEQ]! << 8) | buf[HeaderOffset.SEQ + 1]!;
    f.payload = buf.subarray(SERIAL_HEADER_LENGTH, SERIAL_HEADER_LENGTH + plen);
    this.frames++;
    const known = isKnownFrameType(type);
    if (!known) this.count('unknownType');
    const cb = known ? this.onFrame : this.onUnknown;
    if (cb === undefined) return;
    try {
      cb(f);
    } catch (err) {
      this.count('consumerErrors', err);
    }
  }
}
