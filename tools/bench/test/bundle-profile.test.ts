import { describe, expect, it } from 'vitest';
import {
  bundleModules,
  directoryOf,
  moduleAt,
  summarizeBundleProfile,
  summarizeHeapProfile,
  type HeapProfileNode,
} from '../src/bundle-profile.js';

const BUNDLE = [
  'import x from "y";', // 1: prelude
  '// packages/nic/src/tap/tap-driver.ts', // 2
  'function portFrame() {}', // 3
  '// packages/netstack/src/tcp/output.ts', // 4
  'function send() {}', // 5
  '// comment that is not a path', // 6
  'function sendSegments() {}', // 7
].join('\n');

describe('bundleModules / moduleAt / directoryOf', () => {
  it('finds the marker lines esbuild writes and maps any line to the module before it', () => {
    const modules = bundleModules(BUNDLE);
    expect(modules).toEqual([
      { line: 2, path: 'packages/nic/src/tap/tap-driver.ts' },
      { line: 4, path: 'packages/netstack/src/tcp/output.ts' },
    ]);
    expect(moduleAt(modules, 1)).toBe('(bundle prelude)');
    expect(moduleAt(modules, 2)).toBe('packages/nic/src/tap/tap-driver.ts');
    expect(moduleAt(modules, 3)).toBe('packages/nic/src/tap/tap-driver.ts');
    expect(moduleAt(modules, 7)).toBe('packages/netstack/src/tcp/output.ts');
    expect(directoryOf('packages/netstack/src/tcp/output.ts')).toBe('packages/netstack/src/tcp');
    expect(directoryOf('(idle)')).toBe('(idle)');
  });
});

describe('summarizeBundleProfile', () => {
  const url = 'file:///tmp/x/dist/bin/gw.js';
  // root -> portFrame (line 3) -> writeBuffer (native); root -> send (line 5); root -> (idle); root -> (garbage collector)
  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4, 5, 6] },
      { id: 2, callFrame: { functionName: 'portFrame', url, lineNumber: 2 }, children: [3] },
      { id: 3, callFrame: { functionName: 'writeBuffer', url: '', lineNumber: -1 } },
      { id: 4, callFrame: { functionName: 'send', url, lineNumber: 4 } },
      { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 6, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    ],
    samples: [3, 3, 2, 4, 5, 6, 4],
    timeDeltas: [0, 100, 100, 100, 100, 100, 100],
  };

  it('counts self time by source file, charges native frames to their bundle caller, leaves idle out', () => {
    const s = summarizeBundleProfile(profile, '/gw.js', bundleModules(BUNDLE));
    // 7 samples; the last has no time after it; one is idle: 5 busy.
    expect(s.busySamples).toBe(5);
    expect(s.msPerSample).toBeCloseTo(0.1);
    const mod = Object.fromEntries(s.byModule.map((r) => [r.name, [r.self, r.charged]]));
    expect(mod).toEqual({
      'packages/nic/src/tap/tap-driver.ts': [1, 3],
      'packages/netstack/src/tcp/output.ts': [1, 1],
      '(garbage collector)': [1, 1],
    });
    const fn = Object.fromEntries(s.byFunction.map((r) => [r.name, r.self]));
    expect(fn['writeBuffer <- portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)']).toBe(2);
    expect(fn['send packages/netstack/src/tcp/output.ts (bundle:5)']).toBe(1);
    expect(s.byDirectory[0]).toEqual({ name: 'packages/nic/src/tap', self: 1, charged: 3 });
  });
});

describe('summarizeHeapProfile', () => {
  const url = 'file:///tmp/x/dist/bin/gw.js';
  const node = (
    functionName: string,
    u: string,
    lineNumber: number,
    selfSize: number,
    children: HeapProfileNode[] = [],
  ) => ({
    callFrame: { functionName, url: u, lineNumber },
    selfSize,
    children,
  });
  it('tallies bytes by source file and charges allocations of native frames to the nearest bundle frame', () => {
    const head = node('(root)', '', -1, 0, [
      node('portFrame', url, 2, 100, [node('subarray', '', -1, 96)]),
      node('send', url, 4, 50),
      node('(V8 API)', '', -1, 8),
    ]);
    const s = summarizeHeapProfile({ head }, '/gw.js', bundleModules(BUNDLE));
    expect(s.busySamples).toBe(254);
    const mod = Object.fromEntries(s.byModule.map((r) => [r.name, [r.self, r.charged]]));
    expect(mod).toEqual({
      'packages/nic/src/tap/tap-driver.ts': [100, 196],
      'packages/netstack/src/tcp/output.ts': [50, 50],
      '(V8 API)': [8, 8],
    });
    expect(s.byFunction[0]).toEqual({
      name: 'portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)',
      self: 100,
      charged: 100,
    });
    expect(s.byFunction.map((r) => r.name)).toContain(
      'subarray <- portFrame packages/nic/src/tap/tap-driver.ts (bundle:3)',
    );
  });
});
