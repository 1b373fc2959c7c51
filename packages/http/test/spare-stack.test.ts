import { describe, expect, it } from 'vitest';
import { SpareStack } from '../src/server/spare-stack.js';

describe('SpareStack', () => {
  it('takes the object put last, refuses beyond capacity, and is empty again after taking all', () => {
    const s = new SpareStack<{ n: number }>(3);
    expect(s.take()).toBeUndefined();
    const objs = [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }];
    expect(objs.map((o) => s.put(o))).toEqual([true, true, true, false]);
    expect(s.size).toBe(3);
    expect(s.take()).toBe(objs[2]);
    expect(s.put(objs[3]!)).toBe(true);
    expect([s.take(), s.take(), s.take(), s.take()]).toEqual([objs[3], objs[1], objs[0], undefined]);
    expect(s.size).toBe(0);
  });

  it('agrees with an array model over random puts and takes', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) >>> 16) / 65_536;
    const s = new SpareStack<number>(5);
    const model: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      if (rnd() < 0.5) {
        const kept = model.length < 5;
        if (kept) model.push(i);
        expect(s.put(i)).toBe(kept);
      } else {
        expect(s.take()).toBe(model.pop());
      }
      expect(s.size).toBe(model.length);
    }
  });

  it('keeps no reference to an object it handed out', () => {
    const s = new SpareStack<object>(2);
    s.put({});
    s.take();
    // The slot was cleared: the only element left in the backing array is undefined.
    expect((s as unknown as { items: unknown[] }).items.every((x) => x === undefined)).toBe(true);
  });
});
