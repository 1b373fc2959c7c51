/**
 * The driver contract suite against SerialNicDriver: two drivers, each talking to its own SerialBoard,
 * with the boards' Ethernet sides cabled together. Run over the three transports: an in-process
 * stream pair, socket://127.0.0.1:PORT, and a real serial port (`serialport` on a socat PTY pair).
 */
import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { SerialBoard, SerialNicDriver } from '../src/index.js';
import type { LinkState } from '../src/index.js';
import { contractFrame, contractSeq, runDriverContract, waitOnScheduler } from './contract.js';
import type { DriverPair } from './contract.js';
import {
  boardServer,
  closePort,
  haveSocat,
  makeBoard,
  openBoardPort,
  openPtyPair,
  streamPair,
} from './serial-support.js';
import type { PtyPair } from './serial-support.js';

const MAC_A = 0x02_00_00_00_0a_01;
const MAC_B = 0x02_00_00_00_0b_01;

function inProcessPair(): Promise<DriverPair> {
  const sched = new Scheduler({ clock: 'real' });
  const [hostA, boardEndA] = streamPair();
  const [hostB, boardEndB] = streamPair();
  const boards: { a?: SerialBoard; b?: SerialBoard } = {};
  const boardA = makeBoard(boardEndA, sched, MAC_A, { toWire: (f) => boards.b!.fromWire(f) }).board;
  const boardB = makeBoard(boardEndB, sched, MAC_B, { toWire: (f) => boards.a!.fromWire(f) }).board;
  boards.a = boardA;
  boards.b = boardB;
  return Promise.resolve({
    a: new SerialNicDriver({ endpoint: hostA, scheduler: sched, name: 'serialA' }),
    b: new SerialNicDriver({ endpoint: hostB, scheduler: sched, name: 'serialB' }),
    sched,
    setLink: (state: LinkState) => {
      boardA.setCarrier(state === 'up');
      boardB.setCarrier(state === 'up');
    },
    cleanup: () => {
      boardA.stop();
      boardB.stop();
      boardEndA.destroy();
      boardEndB.destroy();
      sched.stop();
      return Promise.resolve();
    },
  });
}

async function socketPair(): Promise<DriverPair> {
  const sched = new Scheduler({ clock: 'real' });
  const serverA = await boardServer(sched, MAC_A, (f) => serverB.boards.at(-1)?.fromWire(f));
  const serverB = await boardServer(sched, MAC_B, (f) => serverA.boards.at(-1)?.fromWire(f));
  return {
    a: new SerialNicDriver({ endpoint: serverA.url, scheduler: sched, name: 'sockA' }),
    b: new SerialNicDriver({ endpoint: serverB.url, scheduler: sched, name: 'sockB' }),
    sched,
    setLink: (state: LinkState) => {
      for (const b of [...serverA.boards, ...serverB.boards]) b.setCarrier(state === 'up');
    },
    cleanup: async () => {
      await serverA.close();
      await serverB.close();
      sched.stop();
    },
  };
}

/** The boards of the last pair {@link ptyPair} made (for diagnostics). */
let lastPtyBoards: SerialBoard[] = [];

async function ptyPair(): Promise<DriverPair> {
  const sched = new Scheduler({ clock: 'real' });
  const ptys: PtyPair[] = [await openPtyPair(), await openPtyPair()];
  const ports = [await openBoardPort(ptys[0]!.board), await openBoardPort(ptys[1]!.board)];
  const boards: { a?: SerialBoard; b?: SerialBoard } = {};
  const boardA = makeBoard(ports[0]!, sched, MAC_A, { toWire: (f) => boards.b!.fromWire(f) }).board;
  const boardB = makeBoard(ports[1]!, sched, MAC_B, { toWire: (f) => boards.a!.fromWire(f) }).board;
  boards.a = boardA;
  boards.b = boardB;
  lastPtyBoards = [boardA, boardB];
  return {
    a: new SerialNicDriver({ endpoint: ptys[0]!.host, scheduler: sched, name: 'ptyA' }),
    b: new SerialNicDriver({ endpoint: ptys[1]!.host, scheduler: sched, name: 'ptyB' }),
    sched,
    setLink: (state: LinkState) => {
      boardA.setCarrier(state === 'up');
      boardB.setCarrier(state === 'up');
    },
    cleanup: async () => {
      boardA.stop();
      boardB.stop();
      for (const p of ports) await closePort(p);
      for (const p of ptys) await p.close();
      sched.stop();
    },
  };
}

runDriverContract('serial, in-process stream pair', inProcessPair, { linkControl: true });
runDriverContract('serial, socket://127.0.0.1', socketPair, { linkControl: true });

// A real serial port: `serialport` on one end of a pseudo-terminal pair, the board on the other.
// socat comes from tools/scripts/install-peers.sh; without it these tests fail rather than skip.
describe('serial over a PTY (socat)', () => {
  it('socat is installed (tools/scripts/install-peers.sh)', () => {
    expect(haveSocat()).toBe(true);
  });
});
if (haveSocat()) runDriverContract('serial, real serialport on a PTY', ptyPair, { linkControl: true });

describe('serial over a PTY: bulk in both directions', () => {
  it.skipIf(!haveSocat())(
    'moves 2,000 frames each way through serialport: host->board lossless, board->host delivered or counted, in order, no corruption',
    async () => {
      const pair = await ptyPair();
      const atA: number[] = [];
      const atB: number[] = [];
      pair.a.onReceive((f) => atA.push(contractSeq(f)));
      pair.b.onReceive((f) => atB.push(contractSeq(f)));
      try {
        await Promise.all([pair.a.open(), pair.b.open()]);
        const n = 2000;
        let sentA = 0;
        let sentB = 0;
        // Keep both TX queues topped up; transmit refuses (and counts) when a queue is full. The bound is on
        // progress, not total time: a queue that accepts nothing for 10 s is a stall (a lost wake-up), and
        // fails here with the counts instead of running into the test timeout.
        let idleMs = 0;
        while (sentA < n || sentB < n) {
          const before = sentA + sentB;
          while (sentA < n && pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 1518, sentA))) sentA++;
          while (sentB < n && pair.b.transmit(contractFrame(pair.a.mac, pair.b.mac, 1518, sentB))) sentB++;
          const t0 = pair.sched.now;
          await waitOnScheduler(pair.sched, () => false, 2);
          idleMs = sentA + sentB > before ? 0 : idleMs + (pair.sched.now - t0);
          if (idleMs >= 10_000) {
            const [boardA, boardB] = lastPtyBoards as [SerialBoard, SerialBoard];
            const where = {
              sentA,
              sentB,
              boardTx: [boardA.stats.txFrames, boardB.stats.txFrames],
              a: (pair.a as SerialNicDriver).serialStats,
              b: (pair.b as SerialNicDriver).serialStats,
            };
            expect.fail(`no transmit progress for 10 s: ${JSON.stringify(where)}`);
          }
        }
        expect(pair.a.stats.txDroppedQueueFull + pair.b.stats.txDroppedQueueFull).toBeGreaterThan(0);
        // Host -> board is credit-controlled: lossless. Board -> host has no credits (§7): a board whose
        // queue toward its host is full drops and counts. So each frame is delivered or counted, in order.
        const [boardA, boardB] = lastPtyBoards as [SerialBoard, SerialBoard];
        const settled = (): boolean =>
          boardA.stats.txFrames === n &&
          boardB.stats.txFrames === n &&
          atB.length + boardB.stats.rxDroppedQueue === n &&
          atA.length + boardA.stats.rxDroppedQueue === n;
        const done = await waitOnScheduler(pair.sched, settled, 20_000);
        expect(done, JSON.stringify({ atA: atA.length, atB: atB.length, boards: [boardA.stats, boardB.stats] })).toBe(
          true,
        );
        expect(boardA.stats.txDroppedOverrun + boardB.stats.txDroppedOverrun).toBe(0);
        const increasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
        expect(increasing(atA) && increasing(atB)).toBe(true);
        // Most frames get through (the drops are the overflow of a 256-frame queue, not corruption).
        expect(atA.length + atB.length).toBeGreaterThan(n);
        const a = pair.a as SerialNicDriver;
        const b = pair.b as SerialNicDriver;
        expect(a.serialStats.decoder).toEqual(b.serialStats.decoder);
        expect(Object.values(a.serialStats.decoder).every((v) => v === 0)).toBe(true);
        expect(a.serialStats.rxSeqGaps + b.serialStats.rxSeqGaps).toBe(0);
      } finally {
        await pair.a.close();
        await pair.b.close();
        await pair.cleanup();
      }
    },
  );
});
