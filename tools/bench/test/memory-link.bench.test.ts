import { describe, expect, it } from 'vitest';
import { runBenchmarksAsync } from '../src/harness.js';
import { memoryLinkBenchmark } from '../src/memory-link.bench.js';

// Not a speed check (speed targets live in the bench's own table): the bench must set up, deliver
// every frame it sends (a lost frame fails the sample), report every row, and tear down so that it
// can run again.
describe('memory-link benchmark', () => {
  it('runs end to end twice with tiny samples and reports a finite rate for every row', async () => {
    for (let run = 0; run < 2; run++) {
      const results = await runBenchmarksAsync([memoryLinkBenchmark], { samples: 1, sampleMs: 2 });
      expect(results.map((r) => r.figure)).toEqual([
        'NetDevice -> link -> NetDevice 64 B',
        'NetDevice -> link -> NetDevice 64 B MB/s',
        'bare link (endpoint to endpoint) 64 B',
        'NetDevice -> link -> NetDevice 1514 B',
        'NetDevice -> link -> NetDevice 1514 B MB/s',
        'bare link (endpoint to endpoint) 1514 B',
      ]);
      for (const r of results) {
        expect(r.summary!.median).toBeGreaterThan(0);
        expect(r.reference!.summary!.median).toBeGreaterThan(0);
      }
      // MB/s is frames/s times the Ethernet frame without its FCS.
      expect(results[1]!.samples[0]).toBeCloseTo((results[0]!.samples[0]! * 60) / 1e6);
      expect(results[4]!.samples[0]).toBeCloseTo((results[3]!.samples[0]! * 1514) / 1e6);
    }
  });

  it('refuses to sample before setup', () => {
    const [first] = memoryLinkBenchmark.figures();
    expect(() => first!.sample(1)).toThrow(/before setup/);
  });
});
