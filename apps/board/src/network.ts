/**
 * {@link prepareBoardNetwork}: the board's network plumbing, made idempotently with iproute2 before
 * the board starts: a Linux bridge that joins the board's Ethernet interface with two persistent TAP
 * devices, one for each role of the board:
 *
 * ```
 *  eth0 ──┐
 *         ├─ bridge (pbr0) ── TAP pusb0: the USB Ethernet device's wire side (frames to/from the host)
 *         └──────────────── ── TAP pfw0: the NIC of the firmware image the board runs (--nic tap:pfw0)
 * ```
 *
 * The bridge forwards between the three like a switch (no STP, so ports forward at once). An address
 * the board itself had on its Ethernet interface belongs on the bridge afterwards (the install
 * script's systemd unit leaves that to the system's network configuration: see docs/dev-board.md).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BoardError } from './errors.js';

/** The interfaces of {@link prepareBoardNetwork}. */
export interface BoardNetwork {
  /** The board's Ethernet interface (eth0). */
  readonly ethernet: string;
  /** The bridge. */
  readonly bridge: string;
  /** The TAP device of the USB Ethernet device's wire side. */
  readonly deviceTap: string;
  /** The TAP device the firmware image opens as its NIC. */
  readonly firmwareTap: string;
}

/** The default names: eth0, pbr0, pusb0, pfw0. */
export const DEFAULT_BOARD_NETWORK: BoardNetwork = {
  ethernet: 'eth0',
  bridge: 'pbr0',
  deviceTap: 'pusb0',
  firmwareTap: 'pfw0',
};

const SETUP_TIMEOUT_MS = 10_000;

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

function ip(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: SETUP_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) {
        resolve();
        return;
      }
      const text = `${String(stderr).trim() || err.message}`.split('\n')[0];
      const code =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'DEVICE_NOT_FOUND'
          : /not permitted|permission/i.test(text ?? '')
            ? 'PERMISSION_DENIED'
            : 'SETUP_FAILED';
      reject(
        new BoardError(
          code,
          `ip ${args.join(' ')}: ${code === 'DEVICE_NOT_FOUND' ? 'iproute2 is not installed' : text}`,
          { cause: err },
        ),
      );
    });
  });
}

/**
 * Makes the bridge and the TAP devices when missing, enslaves the Ethernet interface and the TAPs to
 * the bridge and sets everything up. Safe to run again.
 * @throws {@link BoardError} `DEVICE_NOT_FOUND` (no such Ethernet interface, no `ip`), `PERMISSION_DENIED` (not root), `SETUP_FAILED`.
 */
export async function prepareBoardNetwork(net: BoardNetwork): Promise<void> {
  if (!linkExists(net.ethernet))
    throw new BoardError('DEVICE_NOT_FOUND', `--eth ${net.ethernet}: no such network interface`);
  if (!linkExists(net.bridge)) await ip(['link', 'add', 'name', net.bridge, 'type', 'bridge']);
  await ip(['link', 'set', 'dev', net.ethernet, 'master', net.bridge]);
  await ip(['link', 'set', 'dev', net.ethernet, 'up']);
  for (const tap of [net.deviceTap, net.firmwareTap]) {
    if (!linkExists(tap)) await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await ip(['link', 'set', 'dev', tap, 'master', net.bridge]);
    await ip(['link', 'set', 'dev', tap, 'up']);
  }
  await ip(['link', 'set', 'dev', net.bridge, 'up']);
}
