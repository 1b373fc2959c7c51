// End to end: a freshly built gateway image flashed over the board's serial flash port (socket:// and
// a PTY) into the simulated dev board, booted from the flash file as a process whose NIC is the
// simulated USB Ethernet device, serving the admin page through the simulator's host forward; then a
// firmware that never confirms, rolled back at the next reset.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InfoFlag, SlotState } from '@postern/firmware';
import { startBootloaderBoard } from '@postern/device-simulator';
import type { BootloaderBoard, RunningFirmware } from '@postern/device-simulator';
import { buildFirmwareImage } from '../src/build.js';
import { BootloaderClient } from '../src/client.js';
import { flashImage, readBoardInfo } from '../src/flash.js';
import { cuttingProxy, fetchText, freePort, keys } from './support.js';

const NEVER_CONFIRM_ENTRY = fileURLToPath(new URL('./fixtures/never-confirm-entry.ts', import.meta.url));
const hasPython = ['/usr/bin/python3', '/usr/local/bin/python3'].some((p) => existsSync(p));

let dir: string;
let gatewayImage: Uint8Array;
let neverConfirmImage: Uint8Array;
let testPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-flash-e2e-'));
  gatewayImage = (await buildFirmwareImage({ privateKey: keys.privateKeyPem })).image;
  testPort = await freePort();
  neverConfirmImage = (
    await buildFirmwareImage({
      privateKey: keys.privateKeyPem,
      entry: NEVER_CONFIRM_ENTRY,
      includeUi: true,
      name: 'never-confirm',
      defaultConfig: { testPort },
    })
  ).image;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function nextEvent<T>(board: BootloaderBoard, event: string, accept: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T): void => {
      if (!accept(v)) return;
      board.off(event, on);
      resolve(v);
    };
    board.on(event, on);
  });
}

async function startBoard(name: string, serial: string): Promise<BootloaderBoard> {
  const logs: string[] = [];
  return startBootloaderBoard({
    flashFile: join(dir, `${name}.flash`),
    trustedKey: keys.publicKeyPem,
    serial,
    slotSize: 2 * 1024 * 1024,
    trialTimeoutMs: 0,
    simulator: { hostForwards: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
    log: (l) => logs.push(l),
  });
}

describe('the simulated dev board', () => {
  it('boots a flashed gateway image that serves the admin page, then rolls back from a firmware that never confirms', async () => {
    const board = await startBoard('socket', 'socket://127.0.0.1:0');
    try {
      expect(board.firmware).toBeUndefined();
      const endpoint = board.flashPort.address!;
      const confirmed = nextEvent<number>(board, 'confirm');
      const r = await flashImage(gatewayImage, { endpoint });
      expect(r.slot).toBe(0);
      expect(r.sentChunks).toBe(r.totalChunks);
      expect(await confirmed).toBe(0);
      const url = `http://127.0.0.1:${board.simulator.forwarders[0]!.port}/admin/`;
      const page = await fetchText(url);
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<html/i);
      let info = await readBoardInfo(endpoint);
      expect(info.runningSlot).toBe(0);
      expect(info.confirmedSlot).toBe(0);
      expect(info.slots[0]!.state).toBe(SlotState.CONFIRMED);

      // A transfer cut halfway, then a reset: the confirmed gateway boots again and serves.
      const flashPort = Number(/:(\d+)$/.exec(endpoint)![1]);
      const proxy = await cuttingProxy(flashPort, Math.floor(neverConfirmImage.length / 2));
      await expect(
        flashImage(neverConfirmImage, { endpoint: proxy.url, requestTimeoutMs: 300, retries: 1 }),
      ).rejects.toMatchObject({ code: expect.stringMatching(/CONNECTION_LOST|NO_ANSWER/) });
      await new Promise<void>((r) => proxy.server.close(() => r()));
      const afterCut = nextEvent<RunningFirmware | undefined>(board, 'boot');
      await board.reset('power cut in the middle of a transfer');
      expect(await afterCut).toMatchObject({ slot: 0, trial: false });
      expect((await fetchText(url)).body).toMatch(/<html/i);

      // A firmware that starts but never confirms (the rerun resumes the cut transfer): it runs on trial in slot 1 ...
      const trialBoot = nextEvent<RunningFirmware | undefined>(board, 'boot');
      const r2 = await flashImage(neverConfirmImage, { endpoint });
      expect(r2.slot).toBe(1);
      expect(r2.resumedChunks).toBeGreaterThan(0);
      expect(r2.resumedChunks + r2.sentChunks).toBe(r2.totalChunks);
      const fw = await trialBoot;
      expect(fw).toMatchObject({ slot: 1, trial: true });
      expect((await fetchText(`http://127.0.0.1:${testPort}/`)).body).toContain('never-confirm');
      info = await readBoardInfo(endpoint);
      expect(info.flags & InfoFlag.RUNNING_TRIAL).toBe(InfoFlag.RUNNING_TRIAL);
      // ... and a flash now is refused: both slots are taken (running trial, confirmed fallback).
      await expect(flashImage(gatewayImage, { endpoint })).rejects.toMatchObject({ code: 'BUSY' });

      // ... until the next reset, which rolls back to the confirmed gateway.
      const rollback = nextEvent<RunningFirmware | undefined>(board, 'boot');
      const client = await BootloaderClient.open(endpoint);
      await client.reboot();
      await client.close();
      expect(await rollback).toMatchObject({ slot: 0, trial: false });
      info = await readBoardInfo(endpoint);
      expect(info.runningSlot).toBe(0);
      expect(info.flags & InfoFlag.ROLLED_BACK).toBe(InfoFlag.ROLLED_BACK);
      expect(info.slots[1]!.state).toBe(SlotState.REJECTED);
      expect((await fetchText(url)).body).toMatch(/<html/i);
      await expect(fetchText(`http://127.0.0.1:${testPort}/`, 500)).rejects.toThrow();
    } finally {
      await board.close();
    }
  });

  it('boots the confirmed image again after a power cycle (a new board on the same flash file)', async () => {
    const board = await startBoard('socket', 'socket://127.0.0.1:0');
    try {
      expect(board.firmware).toMatchObject({ slot: 0, trial: false });
      const page = await fetchText(`http://127.0.0.1:${board.simulator.forwarders[0]!.port}/admin/`);
      expect(page.body).toMatch(/<html/i);
    } finally {
      await board.close();
    }
  });

  it('resets a trial image that does not confirm within the trial timeout, and rolls back from it', async () => {
    const board = await startBootloaderBoard({
      flashFile: join(dir, 'watchdog.flash'),
      trustedKey: keys.publicKeyPem,
      serial: 'socket://127.0.0.1:0',
      slotSize: 2 * 1024 * 1024,
      trialTimeoutMs: 1500,
    });
    try {
      const boots: Array<RunningFirmware | undefined> = [];
      board.on('boot', (fw: RunningFirmware | undefined) => boots.push(fw));
      const settled = nextEvent<RunningFirmware | undefined>(board, 'boot', (fw) => fw === undefined);
      await flashImage(neverConfirmImage, { endpoint: board.flashPort.address! });
      await settled;
      // One trial boot of slot 0, then the watchdog's reset: nothing confirmed to fall back to.
      expect(boots).toEqual([expect.objectContaining({ slot: 0, trial: true }), undefined]);
      const info = await readBoardInfo(board.flashPort.address!);
      expect(info.slots[0]!.state).toBe(SlotState.REJECTED);
      expect(info.flags & InfoFlag.ROLLED_BACK).toBe(InfoFlag.ROLLED_BACK);
      expect(board.bootloader.stats.rollbacks).toBe(1);
    } finally {
      await board.close();
    }
  });

  it.skipIf(!hasPython)('flashes over a PTY flash port (serialport on the host side)', async () => {
    const board = await startBoard('pty', 'pty');
    try {
      const confirmed = nextEvent<number>(board, 'confirm');
      const r = await flashImage(gatewayImage, { endpoint: board.flashPort.address! });
      expect(r.slot).toBe(0);
      expect(await confirmed).toBe(0);
      const page = await fetchText(`http://127.0.0.1:${board.simulator.forwarders[0]!.port}/admin/`);
      expect(page.body).toMatch(/<html/i);
    } finally {
      await board.close();
    }
  });
});
