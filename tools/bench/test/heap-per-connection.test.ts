import { getHeapSnapshot } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { isOffHeap, parseRun, perConnection, tallyByKind, type HeapSnapshotJson } from '../src/heap-per-connection.js';

/** A heap snapshot of this process, parsed. */
async function snapshot(): Promise<HeapSnapshotJson> {
  let text = '';
  for await (const chunk of getHeapSnapshot()) text += String(chunk);
  return JSON.parse(text) as HeapSnapshotJson;
}

/** What the test holds per "connection": an instance with a typed array and a closure. */
class HeldProbeConnection {
  readonly slots = new Float64Array(32);
  readonly onEvent: () => number;
  constructor(readonly id: number) {
    this.onEvent = () => this.id + 1;
  }
}

describe('heap-per-connection', () => {
  it('finds the objects a process holds per connection by kind and holder, and the typed arrays off-heap', async () => {
    const held: HeldProbeConnection[] = [];
    const before = await snapshot();
    for (let i = 0; i < 200; i++) held.push(new HeldProbeConnection(i));
    const after = await snapshot();
    expect(held.length).toBe(200);

    const byKind = perConnection(tallyByKind(before, false), tallyByKind(after, false), 200);
    expect(byKind.get('HeldProbeConnection')?.count).toBe(1);
    expect(byKind.get('HeldProbeConnection')!.bytes).toBeGreaterThan(0);

    const byHolder = perConnection(tallyByKind(before, true), tallyByKind(after, true), 200);
    expect(byHolder.get('Float64Array <- HeldProbeConnection.slots')?.count).toBe(1);
    // The closure is charged to the instance holding it.
    const closures = [...byHolder.entries()].filter(([k]) => k.endsWith('<- HeldProbeConnection.onEvent'));
    expect(closures.reduce((n, [, p]) => n + p.count, 0)).toBe(1);
    // 32 doubles = 256 bytes of backing store per instance, counted off-heap.
    const offHeap = [...byHolder.entries()].filter(([k]) => isOffHeap(k) && k.includes('HeldProbeConnection.slots'));
    expect(offHeap.reduce((n, [, p]) => n + p.bytes, 0)).toBe(256);
  }, 60_000);

  it('parses LABEL=N:BEFORE:AFTER and refuses anything else with the expected form named', () => {
    expect(parseRun('old=2000:/a/s0.heapsnapshot:/a/s1.heapsnapshot')).toEqual({
      label: 'old',
      n: 2000,
      before: '/a/s0.heapsnapshot',
      after: '/a/s1.heapsnapshot',
    });
    expect(() => parseRun('old=0:a:b')).toThrow(/LABEL=N:BEFORE:AFTER/);
    expect(() => parseRun('old:a:b')).toThrow(/LABEL=N:BEFORE:AFTER/);
  });
});
