import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { MAC_BROADCAST } from '@postern/wire';
import {
  NicError,
  SerialFrameDecoder,
  SerialNicDriver,
  encodeSerialFrameToBytes,
  serialOpenErrorCode,
  serialProtocol as P,
} from '../src/index.js';
import type { SerialNicDriverOptions } from '../src/index.js';
import { wireFrame, markOf } from './frames.js';
import { ioTurn, makeBoard, streamPair } from './serial-support.js';

const BOARD_MAC = 0x02_00_00_00_00_0b;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A driver and a board over an in-process stream pair, optionally with byte filters on either direction. */
async function setup(
  opts: {
    board?: Parameters<typeof makeBoard>[3];
    driver?: Partial<SerialNicDriverOptions>;
    toBoard?: (chunk: Buffer) => Buffer | null;
    toHost?: (chunk: Buffer) => Buffer | null;
    open?: boolean;
    sched?: Scheduler;
  } = {},
) {
  const sched = opts.sched ?? new Scheduler({ clock: 'virtual' });
  const [hostEnd, firstBoardEnd] = streamPair();
  let boardEnd = firstBoardEnd;
  if (opts.toBoard !== undefined || opts.toHost !== undefined) {
    // Two pairs with filters between them: host writes -> toBoard -> board; board writes -> toHost -> host.
    const [midBoard, boardSide] = streamPair();
    pipeFiltered(firstBoardEnd, midBoard, opts.toBoard);
    pipeFiltered(midBoard, firstBoardEnd, opts.toHost);
    boardEnd = boardSide;
  }
  const { board, wire } = makeBoard(boardEnd, sched, BOARD_MAC, opts.board);
  const driver = new SerialNicDriver({ endpoint: hostEnd, scheduler: sched, ...opts.driver });
  const received: Uint8Array[] = [];
  driver.onReceive((f) => received.push(f));
  cleanups.push(async () => {
    await driver.close();
    board.stop();
    boardEnd.destroy();
  });
  if (opts.open !== false) await driver.open();
  return { sched, board, wire, driver, received, hostEnd, boardEnd };
}

function pipeFiltered(from: Duplex, to: Duplex, filter?: (chunk: Buffer) => Buffer | null): void {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const out = filter === undefined ? chunk : filter(chunk);
      cb(null, out ?? undefined);
    },
  });
  from.pipe(t).pipe(to);
}

async function until(predicate: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !predicate(); i++) await ioTurn();
  expect(predicate()).toBe(true);
}

describe('SerialNicDriver <-> SerialBoard over an in-process stream pair', () => {
  it('opens: HELLO, MAC, link status, negotiated limits', async () => {
    const { driver, board } = await setup({ board: { window: 8, maxMulticast: 4 } });
    expect(driver.mac).toBe(BOARD_MAC);
    expect(driver.linkState).toBe('up');
    expect(driver.mtu).toBe(1500);
    expect(driver.negotiated).toMatchObject({
      version: 1,
      window: 8,
      maxMulticast: 4,
      maxFrame: 1518,
      capabilities: P.ALL_CAPABILITIES,
    });
    expect(driver.stats.linkChanges).toBe(1);
    expect(board.sessionReady).toBe(true);
  });

  it('carries frames both ways byte-exact, FCS included, and counts them on both sides', async () => {
    const { driver, board, wire, received } = await setup();
    const out = [60, 64, 1518, 200].map((length, i) =>
      wireFrame({ destination: 0x02_00_00_00_00_99, source: BOARD_MAC, length, mark: i }),
    );
    for (const f of out) expect(driver.transmit(f.slice())).toBe(true);
    await until(() => wire.length === out.length);
    expect(wire.map((f) => Buffer.from(f).toString('hex'))).toEqual(out.map((f) => Buffer.from(f).toString('hex')));
    const inbound = [60, 1518, 333].map((length, i) => wireFrame({ destination: BOARD_MAC, length, mark: 10 + i }));
    for (const f of inbound) expect(board.fromWire(f.slice())).toBe(true);
    await until(() => received.length === inbound.length);
    expect(received.map((f) => Buffer.from(f).toString('hex'))).toEqual(
      inbound.map((f) => Buffer.from(f).toString('hex')),
    );
    expect(driver.stats).toMatchObject({
      txFrames: 4,
      txBytes: 60 + 64 + 1518 + 200,
      rxFrames: 3,
      rxBytes: 60 + 1518 + 333,
    });
    expect(board.stats).toMatchObject({ txFrames: 4, rxFrames: 3 });
    expect(driver.serialStats.rxSeqGaps).toBe(0);
    // The board's own counters over GET_STATS.
    const remote = await driver.readDeviceStats();
    expect(remote.txFrames).toBe(4);
    expect(remote.rxFrames).toBe(3);
    expect(remote.txBytes).toBe(60 + 64 + 1518 + 200);
  });

  it('refuses bad lengths and counts them', async () => {
    const { driver } = await setup();
    expect(driver.transmit(new Uint8Array(17))).toBe(false);
    expect(driver.transmit(new Uint8Array(1519))).toBe(false);
    expect(driver.stats.txDroppedBadLength).toBe(2);
  });

  it('honours credits: with a window of 2 every frame arrives in order, stalls are counted, nothing overruns', async () => {
    const { driver, board, wire } = await setup({ board: { window: 2 } });
    const n = 40;
    for (let i = 0; i < n; i++)
      expect(driver.transmit(wireFrame({ destination: 0x02_00_00_00_00_99, length: 100, mark: i }))).toBe(true);
    await until(() => wire.length === n);
    expect(wire.map(markOf)).toEqual([...Array(n).keys()]);
    expect(driver.serialStats.creditStalls).toBeGreaterThan(0);
    expect(board.stats.txDroppedOverrun).toBe(0);
  });

  it('bounds the TX queue: a full queue refuses and counts', async () => {
    const { driver, wire } = await setup({ board: { window: 1 }, driver: { txQueueFrames: 4 } });
    const results = Array.from({ length: 10 }, (_, i) =>
      driver.transmit(wireFrame({ destination: 0x02_00_00_00_00_99, length: 64, mark: i })),
    );
    expect(results.filter(Boolean)).toHaveLength(4);
    expect(driver.stats.txDroppedQueueFull).toBe(6);
    await until(() => wire.length === 4);
    expect(wire.map(markOf)).toEqual([0, 1, 2, 3]);
  });

  it('recovers from a lost CREDIT by probing with GET_CREDIT after creditProbeMs', async () => {
    let dropped = 0;
    const { driver, wire, sched } = await setup({
      board: { window: 2 },
      toHost: (chunk) => {
        // The board writes each CREDIT event as its own chunk: 00, code byte, type ...
        if (dropped === 0 && chunk[2] === P.FrameType.CREDIT) {
          dropped++;
          return null;
        }
        return chunk;
      },
    });
    for (let i = 0; i < 6; i++) driver.transmit(wireFrame({ destination: 0x02_00_00_00_00_99, length: 80, mark: i }));
    await until(() => wire.length === 2 && driver.serialStats.creditStalls > 0);
    for (let i = 0; i < 50; i++) await ioTurn();
    expect(dropped).toBe(1);
    expect(wire.length).toBe(2);
    sched.advance(60);
    await until(() => wire.length === 6);
    expect(driver.serialStats.creditProbes).toBeGreaterThanOrEqual(1);
    expect(wire.map(markOf)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('applies the receive filter in the board hardware', async () => {
    const { driver, board, received } = await setup({ board: { maxMulticast: 2 } });
    const group1 = 0x01_00_5e_00_00_01;
    const group2 = 0x01_00_5e_00_00_02;
    driver.setReceiveFilter({ promiscuous: false, allMulticast: false, multicast: new Set([group1]) });
    await until(() => driver.receiveFilterInEffect !== undefined);
    expect(board.receiveFilter.multicast.has(group1)).toBe(true);
    const frames = [
      wireFrame({ destination: group1, mark: 1 }),
      wireFrame({ destination: group2, mark: 2 }),
      wireFrame({ destination: 0x02_00_00_00_00_77, mark: 3 }),
      wireFrame({ destination: MAC_BROADCAST, mark: 4 }),
      wireFrame({ destination: BOARD_MAC, mark: 5 }),
      wireFrame({ destination: BOARD_MAC, mark: 6, badFcs: true }),
    ];
    expect(frames.map((f) => board.fromWire(f))).toEqual([true, false, false, true, true, false]);
    await until(() => received.length === 3);
    expect(received.map(markOf)).toEqual([1, 4, 5]);
    expect(board.stats.rxFiltered).toBe(2);
    expect(board.stats.rxBadFrames).toBe(1);
    // A list longer than the board holds falls back to all-multicast.
    driver.setReceiveFilter({
      promiscuous: false,
      allMulticast: false,
      multicast: new Set([group1, group2, 0x01_00_5e_00_00_03]),
    });
    await until(() => (driver.receiveFilterInEffect!.flags & P.RxFilterFlag.LIST_OVERFLOW) !== 0);
    expect(board.receiveFilter.allMulticast).toBe(true);
    expect(board.fromWire(wireFrame({ destination: group2, mark: 7 }))).toBe(true);
    // Promiscuous accepts anything.
    driver.setReceiveFilter({ promiscuous: true, allMulticast: false, multicast: new Set() });
    await until(() => board.receiveFilter.promiscuous);
    expect(board.fromWire(wireFrame({ destination: 0x02_00_00_00_00_77, mark: 8 }))).toBe(true);
    await until(() => received.length === 5);
    expect(received.map(markOf)).toEqual([1, 4, 5, 7, 8]);
  });

  it('reports carrier loss and return as link events; a down link refuses transmit', async () => {
    const { driver, board } = await setup();
    const events: string[] = [];
    driver.onLinkChange((s) => events.push(s));
    board.setCarrier(false);
    await until(() => driver.linkState === 'down');
    expect(driver.transmit(wireFrame({ destination: BOARD_MAC }))).toBe(false);
    expect(driver.stats.txDroppedLinkDown).toBe(1);
    board.setCarrier(true);
    await until(() => driver.linkState === 'up');
    expect(events).toEqual(['down', 'up']);
    expect(driver.stats.linkChanges).toBe(3);
  });

  it('SET_LINK takes the link down administratively and back', async () => {
    const { driver, board } = await setup();
    const down = await driver.setAdminLink(false);
    expect(down).toMatchObject({ up: false, adminUp: false });
    expect(driver.linkState).toBe('down');
    expect(board.linkState).toBe('down');
    await driver.setAdminLink(true);
    expect(driver.linkState).toBe('up');
  });

  it('RESET restarts sequence numbers, restores the default filter, then re-applies the host filter', async () => {
    const { driver, board, wire, received } = await setup();
    driver.setReceiveFilter({ promiscuous: true, allMulticast: false, multicast: new Set() });
    for (let i = 0; i < 5; i++) driver.transmit(wireFrame({ destination: 0x02_00_00_00_00_99, mark: i }));
    await until(() => wire.length === 5 && board.receiveFilter.promiscuous);
    await driver.resetDevice();
    await until(() => board.receiveFilter.promiscuous);
    driver.transmit(wireFrame({ destination: 0x02_00_00_00_00_99, mark: 9 }));
    board.fromWire(wireFrame({ destination: BOARD_MAC, mark: 1 }));
    await until(() => wire.length === 6 && received.length === 1);
    expect(board.stats.hostSeqGaps).toBe(0);
    expect(driver.serialStats.rxSeqGaps).toBe(0);
  });

  it('counts frames lost on the line by sequence gap, and drops corrupted ones', async () => {
    let n = 0;
    const { driver, board, received } = await setup({
      toHost: (chunk) => {
        // Corrupt the 2nd DATA chunk (one frame per chunk here): its FCS fails.
        if (chunk.length > 60 && ++n === 2) {
          const c = Buffer.from(chunk);
          c[30]! ^= 0x01;
          return c;
        }
        return chunk;
      },
    });
    for (let i = 0; i < 3; i++) {
      board.fromWire(wireFrame({ destination: BOARD_MAC, mark: i }));
      await until(() => board.stats.rxFrames === i + 1);
      for (let k = 0; k < 5; k++) await ioTurn();
    }
    await until(() => received.length === 2);
    expect(received.map(markOf)).toEqual([0, 2]);
    expect(driver.serialStats.decoder.badFcs).toBe(1);
    expect(driver.serialStats.rxSeqGaps).toBe(1);
    expect(driver.stats.errors).toBeGreaterThanOrEqual(1);
  });

  it('retries a request whose frame was corrupted on the way, and opens', async () => {
    let first = true;
    const { driver, board, sched } = await setup({
      open: false,
      toBoard: (chunk) => {
        if (first) {
          first = false;
          const c = Buffer.from(chunk);
          c[c.length - 2]! ^= 0xff;
          return c;
        }
        return chunk;
      },
    });
    const opening = driver.open();
    await until(() => board.decoderErrors.badCrc === 1);
    sched.advance(300);
    await opening;
    expect(driver.serialStats.requestRetries).toBe(1);
    expect(driver.mac).toBe(BOARD_MAC);
  });

  it('fails with NO_ANSWER after the retries when nothing answers', async () => {
    const sched = new Scheduler({ clock: 'virtual' });
    const [hostEnd, silent] = streamPair();
    silent.resume(); // swallow everything
    const driver = new SerialNicDriver({ endpoint: hostEnd, scheduler: sched, retries: 2, requestTimeoutMs: 100 });
    cleanups.push(() => driver.close());
    let outcome: unknown;
    const opening = driver.open().then(
      () => (outcome = 'opened'),
      (e: unknown) => (outcome = e),
    );
    for (let i = 0; i < 10 && outcome === undefined; i++) {
      await ioTurn();
      sched.advance(100);
    }
    await opening;
    expect(outcome).toBeInstanceOf(NicError);
    expect((outcome as NicError).code).toBe('NO_ANSWER');
    expect(driver.serialStats.requestRetries).toBe(2);
    expect(driver.linkState).toBe('down');
    expect(hostEnd.destroyed).toBe(true);
  });

  it('fails with PROTOCOL_VERSION when no version is shared', async () => {
    const { driver } = await setup({ open: false, board: { versions: { min: 2, max: 3 } } });
    await expect(driver.open()).rejects.toMatchObject({ code: 'PROTOCOL_VERSION' });
  });

  it('fails with PROTOCOL_VERSION when the board picks a version the host did not offer', async () => {
    // A "board" that answers HELLO with version 9.
    const sched = new Scheduler({ clock: 'virtual' });
    const [hostEnd, boardEnd] = streamPair();
    const decoder = new SerialFrameDecoder({
      onFrame: (f) => {
        const payload = P.emitHelloResponse({
          version: 9,
          maxFrame: 1518,
          capabilities: 0,
          window: 4,
          maxMulticast: 0,
        });
        boardEnd.write(encodeSerialFrameToBytes({ type: f.type, flags: P.FrameFlag.RESPONSE, seq: f.seq, payload }));
      },
    });
    boardEnd.on('data', (c: Uint8Array) => decoder.push(c));
    const driver = new SerialNicDriver({ endpoint: hostEnd, scheduler: sched });
    cleanups.push(() => driver.close());
    await expect(driver.open()).rejects.toMatchObject({ code: 'PROTOCOL_VERSION' });
  });

  it('a board answers NOT_READY before HELLO and UNKNOWN_TYPE to an unknown request', async () => {
    const sched = new Scheduler({ clock: 'virtual' });
    const [hostEnd, boardEnd] = streamPair();
    makeBoard(boardEnd, sched, BOARD_MAC);
    const answers: Array<{ type: number; flags: number; code: number }> = [];
    const decoder = new SerialFrameDecoder({
      onFrame: (f) => answers.push({ type: f.type, flags: f.flags, code: f.payload[0]! }),
      onUnknown: (f) => answers.push({ type: f.type, flags: f.flags, code: f.payload[0]! }),
    });
    hostEnd.on('data', (c: Uint8Array) => decoder.push(c));
    hostEnd.write(
      encodeSerialFrameToBytes({ type: P.FrameType.GET_MAC, flags: 0, seq: 1, payload: new Uint8Array(0) }),
    );
    hostEnd.write(encodeSerialFrameToBytes({ type: 0x55, flags: 0, seq: 2, payload: new Uint8Array(0) }));
    await until(() => answers.length === 2);
    const errFlags = P.FrameFlag.RESPONSE | P.FrameFlag.ERROR;
    expect(answers).toEqual([
      { type: P.FrameType.GET_MAC, flags: errFlags, code: P.ProtocolError.NOT_READY },
      { type: 0x55, flags: errFlags, code: P.ProtocolError.UNKNOWN_TYPE },
    ]);
    hostEnd.destroy();
  });

  it('goes link-down when the stream closes under it', async () => {
    const { driver, boardEnd } = await setup();
    const events: string[] = [];
    driver.onLinkChange((s) => events.push(s));
    boardEnd.destroy();
    await until(() => driver.linkState === 'down');
    expect(events).toEqual(['down']);
    expect(driver.transmit(wireFrame({ destination: BOARD_MAC }))).toBe(false);
  });

  it('close is idempotent, fails outstanding requests with CLOSED, and the driver reopens', async () => {
    const { driver } = await setup({ open: false });
    await driver.open();
    const stats = driver.readDeviceStats();
    await driver.close();
    await expect(stats).rejects.toMatchObject({ code: 'CLOSED' });
    await driver.close();
    expect(driver.linkState).toBe('down');
    await expect(driver.readDeviceStats()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('SerialNicDriver: opening real endpoints', () => {
  const sched = new Scheduler({ clock: 'virtual' });
  it('DEVICE_NOT_FOUND for a missing device path', async () => {
    const d = new SerialNicDriver({ endpoint: '/dev/ttyPOSTERN-does-not-exist', scheduler: sched });
    await expect(d.open()).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    expect(d.linkState).toBe('down');
  });

  it('DEVICE_NOT_FOUND for a refused socket, BAD_ARGUMENT for a malformed one', async () => {
    // A port known to be closed: bound by us a moment ago and released (port 1 may be taken by another process).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(
      new SerialNicDriver({ endpoint: `socket://127.0.0.1:${port}`, scheduler: sched }).open(),
    ).rejects.toMatchObject({ code: 'DEVICE_NOT_FOUND' });
    await expect(
      new SerialNicDriver({ endpoint: 'socket://127.0.0.1', scheduler: sched }).open(),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('maps errno codes and serialport messages to NicError codes', () => {
    const err = (code: string): Error => Object.assign(new Error(code), { code });
    expect(serialOpenErrorCode(err('EACCES'))).toBe('PERMISSION_DENIED');
    expect(serialOpenErrorCode(err('ENOENT'))).toBe('DEVICE_NOT_FOUND');
    expect(serialOpenErrorCode(err('EBUSY'))).toBe('DEVICE_BUSY');
    expect(serialOpenErrorCode(new Error('Error: Permission denied, cannot open /dev/ttyACM0'))).toBe(
      'PERMISSION_DENIED',
    );
    expect(serialOpenErrorCode(new Error('Error Resource temporarily unavailable Cannot lock port'))).toBe(
      'DEVICE_BUSY',
    );
  });

  it('PERMISSION_DENIED for a path the process may not open read-write', async () => {
    // A read-only sysctl refuses write access even to root (procfs checks the mode for everyone).
    const d = new SerialNicDriver({ endpoint: '/proc/sys/kernel/cap_last_cap', scheduler: sched });
    await expect(d.open()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});
