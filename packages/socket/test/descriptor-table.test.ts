import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DescriptorTable, SocketError } from '../src/index.js';

describe('DescriptorTable', () => {
  it('model check: lowest free slot reused, stale handles never resolve, EMFILE at capacity', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(-1), fc.nat(20)), { maxLength: 200 }), (ops) => {
        const cap = 8;
        const t = new DescriptorTable<string>(cap);
        const live = new Map<number, string>();
        const dead: number[] = [];
        let n = 0;
        for (const op of ops) {
          if (op === -1) {
            if (live.size === cap) {
              expect(() => t.allocate('x')).toThrow(SocketError);
              continue;
            }
            const usedSlots = new Set([...live.keys()].map((fd) => t.slotOf(fd)));
            let lowest = 0;
            while (usedSlots.has(lowest)) lowest++;
            const v = `s${n++}`;
            const fd = t.allocate(v);
            expect(t.slotOf(fd)).toBe(lowest);
            live.set(fd, v);
          } else {
            const fds = [...live.keys()];
            if (fds.length === 0) continue;
            const fd = fds[op % fds.length]!;
            expect(t.release(fd)).toBe(live.get(fd));
            live.delete(fd);
            dead.push(fd);
          }
          for (const [fd, v] of live) expect(t.peek(fd)).toBe(v);
          for (const fd of dead) expect(t.peek(fd)).toBeUndefined();
          expect(t.size).toBe(live.size);
        }
      }),
    );
  });

  it('rejects non-integer and negative handles as EBADF', () => {
    const t = new DescriptorTable<string>(4);
    t.allocate('a');
    for (const bad of [-1, 0.5, Number.NaN, 4]) expect(() => t.get(bad, 'recv')).toThrow(/EBADF/);
    expect(t.stats.badDescriptor).toBe(4);
  });
});
