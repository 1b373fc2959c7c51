import { describe, expect, it } from 'vitest';
import { OpenConnections, type ClientTally, type OpenEntry } from '../src/server/open-connections.js';

class Entry implements OpenEntry<Entry> {
  openTally: ClientTally | undefined = undefined;
  openPrev: Entry | undefined = undefined;
  openNext: Entry | undefined = undefined;
  constructor(readonly name: string) {}
}

function names(list: OpenConnections<Entry>): string[] {
  const walked: string[] = [];
  for (let e = list.head; e !== undefined; e = e.openNext) walked.push(e.name);
  expect(list.toArray().map((e) => e.name)).toEqual(walked);
  expect(list.size).toBe(walked.length);
  return walked;
}

function open(list: OpenConnections<Entry>, name: string, address: string): Entry {
  const e = new Entry(name);
  list.add(e, list.tallyOf(address));
  return e;
}

describe('OpenConnections', () => {
  it('keeps entries in the order added and unlinks any of them (first, middle, last)', () => {
    const list = new OpenConnections<Entry>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => open(list, n, '10.0.0.1'));
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    expect(list.remove(b!)).toBe(true);
    expect(names(list)).toEqual(['a', 'c', 'd']);
    expect(list.remove(a!)).toBe(true);
    expect(names(list)).toEqual(['c', 'd']);
    expect(list.remove(d!)).toBe(true);
    expect(names(list)).toEqual(['c']);
    open(list, 'e', '10.0.0.1');
    expect(names(list)).toEqual(['c', 'e']);
    expect(list.remove(c!)).toBe(true);
    expect(names(list)).toEqual(['e']);
  });

  it('removes an entry once: a second remove (or one never added) changes nothing', () => {
    const list = new OpenConnections<Entry>();
    const a = open(list, 'a', 'x');
    open(list, 'b', 'x');
    expect(list.remove(a)).toBe(true);
    expect(list.remove(a)).toBe(false);
    expect(list.remove(new Entry('never'))).toBe(false);
    expect(names(list)).toEqual(['b']);
    expect(list.openOf('x')).toBe(1);
  });

  it('adds an entry once: adding it again changes neither the list nor the tally', () => {
    const list = new OpenConnections<Entry>();
    const a = open(list, 'a', 'x');
    list.add(a, list.tallyOf('x'));
    expect(names(list)).toEqual(['a']);
    expect(list.openOf('x')).toBe(1);
  });

  it('counts the open connections of each address, down to 0 and up again on the same tally', () => {
    const list = new OpenConnections<Entry>();
    const x1 = open(list, 'x1', 'x');
    const x2 = open(list, 'x2', 'x');
    const y1 = open(list, 'y1', 'y');
    expect([list.openOf('x'), list.openOf('y'), list.openOf('z')]).toEqual([2, 1, 0]);
    const tally = list.tallyOf('x');
    list.remove(x1);
    list.remove(x2);
    list.remove(y1);
    expect([list.openOf('x'), list.openOf('y')]).toEqual([0, 0]);
    // A client that comes back finds its tally (no new table entry per connection).
    expect(list.tallyOf('x')).toBe(tally);
    open(list, 'x3', 'x');
    expect(tally.open).toBe(1);
  });

  it('keeps idle tallies bounded: many addresses that came and went leave at most 2 x open + 256', () => {
    const list = new OpenConnections<Entry>();
    const held = [open(list, 'held1', 'h1'), open(list, 'held2', 'h2')];
    for (let i = 0; i < 5_000; i++) list.remove(open(list, `e${i}`, `10.1.${i >> 8}.${i & 255}`));
    expect(list.talliesKept).toBeLessThanOrEqual(2 * list.size + 256 + 1);
    expect(list.talliesKept).toBeGreaterThanOrEqual(2);
    // Tallies of open connections are never swept.
    expect([list.openOf('h1'), list.openOf('h2')]).toEqual([1, 1]);
    expect(names(list)).toEqual(['held1', 'held2']);
    for (const e of held) list.remove(e);
    expect(list.size).toBe(0);
  });
});
