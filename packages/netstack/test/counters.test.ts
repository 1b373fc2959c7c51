import { describe, expect, it } from 'vitest';
import { Counters, listCounters } from '../src/index.js';

describe('Counters', () => {
  it('counts by name, lists in order, snapshots and resets', () => {
    const c = new Counters('demo', ['a', 'b', 'a']);
    c.inc('a');
    c.inc('b', 5);
    c.inc('a');
    expect(c.get('a')).toBe(2);
    expect(c.counters()).toEqual([
      { group: 'demo', name: 'a', value: 2 },
      { group: 'demo', name: 'b', value: 5 },
    ]);
    const snap = c.snapshot();
    c.inc('a');
    expect(snap).toEqual({ a: 2, b: 5 });
    expect(Object.isFrozen(snap)).toBe(true);
    c.reset();
    expect(c.snapshot()).toEqual({ a: 0, b: 0 });
  });

  it('lists several sources together', () => {
    const x = new Counters('x', ['n']);
    const y = new Counters('y', ['m']);
    y.inc('m');
    expect(listCounters(x, y).map((e) => `${e.group}.${e.name}=${e.value}`)).toEqual(['x.n=0', 'y.m=1']);
  });
});
