// postern-flash against the SimulatedBootloader over a socket:// serial endpoint: interrupted
// transfers (cut at seeded random points) resume and never disturb the image that boots; damaged,
// foreign-key, wrong-board and oversized images are refused; a silent device is reported.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootFrameType, SimulatedBootloader, SlotState, buildImage, parseImage } from '@postern/firmware';
import { flashImage, readBoardInfo } from '../src/flash.js';
import { FlashError } from '../src/client.js';
import { createSimulator } from '@postern/device-simulator';
import { cuttingProxy, keys, otherKeys, rng, stallingProxy } from './support.js';

const BOARD = 'postern-devboard-1';

function image(label: string, bytes: number, options: { key?: string; target?: string } = {}): Uint8Array {
  const next = rng(bytes ^ (label.length * 7919));
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = Math.floor(next() * 256);
  return buildImage(
    [
      { path: 'app/main.mjs', data: new TextEncoder().encode(`console.log(${JSON.stringify(label)});\n`) },
      { path: 'app/blob.bin', data },
    ],
    {
      name: label,
      version: '1.0.0',
      target: options.target ?? BOARD,
      entry: 'app/main.mjs',
      runtime: '>=20',
      defaultConfig: {},
    },
    options.key ?? keys.privateKeyPem,
  );
}

let dir: string;
let bootloader: SimulatedBootloader;
let server: Server;
let endpoint: string;
let port: number;
const sockets = new Set<Socket>();

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-flash-'));
  bootloader = SimulatedBootloader.open({
    flashFile: join(dir, 'flash.bin'),
    boardId: BOARD,
    trustedKey: keys.publicKeyPem,
    slotSize: 512 * 1024,
  });
  server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    const detach = bootloader.attach(s);
    s.on('close', () => {
      detach();
      sockets.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
  endpoint = `socket://127.0.0.1:${port}`;
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  bootloader.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Chunks the board has of the image declared in `slot` (its INFO). */
function writtenChunks(slot: number): number {
  const info = bootloader.handle(BootFrameType.INFO, new Uint8Array(0)).payload;
  return new DataView(info.buffer, info.byteOffset).getUint32(48 + 48 * slot + 40);
}

/** Flashes `img`, boots it and confirms it, as a firmware would: the board's known-good image. */
async function installConfirmed(img: Uint8Array): Promise<number> {
  const r = await flashImage(img, { endpoint, noReboot: true });
  const t = bootloader.boot();
  expect(t).toMatchObject({ slot: r.slot, trial: true });
  expect(bootloader.handle(BootFrameType.CONFIRM, new Uint8Array(0)).flags & 2).toBe(0);
  return r.slot;
}

describe('flashImage', () => {
  it('writes every chunk, verifies, selects and reboots into the new image on trial', async () => {
    const img = image('first', 100_000);
    let rebooted = 0;
    bootloader.onReboot = () => rebooted++;
    const seen: string[] = [];
    const r = await flashImage(img, { endpoint, onProgress: (p) => seen.push(p.phase) });
    expect(r).toMatchObject({ slot: 0, totalChunks: Math.ceil(img.length / 1024), resumedChunks: 0, rebooted: true });
    expect(r.sentChunks).toBe(r.totalChunks);
    expect(rebooted).toBe(1);
    expect(seen).toEqual(expect.arrayContaining(['connect', 'erase', 'write', 'verify', 'select', 'reboot', 'done']));
    const t = bootloader.boot()!;
    expect(t.slot).toBe(0);
    expect(t.trial).toBe(true);
    expect(Buffer.from(t.image).equals(Buffer.from(img))).toBe(true);
  });

  it('survives transfers cut at random chunks: the old image still boots, and a rerun resumes and completes', async () => {
    const old = image('old', 20_000);
    const oldSlot = await installConfirmed(old);
    const fresh = image('new', 300_000);
    const next = rng(20240611);
    let sentTotal = 0;
    for (let cutNo = 0; cutNo < 4; cutNo++) {
      // Cut somewhere inside the remaining transfer (bytes from host to board).
      const cutAfter = Math.floor(2_000 + next() * 60_000);
      const proxy = await cuttingProxy(port, cutAfter);
      try {
        const err = await flashImage(fresh, { endpoint: proxy.url, requestTimeoutMs: 300, retries: 1 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err === undefined) break; // the remainder fitted before the cut point
        expect(err).toBeInstanceOf(FlashError);
        expect(['CONNECTION_LOST', 'NO_ANSWER']).toContain((err as FlashError).code);
        expect(proxy.cut()).toBe(true);
        // It says where it stopped: never beyond what the board has.
        const at = (err as FlashError).position;
        if (at !== undefined) {
          expect(at.total).toBe(Math.ceil(fresh.length / 1024));
          expect(at.done).toBeLessThanOrEqual(writtenChunks(1 - oldSlot));
          expect(
            (err as FlashError).message.endsWith(
              `interrupted at chunk ${at.done}/${at.total}; run the same command again to resume`,
            ),
          ).toBe(true);
        }
      } finally {
        await new Promise<void>((r) => proxy.server.close(() => r()));
      }
      // A reset in the middle of a transfer boots the confirmed image, not the half-written one.
      const t = bootloader.boot()!;
      expect(t).toMatchObject({ slot: oldSlot, trial: false });
      expect(Buffer.from(t.image).equals(Buffer.from(old))).toBe(true);
      sentTotal++;
    }
    expect(sentTotal).toBeGreaterThan(0);
    const r = await flashImage(fresh, { endpoint, noReboot: true });
    expect(r.resumedChunks).toBeGreaterThan(0);
    expect(r.sentChunks).toBeLessThan(r.totalChunks);
    expect(r.resumedChunks + r.sentChunks).toBe(r.totalChunks);
    const t = bootloader.boot()!;
    expect(t).toMatchObject({ slot: 1 - oldSlot, trial: true });
    expect(Buffer.from(t.image).equals(Buffer.from(fresh))).toBe(true);
  });

  it('does not write a verified copy of the same image again', async () => {
    const img = image('same', 30_000);
    await flashImage(img, { endpoint, noReboot: true });
    const r = await flashImage(img, { endpoint, noReboot: true });
    expect(r.sentChunks).toBe(0);
    expect(r.resumedChunks).toBe(r.totalChunks);
  });

  it('refuses images with flipped bits (the board checks, and the old image still boots)', async () => {
    const old = image('old', 10_000);
    const oldSlot = await installConfirmed(old);
    const good = image('flipped', 40_000);
    const next = rng(77);
    for (let n = 0; n < 6; n++) {
      const bad = good.slice();
      const at = Math.floor(next() * bad.length);
      bad[at]! ^= 1 << Math.floor(next() * 8);
      // The tool's own structure/digest check catches most; the board must refuse every one regardless.
      const err = (await flashImage(bad, { endpoint, noReboot: true, skipLocalChecks: true }).then(
        () => undefined,
        (e: unknown) => e,
      )) as FlashError;
      expect(err, `flip at ${at}`).toBeInstanceOf(FlashError);
      // Never "untrusted key": the board trusts the key this image claims; the flip damaged it.
      expect(['BAD_IMAGE', 'BAD_SIGNATURE']).toContain(err.code);
      expect(bootloader.slotState(1 - oldSlot)).toBe(SlotState.INVALID);
    }
    // A flip in the payload is caught by the tool before it connects.
    const bad = good.slice();
    bad[bad.length - 100]! ^= 0x10;
    await expect(flashImage(bad, { endpoint })).rejects.toMatchObject({ code: 'BAD_IMAGE' });
    expect(bootloader.boot()).toMatchObject({ slot: oldSlot, trial: false });
  });

  it('refuses an image signed with a key the board does not trust, in the tool (nothing sent) and on the board', async () => {
    const img = image('foreign', 8_000, { key: otherKeys.privateKeyPem });
    const local = (await flashImage(img, { endpoint }).then(
      () => undefined,
      (e: unknown) => e,
    )) as FlashError;
    expect(local.code).toBe('UNTRUSTED_KEY');
    expect(local.message).toContain(`does not trust key ${otherKeys.fingerprint.slice(0, 16)}`);
    expect(bootloader.stats.chunksWritten).toBe(0);
    expect(bootloader.slotState(0)).toBe(SlotState.EMPTY);
    const err = (await flashImage(img, { endpoint, skipLocalChecks: true }).then(
      () => undefined,
      (e: unknown) => e,
    )) as FlashError;
    expect(err.code).toBe('UNTRUSTED_KEY');
    expect(err.refusal?.name).toBe('BAD_SIGNATURE');
    expect(err.message).toContain(`does not trust key ${otherKeys.fingerprint.slice(0, 16)}`);
    expect(bootloader.slotState(0)).toBe(SlotState.INVALID);
    expect(bootloader.boot()).toBeUndefined();
  });

  it('calls a flipped signature byte a damaged image, not an untrusted key, in the tool (nothing sent) and on the board', async () => {
    const img = image('damaged', 50_000);
    img[img.length - 10]! ^= 0x40;
    const local = (await flashImage(img, { endpoint }).then(
      () => undefined,
      (e: unknown) => e,
    )) as FlashError;
    expect(local.code).toBe('BAD_SIGNATURE');
    expect(local.message).toContain(`does not verify with key ${keys.fingerprint.slice(0, 16)}`);
    expect(bootloader.stats.chunksWritten).toBe(0);
    const board = (await flashImage(img, { endpoint, skipLocalChecks: true }).then(
      () => undefined,
      (e: unknown) => e,
    )) as FlashError;
    expect(board.code).toBe('BAD_SIGNATURE');
    expect(board.refusal?.name).toBe('BAD_SIGNATURE');
    expect(board.message).toContain(`does not verify with key ${keys.fingerprint.slice(0, 16)}`);
    expect(bootloader.stats.chunksWritten).toBe(Math.ceil(img.length / 1024));
    expect(bootloader.slotState(0)).toBe(SlotState.INVALID);
  });

  it('checks the signature with a key the caller names: the board trusting another key is refused before sending', async () => {
    const img = image('named', 8_000);
    expect((await flashImage(img, { endpoint, trustedKey: keys.publicKeyPem, noReboot: true })).sentChunks).toBe(
      Math.ceil(img.length / 1024),
    );
    const other = image('named-other', 8_000, { key: otherKeys.privateKeyPem });
    await expect(flashImage(other, { endpoint, trustedKey: otherKeys.publicKeyPem })).rejects.toMatchObject({
      code: 'UNTRUSTED_KEY',
    });
    // An image without the key it was signed with (an older build): the named key checks it.
    const { manifest } = parseImage(img);
    expect(manifest.publicKey).toBeDefined();
    const written = bootloader.stats.chunksWritten;
    const bad = image('named-bad', 9_000);
    bad[bad.length - 1]! ^= 1;
    await expect(flashImage(bad, { endpoint, trustedKey: keys.privateKeyPem })).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    expect(bootloader.stats.chunksWritten).toBe(written);
  });

  it('stops at once when its signal is aborted, says where, and a rerun resumes from there and boots', async () => {
    const img = image('interrupted', 200_000);
    const total = Math.ceil(img.length / 1024);
    const proxy = await stallingProxy(port, 90_000);
    const abort = new AbortController();
    try {
      const flashing = flashImage(img, { endpoint: proxy.url, signal: abort.signal, requestTimeoutMs: 60_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await proxy.stalled;
      abort.abort();
      const err = (await flashing) as FlashError;
      expect(err).toBeInstanceOf(FlashError);
      expect(err.code).toBe('INTERRUPTED');
      expect(err.position?.total).toBe(total);
      expect(err.position!.done).toBeGreaterThan(0);
      expect(err.position!.done).toBeLessThan(total);
      expect(err.message).toBe(
        `interrupted at chunk ${err.position!.done}/${total}; run the same command again to resume`,
      );
      // Every chunk acknowledged is on the board (the stalled one never arrived).
      expect(writtenChunks(0)).toBe(err.position!.done);
      const r = await flashImage(img, { endpoint: proxy.url, noReboot: true });
      expect(r.resumedChunks).toBe(err.position!.done);
      expect(r.sentChunks).toBe(total - err.position!.done);
    } finally {
      await proxy.close();
    }
    const t = bootloader.boot()!;
    expect(t).toMatchObject({ slot: 0, trial: true });
    expect(Buffer.from(t.image).equals(Buffer.from(img))).toBe(true);
  });

  it('tells a plain USB Ethernet device (no bootloader) apart, for INFO and for a flash', async () => {
    const sim = await createSimulator({ serial: 'socket://127.0.0.1:0' });
    try {
      const at = sim.device.endpoint.address!;
      await expect(readBoardInfo(at)).rejects.toMatchObject({
        code: 'NOT_A_BOOTLOADER',
        message: expect.stringContaining('not a bootloader'),
      });
      // The simulated device serves one host at a time: wait until it saw the first one go.
      while (sim.device.board !== undefined) await new Promise((r) => setTimeout(r, 10));
      await expect(flashImage(image('x', 1_000), { endpoint: at })).rejects.toMatchObject({ code: 'NOT_A_BOOTLOADER' });
    } finally {
      await sim.close();
    }
  });

  it('refuses an image for another board, in the tool and on the board', async () => {
    const img = image('elsewhere', 8_000, { target: 'some-other-board' });
    await expect(flashImage(img, { endpoint })).rejects.toMatchObject({
      code: 'WRONG_BOARD',
      message: expect.stringMatching(/^wrong board/),
    });
    await expect(flashImage(img, { endpoint, skipLocalChecks: true })).rejects.toMatchObject({ code: 'WRONG_BOARD' });
  });

  it('refuses an image larger than a slot, in the tool and on the board', async () => {
    const img = image('huge', 600_000);
    await expect(flashImage(img, { endpoint })).rejects.toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringMatching(/^image too large/),
    });
    const bare = bootloader.handle(
      BootFrameType.ERASE,
      (() => {
        const p = new Uint8Array(40);
        new DataView(p.buffer).setUint32(4, img.length);
        return p;
      })(),
    );
    expect(bare.flags & 2).toBe(2);
    expect(bare.payload[0]).toBe(17);
  });

  it('reports a device that does not answer, and one that is not there', async () => {
    const silent = createServer((s) => s.on('error', () => {}).resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      await expect(
        flashImage(image('x', 1_000), {
          endpoint: `socket://127.0.0.1:${silentPort}`,
          requestTimeoutMs: 50,
          retries: 2,
        }),
      ).rejects.toMatchObject({
        code: 'NO_ANSWER',
        message: expect.stringMatching(/not answering/),
      });
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
    await expect(flashImage(image('x', 1_000), { endpoint: `socket://127.0.0.1:${silentPort}` })).rejects.toMatchObject(
      { code: 'DEVICE_NOT_FOUND' },
    );
  });
});
