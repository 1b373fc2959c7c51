/**
 * Attaching a file descriptor to a Linux TAP device without a compiled addon.
 *
 * Node cannot issue `ioctl(2)`. The attachment made by `ioctl(fd, TUNSETIFF, ifreq)` belongs to the
 * open file description of `/dev/net/tun`, not to the process or the descriptor number, so Node opens
 * `/dev/net/tun` itself and a short Python 3 script, `tap-attach.py` ({@link TAP_ATTACH_SCRIPT}), run
 * as a child that inherits the descriptor (as its fd 3), performs the ioctl and reports the device's
 * name, index and MTU as one line of JSON. When the child has exited, Node's descriptor is attached:
 * one `read` returns one frame, one `write` sends one. The interpreter is found once per process
 * ({@link resolvePython3}): a real `python3`, never a version manager's shim, which can take
 * seconds to start each time.
 *
 * Flags: `IFF_TAP | IFF_NO_PI` (Ethernet frames with no packet-information prefix), plus
 * `IFF_VNET_HDR` when asked ({@link OpenTapOptions.vnetHeader}: each frame then starts with a 10-byte
 * virtio-net header, see `vnet-header.ts`, and the kernel's own offloads are off, so that it sends
 * ordinary, checksummed frames). The descriptor is opened with `O_NONBLOCK` unless asked otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, realpathSync, statSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NicError, type NicErrorCode } from '../driver.js';

/** The clone device every TUN/TAP descriptor is opened from. */
export const TUN_CLONE_DEVICE = '/dev/net/tun';

/**
 * How long the attach helper may take before it is killed. Generous: the ioctl itself is quick, but
 * starting the interpreter took seconds on a loaded machine (through a version manager's shim).
 */
const ATTACH_HELPER_TIMEOUT_MS = 30_000;

/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_IFNAME_LENGTH = 15;

/**
 * The helper script (`tap-attach.py` beside this module, in `src/` and in `dist/`): performs the
 * ioctl on its fd 3 and prints one line of JSON. Found relative to this module, so it is found from
 * the sources, from the package's build (the build copies it beside the compiled module) and from the
 * executables' bundles (which resolve a module's own location to its source).
 */
export const TAP_ATTACH_SCRIPT = fileURLToPath(new URL('./tap-attach.py', import.meta.url));

/** Options for {@link openTapFd}. */
export interface OpenTapOptions {
  /** Create the device when none of that name exists (it then lives until the descriptor closes). Default false. */
  create?: boolean;
  /** Open with `O_NONBLOCK` (reads return EAGAIN when no frame waits). Default true. */
  nonBlocking?: boolean;
  /** The Python 3 interpreter that performs the ioctl. Default: a real `python3` found once per process (not a version manager's shim). */
  python?: string;
  /**
   * Attach with `IFF_VNET_HDR`: every frame read then starts with a 10-byte virtio-net header (the
   * kernel's offloads are turned off, so it always describes an ordinary frame), and every frame
   * written must start with one. Default false (plain frames).
   */
  vnetHeader?: boolean;
}

/** An attached TAP descriptor. */
export interface TapFd {
  /** The descriptor: read one frame, write one frame. The caller closes it. */
  fd: number;
  /** The device name the kernel reports (the same as asked, unless a `%d` pattern was given). */
  name: string;
  /** The interface index at attach time. */
  ifindex: number;
  /** The device's MTU at attach time. */
  mtu: number;
  /** Bytes of virtio-net header before every frame read or written: 10 with `vnetHeader`, else 0. */
  vnetHeaderLength: number;
}

/** Interpreters tried after PATH, in order, when PATH holds no `python3` (or only a version manager's shim). */
export const PYTHON3_FALLBACKS: readonly string[] = ['/usr/bin/python3', '/usr/local/bin/python3', '/bin/python3'];

/** How long asking a shim for the interpreter it stands for may take, ms (once per process). */
const SHIM_QUERY_TIMEOUT_MS = 30_000;

/** True when `path` is a version manager's shim (pyenv, asdf, mise...): a script in a `shims` directory. */
function isShim(path: string): boolean {
  return path.split(sep).includes('shims');
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the Python 3 interpreter the attach helper runs, as an absolute path: the first `python3` on
 * `searchPath` that is not a version manager's shim, else the first of {@link PYTHON3_FALLBACKS} that
 * exists, else a shim on `searchPath` asked once for `sys.executable` (a shim takes seconds to start
 * on some machines, every time). Symbolic links are resolved. Pure apart from the file system
 * (and the one shim query); {@link openTapFd} calls it once per process through {@link defaultPython3}.
 * @returns the path, or `undefined` when there is no Python 3 at all.
 */
export function resolvePython3(
  searchPath: string = process.env['PATH'] ?? '',
  fallbacks: readonly string[] = PYTHON3_FALLBACKS,
): string | undefined {
  const onPath = searchPath
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'python3'))
    .filter(isExecutableFile);
  const real = [...onPath.filter((p) => !isShim(p)), ...fallbacks.filter(isExecutableFile)][0];
  if (real !== undefined) return realpathSync(real);
  for (const shim of onPath) {
    const asked = spawnSync(shim, ['-I', '-S', '-c', 'import sys; print(sys.executable)'], {
      encoding: 'utf8',
      timeout: SHIM_QUERY_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const answer = asked.status === 0 ? asked.stdout.trim() : '';
    if (answer !== '' && isExecutableFile(answer)) return realpathSync(answer);
  }
  return undefined;
}

let resolvedPython3: string | undefined;

/**
 * {@link resolvePython3} for this process's PATH, resolved on first use and then remembered.
 * @throws {@link NicError} `DEVICE_NOT_FOUND` naming `device` when no Python 3 interpreter exists.
 */
export function defaultPython3(device: string): string {
  resolvedPython3 ??= resolvePython3();
  if (resolvedPython3 === undefined) {
    throw new NicError(
      'DEVICE_NOT_FOUND',
      device,
      `no Python 3 interpreter to attach the TAP device (none on PATH, none of ${PYTHON3_FALLBACKS.join(', ')}): install python3`,
    );
  }
  return resolvedPython3;
}

interface HelperReply {
  ok: boolean;
  errno?: string;
  message?: string;
  name?: string;
  mtu?: number;
  ifindex?: number;
  vnetHdr?: number;
}

function errnoToCode(errno: string | undefined): NicErrorCode {
  switch (errno) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return 'DEVICE_NOT_FOUND';
    case 'EPERM':
    case 'EACCES':
      return 'PERMISSION_DENIED';
    case 'EBUSY':
      return 'DEVICE_BUSY';
    default:
      return 'BAD_ARGUMENT';
  }
}

function runHelper(
  python: string,
  fd: number,
  name: string,
  flags: { create: boolean; vnet: boolean },
  device: string,
): Promise<HelperReply> {
  return new Promise((resolve, reject) => {
    if (!existsSync(TAP_ATTACH_SCRIPT)) {
      reject(
        new NicError(
          'PROTOCOL_ERROR',
          device,
          `the TAP attach helper is missing (${TAP_ATTACH_SCRIPT}): a broken install`,
        ),
      );
      return;
    }
    const args = ['-I', '-S', TAP_ATTACH_SCRIPT, name, flags.create ? '1' : '0', flags.vnet ? '1' : '0'];
    const child = spawn(python, args, {
      stdio: ['ignore', 'pipe', 'pipe', fd],
      timeout: ATTACH_HELPER_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(
        new NicError(
          'DEVICE_NOT_FOUND',
          device,
          `cannot run ${python} to attach the TAP device (${e.code ?? e.message}); install python3`,
          { cause: e },
        ),
      );
    });
    child.on('close', (code, signal) => {
      try {
        resolve(JSON.parse(stdout) as HelperReply);
      } catch (e) {
        const how =
          signal === 'SIGKILL'
            ? `killed after ${ATTACH_HELPER_TIMEOUT_MS / 1000} s without an answer (a slow ${python} start?)`
            : `exit ${code ?? signal}`;
        reject(
          new NicError(
            'PROTOCOL_ERROR',
            device,
            `TAP attach helper failed (${how}): ${stderr.trim() || stdout.trim()}`,
            {
              cause: e,
            },
          ),
        );
      }
    });
  });
}

/**
 * Opens `/dev/net/tun` and attaches the descriptor to TAP device `name` (creating it when
 * `options.create` allows). Resolves with the descriptor and what the kernel says about the device;
 * rejects with a {@link NicError}: `DEVICE_NOT_FOUND` (no such device and not allowed to create it,
 * no TUN/TAP support, or no python3), `PERMISSION_DENIED`, `DEVICE_BUSY` (another descriptor is
 * attached), `BAD_ARGUMENT` (a bad name, or the device exists but is not a single-queue TAP). On
 * rejection nothing stays open.
 */
export async function openTapFd(name: string, options: OpenTapOptions = {}): Promise<TapFd> {
  const device = `tap:${name}`;
  if (name.length === 0 || name.length > MAX_IFNAME_LENGTH || /[\s/:]/.test(name)) {
    throw new NicError(
      'BAD_ARGUMENT',
      device,
      `bad interface name ${JSON.stringify(name)} (1..${MAX_IFNAME_LENGTH} characters, no space, '/' or ':')`,
    );
  }
  const python = options.python ?? defaultPython3(device);
  let fd: number;
  try {
    fd = openSync(TUN_CLONE_DEVICE, constants.O_RDWR | (options.nonBlocking === false ? 0 : constants.O_NONBLOCK));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NicError(errnoToCode(code), device, `cannot open ${TUN_CLONE_DEVICE}: ${code ?? String(e)}`, {
      cause: e,
    });
  }
  try {
    const vnet = options.vnetHeader ?? false;
    const reply = await runHelper(python, fd, name, { create: options.create ?? false, vnet }, device);
    if (!reply.ok || reply.name === undefined || reply.mtu === undefined || reply.ifindex === undefined) {
      const why =
        reply.errno === 'EINVAL' ? 'exists but is not a single-queue TAP device' : (reply.message ?? 'attach failed');
      throw new NicError(errnoToCode(reply.errno), device, `cannot attach: ${why} (${reply.errno ?? 'no errno'})`);
    }
    if (vnet && reply.vnetHdr !== 10) {
      throw new NicError('PROTOCOL_ERROR', device, 'the TAP attach helper did not set up the virtio-net header');
    }
    return { fd, name: reply.name, ifindex: reply.ifindex, mtu: reply.mtu, vnetHeaderLength: vnet ? 10 : 0 };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
