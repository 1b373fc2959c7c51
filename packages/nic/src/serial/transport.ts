/**
 * Opens the byte stream a serial driver talks over: a serial device path (through the `serialport`
 * package), `socket://HOST:PORT` (the same byte stream over TCP, to a simulator in another process),
 * or a caller-supplied duplex stream (in-process). Failures become {@link NicError}s with stable codes.
 *
 * `serialport` (a native binding) is an optional peer dependency of this package: it is loaded on
 * the first open of a device path, never before, so programs that use other drivers, sockets or
 * in-process streams need not install it. When it is missing, opening a device path fails with
 * {@link NicError} `MISSING_MODULE` naming it.
 * A serial port's fd poller is wrapped by {@link fixSerialPortPoller} so that no read or write waits
 * forever for a readiness event the binding stopped watching, and watched by
 * {@link closeSerialPortOnHangup} so that an unplugged device closes the port (the stream's `close`).
 */
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { NicError } from '../driver.js';
import type { NicErrorCode } from '../driver.js';
import { closeSerialPortOnHangup, fixSerialPortPoller } from './poller-wakeups.js';

/**
 * Where a serial driver's byte stream comes from: a device path, `socket://HOST:PORT`, an open duplex
 * stream (used once: it cannot be reopened), or a function that returns a fresh stream on each open
 * (in-process devices that can be unplugged and plugged in again; it may throw a {@link NicError}).
 */
export type SerialEndpoint = string | Duplex | (() => Duplex | Promise<Duplex>);

/** An open byte stream and how to release it. */
export interface OpenedTransport {
  /** The stream; the driver owns it until `close()`. */
  readonly stream: Duplex;
  /** `'serial'`, `'socket'` or `'stream'`. */
  readonly kind: 'serial' | 'socket' | 'stream';
  /** Releases the stream; resolves when it is closed. Never rejects. */
  close(): Promise<void>;
}

const SOCKET_PREFIX = 'socket://';

/** Parses `socket://HOST:PORT` (IPv6 hosts in brackets); undefined for anything else. */
export function parseSocketUrl(endpoint: string): { host: string; port: number } | undefined {
  if (!endpoint.startsWith(SOCKET_PREFIX)) return undefined;
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint.slice(SOCKET_PREFIX.length));
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

/**
 * Maps an error from opening a device or connecting a socket to a {@link NicErrorCode}: errno codes
 * first (ENOENT, EACCES, ECONNREFUSED, ...), then, for the `serialport` native binding whose errors
 * carry only text, the strerror text it embeds.
 */
export function openErrorCode(err: unknown): NicErrorCode {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  switch (code) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return 'DEVICE_NOT_FOUND';
    case 'EACCES':
    case 'EPERM':
      return 'PERMISSION_DENIED';
    case 'EBUSY':
    case 'EAGAIN':
    case 'EADDRINUSE':
      return 'DEVICE_BUSY';
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/permission denied|operation not permitted/i.test(text)) return 'PERMISSION_DENIED';
  if (/cannot lock|resource busy|temporarily unavailable/i.test(text)) return 'DEVICE_BUSY';
  return 'DEVICE_NOT_FOUND';
}

/** Options for {@link openTransport}. */
export interface OpenTransportOptions {
  /** Driver name for error messages. */
  name: string;
  /** Baud rate for a real UART; CDC-ACM and PTYs ignore it. */
  baudRate: number;
}

/** Opens `endpoint`. Rejects with {@link NicError} (DEVICE_NOT_FOUND, PERMISSION_DENIED, DEVICE_BUSY, BAD_ARGUMENT). */
export async function openTransport(endpoint: SerialEndpoint, options: OpenTransportOptions): Promise<OpenedTransport> {
  if (typeof endpoint === 'function') return openStreamFactory(endpoint, options);
  if (typeof endpoint !== 'string') return { stream: endpoint, kind: 'stream', close: () => destroyStream(endpoint) };
  if (endpoint.startsWith(SOCKET_PREFIX)) return openSocket(endpoint, options);
  return openSerialPort(endpoint, options);
}

async function openStreamFactory(
  factory: () => Duplex | Promise<Duplex>,
  options: OpenTransportOptions,
): Promise<OpenedTransport> {
  let stream: Duplex;
  try {
    stream = await factory();
  } catch (err) {
    if (err instanceof NicError) throw err;
    throw new NicError(
      'DEVICE_NOT_FOUND',
      options.name,
      `cannot open the stream: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return { stream, kind: 'stream', close: () => destroyStream(stream) };
}

function destroyStream(stream: Duplex): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.destroy();
  });
}

function openSocket(endpoint: string, options: OpenTransportOptions): Promise<OpenedTransport> {
  const addr = parseSocketUrl(endpoint);
  if (addr === undefined)
    return Promise.reject(
      new NicError(
        'BAD_ARGUMENT',
        options.name,
        `bad socket endpoint ${JSON.stringify(endpoint)} (want socket://HOST:PORT)`,
      ),
    );
  return new Promise((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port });
    const onError = (err: Error): void => {
      socket.destroy();
      reject(
        new NicError(openErrorCode(err), options.name, `cannot connect to ${endpoint}: ${err.message}`, { cause: err }),
      );
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve({ stream: socket, kind: 'socket', close: () => destroyStream(socket) });
    });
  });
}

/** The `serialport` module. */
type SerialPortModule = typeof import('serialport');

/** The `serialport` module once loaded (one load per process, however many ports open). */
let serialPortModule: Promise<SerialPortModule> | undefined;

/**
 * Loads `serialport` (the optional peer dependency) on first use. Rejects with {@link NicError}
 * `MISSING_MODULE` when it is not installed or its native binding does not load; a later call tries
 * again (the package may have been installed since).
 */
async function loadSerialPort(name: string): Promise<SerialPortModule> {
  serialPortModule ??= import('serialport');
  try {
    return await serialPortModule;
  } catch (err) {
    serialPortModule = undefined;
    const code =
      typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
    const why =
      code === 'ERR_MODULE_NOT_FOUND'
        ? 'is not installed'
        : `did not load (${err instanceof Error ? err.message : String(err)})`;
    throw new NicError(
      'MISSING_MODULE',
      name,
      `serial device paths need the package "serialport", which ${why}: npm install serialport`,
      { cause: err },
    );
  }
}

async function openSerialPort(path: string, options: OpenTransportOptions): Promise<OpenedTransport> {
  try {
    // The native binding reports errors as text only; an access check first gives errno codes.
    await access(path, fsConstants.R_OK | fsConstants.W_OK);
  } catch (err) {
    throw new NicError(openErrorCode(err), options.name, `cannot open ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { SerialPort } = await loadSerialPort(options.name);
  const port = new SerialPort({ path, baudRate: options.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err === null || err === undefined) resolve();
      else
        reject(new NicError(openErrorCode(err), options.name, `cannot open ${path}: ${err.message}`, { cause: err }));
    });
  });
  // The binding's poller loses a pending write's wake-up when a read starts waiting (poller-wakeups.ts).
  fixSerialPortPoller(port);
  // ...and a hung-up device (unplugged) makes its reads spin instead of closing the port (poller-wakeups.ts).
  closeSerialPortOnHangup(port);
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (!port.isOpen) {
        resolve();
        return;
      }
      port.close(() => resolve());
    });
  return { stream: port, kind: 'serial', close };
}
