/**
 * Where the simulated device's serial byte stream is offered to the gateway:
 * - `pty`: a pseudo-terminal pair (see {@link openPtyPair}); the gateway opens its path with
 *   `serialport` as it would open /dev/ttyACM0;
 * - `socket://HOST:PORT`: a TCP server on loopback speaking the same byte stream (the gateway's
 *   `SerialNicDriver` accepts the same URL); one host connection at a time, like one USB host; a
 *   second connection while one is open is refused;
 * - `stream`: an in-process pair of duplex streams; the gateway's driver takes the other end.
 * Each host connection (each stream) gets its own board, as a device that is plugged in afresh.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseIpv4 } from '@postern/wire';
import { createDuplexPair } from './duplex-pair.js';
import { SimulatorError, listenError } from './errors.js';
import { openPtyPair } from './pty.js';

/** The kinds of serial endpoint. */
export type SerialEndpointKind = 'pty' | 'socket' | 'stream';

/** An offered serial endpoint. */
export interface SerialEndpointHandle {
  /** Which kind. */
  readonly kind: SerialEndpointKind;
  /** What the gateway opens: the PTY path, the `socket://127.0.0.1:PORT` URL (with the bound port), or undefined for `stream`. */
  readonly address: string | undefined;
  /** For `stream`: the host's end, to give to an in-process `SerialNicDriver` as its endpoint. */
  readonly hostStream: Duplex | undefined;
  /** Stops offering the endpoint and ends the streams. */
  close(): Promise<void>;
}

/** Parses `socket://HOST:PORT` where PORT may be 0 (any free port). */
function parseListenUrl(spec: string): { host: string; port: number } | undefined {
  const m = /^socket:\/\/([^:/\s]+):(\d{1,5})$/.exec(spec);
  if (m === null || Number(m[2]) > 65_535) return undefined;
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * Checks a `--serial` value without opening anything: `pty`, `stream` or `socket://HOST:PORT` with a
 * loopback HOST.
 * @throws {@link SimulatorError} `BAD_ARGUMENT`.
 */
export function checkSerialSpec(spec: string): SerialEndpointKind {
  if (spec === 'pty' || spec === 'stream') return spec;
  const addr = parseListenUrl(spec);
  if (addr === undefined)
    throw new SimulatorError(
      'BAD_ARGUMENT',
      `bad --serial ${JSON.stringify(spec)} (want pty or socket://127.0.0.1:PORT)`,
    );
  let host: number;
  try {
    host = parseIpv4(addr.host === 'localhost' ? '127.0.0.1' : addr.host);
  } catch {
    throw new SimulatorError(
      'BAD_ARGUMENT',
      `bad --serial ${JSON.stringify(spec)}: the host must be an IPv4 loopback address`,
    );
  }
  if (host >>> 24 !== 127)
    throw new SimulatorError('BAD_ARGUMENT', `bad --serial ${JSON.stringify(spec)}: the host must be in 127.0.0.0/8`);
  return 'socket';
}

/**
 * Offers the endpoint `spec`; `onStream` is called with each host byte stream (and should return a
 * function to call when that stream ends).
 * @throws {@link SimulatorError} `BAD_ARGUMENT`, `ADDRESS_IN_USE`, `DEVICE_NOT_FOUND`, `PTY_FAILED`.
 */
export async function offerSerialEndpoint(
  spec: string,
  onStream: (stream: Duplex) => () => void,
): Promise<SerialEndpointHandle> {
  const kind = checkSerialSpec(spec);
  if (kind === 'stream') {
    const [board, host] = createDuplexPair();
    const ended = onStream(board);
    return {
      kind,
      address: undefined,
      hostStream: host,
      close: async () => {
        ended();
        board.destroy();
      },
    };
  }
  if (kind === 'pty') {
    const pty = await openPtyPair();
    const ended = onStream(pty.stream);
    return {
      kind,
      address: pty.path,
      hostStream: undefined,
      close: async () => {
        ended();
        await pty.close();
      },
    };
  }
  const { host, port } = parseListenUrl(spec)!;
  const server: Server = createServer({ noDelay: true });
  let current: Socket | undefined;
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    if (current !== undefined) {
      socket.destroy();
      return;
    }
    current = socket;
    const ended = onStream(socket);
    socket.once('close', () => {
      ended();
      if (current === socket) current = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, `--serial ${spec}`)));
    server.listen({ host: host === 'localhost' ? '127.0.0.1' : host, port }, () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    kind,
    address: `socket://${host}:${boundPort}`,
    hostStream: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        current?.destroy();
        server.close(() => resolve());
      }),
  };
}
