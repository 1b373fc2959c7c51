/**
 * {@link GatewayStartError}: why the gateway could not start, with a stable code and a one-line
 * message fit for stderr. `main.ts` prints the message and exits 1.
 */
import { NicError } from '@postern/nic';
import { ConfigError } from './config.js';

/** Stable codes of {@link GatewayStartError}. */
export type GatewayStartErrorCode =
  /** The configuration was refused (the message is the {@link ConfigError} line, naming the file and field or the flag). */
  | 'CONFIG'
  /** A serial device, socket endpoint or TAP device does not exist. */
  | 'DEVICE_NOT_FOUND'
  /** A device needs privileges the process lacks (TAP without CAP_NET_ADMIN, a serial port without access). */
  | 'PERMISSION_DENIED'
  /** A device is held by another process. */
  | 'DEVICE_BUSY'
  /** A device did not answer or spoke the protocol wrongly. */
  | 'DEVICE_ERROR'
  /** A TCP port (the simulator's host forward, the HTTP port on the stack) is taken. */
  | 'ADDRESS_IN_USE'
  /** A file (pcap, the www directory) could not be opened. */
  | 'FILE'
  /** Anything else. */
  | 'INTERNAL';

/** Start-up failed. `message` is one line, without a trailing newline. */
export class GatewayStartError extends Error {
  /** The stable code to branch on. */
  readonly code: GatewayStartErrorCode;
  constructor(code: GatewayStartErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayStartError';
    this.code = code;
  }
}

/** The first line of `text`. */
function firstLine(text: string): string {
  return text.split('\n', 1)[0]!;
}

/**
 * Converts anything thrown during start-up into a {@link GatewayStartError}, prefixing `context`
 * (e.g. `eth0 (serial:/dev/ttyACM0)`) to device errors.
 */
export function toStartError(err: unknown, context?: string): GatewayStartError {
  if (err instanceof GatewayStartError) return err;
  if (err instanceof ConfigError) return new GatewayStartError('CONFIG', err.message, { cause: err });
  const prefix = context === undefined ? '' : `${context}: `;
  if (err instanceof NicError) {
    const code: GatewayStartErrorCode =
      err.code === 'DEVICE_NOT_FOUND'
        ? 'DEVICE_NOT_FOUND'
        : err.code === 'PERMISSION_DENIED'
          ? 'PERMISSION_DENIED'
          : err.code === 'DEVICE_BUSY'
            ? 'DEVICE_BUSY'
            : err.code === 'BAD_ARGUMENT'
              ? 'CONFIG'
              : 'DEVICE_ERROR';
    const hint =
      code === 'PERMISSION_DENIED' && context?.includes('tap:') ? ' (a TAP device needs root or CAP_NET_ADMIN)' : '';
    return new GatewayStartError(code, `${prefix}${firstLine(err.message)}${hint}`, { cause: err });
  }
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? firstLine(e.message) : String(err);
  if (e?.name === 'SimulatorError') {
    // The simulator words its errors for its own command line; the gateway's rule may come from a file.
    const said = message.replace(/^--hostfwd /, 'host forward ');
    const map: Record<string, GatewayStartErrorCode> = {
      ADDRESS_IN_USE: 'ADDRESS_IN_USE',
      PERMISSION_DENIED: 'PERMISSION_DENIED',
      DEVICE_NOT_FOUND: 'DEVICE_NOT_FOUND',
      BAD_ARGUMENT: 'CONFIG',
    };
    return new GatewayStartError(map[code] ?? 'INTERNAL', `${prefix}${said}`, { cause: err });
  }
  if (code === 'EADDRINUSE') return new GatewayStartError('ADDRESS_IN_USE', `${prefix}${message}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM')
    return new GatewayStartError('PERMISSION_DENIED', `${prefix}${message}`, { cause: err });
  if (code === 'ENOENT') return new GatewayStartError('FILE', `${prefix}${message}`, { cause: err });
  return new GatewayStartError('INTERNAL', `${prefix}${message}`, { cause: err });
}
