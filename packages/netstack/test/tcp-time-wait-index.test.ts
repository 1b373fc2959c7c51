/**
 * The connection table's index of TIME-WAIT records (open addressing over the records' keys, with
 * backward-shift removal), against a plain map of 4-tuples: any sequence of adds and removes leaves
 * exactly the held records findable, whatever their keys collide on, as the slots double.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NewReno } from '../src/tcp/congestion.js';
import { ConnectionTable } from '../src/tcp/demux.js';
import { ReceiveBuffer } from '../src/tcp/recv-buffer.js';
import { RtoEstimator } from '../src/tcp/rto.js';
import { SackScoreboard } from '../src/tcp/sack-scoreboard.js';
import { SendBuffer } from '../src/tcp/send-buffer.js';
import { Tcb } from '../src/tcp/tcb.js';
import { TimeWaitRecord } from '../src/tcp/time-wait-record.js';

const LOCAL = 0xc612_0002; // 198.18.0.2: above 2^31, as the gateway's
const REMOTES = [0xc612_0001, 0x0a00_0001, 0xffff_ffff];

/** The universe of 4-tuples: two local ports (same remote endpoint, same key), three remote addresses, 40 ports. */
const TUPLES: [number, number, number][] = [];
for (const localPort of [80, 81])
  for (const remote of REMOTES) for (let p = 0; p < 40; p++) TUPLES.push([localPort, remote, 1024 + p * 7]);

function record(localPort: number, remote: number, remotePort: number, expiresAt: number): TimeWaitRecord {
  const t = new Tcb(
    LOCAL,
    localPort,
    remote,
    remotePort,
    true,
    new SendBuffer(1024),
    new ReceiveBuffer(1024),
    new RtoEstimator(),
    new NewReno({ mss: 1460 }),
    new SackScoreboard(),
  );
  return new TimeWaitRecord(t, 1000, 1000, 1000, expiresAt);
}

describe('ConnectionTable TIME-WAIT index', () => {
  it('holds exactly the records added and not removed, for any order of adds and removes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 0, max: TUPLES.length - 1 }), { minLength: 1, maxLength: 300 }),
        (seed, steps) => {
          const table = new ConnectionTable(seed);
          const model = new Map<number, TimeWaitRecord>();
          steps.forEach((at, step) => {
            const held = model.get(at);
            if (held === undefined) {
              const [lp, ra, rp] = TUPLES[at]!;
              const r = record(lp, ra, rp, step);
              table.addTimeWait(r);
              model.set(at, r);
            } else {
              table.removeTimeWait(held);
              table.removeTimeWait(held); // no longer held: nothing changes
              model.delete(at);
            }
            expect(table.timeWaitRecords).toBe(model.size);
            TUPLES.forEach(([lp, ra, rp], i) => {
              expect(table.findTimeWait(LOCAL, lp, ra, rp)).toBe(model.get(i));
              if (i % 9 === 0) expect(table.findTimeWait(LOCAL - 1, lp, ra, rp)).toBeUndefined(); // other local address
            });
          });
          expect(new Set(table.allTimeWait())).toEqual(new Set(model.values()));
        },
      ),
      { numRuns: 60, seed: 17 },
    );
  });

  it('keeps finding every record through thousands of adds and removes as under short connections', () => {
    // A queue as TIME-WAIT at its limit: each new record ends the oldest.
    const table = new ConnectionTable(12345);
    const queue: TimeWaitRecord[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = record(80, REMOTES[i % 3]!, 1024 + (i % 60_000), i);
      table.addTimeWait(r);
      queue.push(r);
      if (queue.length > 3000) table.removeTimeWait(queue.shift()!);
      if (i % 997 === 0)
        for (const q of queue) expect(table.findTimeWait(LOCAL, 80, q.remoteAddress, q.remotePort)).toBe(q);
    }
    expect(table.timeWaitRecords).toBe(3000);
    expect(table.allTimeWait().length).toBe(3000);
  });
});
