/** Shared fixtures for the serial driver tests: stream pairs, boards, socat PTY pairs. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import type { SchedulerApi } from '@postern/irq';
import type { MacAddress } from '@postern/wire';
import { SerialBoard, fixSerialPortPoller } from '../src/index.js';
import type { SerialBoardOptions } from '../src/index.js';

/** One end of an in-process byte pipe pair, with backpressure: a write completes when the peer has room. */
class PairEnd extends Duplex {
  peer: PairEnd | undefined;
  private waiting: (() => void) | undefined;

  constructor(highWaterMark: number) {
    super({ highWaterMark, allowHalfOpen: false });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed || peer.readableEnded) {
      callback();
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.waiting = () => callback();
  }

  override _read(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer?.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (peer !== undefined && !peer.destroyed && !peer.readableEnded) peer.push(null);
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    callback(error);
  }
}

/** Two connected duplex streams: bytes written to one are read from the other, with backpressure. */
export function streamPair(highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const a = new PairEnd(highWaterMark);
  const b = new PairEnd(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A board on `stream` whose wire side records what the host sent. */
export function makeBoard(
  stream: Duplex,
  sched: SchedulerApi,
  mac: MacAddress,
  options: Partial<SerialBoardOptions> = {},
): { board: SerialBoard; wire: Uint8Array[] } {
  const wire: Uint8Array[] = [];
  const board = new SerialBoard({ stream, scheduler: sched, mac, toWire: (f) => wire.push(f), ...options });
  board.start();
  return { board, wire };
}

/** Lets I/O callbacks and microtasks run. */
export function ioTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A TCP server on 127.0.0.1 that attaches a board to each connection; `boards` lists them. */
export async function boardServer(
  sched: SchedulerApi,
  mac: MacAddress,
  toWire: (frame: Uint8Array) => void,
  options: Partial<SerialBoardOptions> = {},
): Promise<{ url: string; boards: SerialBoard[]; close(): Promise<void> }> {
  const boards: SerialBoard[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const board = new SerialBoard({ stream: socket, scheduler: sched, mac, toWire, ...options });
    board.start();
    boards.push(board);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no server address');
  return {
    url: `socket://127.0.0.1:${address.port}`,
    boards,
    close: () =>
      new Promise<void>((resolve) => {
        for (const b of boards) b.stop();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A socat PTY pair: `host` and `board` are the two slave paths (symlinks). */
export interface PtyPair {
  host: string;
  board: string;
  /** Ends socat (SIGTERM by default; SIGKILL is a yanked cable: no clean-up at all). */
  close(signal?: NodeJS.Signals): Promise<void>;
}

/** True when socat is installed. */
export function haveSocat(): boolean {
  return ['/usr/bin/socat', '/bin/socat', '/usr/local/bin/socat'].some((p) => existsSync(p));
}

/**
 * Starts `socat pty,raw,echo=0 pty,raw,echo=0` and waits until both links exist: in a new temporary
 * directory (removed on close), or at the given `at` paths (left in place: a pair started again at the
 * same paths is the same device plugged in again).
 */
export async function openPtyPair(at?: { host: string; board: string }): Promise<PtyPair> {
  const dir = at === undefined ? mkdtempSync(join(tmpdir(), 'postern-pty-')) : undefined;
  const host = at?.host ?? join(dir!, 'host');
  const board = at?.board ?? join(dir!, 'board');
  const child: ChildProcess = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${board}`], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 200 && !(existsSync(host) && existsSync(board)); i++) await new Promise((r) => setTimeout(r, 10));
  if (!(existsSync(host) && existsSync(board))) {
    child.kill();
    throw new Error('socat did not create the PTY pair');
  }
  return {
    host,
    board,
    close: (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null) return done();
        child.once('exit', done);
        child.kill(signal);
      }),
  };
}

/**
 * The board's end of a PTY pair, opened with `serialport` as the board firmware's UART would be, with
 * the poller fix the driver's transport applies (src/serial/poller-wakeups.ts). Errors of writes still
 * queued when a test closes it are ignored.
 */
export async function openBoardPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 921_600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  fixSerialPortPoller(port);
  port.on('error', () => {});
  return port;
}

/** Closes `port` if it is open; resolves when closed. */
export function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}
