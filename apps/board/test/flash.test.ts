// Role (b): the board as the flash target. The host flashes a freshly built gateway image over the
// PTY cable with postern-flash; the board boots it on trial as a process whose NIC is the board's
// own Ethernet (a TAP on the bridge with eth0), the image confirms, and the kernel's curl on the
// Ethernet side reaches the image's admin page. Then what must not take the board down: an image
// whose bytes differ from what was declared, an image that crashes on its trial boot, and a power
// cut (SIGKILL of the board and its firmware) in the middle of a write. Each leaves the old slot
// running; the interrupted write resumes afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootFrameType, DIRECTORY_STORE_FILES, NO_SLOT, SlotState, buildImage } from '@postern/firmware';
import { eventually, netlabSkipReason, withSkipReason } from '@postern/netlab';
import { BootClient } from './boot-client.js';
import { BIN, curlUntil, makeBoardLab, runProgram, startProgram } from './support.js';
import type { BoardLab, Program } from './support.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['socat', 'curl', 'python3'] });

describe.skipIf(skip !== undefined)(withSkipReason('postern-board as the flash target', skip), () => {
  let l: BoardLab;
  let board: Program;
  let gatewayImage: string;
  let crashImage: string;

  /** INFO over the cable (the port is free between the steps). */
  async function info(): Promise<Awaited<ReturnType<BootClient['info']>>> {
    const c = await BootClient.open(l.hostPort);
    try {
      return await c.info();
    } finally {
      await c.close();
    }
  }

  /** Polls INFO until `accept` holds, for at most `limitMs`. */
  async function infoUntil(
    accept: (i: Awaited<ReturnType<BootClient['info']>>) => boolean,
    limitMs: number,
  ): Promise<Awaited<ReturnType<BootClient['info']>>> {
    let last = await info();
    await eventually(async () => accept((last = await info())), limitMs);
    return last;
  }

  beforeAll(async () => {
    l = await makeBoardLab(42);
    gatewayImage = join(l.dir, 'gateway.fw');
    const built = await runProgram(
      process.execPath,
      [BIN.flash, 'build', '--key', l.privateKeyFile, '--out', gatewayImage],
      120_000,
    );
    if (built.code !== 0) throw new Error(`postern-flash build failed: ${built.output}`);
    crashImage = join(l.dir, 'crash.fw');
    writeFileSync(
      crashImage,
      buildImage(
        [
          {
            path: 'app/crash.mjs',
            data: new TextEncoder().encode("process.stderr.write('crashing on purpose\\n');\nprocess.exit(3);\n"),
          },
        ],
        {
          name: 'crash-on-boot',
          version: '1.0.0',
          target: 'postern-devboard-1',
          entry: 'app/crash.mjs',
          runtime: '>=20',
          defaultConfig: {},
        },
        l.keys.privateKeyPem,
      ),
    );
    board = await l.startBoard(['--trial-timeout', '30000']);
  }, 180_000);
  afterAll(async () => {
    await l?.close();
  });

  it('flashes a freshly built gateway image that boots on the board, confirms, and serves its admin page on the Ethernet', async () => {
    const flash = await runProgram(process.execPath, [BIN.flash, '--port', l.hostPort, gatewayImage], 120_000);
    expect(flash.code, flash.output).toBe(0);
    expect(await curlUntil(l, 200, 30_000)).toBe(true);
    const i = await infoUntil((x) => x.confirmedSlot === 0, 15_000);
    expect(i.runningSlot).toBe(0);
    expect(i.confirmedSlot).toBe(0);
    expect(i.slots[0]!.state).toBe(SlotState.CONFIRMED);
    const page = await l.lab.exec(l.peerNs, 'curl', ['-s', '--max-time', '3', `http://${l.gatewayIp}/admin/`], {
      timeoutMs: 6000,
    });
    expect(page.stdout).toMatch(/<html/i);
  }, 180_000);

  it('refuses an image whose bytes differ from the declared digest, and keeps running the old slot across a reboot', async () => {
    const good = new Uint8Array(readFileSync(gatewayImage));
    const bad = good.slice();
    bad[Math.floor(bad.length / 2)]! ^= 0x20;
    const c = await BootClient.open(l.hostPort);
    try {
      const { chunkSize } = await c.info();
      await c.writeSlot(1, good, bad, chunkSize);
      expect(await c.slotRequest(BootFrameType.VERIFY, 1)).toEqual({ ok: false, error: 'DIGEST_MISMATCH' });
      expect(await c.slotRequest(BootFrameType.SELECT, 1)).toEqual({ ok: false, error: 'NOT_VERIFIED' });
      expect((await c.info()).slots[1]!.state).toBe(SlotState.INVALID);
      expect((await c.request(BootFrameType.REBOOT)).ok).toBe(true);
    } finally {
      await c.close();
    }
    const i = await infoUntil((x) => x.runningSlot === 0, 20_000);
    expect(i.runningSlot).toBe(0);
    expect(i.confirmedSlot).toBe(0);
    expect(await curlUntil(l, 200, 30_000)).toBe(true);
  }, 120_000);

  it('rolls back from an image that crashes on its trial boot: the old slot runs again', async () => {
    const flash = await runProgram(process.execPath, [BIN.flash, '--port', l.hostPort, crashImage], 60_000);
    expect(flash.code, flash.output).toBe(0);
    const i = await infoUntil((x) => x.slots[1]!.state === SlotState.REJECTED && x.runningSlot === 0, 30_000);
    expect(i.slots[1]!.state).toBe(SlotState.REJECTED);
    expect(i.runningSlot).toBe(0);
    expect(i.confirmedSlot).toBe(0);
    expect(await curlUntil(l, 200, 30_000)).toBe(true);
  }, 120_000);

  it('boots the old slot after a power cut in the middle of a write, and the write then resumes', async () => {
    const partial = join(l.dir, 'state', 'slots', DIRECTORY_STORE_FILES.partial(1));
    const stateFile = join(l.dir, 'state', 'slots', DIRECTORY_STORE_FILES.state);
    const flash = startProgram(process.execPath, [BIN.flash, '--port', l.hostPort, gatewayImage]);
    try {
      expect(await eventually(() => existsSync(partial), 30_000)).toBe(true);
      // The .part file comes first, then the record naming slot B as being written: wait for
      // state.bin to be replaced once more (a rename gives it a new inode), so the cut falls after
      // that record and not during the erase.
      const inodeAtErase = inodeOf(stateFile);
      expect(await eventually(() => inodeOf(stateFile) !== inodeAtErase, 30_000)).toBe(true);
      // Then freeze the host side, so the power cut falls in the middle of the write however fast
      // the machine is (the board cannot finish a 1.1 MB image from what the cable still holds).
      flash.child.kill('SIGSTOP');
      expect(flash.child.exitCode).toBeNull();
      await l.powerCut(board);
    } finally {
      flash.child.kill('SIGCONT');
      await flash.stop();
    }
    expect(await l.curl()).toBe(0);
    board = await l.startBoard(['--trial-timeout', '30000']);
    const i = await infoUntil((x) => x.runningSlot === 0, 20_000);
    expect(i.runningSlot).toBe(0);
    expect(i.confirmedSlot).toBe(0);
    expect(i.slots[1]!.state).toBe(SlotState.WRITING);
    expect(await curlUntil(l, 200, 30_000)).toBe(true);

    const again = await runProgram(process.execPath, [BIN.flash, '--port', l.hostPort, gatewayImage], 120_000);
    expect(again.code, again.output).toBe(0);
    const after = await infoUntil((x) => x.confirmedSlot === 1, 30_000);
    expect(after.confirmedSlot).toBe(1);
    expect(after.runningSlot).toBe(1);
    expect(after.trialSlot).toBe(NO_SLOT);
    expect(await curlUntil(l, 200, 30_000)).toBe(true);
  }, 240_000);
});

/** The inode of `path`, or undefined while it does not exist. */
function inodeOf(path: string): number | undefined {
  return statSync(path, { throwIfNoEntry: false })?.ino;
}
