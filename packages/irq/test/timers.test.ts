import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerError, type Timer } from '../src/index.js';

describe('timers', () => {
  it('fire in deadline order, ties in arming order, each at its deadline', () => {
    const s = new Scheduler();
    const fired: string[] = [];
    const at = (name: string, deadline: number): Timer => s.timerAt(deadline, () => fired.push(`${name}@${s.now}`));
    at('c', 30);
    at('a1', 10);
    at('b', 20);
    at('a2', 10);
    at('a3', 10);
    expect(s.nextDeadline()).toBe(10);
    s.advance(100);
    expect(fired).toEqual(['a1@10', 'a2@10', 'a3@10', 'b@20', 'c@30']);
    expect(s.now).toBe(100);
    expect(s.stats.timersFired).toBe(5);
    expect(s.nextDeadline()).toBeUndefined();
  });

  it('cancel disarms (idempotently) and reset re-arms in place, taking a new place in the arming order', () => {
    const s = new Scheduler();
    const fired: string[] = [];
    const a = s.timerAt(10, () => fired.push('a'));
    s.timerAt(10, () => fired.push('b'));
    const c = s.timerAt(5, () => fired.push('c'));
    c.cancel();
    c.cancel();
    expect(c.active).toBe(false);
    a.reset(10); // same deadline, now armed after b
    expect(a.deadline).toBe(10);
    s.advance(10);
    expect(fired).toEqual(['b', 'a']);
    expect(a.active).toBe(false);
    a.cancel(); // after firing: harmless
    a.reset(15); // re-arming a fired timer works
    expect(a.active).toBe(true);
    a.resetAfter(20); // relative to now = 10
    expect(a.deadline).toBe(30);
    s.advance(19);
    expect(fired).toEqual(['b', 'a']);
    s.advance(1);
    expect(fired).toEqual(['b', 'a', 'a']);
  });

  it('an IRQ raised by a timer callback runs at the yield point before the next due timer', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    const line = s.requestIrq('rto', 1, () => trace.push('irq'));
    s.timerAt(5, () => {
      trace.push('t1');
      line.raise();
    });
    s.timerAt(5, () => trace.push('t2'));
    s.advance(5);
    expect(trace).toEqual(['t1', 'irq', 't2']);
  });

  it('a past deadline fires at the next step, without moving the clock', () => {
    const s = new Scheduler();
    s.advance(50);
    let firedAt = -1;
    s.timerAt(10, () => (firedAt = s.now));
    s.runPending();
    expect(firedAt).toBe(50);
  });

  it('a timer re-armed for "now" from its own callback fires in the next step, after deferred work', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    let n = 0;
    const t = s.timerAt(0, () => {
      trace.push(`timer${n}`);
      if (++n < 2) {
        t.reset(s.now);
        s.defer(() => trace.push('tasklet'));
      }
    });
    s.runPending();
    expect(trace).toEqual(['timer0', 'tasklet', 'timer1']);
  });

  it('rejects non-finite deadlines and delays with a typed error', () => {
    const s = new Scheduler();
    expect(() => s.timerAt(Number.NaN, () => {})).toThrow(SchedulerError);
    expect(() => s.timerAfter(Number.POSITIVE_INFINITY, () => {})).toThrow(SchedulerError);
    const t = s.timerAfter(1, () => {});
    expect(() => t.reset(Number.NaN)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(t.active).toBe(true);
  });

  it('a 60 s TIME_WAIT runs instantly on the virtual clock while a retransmit timer is re-armed thousands of times', () => {
    const s = new Scheduler();
    let closedAt = -1;
    let retransmits = 0;
    const rto = s.timerAfter(200, () => retransmits++);
    // A busy connection: every millisecond an ACK arrives and re-arms the retransmit timer.
    let acks = 0;
    const ack = s.timerAfter(1, () => {
      rto.resetAfter(200);
      if (++acks < 5000) ack.resetAfter(1);
      else rto.cancel();
    });
    s.timerAfter(5000, () => s.timerAfter(60_000, () => (closedAt = s.now))); // TIME_WAIT (2 MSL)
    s.runUntilIdle();
    expect(acks).toBe(5000);
    expect(retransmits).toBe(0);
    expect(closedAt).toBe(65_000);
    expect(s.now).toBe(65_000);
    expect(s.idle).toBe(true);
  });

  it('keeps order under random arm/cancel/reset/advance sequences (model: a naive sorted list)', () => {
    type Op =
      | { op: 'arm'; at: number }
      | { op: 'cancel'; i: number }
      | { op: 'reset'; i: number; at: number }
      | { op: 'advance'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('arm' as const), at: fc.integer({ min: -5, max: 60 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), i: fc.nat(40) }) },
      {
        weight: 3,
        arbitrary: fc.record({
          op: fc.constant('reset' as const),
          i: fc.nat(40),
          at: fc.integer({ min: -5, max: 60 }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const s = new Scheduler();
        const handles: Timer[] = [];
        const real: string[] = [];
        // The model: every timer with its deadline, arming sequence and armed flag; fire = repeated min scan.
        const model: { deadline: number; seq: number; armed: boolean }[] = [];
        const fake: string[] = [];
        let seq = 0;
        let now = 0;
        const modelAdvance = (target: number): void => {
          for (;;) {
            let best = -1;
            for (let i = 0; i < model.length; i++) {
              const m = model[i]!;
              if (!m.armed || m.deadline > target) continue;
              const b = model[best];
              if (b === undefined || m.deadline < b.deadline || (m.deadline === b.deadline && m.seq < b.seq)) best = i;
            }
            if (best < 0) break;
            const m = model[best]!;
            m.armed = false;
            now = Math.max(now, m.deadline);
            fake.push(`${best}@${now}`);
          }
          now = target;
        };
        for (const op of ops) {
          if (op.op === 'arm') {
            const id = handles.length;
            handles.push(s.timerAt(now + op.at, () => real.push(`${id}@${s.now}`)));
            model.push({ deadline: now + op.at, seq: seq++, armed: true });
          } else if (op.op === 'cancel' || op.op === 'reset') {
            const h = handles[op.i];
            const m = model[op.i];
            if (h === undefined || m === undefined) continue;
            if (op.op === 'cancel') {
              h.cancel();
              m.armed = false;
            } else {
              h.reset(now + op.at);
              Object.assign(m, { deadline: now + op.at, seq: seq++, armed: true });
            }
          } else {
            s.advance(op.ms);
            modelAdvance(now + op.ms);
          }
          expect(real).toEqual(fake);
          expect(s.now).toBe(now);
          expect(handles.map((h) => h.active)).toEqual(model.map((m) => m.armed));
          const armed = model.filter((m) => m.armed).map((m) => m.deadline);
          expect(s.nextDeadline()).toBe(armed.length === 0 ? undefined : Math.min(...armed));
        }
        s.runUntilIdle();
        modelAdvance(Math.max(now, ...model.filter((m) => m.armed).map((m) => m.deadline)));
        expect(real).toEqual(fake);
        expect(s.idle).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
