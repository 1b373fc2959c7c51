/**
 * SerialNicDriver keeps its session when the device goes away and comes back (docs/device-protocol.md
 * §13): the port closes (USB unplug: the stream, socket or PTY disappears) or the board restarts
 * (NOT_READY, its restart announcement, a keepalive without answer). The in-process tests run on the
 * virtual clock (the backoff is checked to the millisecond against the seeded jitter); the socket and
 * child-process tests use real I/O with bounded waits on progress conditions.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { NicError, SerialBoard, SerialNicDriver } from '../src/index.js';
import type { SerialBoardOptions, SerialConnectionInfo, SerialNicDriverOptions } from '../src/index.js';
import { markOf, wireFrame } from './frames.js';
import { closePort, haveSocat, ioTurn, makeBoard, openBoardPort, openPtyPair, streamPair } from './serial-support.js';
import type { PtyPair } from './serial-support.js';

const BOARD_MAC = 0x02_00_00_00_00_0c;
const PEER = 0x02_00_00_00_00_99;
const GROUP = 0x01_00_5e_00_00_07;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Runs I/O turns, and moves the virtual clock to its next deadline whenever a few turns did not make
 * `predicate` true, until it is true or `limitMs` of virtual time passed. Returns the predicate.
 */
async function runVirtual(sched: Scheduler, predicate: () => boolean, limitMs: number): Promise<boolean> {
  const end = sched.now + limitMs;
  for (;;) {
    for (let i = 0; i < 8 && !predicate(); i++) await ioTurn();
    if (predicate()) return true;
    const next = sched.nextDeadline();
    if (next === undefined || next > end) return false;
    sched.advance(Math.max(0, next - sched.now));
  }
}

/** Real time: polls `predicate` every few ms for at most `limitMs` (a bound, not an expectation of speed). */
async function waitReal(predicate: () => boolean, limitMs = 20_000): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!predicate() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  return predicate();
}

/**
 * An in-process device that can be unplugged and plugged in again. The driver's endpoint is
 * {@link Plug.open}: each call is a fresh stream with a fresh board behind it (a board powered up
 * anew), or DEVICE_NOT_FOUND while unplugged. Every board's wire side records into {@link Plug.wire}.
 */
class Plug {
  readonly boards: SerialBoard[] = [];
  readonly opens: number[] = [];
  readonly wire: Uint8Array[] = [];
  private plugged = true;
  private boardEnd: Duplex | undefined;

  constructor(
    private readonly sched: Scheduler,
    private readonly boardOptions: Partial<SerialBoardOptions> = {},
  ) {}

  readonly open = (): Duplex => {
    this.opens.push(this.sched.now);
    if (!this.plugged) throw new NicError('DEVICE_NOT_FOUND', 'plug', 'unplugged');
    const [host, boardEnd] = streamPair();
    this.boardEnd = boardEnd;
    this.boards.push(
      makeBoard(boardEnd, this.sched, BOARD_MAC, { toWire: (f) => this.wire.push(f), ...this.boardOptions }).board,
    );
    return host;
  };

  get board(): SerialBoard {
    return this.boards.at(-1)!;
  }

  /** The device disappears: its board stops and its end of the stream is destroyed. */
  unplug(): void {
    this.plugged = false;
    this.board.stop();
    this.boardEnd?.destroy();
  }

  plugIn(): void {
    this.plugged = true;
  }
}

function driverOn(
  endpoint: SerialNicDriverOptions['endpoint'],
  sched: Scheduler,
  options: Partial<SerialNicDriverOptions> = {},
) {
  const driver = new SerialNicDriver({ endpoint, scheduler: sched, name: 'usb0', ...options });
  const received: Uint8Array[] = [];
  const links: string[] = [];
  const connections: SerialConnectionInfo[] = [];
  driver.onReceive((f) => received.push(f));
  driver.onLinkChange((s) => links.push(s));
  driver.onConnectionChange((c) => connections.push(c));
  cleanups.push(() => driver.close());
  return { driver, received, links, connections };
}

describe('SerialNicDriver: the device goes away and comes back (virtual clock)', () => {
  it('link down, counted; reopens with bounded exponential backoff and seeded jitter; HELLO, filter and frames again', async () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 7 });
    const plug = new Plug(sched, { window: 2 });
    const { driver, received, links, connections } = driverOn(plug.open, sched);
    driver.setReceiveFilter({ promiscuous: false, allMulticast: false, multicast: new Set([GROUP]) });
    await driver.open();
    expect(await runVirtual(sched, () => plug.board.receiveFilter.multicast.has(GROUP), 1000)).toBe(true);
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 1 }))).toBe(true);
    expect(await runVirtual(sched, () => plug.wire.length === 1, 1000)).toBe(true);

    // Frames waiting for credit when the device goes: the board stops crediting, two go out, three wait.
    plug.board.stop();
    for (let i = 0; i < 5; i++) expect(driver.transmit(wireFrame({ destination: PEER, mark: 10 + i }))).toBe(true);
    expect(await runVirtual(sched, () => driver.serialStats.creditStalls === 1, 0)).toBe(true);
    plug.unplug();
    expect(await runVirtual(sched, () => driver.linkState === 'down', 0)).toBe(true);
    expect(links).toEqual(['up', 'down']);
    expect(connections).toHaveLength(1);
    expect(connections[0]).toMatchObject({ state: 'reconnecting', attempts: 0, lastError: 'port closed' });
    expect(driver.serialStats).toMatchObject({ disconnects: 1, txDroppedDisconnect: 3, reconnectAttempts: 0 });
    expect(driver.transmit(wireFrame({ destination: PEER }))).toBe(false);
    expect(driver.stats.txDroppedLinkDown).toBe(1);

    // While unplugged every attempt fails; the waits double from 100 ms to at most 5 s, each shortened by up to 20 %.
    const lostAt = sched.now;
    expect(
      await runVirtual(
        sched,
        () => driver.serialStats.reconnectAttempts === 9 && driver.connection.nextAttemptAt !== undefined,
        60_000,
      ),
    ).toBe(true);
    const attemptsAt = plug.opens.slice(1);
    expect(attemptsAt).toHaveLength(9);
    const waits = attemptsAt.map((t, i) => t - (i === 0 ? lostAt : attemptsAt[i - 1]!));
    const bases = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000];
    waits.forEach((w, i) => {
      expect(w).toBeGreaterThanOrEqual(bases[i]! * 0.8 - 1e-9);
      expect(w).toBeLessThanOrEqual(bases[i]! + 1e-9);
    });
    expect(new Set(waits.map((w, i) => w / bases[i]!)).size).toBeGreaterThan(1); // jittered, not a fixed fraction
    expect(driver.connection).toMatchObject({ state: 'reconnecting', attempts: 9 });
    expect(driver.connection.lastError).toMatch(/unplugged/);
    expect(driver.connection.nextAttemptAt).toBeGreaterThan(sched.now);
    expect(connections).toHaveLength(1); // one event for the loss, none per attempt

    // Plugged in again: the next attempt opens a fresh board, HELLOs, restores the filter, link up.
    plug.plugIn();
    expect(await runVirtual(sched, () => driver.linkState === 'up', 10_000)).toBe(true);
    expect(links).toEqual(['up', 'down', 'up']);
    expect(connections.map((c) => c.state)).toEqual(['reconnecting', 'open']);
    expect(connections[1]!.attempts).toBe(10);
    expect(driver.serialStats).toMatchObject({ disconnects: 1, reconnectAttempts: 10, reconnects: 1, reHellos: 0 });
    expect(plug.boards).toHaveLength(2);
    expect(plug.board.sessionReady).toBe(true);
    expect(await runVirtual(sched, () => plug.board.receiveFilter.multicast.has(GROUP), 1000)).toBe(true);
    const before = plug.wire.length;
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 42 }))).toBe(true);
    expect(await runVirtual(sched, () => plug.wire.length === before + 1, 1000)).toBe(true);
    expect(markOf(plug.wire.at(-1)!)).toBe(42);
    expect(plug.board.fromWire(wireFrame({ destination: BOARD_MAC, mark: 43 }))).toBe(true);
    expect(await runVirtual(sched, () => received.length === 1, 1000)).toBe(true);
    expect(markOf(received[0]!)).toBe(43);
  });

  it('replays the same backoff from the same seed', async () => {
    const attemptTimes = async (seed: number): Promise<number[]> => {
      const sched = new Scheduler({ clock: 'virtual', seed });
      const plug = new Plug(sched);
      const { driver } = driverOn(plug.open, sched);
      await driver.open();
      plug.unplug();
      expect(await runVirtual(sched, () => driver.serialStats.reconnectAttempts === 6, 60_000)).toBe(true);
      await driver.close();
      return plug.opens;
    };
    const a = await attemptTimes(11);
    expect(await attemptTimes(11)).toEqual(a);
    expect(await attemptTimes(12)).not.toEqual(a);
  });

  it('close() during backoff cancels the timer: no deadline left, no further attempt', async () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 3 });
    const plug = new Plug(sched);
    const { driver, links } = driverOn(plug.open, sched);
    await driver.open();
    plug.unplug();
    expect(
      await runVirtual(
        sched,
        () => driver.serialStats.reconnectAttempts === 2 && driver.connection.nextAttemptAt !== undefined,
        10_000,
      ),
    ).toBe(true);
    expect(sched.nextDeadline()).toBe(driver.connection.nextAttemptAt);
    await driver.close();
    expect(driver.connection.state).toBe('closed');
    expect(sched.nextDeadline()).toBeUndefined();
    const opens = plug.opens.length;
    plug.plugIn();
    sched.advance(60_000);
    for (let i = 0; i < 10; i++) await ioTurn();
    expect(plug.opens).toHaveLength(opens);
    expect(links).toEqual(['up', 'down']);
  });

  it('close() while an attempt is opening the port releases what it opened', async () => {
    const sched = new Scheduler({ clock: 'virtual', seed: 5 });
    const plug = new Plug(sched);
    let release: (() => void) | undefined;
    let late: Duplex | undefined;
    let calls = 0;
    const endpoint = (): Duplex | Promise<Duplex> => {
      if (calls++ === 0) return plug.open();
      // The second open hangs until the test lets it finish (a slow USB enumeration).
      return new Promise<Duplex>((resolve) => {
        release = () => {
          late = plug.open();
          resolve(late);
        };
      });
    };
    const { driver } = driverOn(endpoint, sched);
    await driver.open();
    plug.unplug();
    plug.plugIn();
    expect(await runVirtual(sched, () => release !== undefined, 10_000)).toBe(true);
    const closing = driver.close();
    release!();
    await closing;
    expect(late!.destroyed).toBe(true);
    expect(driver.connection.state).toBe('closed');
    expect(sched.nextDeadline()).toBeUndefined();
  });

  it('an open stream given as the endpoint cannot be reopened: losing it closes the driver', async () => {
    const sched = new Scheduler({ clock: 'virtual' });
    const [host, boardEnd] = streamPair();
    makeBoard(boardEnd, sched, BOARD_MAC);
    const { driver, connections } = driverOn(host, sched);
    await driver.open();
    boardEnd.destroy();
    expect(await runVirtual(sched, () => connections.length === 1, 0)).toBe(true);
    expect(connections[0]).toMatchObject({ state: 'closed', lastError: 'port closed' });
    expect(driver.serialStats.disconnects).toBe(1);
    expect(sched.nextDeadline()).toBeUndefined();
  });
});

describe('SerialNicDriver: the board restarts mid-session (virtual clock, the port stays open)', () => {
  /** A driver and a board on one in-process stream; `reboot` replaces the board on the same stream. */
  async function session(driverOptions: Partial<SerialNicDriverOptions> = {}) {
    const sched = new Scheduler({ clock: 'virtual', seed: 9 });
    const [host, boardEnd] = streamPair();
    const wire: Uint8Array[] = [];
    let board = makeBoard(boardEnd, sched, BOARD_MAC, { toWire: (f) => wire.push(f) }).board;
    const d = driverOn(host, sched, driverOptions);
    d.driver.setReceiveFilter({ promiscuous: false, allMulticast: true, multicast: new Set() });
    await d.driver.open();
    expect(await runVirtual(sched, () => board.receiveFilter.allMulticast, 1000)).toBe(true);
    cleanups.push(() => {
      board.stop();
      boardEnd.destroy();
    });
    return {
      sched,
      wire,
      ...d,
      get board() {
        return board;
      },
      reboot(options: Partial<SerialBoardOptions> = {}) {
        board.stop();
        board = makeBoard(boardEnd, sched, BOARD_MAC, { toWire: (f) => wire.push(f), ...options }).board;
      },
    };
  }

  async function expectBackAndFlowing(s: Awaited<ReturnType<typeof session>>): Promise<void> {
    expect(await runVirtual(s.sched, () => s.connections.length > 0, 10_000)).toBe(true);
    expect(await runVirtual(s.sched, () => s.driver.linkState === 'up', 10_000)).toBe(true);
    expect(s.links).toEqual(['up', 'down', 'up']);
    expect(s.connections.map((c) => c.state)).toEqual(['reconnecting', 'open']);
    expect(s.driver.serialStats).toMatchObject({ disconnects: 1, reconnects: 1, reHellos: 1 });
    expect(s.board.sessionReady).toBe(true);
    expect(await runVirtual(s.sched, () => s.board.receiveFilter.allMulticast, 1000)).toBe(true);
    const before = s.wire.length;
    expect(s.driver.transmit(wireFrame({ destination: PEER, mark: 77 }))).toBe(true);
    expect(await runVirtual(s.sched, () => s.wire.length === before + 1, 1000)).toBe(true);
    expect(markOf(s.wire.at(-1)!)).toBe(77);
    expect(s.board.fromWire(wireFrame({ destination: BOARD_MAC, mark: 78 }))).toBe(true);
    expect(await runVirtual(s.sched, () => s.received.length === 1, 1000)).toBe(true);
  }

  it('NOT_READY to a request: the request fails, the driver HELLOs again without the caller reopening', async () => {
    const s = await session();
    s.reboot();
    // The restarted board drops host DATA until a session starts; the driver learns of it on its next request.
    expect(s.driver.transmit(wireFrame({ destination: PEER }))).toBe(true);
    expect(await runVirtual(s.sched, () => s.board.stats.txDroppedNotReady === 1, 0)).toBe(true);
    await expect(s.driver.readDeviceStats()).rejects.toMatchObject({
      code: 'PROTOCOL_ERROR',
      message: expect.stringMatching(/not ready/),
    });
    expect(s.connections[0]).toMatchObject({ state: 'reconnecting', lastError: 'board not ready (it restarted)' });
    await expectBackAndFlowing(s);
    expect(await s.driver.readDeviceStats()).toMatchObject({ txFrames: 1 });
  });

  it("the board's restart announcement (an unsolicited HELLO) starts a new session at once", async () => {
    const s = await session();
    const protocolErrors = s.driver.serialStats.protocolErrors;
    s.reboot({ announce: true });
    await expectBackAndFlowing(s);
    expect(s.connections[0]).toMatchObject({ lastError: 'board announced a restart' });
    expect(s.driver.serialStats.protocolErrors).toBe(protocolErrors);
  });

  it('the keepalive notices a silent restart when the host sends nothing', async () => {
    const s = await session({ keepaliveMs: 500 });
    const rebootAt = s.sched.now;
    s.reboot();
    await expectBackAndFlowing(s);
    // Noticed at the first keepalive after the restart, HELLO on the first attempt after it.
    expect(s.connections[1]!.attempts).toBe(1);
    expect(s.sched.now - rebootAt).toBeLessThan(500 + 100 + 1000);
  });

  it('restores what the board lost: the receive filter and a link the caller had taken down', async () => {
    const s = await session();
    await s.driver.setAdminLink(false);
    expect(s.driver.linkState).toBe('down');
    s.reboot({ announce: true });
    expect(s.board.linkState).toBe('up'); // a board starts administratively up
    expect(
      await runVirtual(
        s.sched,
        () => s.driver.serialStats.reHellos === 1 && s.board.receiveFilter.allMulticast,
        10_000,
      ),
    ).toBe(true);
    expect(s.board.linkState).toBe('down');
    expect(s.driver.linkStatus).toMatchObject({ up: false, adminUp: false });
    expect(s.connections.map((c) => c.state)).toEqual(['reconnecting', 'open']);
    expect((await s.driver.setAdminLink(true)).up).toBe(true);
    expect(s.links).toEqual(['up', 'down', 'up']);
  });

  it('a board that stops answering: NO_ANSWER, then HELLO attempts with backoff until it is back', async () => {
    const s = await session({ keepaliveMs: 500 });
    s.board.stop(); // hangs: reads nothing, answers nothing
    expect(await runVirtual(s.sched, () => s.driver.connection.state === 'reconnecting', 5000)).toBe(true);
    expect(s.connections[0]).toMatchObject({ lastError: 'board stopped answering' });
    expect(s.driver.serialStats.requestTimeouts).toBe(1);
    expect(await runVirtual(s.sched, () => s.driver.serialStats.reconnectAttempts === 2, 10_000)).toBe(true);
    s.reboot();
    await expectBackAndFlowing(s);
  });
});

/** A TCP listener with a board per connection that can drop its connection and stop listening, then listen again on the same port. */
class FlakyBoardServer {
  readonly boards: SerialBoard[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly sched: Scheduler,
    readonly wire: Uint8Array[],
  ) {}

  get url(): string {
    return `socket://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const board = new SerialBoard({
        stream: socket,
        scheduler: this.sched,
        mac: BOARD_MAC,
        toWire: (f) => this.wire.push(f),
      });
      board.start();
      this.boards.push(board);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The device goes away: connections dropped, nothing listens. */
  async stop(): Promise<void> {
    for (const b of this.boards) b.stop();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('SerialNicDriver: socket:// device that closes and comes back (real clock)', () => {
  it('link down, attempts refused, the listener accepts again: reconnect, HELLO, frames flow', async () => {
    const sched = new Scheduler({ clock: 'real', seed: 1 });
    sched.start();
    const wire: Uint8Array[] = [];
    const server = new FlakyBoardServer(sched, wire);
    await server.listen();
    cleanups.push(async () => {
      await server.stop();
      sched.stop();
    });
    const { driver, received, links, connections } = driverOn(server.url, sched, {
      reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    });
    await driver.open();
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 1 }))).toBe(true);
    expect(await waitReal(() => wire.length === 1)).toBe(true);

    await server.stop();
    expect(await waitReal(() => driver.linkState === 'down')).toBe(true);
    expect(connections[0]).toMatchObject({ state: 'reconnecting' });
    // Refused while nothing listens: the attempts fail and are counted.
    expect(await waitReal(() => driver.serialStats.reconnectAttempts >= 3)).toBe(true);
    expect(driver.connection.lastError).toMatch(/ECONNREFUSED|cannot connect/);
    expect(driver.serialStats.reconnects).toBe(0);

    await server.listen();
    expect(await waitReal(() => driver.linkState === 'up')).toBe(true);
    expect(links).toEqual(['up', 'down', 'up']);
    expect(connections.map((c) => c.state)).toEqual(['reconnecting', 'open']);
    expect(driver.serialStats).toMatchObject({ disconnects: 1, reconnects: 1, reHellos: 0 });
    expect(driver.serialStats.reconnectAttempts).toBeGreaterThanOrEqual(4);
    expect(server.boards).toHaveLength(2);
    expect(server.boards[1]!.sessionReady).toBe(true);
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 2 }))).toBe(true);
    expect(await waitReal(() => wire.length === 2)).toBe(true);
    expect(markOf(wire[1]!)).toBe(2);
    expect(server.boards[1]!.fromWire(wireFrame({ destination: BOARD_MAC, mark: 3 }))).toBe(true);
    expect(await waitReal(() => received.length === 1)).toBe(true);
    expect(markOf(received[0]!)).toBe(3);
  });

  it('close() during backoff leaves no timer or handle: a process doing it exits by itself', async () => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@postern/source',
        '--import',
        'tsx',
        fileURLToPath(new URL('./serial-backoff-child.ts', import.meta.url)),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    // A bound, not a speed expectation: the child has nothing left to wait for once it closed the driver.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as { state: string; attempts: number; closedInBackoff: boolean };
    expect(report).toMatchObject({ state: 'closed', closedInBackoff: true });
    expect(report.attempts).toBeGreaterThanOrEqual(1);
  });
});

// socat comes from tools/scripts/install-peers.sh; without it this fails rather than skips (as serial-contract does).
describe('SerialNicDriver: a serial port (socat PTY) unplugged and plugged in again (real clock)', () => {
  it('the port hangs up: link down; the same path appears again: reopened, HELLO, frames flow', async () => {
    expect(haveSocat(), 'socat is missing: run tools/scripts/install-peers.sh').toBe(true);
    const sched = new Scheduler({ clock: 'real', seed: 4 });
    sched.start();
    const dir = mkdtempSync(join(tmpdir(), 'postern-replug-'));
    const paths = { host: join(dir, 'ttyACM0'), board: join(dir, 'board') };
    const wire: Uint8Array[] = [];
    let device: { pty: PtyPair; port: SerialPort; board: SerialBoard } | undefined;
    const plugIn = async (): Promise<SerialBoard> => {
      const pty = await openPtyPair(paths);
      const port = await openBoardPort(pty.board);
      const board = makeBoard(port, sched, BOARD_MAC, { toWire: (f) => wire.push(f) }).board;
      device = { pty, port, board };
      return board;
    };
    const unplug = async (): Promise<void> => {
      const d = device!;
      device = undefined;
      d.board.stop();
      await d.pty.close('SIGKILL'); // socat dies: both terminals hang up
      await closePort(d.port);
      // As udev removes /dev/ttyACM0 on unplug. (A dangling link could meanwhile point at another test's new terminal.)
      rmSync(paths.host, { force: true });
      rmSync(paths.board, { force: true });
    };
    cleanups.push(async () => {
      if (device !== undefined) await unplug();
      sched.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await plugIn();
    const { driver, received, links, connections } = driverOn(paths.host, sched, {
      reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    });
    await driver.open();
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 1 }))).toBe(true);
    expect(await waitReal(() => wire.length === 1)).toBe(true);

    await unplug();
    expect(await waitReal(() => driver.linkState === 'down')).toBe(true);
    expect(connections[0]).toMatchObject({
      state: 'reconnecting',
      lastError: expect.stringMatching(/^port (closed|error)/),
    });
    expect(await waitReal(() => driver.serialStats.reconnectAttempts >= 2)).toBe(true);
    expect(driver.connection.lastError).toMatch(/cannot open/);

    const board = await plugIn();
    expect(await waitReal(() => driver.linkState === 'up')).toBe(true);
    expect(links).toEqual(['up', 'down', 'up']);
    expect(driver.serialStats).toMatchObject({ disconnects: 1, reconnects: 1, reHellos: 0 });
    expect(board.sessionReady).toBe(true);
    expect(driver.transmit(wireFrame({ destination: PEER, mark: 2 }))).toBe(true);
    expect(await waitReal(() => wire.length === 2)).toBe(true);
    expect(markOf(wire[1]!)).toBe(2);
    expect(board.fromWire(wireFrame({ destination: BOARD_MAC, mark: 3 }))).toBe(true);
    expect(await waitReal(() => received.length === 1)).toBe(true);
    expect(markOf(received[0]!)).toBe(3);
  });
});
