/**
 * {@link BootloaderClient}: the host side of the serial bootloader protocol (docs/flash-protocol.md
 * §3): one request outstanding at a time, resent with the same bytes (same seq) after
 * `requestTimeoutMs`, up to `retries` times; error responses become {@link FlashError}s whose code
 * is the protocol's error name. {@link FlashError} is the one error type of this tool.
 */
import type { Duplex } from 'node:stream';
import {
  BootFrameDecoder,
  BootFrameFlag,
  BootFrameType,
  encodeBootFrame,
  encodeChunkMapRequest,
  encodeErase,
  encodeSlot,
  encodeWrite,
  bootErrorName,
  parseBootError,
  parseChunkMap,
  parseInfo,
  parseSlotCount,
} from '@postern/firmware';
import type { BootInfo, ChunkMap, EraseRequest, SlotCount, WriteRequest } from '@postern/firmware';
import { NicError, openSerialTransport } from '@postern/nic';
import type { OpenedSerialTransport } from '@postern/nic';

/** Why flashing failed. Protocol refusals carry the board's error name (`BAD_SIGNATURE`, `TOO_LARGE`, ...). */
export type FlashErrorCode =
  | 'NO_ANSWER'
  | 'CONNECTION_LOST'
  | 'DEVICE_NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'DEVICE_BUSY'
  | 'WRONG_BOARD'
  | 'BAD_SIGNATURE'
  | 'TOO_LARGE'
  | 'BAD_IMAGE'
  | 'BAD_ARGUMENT'
  | 'BUSY'
  /** The image is signed with a key the board does not trust. */
  | 'UNTRUSTED_KEY'
  /** The endpoint answers, but as the USB Ethernet device (device protocol), not as a bootloader. */
  | 'NOT_A_BOOTLOADER'
  /** The caller's abort signal fired (SIGINT, SIGTERM). */
  | 'INTERRUPTED'
  | 'REFUSED';

/** Where a transfer stood when it stopped: chunks of the image on the board, of `total`. */
export interface FlashPosition {
  readonly done: number;
  readonly total: number;
}

/** A failed flash or bootloader request; `message` is one line for a person. */
export class FlashError extends Error {
  override readonly name = 'FlashError';
  /** For a transfer that stopped after ERASE (interrupted, link lost, no answer): where it stood; running the flash again resumes there. */
  readonly position: FlashPosition | undefined;
  constructor(
    readonly code: FlashErrorCode,
    message: string,
    /** For a board refusal: the protocol error name (e.g. `CHUNK_CRC`) and its detail. */
    readonly refusal?: { readonly name: string; readonly detail: number },
    options?: { cause?: unknown; position?: FlashPosition },
  ) {
    super(message, options);
    this.position = options?.position;
  }
}

const REFUSAL_CODES: Record<string, FlashErrorCode> = {
  WRONG_BOARD: 'WRONG_BOARD',
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  TOO_LARGE: 'TOO_LARGE',
  BAD_IMAGE: 'BAD_IMAGE',
  DIGEST_MISMATCH: 'BAD_IMAGE',
  BUSY: 'BUSY',
  BAD_SLOT: 'BUSY',
};

/** Options of {@link BootloaderClient.open}. */
export interface BootloaderClientOptions {
  /** Time to wait for each answer. Default 1000 ms. */
  requestTimeoutMs?: number;
  /** Resends after a timeout. Default 3. */
  retries?: number;
  /** Aborting it fails the outstanding and every later request at once with `INTERRUPTED` (a SIGINT). */
  signal?: AbortSignal;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(BootFrameType).map(([k, v]) => [v, k]));

/** A connection to a board's bootloader. One request at a time (the methods serialise themselves). */
export class BootloaderClient {
  /** Requests resent after a timeout. */
  resends = 0;
  private readonly decoder: BootFrameDecoder;
  private seq = 0;
  private pending:
    { type: number; seq: number; resolve: (r: { flags: number; payload: Uint8Array }) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lost: FlashError | undefined;
  private onLost: ((e: FlashError) => void) | undefined;

  private constructor(
    private readonly transport: OpenedSerialTransport,
    private readonly endpoint: string,
    private readonly timeoutMs: number,
    private readonly retries: number,
    signal: AbortSignal | undefined,
  ) {
    this.decoder = new BootFrameDecoder((f) => {
      const p = this.pending;
      if (p === undefined || (f.flags & BootFrameFlag.RESPONSE) === 0 || f.type !== p.type || f.seq !== p.seq) return;
      this.pending = undefined;
      p.resolve({ flags: f.flags, payload: f.payload.slice() });
    });
    const stream: Duplex = transport.stream;
    stream.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    const lost = (): void => {
      if (this.lost !== undefined) return;
      this.lost = new FlashError('CONNECTION_LOST', `the connection to ${endpoint} was lost`);
      this.onLost?.(this.lost);
    };
    stream.on('close', lost);
    stream.on('end', lost);
    stream.on('error', lost);
    if (signal !== undefined) {
      const interrupted = (): void => {
        if (this.lost !== undefined) return;
        this.lost = new FlashError('INTERRUPTED', 'interrupted');
        this.onLost?.(this.lost);
      };
      if (signal.aborted) interrupted();
      else signal.addEventListener('abort', interrupted, { once: true });
      this.detachSignal = () => signal.removeEventListener('abort', interrupted);
    }
  }

  private detachSignal: () => void = () => {};

  /**
   * Opens `endpoint` (a serial device path or `socket://HOST:PORT`).
   * @throws {@link FlashError} `DEVICE_NOT_FOUND`, `PERMISSION_DENIED`, `DEVICE_BUSY`, `BAD_ARGUMENT`.
   */
  static async open(endpoint: string, options: BootloaderClientOptions = {}): Promise<BootloaderClient> {
    let transport: OpenedSerialTransport;
    try {
      transport = await openSerialTransport(endpoint, { name: 'postern-flash', baudRate: 115_200 });
    } catch (err) {
      const code =
        err instanceof NicError &&
        (err.code === 'PERMISSION_DENIED' || err.code === 'DEVICE_BUSY' || err.code === 'BAD_ARGUMENT')
          ? err.code
          : 'DEVICE_NOT_FOUND';
      const why =
        err instanceof NicError && err.cause instanceof Error
          ? err.cause.message
          : err instanceof Error
            ? err.message
            : String(err);
      throw new FlashError(code, `no device at ${endpoint}: ${why}`, undefined, { cause: err });
    }
    // A few delimiters flush whatever the board's decoder held from an earlier, interrupted session.
    transport.stream.write(new Uint8Array(4));
    return new BootloaderClient(
      transport,
      endpoint,
      options.requestTimeoutMs ?? 1000,
      options.retries ?? 3,
      options.signal,
    );
  }

  /** Sends one request and resolves with the response payload. @throws {@link FlashError}. */
  request(type: number, payload: Uint8Array): Promise<Uint8Array> {
    const run = this.queue.then(() => this.exchange(type, payload));
    this.queue = run.catch(() => {});
    return run;
  }

  private exchange(type: number, payload: Uint8Array): Promise<Uint8Array> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    this.seq = (this.seq + 1) & 0xffff;
    const seq = this.seq;
    const bytes = encodeBootFrame(type, 0, seq, payload);
    const name = TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
    return new Promise<Uint8Array>((resolve, reject) => {
      let attempts = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.pending = undefined;
        this.onLost = undefined;
      };
      this.onLost = (e) => {
        finish();
        reject(e);
      };
      this.pending = {
        type,
        seq,
        resolve: (r) => {
          finish();
          if ((r.flags & BootFrameFlag.ERROR) === 0) {
            resolve(r.payload);
            return;
          }
          const { code, detail } = parseBootError(r.payload);
          const refusal = bootErrorName(code);
          reject(
            new FlashError(REFUSAL_CODES[refusal] ?? 'REFUSED', `the board refused ${name}: ${refusal}`, {
              name: refusal,
              detail,
            }),
          );
        },
      };
      const send = (): void => {
        if (attempts > this.retries) {
          finish();
          reject(
            new FlashError(
              'NO_ANSWER',
              `the device at ${this.endpoint} is not answering (${name}, ${attempts} attempts)`,
            ),
          );
          return;
        }
        if (attempts > 0) this.resends++;
        attempts++;
        this.transport.stream.write(bytes);
        timer = setTimeout(send, this.timeoutMs);
      };
      send();
    });
  }

  /**
   * INFO (§5.1). Every bootloader implements INFO, so an `UNKNOWN_TYPE` answer means the endpoint
   * speaks the device protocol (the same framing) as the USB Ethernet device: `NOT_A_BOOTLOADER`.
   */
  async info(): Promise<BootInfo> {
    let payload: Uint8Array;
    try {
      payload = await this.request(BootFrameType.INFO, new Uint8Array(0));
    } catch (err) {
      if (err instanceof FlashError && err.refusal?.name === 'UNKNOWN_TYPE') {
        throw new FlashError(
          'NOT_A_BOOTLOADER',
          `${this.endpoint} answers as a USB Ethernet device, not a bootloader: start the board in bootloader mode (postern-sim --flash FILE)`,
          err.refusal,
          { cause: err },
        );
      }
      throw err;
    }
    try {
      return parseInfo(payload);
    } catch (err) {
      throw new FlashError(
        'NOT_A_BOOTLOADER',
        `${this.endpoint} answered INFO with ${payload.length} bytes, too short for a bootloader's INFO`,
        undefined,
        { cause: err },
      );
    }
  }

  /** ERASE (§5.2); resolves with the image's chunk count. */
  async erase(r: EraseRequest): Promise<SlotCount> {
    return parseSlotCount(await this.request(BootFrameType.ERASE, encodeErase(r)));
  }

  /** WRITE (§5.3); resolves with the chunks written so far. */
  async write(r: WriteRequest): Promise<SlotCount> {
    return parseSlotCount(await this.request(BootFrameType.WRITE, encodeWrite(r)));
  }

  /** CHUNK_MAP (§5.4). */
  async chunkMap(slot: number, first: number): Promise<ChunkMap> {
    return parseChunkMap(await this.request(BootFrameType.CHUNK_MAP, encodeChunkMapRequest({ slot, first })));
  }

  /** VERIFY (§5.5). */
  async verify(slot: number): Promise<SlotCount> {
    return parseSlotCount(await this.request(BootFrameType.VERIFY, encodeSlot(slot)));
  }

  /** SELECT (§5.6). */
  async select(slot: number): Promise<void> {
    await this.request(BootFrameType.SELECT, encodeSlot(slot));
  }

  /** REBOOT (§5.7). */
  async reboot(): Promise<void> {
    await this.request(BootFrameType.REBOOT, new Uint8Array(0));
  }

  /** CONFIRM (§5.8); resolves with the confirmed slot. */
  async confirm(): Promise<number> {
    return parseSlotCount(await this.request(BootFrameType.CONFIRM, new Uint8Array(0))).slot;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.lost ??= new FlashError('CONNECTION_LOST', 'closed');
    this.detachSignal();
    await this.transport.close();
  }
}

/**
 * Connects to a bootloader control endpoint and confirms the running firmware (what a firmware
 * calls once it is up, §7). @throws {@link FlashError}.
 */
export async function confirmRunningFirmware(endpoint: string, options?: BootloaderClientOptions): Promise<number> {
  const client = await BootloaderClient.open(endpoint, options);
  try {
    return await client.confirm();
  } finally {
    await client.close();
  }
}
