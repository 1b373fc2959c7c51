/**
 * {@link installBoard}: `postern-board install`, the board's one-command installation. Writes, under
 * `root` (`/` on the board; a staging directory to inspect or to build an SD card image):
 *
 * | file | what |
 * |---|---|
 * | `/usr/local/lib/postern-board/usb-gadget.sh` | makes the USB gadget in configfs: one CDC-ACM function (`/dev/ttyGS0` on the board, `/dev/ttyACM0` on the host), bound to the first USB device controller |
 * | `/etc/systemd/system/postern-board.service` | runs the gadget script, then `postern-board run`; restarts it when it stops |
 * | `/etc/modules-load.d/postern-board.conf` | loads `dwc2` and `libcomposite` at boot |
 * | `/etc/postern-board/trusted-key.pem` | the public key images must be signed with |
 *
 * It never edits the boot configuration (`dtoverlay=dwc2` in `config.txt`, docs/dev-board.md) nor
 * starts anything: enabling the unit is the next command it prints.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_BOARD_ID } from './dev-board.js';
import { BoardError } from './errors.js';

/** Where {@link installBoard} puts its files, relative to the root. */
export const INSTALL_PATHS = {
  gadgetScript: '/usr/local/lib/postern-board/usb-gadget.sh',
  unit: '/etc/systemd/system/postern-board.service',
  modules: '/etc/modules-load.d/postern-board.conf',
  trustedKey: '/etc/postern-board/trusted-key.pem',
  state: '/var/lib/postern-board',
} as const;

/** The configfs name of the gadget. */
export const GADGET_NAME = 'postern';

/** Options of {@link installBoard}. */
export interface InstallOptions {
  /** The directory that stands for `/`. */
  root: string;
  /** The Ed25519 public key (PEM) images must be signed with. */
  trustedKeyPem: string;
  /** The board id. Default {@link DEFAULT_BOARD_ID}. */
  boardId?: string;
  /** The board's Ethernet interface. Default `eth0`. */
  ethernet?: string;
  /** The Node executable the unit runs. Default this process's. */
  node: string;
  /** The `postern-board` program (its `bin/postern-board.mjs`). */
  program: string;
}

/** The files {@link installBoard} wrote, as absolute paths under the root. */
export interface InstalledBoard {
  readonly gadgetScript: string;
  readonly unit: string;
  readonly modules: string;
  readonly trustedKey: string;
}

/** The configfs gadget script: idempotent, one CDC-ACM function. */
export function gadgetScript(): string {
  return `#!/bin/sh
# postern-board: the USB gadget of the Postern dev board (written by postern-board install).
# One CDC-ACM function: /dev/ttyGS0 on the board, /dev/ttyACM0 on the host. Idempotent.
set -eu
G=/sys/kernel/config/usb_gadget/${GADGET_NAME}
modprobe libcomposite
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
if [ ! -d "$G" ]; then
  mkdir -p "$G"
  echo 0x1d6b > "$G/idVendor"      # Linux Foundation
  echo 0x0104 > "$G/idProduct"     # Multifunction Composite Gadget
  echo 0x0100 > "$G/bcdDevice"
  echo 0x0200 > "$G/bcdUSB"
  mkdir -p "$G/strings/0x409"
  SERIAL=$(tr -d '\\000' < /proc/device-tree/serial-number 2>/dev/null || cat /etc/machine-id)
  echo "$SERIAL" > "$G/strings/0x409/serialnumber"
  echo "Postern" > "$G/strings/0x409/manufacturer"
  echo "Postern dev board" > "$G/strings/0x409/product"
  mkdir -p "$G/configs/c.1/strings/0x409"
  echo "CDC ACM" > "$G/configs/c.1/strings/0x409/configuration"
  echo 250 > "$G/configs/c.1/MaxPower"
  mkdir -p "$G/functions/acm.usb0"
  ln -s "$G/functions/acm.usb0" "$G/configs/c.1/"
fi
if [ -z "$(cat "$G/UDC")" ]; then
  UDC=$(ls /sys/class/udc 2>/dev/null | head -n 1)
  if [ -z "$UDC" ]; then
    echo "postern-board: no USB device controller (add dtoverlay=dwc2 to config.txt and reboot)" >&2
    exit 1
  fi
  echo "$UDC" > "$G/UDC"
fi
`;
}

/** Quotes one argument for a systemd command line. */
function unitArg(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `"${text.replace(/(["\\])/g, '\\$1')}"`;
}

/** The systemd unit. */
export function systemdUnit(options: InstallOptions): string {
  const run = [
    options.node,
    options.program,
    'run',
    '--port',
    '/dev/ttyGS0',
    '--eth',
    options.ethernet ?? 'eth0',
    '--state',
    INSTALL_PATHS.state,
    '--trusted-key',
    INSTALL_PATHS.trustedKey,
    '--board-id',
    options.boardId ?? DEFAULT_BOARD_ID,
  ]
    .map(unitArg)
    .join(' ');
  return `# postern-board: the Postern dev board (written by postern-board install).
[Unit]
Description=Postern dev board: USB Ethernet device and bootloader on the USB gadget port
After=network-pre.target systemd-modules-load.service
Wants=network-pre.target

[Service]
Type=simple
ExecStartPre=/bin/sh ${INSTALL_PATHS.gadgetScript}
ExecStart=${run}
Restart=always
RestartSec=2
KillMode=control-group
TimeoutStopSec=10

[Install]
WantedBy=multi-user.target
`;
}

function put(root: string, path: string, text: string, mode: number): string {
  const out = join(root, path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  chmodSync(out, mode);
  return out;
}

/**
 * Writes the board's files under `options.root` (see the module table).
 * @throws {@link BoardError} `BAD_ARGUMENT` for a key that is not a PEM public key, `PERMISSION_DENIED` when a file cannot be written.
 */
export function installBoard(options: InstallOptions): InstalledBoard {
  if (!/-----BEGIN PUBLIC KEY-----/.test(options.trustedKeyPem))
    throw new BoardError(
      'BAD_ARGUMENT',
      '--trusted-key: not a PEM public key (postern-flash keygen writes one: PREFIX.pub)',
    );
  try {
    return {
      gadgetScript: put(options.root, INSTALL_PATHS.gadgetScript, gadgetScript(), 0o755),
      unit: put(options.root, INSTALL_PATHS.unit, systemdUnit(options), 0o644),
      modules: put(options.root, INSTALL_PATHS.modules, 'dwc2\nlibcomposite\n', 0o644),
      trustedKey: put(options.root, INSTALL_PATHS.trustedKey, options.trustedKeyPem, 0o644),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BoardError(
      code === 'EACCES' || code === 'EPERM' ? 'PERMISSION_DENIED' : 'BAD_ARGUMENT',
      `--root ${options.root}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
