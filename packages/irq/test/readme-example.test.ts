import { describe, expect, it } from 'vitest';
import { Ring, Scheduler } from '../src/index.js';

// The usage example of README.md, kept here so that it stays true.
describe('README usage example', () => {
  it('drains a ring through a budgeted bottom half and passes a virtual minute instantly', () => {
    const s = new Scheduler({ seed: 42, budget: 16 });
    const rx = new Ring<Uint8Array>(256);
    const delivered: number[] = [];
    const napi = {
      name: 'eth0-rx',
      poll(budget: number): number {
        let n = 0;
        for (; n < budget; n++) {
          const frame = rx.shift();
          if (frame === undefined) break;
          delivered.push(frame.length);
        }
        return n;
      },
    };
    const irq = s.requestIrq('eth0', 1, () => s.schedule(napi));
    s.timerAfter(5, () => {
      for (let i = 0; i < 40; i++) rx.push(new Uint8Array(60 + i));
      irq.raise();
    });
    let closed = false;
    s.timerAfter(60_000, () => (closed = true));
    s.runUntilIdle();
    expect(delivered).toEqual(Array.from({ length: 40 }, (_, i) => 60 + i));
    expect(closed).toBe(true);
    expect(s.now).toBe(60_000);
    expect(s.stats.deferred).toEqual({ runs: 3, budgetExhaustions: 2, items: 40 });
  });
});
