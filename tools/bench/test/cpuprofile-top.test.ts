import { describe, expect, it } from 'vitest';
import { groupOf, summarizeProfile, type CpuProfile } from '../src/cpuprofile-top.js';

describe('groupOf', () => {
  it('names workspace packages, dependencies and Node internals', () => {
    expect(groupOf('file:///work/main/packages/netstack/src/tcp/tcp.ts')).toBe('packages/netstack');
    expect(groupOf('file:///work/main/node_modules/tsx/dist/x.mjs')).toBe('node_modules/tsx');
    expect(groupOf('file:///work/main/node_modules/@serialport/stream/dist/index.js')).toBe(
      'node_modules/@serialport/stream',
    );
    expect(groupOf('node:internal/streams/writable')).toBe('node: internals');
    expect(groupOf('')).toBe('(native or VM)');
  });
});

describe('summarizeProfile', () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'poll', url: 'file:///w/packages/irq/src/scheduler.ts', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: 'write', url: 'node:net', lineNumber: 99 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    samples: [2, 3, 2, 4, 3],
    timeDeltas: [0, 1000, 3000, 2000, 4000],
  };

  it('by time, charges each sample the delta to the next one and sorts by self time', () => {
    const s = summarizeProfile(profile, 'time');
    expect(s.totalMs).toBe(10);
    expect(s.samples).toBe(4);
    // Sample 0 (poll) gets 1 ms, sample 1 (write) 3 ms, sample 2 (poll) 2 ms, sample 3 (idle) 4 ms, the last nothing.
    expect(s.functions).toEqual([
      { name: '(idle)', ms: 4, pct: 40, samples: 1 },
      { name: 'poll packages/irq/src/scheduler.ts:10', ms: 3, pct: 30, samples: 2 },
      { name: 'write node:net:100', ms: 3, pct: 30, samples: 1 },
    ]);
    expect(s.groups.map((g) => [g.name, g.ms])).toEqual([
      ['(idle)', 4],
      ['packages/irq', 3],
      ['node: internals', 3],
    ]);
  });

  it('by samples (the default), counts each sample once, so one long pause weighs as one sample', () => {
    const s = summarizeProfile(profile);
    expect(s.samples).toBe(4);
    expect(s.totalMs).toBe(10);
    // poll has 2 of the 4 counted samples: half of the 10 ms sampled; write and idle one each (ties keep first-seen order).
    expect(s.functions).toEqual([
      { name: 'poll packages/irq/src/scheduler.ts:10', ms: 5, pct: 50, samples: 2 },
      { name: 'write node:net:100', ms: 2.5, pct: 25, samples: 1 },
      { name: '(idle)', ms: 2.5, pct: 25, samples: 1 },
    ]);
    expect(s.groups.map((g) => [g.name, g.pct])).toEqual([
      ['packages/irq', 50],
      ['node: internals', 25],
      ['(idle)', 25],
    ]);
  });
});
