// One port, two protocols: frames are routed by type whatever the chunking of the byte stream, the
// board-side answers of both protocols reach the port whole, and an over-long run without a
// delimiter is dropped and counted rather than buffered without bound.
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { Duplex } from 'node:stream';
import {
  BootFrameDecoder,
  BootFrameType,
  encodeBootFrame,
  SimulatedBootloader,
  MemorySlotStore,
  generateSigningKeyPair,
  parseInfo,
} from '@postern/firmware';
import { encodeSerialFrameToBytes } from '@postern/nic';
import { MAX_DELIMITED_FRAME, splitPort } from '../src/port-demux.js';

/** A port: what the board writes is collected; `feed` delivers host bytes to the board. */
function fakePort(): { port: Duplex; written: Buffer[]; feed: (b: Uint8Array) => void } {
  const written: Buffer[] = [];
  const inbound = new PassThrough();
  const port = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      written.push(chunk);
      cb();
    },
  });
  inbound.on('data', (b: Buffer) => port.push(b));
  return { port, written, feed: (b) => inbound.write(b) };
}

const collect = (s: Duplex): Buffer[] => {
  const got: Buffer[] = [];
  s.on('data', (b: Buffer) => got.push(b));
  return got;
};

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('splitPort', () => {
  it('routes bootloader types to the bootloader and the rest to the device, however the bytes are cut', async () => {
    const { port, feed } = fakePort();
    const split = splitPort(port);
    const dev = collect(split.device);
    const boot = collect(split.bootloader);
    const hello = encodeSerialFrameToBytes({ type: 0x02, flags: 0, seq: 1, payload: new Uint8Array([1, 1, 0, 0]) });
    const info = encodeBootFrame(BootFrameType.INFO, 0, 7, new Uint8Array(0));
    const data = encodeSerialFrameToBytes({ type: 0x01, flags: 0, seq: 0, payload: new Uint8Array(64).fill(0) });
    const all = Buffer.concat([hello, info, data, info]);
    for (let i = 0; i < all.length; i += 3) feed(all.subarray(i, i + 3));
    await tick();
    expect(split.stats).toMatchObject({ deviceFrames: 2, bootloaderFrames: 2 });
    const strip = (b: Buffer): string => b.toString('hex').replace(/^(00)+|(00)+$/g, '');
    expect(dev.map(strip)).toEqual([hello, data].map((f) => strip(Buffer.from(f))));
    expect(boot.map(strip)).toEqual([info, info].map((f) => strip(Buffer.from(f))));
  });

  it("serves the bootloader on the port: an INFO gets the board's answer", async () => {
    const { port, written, feed } = fakePort();
    const split = splitPort(port);
    const keys = generateSigningKeyPair();
    const bl = SimulatedBootloader.withStore(new MemorySlotStore(), {
      boardId: 'b-1',
      trustedKey: keys.publicKeyPem,
      slotSize: 64 * 1024,
    });
    bl.attach(split.bootloader);
    feed(encodeBootFrame(BootFrameType.INFO, 0, 9, new Uint8Array(0)));
    await tick();
    await tick();
    const answers: Array<{ seq: number; payload: Uint8Array }> = [];
    const decoder = new BootFrameDecoder((f) => answers.push({ seq: f.seq, payload: f.payload }));
    for (const w of written) decoder.push(w);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.seq).toBe(9);
    expect(parseInfo(answers[0]!.payload).boardId).toBe('b-1');
  });

  it('drops and counts a run longer than a frame can be, then routes the next frame', async () => {
    const { port, feed } = fakePort();
    const split = splitPort(port);
    const boot = collect(split.bootloader);
    feed(new Uint8Array(MAX_DELIMITED_FRAME + 100).fill(0x41));
    feed(encodeBootFrame(BootFrameType.INFO, 0, 1, new Uint8Array(0)));
    await tick();
    expect(split.stats.oversizeBytes).toBe(MAX_DELIMITED_FRAME + 100);
    expect(boot).toHaveLength(1);
  });
});
