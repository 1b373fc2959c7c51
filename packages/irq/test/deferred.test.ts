import { describe, expect, it } from 'vitest';
import { Scheduler, type BottomHalf } from '../src/index.js';

/** A bottom half draining `items` work items, `budget` at most per poll, logging each poll. */
function drainer(name: string, items: number, trace: string[]): BottomHalf & { left: number } {
  return {
    name,
    left: items,
    poll(budget: number): number {
      const n = Math.min(budget, this.left);
      this.left -= n;
      trace.push(`${name}:${n}`);
      return n;
    },
  };
}

describe('bottom halves and tasklets', () => {
  it('one bottom half queued on two schedulers is queued once on each', () => {
    const a = new Scheduler();
    const b = new Scheduler();
    const trace: string[] = [];
    const bh: BottomHalf = { name: 'shared', poll: () => (trace.push('poll'), 0) };
    a.schedule(bh);
    b.schedule(bh);
    a.schedule(bh); // coalesced on a
    a.runPending();
    expect(trace).toEqual(['poll']);
    b.schedule(bh); // still queued on b: coalesced
    b.runPending();
    expect(trace).toEqual(['poll', 'poll']);
    a.schedule(bh); // polled on a: queues again
    a.runPending();
    expect(trace).toEqual(['poll', 'poll', 'poll']);
  });

  it('a bottom half that exhausts its budget is polled again next round; a partial poll completes it', () => {
    const s = new Scheduler({ budget: 64 });
    const trace: string[] = [];
    const bh = drainer('rx', 200, trace);
    s.schedule(bh);
    s.runPending();
    expect(trace).toEqual(['rx:64', 'rx:64', 'rx:64', 'rx:8']);
    expect(s.stats.deferred).toEqual({ runs: 4, budgetExhaustions: 3, items: 200 });
    s.runPending();
    expect(trace).toHaveLength(4); // completed: not polled again until scheduled
  });

  it('between budget rounds, a higher-priority IRQ and due timers get their turn', () => {
    const s = new Scheduler({ budget: 10 });
    const trace: string[] = [];
    const bh = drainer('rx', 25, trace);
    const urgent = s.requestIrq('urgent', 0, () => trace.push('irq'));
    s.timerAt(0, () => {
      trace.push('timer');
      urgent.raise();
    });
    s.schedule(bh);
    s.runPending();
    // Round 1 polls, then the due timer fires, and the IRQ it raised runs at that yield point,
    // all before round 2 continues the exhausted bottom half.
    expect(trace).toEqual(['rx:10', 'timer', 'irq', 'rx:10', 'rx:5']);
    expect(s.stats.deferred.budgetExhaustions).toBe(2);
  });

  it('an IRQ raised by a poll runs at the yield point right after that poll, before the next bottom half', () => {
    const s = new Scheduler({ budget: 4 });
    const trace: string[] = [];
    const line = s.requestIrq('tx-done', 1, () => trace.push('irq'));
    const first: BottomHalf = {
      name: 'first',
      poll: () => {
        trace.push('first');
        line.raise();
        return 0;
      },
    };
    s.schedule(first);
    s.schedule(drainer('second', 1, trace));
    s.runPending();
    expect(trace).toEqual(['first', 'irq', 'second:1']);
  });

  it('scheduling a bottom half already queued is a no-op', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    const bh = drainer('rx', 1, trace);
    s.schedule(bh);
    s.schedule(bh);
    s.schedule(bh);
    s.runPending();
    expect(trace).toEqual(['rx:1']);
    expect(s.stats.deferred.runs).toBe(1);
  });

  it('a bottom half scheduled by an IRQ while it is polled runs again in the next round', () => {
    const s = new Scheduler();
    let polls = 0;
    const bh: BottomHalf = { name: 'rx', poll: () => (polls++ === 0 ? (line.raise(), 1) : 0) };
    const line = s.requestIrq('rx-irq', 1, () => s.schedule(bh));
    line.raise();
    s.runPending();
    expect(polls).toBe(2);
  });

  it('tasklets run once each, in queuing order with bottom halves, and are counted', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    s.defer(() => trace.push('t1'));
    s.schedule(drainer('bh', 1, trace));
    s.defer(() => {
      trace.push('t2');
      s.defer(() => trace.push('t3')); // goes to the next round
    });
    s.runPending();
    expect(trace).toEqual(['t1', 'bh:1', 't2', 't3']);
    expect(s.stats.taskletsRun).toBe(3);
  });

  it('clamps a nonsensical poll result: NaN and negatives count as 0, more than the budget as an exhaustion', () => {
    const s = new Scheduler({ budget: 8 });
    const results = [Number.NaN, -5, 100, 3];
    const bh: BottomHalf = { name: 'odd', poll: () => results.shift() ?? 0 };
    s.schedule(bh);
    s.runPending();
    s.schedule(bh);
    s.runPending();
    s.schedule(bh);
    s.runPending();
    expect(s.stats.deferred).toEqual({ runs: 4, budgetExhaustions: 1, items: 11 });
  });
});
