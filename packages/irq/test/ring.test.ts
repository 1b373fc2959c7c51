import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring, SchedulerError } from '../src/index.js';

describe('Ring', () => {
  it('is FIFO across wrap-around and refuses (and counts) pushes when full', () => {
    const ring = new Ring<number>(3);
    expect(ring.push(1)).toBe(true);
    expect(ring.push(2)).toBe(true);
    expect(ring.shift()).toBe(1);
    expect(ring.push(3)).toBe(true);
    expect(ring.push(4)).toBe(true); // wraps
    expect(ring.full).toBe(true);
    expect(ring.push(5)).toBe(false);
    expect(ring.drops).toBe(1);
    expect(ring.length).toBe(3);
    expect(ring.peek()).toBe(2);
    expect([ring.shift(), ring.shift(), ring.shift(), ring.shift()]).toEqual([2, 3, 4, undefined]);
    expect(ring.space).toBe(3);
  });

  it('clear empties it but keeps the drop counter', () => {
    const ring = new Ring<string>(1);
    ring.push('a');
    ring.push('b');
    ring.clear();
    expect(ring.length).toBe(0);
    expect(ring.peek()).toBeUndefined();
    expect(ring.drops).toBe(1);
    expect(ring.push('c')).toBe(true);
    expect(ring.shift()).toBe('c');
  });

  it('rejects a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new Ring(bad)).toThrow(SchedulerError);
    }
  });

  it('behaves like a bounded array queue for any sequence of operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 1000 }).map((v) => ({ push: v })),
            fc.constant({ shift: true }),
            fc.constant({ clear: true }),
          ),
          { maxLength: 200 },
        ),
        (capacity, ops) => {
          const ring = new Ring<number>(capacity);
          const model: number[] = [];
          let drops = 0;
          for (const op of ops) {
            if ('push' in op) {
              const ok = model.length < capacity;
              if (ok) model.push(op.push);
              else drops++;
              expect(ring.push(op.push)).toBe(ok);
            } else if ('shift' in op) {
              expect(ring.shift()).toBe(model.shift());
            } else {
              ring.clear();
              model.length = 0;
            }
            expect(ring.length).toBe(model.length);
            expect(ring.peek()).toBe(model[0]);
            expect(ring.drops).toBe(drops);
          }
        },
      ),
    );
  });
});
