/**
 * A bare bootloader client for the board's tests: one request at a time over the host's end of the
 * cable, with `@postern/firmware`'s codecs, so a test can send what `postern-flash` never would (an
 * image whose bytes differ from its declared digest) and read INFO.
 */
import { crc32 } from '@postern/wire';
import { openSerialTransport } from '@postern/nic';
import type { OpenedSerialTransport } from '@postern/nic';
import {
  BootFrameDecoder,
  BootFrameFlag,
  BootFrameType,
  bootErrorName,
  encodeBootFrame,
  encodeErase,
  encodeSlot,
  encodeWrite,
  parseBootError,
  parseInfo,
  sha256Bytes,
} from '@postern/firmware';
import type { BootInfo } from '@postern/firmware';

/** An answer: the payload, or the error's name. */
export type Answer = { ok: true; payload: Uint8Array } | { ok: false; error: string };

export class BootClient {
  private seq = 0;
  private waiting: ((a: Answer) => void) | undefined;
  private waitingSeq = -1;

  private constructor(private readonly transport: OpenedSerialTransport) {
    const decoder = new BootFrameDecoder((f) => {
      if ((f.flags & BootFrameFlag.RESPONSE) === 0 || f.seq !== this.waitingSeq) return;
      const done = this.waiting;
      this.waiting = undefined;
      done?.(
        (f.flags & BootFrameFlag.ERROR) !== 0
          ? { ok: false, error: bootErrorName(parseBootError(f.payload).code) }
          : { ok: true, payload: f.payload },
      );
    });
    transport.stream.on('data', (chunk: Buffer) => decoder.push(chunk));
    transport.stream.write(Buffer.alloc(4));
  }

  static async open(path: string): Promise<BootClient> {
    return new BootClient(await openSerialTransport(path, { name: 'test-client', baudRate: 115_200 }));
  }

  /** Sends one request; resolves with its answer; rejects after `limitMs` without one. */
  request(type: number, payload: Uint8Array = new Uint8Array(0), limitMs = 5000): Promise<Answer> {
    const seq = (this.seq = (this.seq + 1) & 0xffff);
    this.waitingSeq = seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer to request 0x${type.toString(16)} within ${limitMs} ms`)),
        limitMs,
      );
      this.waiting = (a) => {
        clearTimeout(timer);
        resolve(a);
      };
      this.transport.stream.write(encodeBootFrame(type, 0, seq, payload));
    });
  }

  async info(): Promise<BootInfo> {
    const a = await this.request(BootFrameType.INFO);
    if (!a.ok) throw new Error(`INFO refused: ${a.error}`);
    return parseInfo(a.payload);
  }

  /** ERASE `slot` declaring `declared`'s size and digest, then WRITE every chunk of `bytes`. */
  async writeSlot(slot: number, declared: Uint8Array, bytes: Uint8Array, chunkSize: number): Promise<void> {
    const erase = await this.request(
      BootFrameType.ERASE,
      encodeErase({ slot, imageSize: declared.length, imageDigest: sha256Bytes(declared) }),
    );
    if (!erase.ok) throw new Error(`ERASE refused: ${erase.error}`);
    for (let c = 0; c * chunkSize < bytes.length; c++) {
      const data = bytes.subarray(c * chunkSize, (c + 1) * chunkSize);
      const w = await this.request(BootFrameType.WRITE, encodeWrite({ slot, chunk: c, crc: crc32(data), data }));
      if (!w.ok) throw new Error(`WRITE ${c} refused: ${w.error}`);
    }
  }

  slotRequest(type: number, slot: number): Promise<Answer> {
    return this.request(type, encodeSlot(slot));
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
