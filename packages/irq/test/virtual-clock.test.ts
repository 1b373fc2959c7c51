import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerError, VirtualClock, type BottomHalf, type SchedulerErrorContext } from '../src/index.js';

/**
 * A small simulated system whose shape depends on the PRNG: a "device" timer raising random lines at
 * random intervals, handlers scheduling a bottom half with a random amount of work, and random timers.
 */
function simulate(seed: number): string[] {
  const s = new Scheduler({ seed, budget: 4 });
  const trace: string[] = [];
  let backlog = 0;
  const bh: BottomHalf = {
    name: 'napi',
    poll(budget) {
      const n = Math.min(budget, backlog);
      backlog -= n;
      trace.push(`${s.now.toFixed(3)} poll ${n}`);
      return n;
    },
  };
  const lines = [0, 1, 2].map((i) =>
    s.requestIrq(`irq${i}`, i, (line) => {
      trace.push(`${s.now.toFixed(3)} ${line.name}`);
      backlog += s.randomUint32() % 10;
      s.schedule(bh);
      if (s.random() < 0.3) s.timerAfter(s.random() * 5, () => trace.push(`${s.now.toFixed(3)} t-${line.name}`));
    }),
  );
  let events = 0;
  const device = s.timerAfter(1, () => {
    lines[s.randomUint32() % 3]!.raise();
    if (s.random() < 0.5) lines[s.randomUint32() % 3]!.raise();
    if (++events < 200) device.resetAfter(s.random() * 3);
  });
  s.runUntilIdle();
  trace.push(`end ${s.now} ${JSON.stringify(s.stats.deferred)}`);
  return trace;
}

describe('virtual clock', () => {
  it('is deterministic: the same seed replays the same trace', () => {
    const a = simulate(2024);
    expect(a.length).toBeGreaterThan(200);
    expect(simulate(2024)).toEqual(a);
    expect(simulate(2025)).not.toEqual(a);
  });

  it('advance() jumps deadline to deadline and ends exactly at now + ms', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    s.timerAt(3, () => seen.push(s.now));
    s.timerAt(7.5, () => seen.push(s.now));
    s.timerAt(11, () => seen.push(s.now));
    s.advance(10);
    expect(seen).toEqual([3, 7.5]);
    expect(s.now).toBe(10);
    s.advance(1);
    expect(seen).toEqual([3, 7.5, 11]);
    expect(() => s.advance(-1)).toThrow(SchedulerError);
  });

  it('advance() runs timers armed by timers when they fall inside the window', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    const tick = s.timerAt(0, () => {
      seen.push(s.now);
      tick.resetAfter(10);
    });
    s.advance(35);
    expect(seen).toEqual([0, 10, 20, 30]);
    expect(tick.deadline).toBe(40);
  });

  it('runUntil() stops at the instant the predicate holds, or at the limit', () => {
    const s = new Scheduler();
    let count = 0;
    const tick = s.timerAt(5, () => {
      count++;
      tick.resetAfter(5);
    });
    expect(s.runUntil(() => count === 3, 1000)).toBe(true);
    expect(s.now).toBe(15);
    expect(s.runUntil(() => count === 100, 12)).toBe(false);
    expect(s.now).toBe(27);
    expect(count).toBe(5);
    tick.cancel();
    expect(s.runUntil(() => false, 100)).toBe(false);
    expect(s.now).toBe(127);
  });

  it('runUntilIdle() stops at the last event when work runs out, or at the limit when timers remain', () => {
    const s = new Scheduler();
    s.timerAt(42, () => s.defer(() => {}));
    s.runUntilIdle();
    expect(s.now).toBe(42);
    expect(s.idle).toBe(true);
    const forever = s.timerAt(50, () => forever.resetAfter(1000));
    s.runUntilIdle(10_000);
    expect(s.now).toBe(10_042);
    expect(s.idle).toBe(false);
  });

  it('a VirtualClock passed in is the one the scheduler moves', () => {
    const clock = new VirtualClock(100);
    const s = new Scheduler({ clock });
    s.advance(5);
    expect(clock.now()).toBe(105);
    expect(() => clock.advanceTo(50)).toThrow(SchedulerError);
    expect(() => new Scheduler({ clock: { virtual: true, now: () => 0 } })).toThrow(SchedulerError);
  });

  it('real-clock operations on a virtual clock throw WRONG_CLOCK; stop() is a harmless no-op', () => {
    const s = new Scheduler();
    expect(() => s.start()).toThrow(expect.objectContaining({ name: 'SchedulerError', code: 'WRONG_CLOCK' }));
    expect(() => s.stop()).not.toThrow();
  });
});

describe('livelock guard', () => {
  it('a handler re-raising its own line forever gets a LIVELOCK error, and the scheduler stays usable', () => {
    const s = new Scheduler({ livelockLimit: 1000 });
    const line = s.requestIrq('storm', 1, (l) => l.raise());
    line.raise();
    let caught: unknown;
    try {
      s.runPending();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SchedulerError);
    expect(caught).toMatchObject({ code: 'LIVELOCK' });
    expect((caught as Error).message).toContain("irq 'storm'");
    expect(line.stats.handled).toBe(1000);
    expect(line.pending).toBe(true);
    line.free();
    let ran = false;
    s.defer(() => (ran = true));
    s.runPending();
    expect(ran).toBe(true);
  });

  it('a bottom half that always exhausts its budget is a livelock too, and keeps its place in the queue', () => {
    const s = new Scheduler({ livelockLimit: 500 });
    let stop = false;
    const hog: BottomHalf = { name: 'hog', poll: (budget) => (stop ? 0 : budget) };
    const order: string[] = [];
    s.schedule(hog);
    s.defer(() => order.push('tasklet'));
    expect(() => s.runPending()).toThrow(expect.objectContaining({ code: 'LIVELOCK' }));
    stop = true;
    s.runPending();
    expect(s.idle).toBe(true);
    expect(order).toEqual(['tasklet']);
  });

  it('a timer re-arming itself at the current instant forever is a livelock', () => {
    const s = new Scheduler({ livelockLimit: 100 });
    const t = s.timerAt(0, () => t.reset(s.now));
    expect(() => s.advance(10)).toThrow(expect.objectContaining({ code: 'LIVELOCK' }));
    expect(s.now).toBe(0);
  });
});

describe('errors from work', () => {
  it('by default a throwing handler is counted and rethrown from the run; what was not run stays queued', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    s.requestIrq('bad', 0, () => {
      throw new Error('boom');
    }).raise();
    s.requestIrq('good', 1, () => trace.push('good')).raise();
    expect(() => s.runPending()).toThrow('boom');
    expect(s.stats.errors).toBe(1);
    expect(s.stats.irq.get('bad')?.handled).toBe(1);
    expect(trace).toEqual([]);
    s.runPending();
    expect(trace).toEqual(['good']);
  });

  it('a round aborted by a rethrown error keeps what it did not run first, before work queued during it', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    s.defer(() => {
      trace.push('a');
      s.defer(() => trace.push('queued during the round'));
    });
    s.defer(() => {
      throw new Error('boom');
    });
    s.defer(() => trace.push('c'));
    s.schedule({ name: 'd', poll: () => (trace.push('d'), 0) });
    expect(() => s.runPending()).toThrow('boom');
    expect(trace).toEqual(['a']);
    s.runPending();
    expect(trace).toEqual(['a', 'c', 'd', 'queued during the round']);
    s.defer(() => trace.push('e')); // the queues work on after the abort
    s.runPending();
    expect(trace.at(-1)).toBe('e');
  });

  it('with onError, every kind of work that throws is reported with its context and the rest keeps running', () => {
    const reported: [string, SchedulerErrorContext][] = [];
    const s = new Scheduler({ onError: (error, context) => reported.push([(error as Error).message, context]) });
    const fail = (what: string) => (): never => {
      throw new Error(what);
    };
    s.requestIrq('eth0', 0, fail('irq')).raise();
    s.schedule({ name: 'napi0', poll: fail('poll') });
    s.defer(function flush() {
      throw new Error('tasklet');
    });
    s.timerAt(0, function retransmit() {
      throw new Error('timer');
    });
    let after = false;
    s.timerAt(0, () => (after = true));
    s.runPending();
    expect(reported).toEqual([
      ['irq', { kind: 'irq', name: 'eth0' }],
      ['poll', { kind: 'bottom-half', name: 'napi0' }],
      ['tasklet', { kind: 'tasklet', name: 'flush' }],
      ['timer', { kind: 'timer', name: 'retransmit' }],
    ]);
    expect(after).toBe(true);
    expect(s.stats.errors).toBe(4);
    expect(s.stats.deferred.runs).toBe(1);
  });

  it('starting a run from inside running work is refused with REENTRANT', () => {
    const errors: unknown[] = [];
    const s = new Scheduler({ onError: (e) => errors.push(e) });
    s.defer(() => s.runPending());
    s.defer(() => s.advance(1));
    s.runPending();
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof SchedulerError && e.code === 'REENTRANT')).toBe(true);
  });
});
