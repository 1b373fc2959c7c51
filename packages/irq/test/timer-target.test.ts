/**
 * Timers that call a {@link TimerTarget}'s method instead of a closure, and the reusable
 * {@link DeadlineHeap} the scheduler keeps its timers on: target timers and closure timers share one
 * order (deadline, then arming), a target gets the scheduler's `now` and its own handle, errors name
 * the target's class; the heap comes out in (deadline, arming) order under random arms, re-keys and
 * removals (model: a naive list) and keeps every entry's slot right.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DeadlineHeap,
  Scheduler,
  type DeadlineEntry,
  type Millis,
  type Timer,
  type TimerTarget,
} from '../src/index.js';

/** A target that records each call: its label, the `now` it was given and the handle. */
class Recorder implements TimerTarget {
  readonly calls: Array<{ label: string; now: Millis; timer: Timer }> = [];
  constructor(private readonly label: string) {}
  onTimer(now: Millis, timer: Timer): void {
    this.calls.push({ label: this.label, now, timer });
  }
}

describe('timer targets', () => {
  it("call onTimer(now, handle) in one (deadline, arming) order with closure timers, on the scheduler's time", () => {
    const s = new Scheduler();
    const order: string[] = [];
    const a = new Recorder('a');
    const b = new Recorder('b');
    const ta = s.timerAt(10, a);
    s.timerAt(10, () => order.push(`closure@${s.now}`));
    const tb = s.timerAfter(10, b);
    s.timerAt(5, () => order.push(`early@${s.now}`));
    s.advance(7);
    ta.reset(10); // re-armed: now after the closure and b
    s.advance(20);
    const targetCalls = [...a.calls, ...b.calls].map((c) => `${c.label}@${c.now}`);
    expect(order).toEqual(['early@5', 'closure@10']);
    expect(targetCalls).toEqual(['a@10', 'b@10']);
    expect(a.calls[0]!.timer).toBe(ta);
    expect(b.calls[0]!.timer).toBe(tb);
    expect(ta.active).toBe(false);
    expect(s.stats.timersFired).toBe(4);
    // Targets and closures armed for one instant fire in arming order, whatever their kind.
    const all: string[] = [];
    s.timerAfter(1, { onTimer: () => all.push('t1') });
    s.timerAfter(1, () => all.push('f2'));
    s.timerAfter(1, { onTimer: () => all.push('t3') });
    s.advance(1);
    expect(all).toEqual(['t1', 'f2', 't3']);
  });

  it('may re-arm its own handle from onTimer, and one target can serve several timers', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    const target: TimerTarget = {
      onTimer(now, timer) {
        const which = timer === first ? 'first' : 'second';
        seen.push(`${which}@${now}`);
        if (which === 'first' && now < 30) timer.resetAfter(10);
      },
    };
    const first = s.timerAt(10, target);
    s.timerAt(15, target);
    s.runUntilIdle();
    expect(seen).toEqual(['first@10', 'second@15', 'first@20', 'first@30']);
    expect(s.idle).toBe(true);
  });

  it("reports a throwing target with the target's class name and keeps running", () => {
    const errors: Array<{ kind: string; name: string }> = [];
    const s = new Scheduler({ onError: (_e, context) => errors.push({ ...context }) });
    class RetransmitProbe implements TimerTarget {
      onTimer(): void {
        throw new Error('boom');
      }
    }
    let after = false;
    s.timerAt(1, new RetransmitProbe());
    s.timerAt(1, () => (after = true));
    s.advance(1);
    expect(errors).toEqual([{ kind: 'timer', name: 'RetransmitProbe' }]);
    expect(after).toBe(true);
    expect(s.stats.errors).toBe(1);
  });
});

describe('timerHeapUpdates', () => {
  it('counts each arm, re-arm, cancellation of an armed timer and firing, and nothing else', () => {
    const s = new Scheduler();
    const t = s.timerAt(10, () => {}); // 1
    t.reset(20); // 2
    t.cancel(); // 3
    t.cancel(); // not armed: no change
    t.resetAfter(5); // 4
    s.advance(4);
    expect(s.stats.timerHeapUpdates).toBe(4);
    s.advance(1); // fires: 5
    expect(s.stats.timerHeapUpdates).toBe(5);
    t.cancel(); // fired: no change
    expect(s.stats.timerHeapUpdates).toBe(5);
  });
});

/** A heap entry with a name. */
class Entry implements DeadlineEntry {
  deadlineAt = 0;
  deadlineSlot = -1;
  deadlineSeq = 0;
  constructor(readonly id: number) {}
}

describe('DeadlineHeap', () => {
  it('comes out in (deadline, arming) order under random arms, re-keys and removals (model: a list)', () => {
    type Op =
      { op: 'arm'; i: number; at: number } | { op: 'remove'; i: number } | { op: 'pop'; n: number } | { op: 'clear' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({ op: fc.constant('arm' as const), i: fc.nat(29), at: fc.integer({ min: 0, max: 40 }) }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), i: fc.nat(29) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('pop' as const), n: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), (ops) => {
        const heap = new DeadlineHeap<Entry>();
        const entries = Array.from({ length: 30 }, (_, i) => new Entry(i));
        /** The model: id -> [deadline, arming order] while queued. */
        const model = new Map<number, [number, number]>();
        let seq = 0;
        const modelFirst = (): number | undefined => {
          let best: number | undefined;
          for (const [id, [at, order]] of model) {
            const b = best === undefined ? undefined : model.get(best)!;
            if (b === undefined || at < b[0] || (at === b[0] && order < b[1])) best = id;
          }
          return best;
        };
        for (const op of ops) {
          if (op.op === 'arm') {
            heap.arm(entries[op.i]!, op.at);
            model.set(op.i, [op.at, seq++]);
          } else if (op.op === 'remove') {
            expect(heap.remove(entries[op.i]!)).toBe(model.delete(op.i));
          } else if (op.op === 'pop') {
            for (let k = 0; k < op.n; k++) {
              const expected = modelFirst();
              expect(heap.removeFirst()?.id).toBe(expected);
              if (expected !== undefined) model.delete(expected);
            }
          } else {
            heap.clear();
            model.clear();
          }
          expect(heap.size).toBe(model.size);
          expect(heap.first()?.id).toBe(modelFirst());
          for (const e of entries) {
            expect(e.deadlineSlot >= 0).toBe(model.has(e.id));
            if (model.has(e.id)) expect(e.deadlineAt).toBe(model.get(e.id)![0]);
          }
        }
        // Drained, everything comes out in the model's order.
        const drained: number[] = [];
        for (let e = heap.removeFirst(); e !== undefined; e = heap.removeFirst()) drained.push(e.id);
        const expected = [...model.entries()].sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]).map(([id]) => id);
        expect(drained).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('takes a fresh arming order on every arm (also to the same deadline) and counts it in `sequence`', () => {
    const heap = new DeadlineHeap<Entry>();
    const [a, b, c] = [new Entry(0), new Entry(1), new Entry(2)];
    heap.arm(a, 5);
    heap.arm(b, 5);
    heap.arm(c, 5);
    expect(heap.sequence).toBe(3);
    heap.arm(a, 5); // same deadline, armed again: now last of the three
    expect(heap.sequence).toBe(4);
    expect([heap.removeFirst()!.id, heap.removeFirst()!.id, heap.removeFirst()!.id]).toEqual([1, 2, 0]);
    expect(heap.removeFirst()).toBeUndefined();
    expect(heap.remove(a)).toBe(false);
    expect(a.deadlineSlot).toBe(-1);
  });
});
