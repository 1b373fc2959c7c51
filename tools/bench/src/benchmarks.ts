/** Every benchmark `npm run bench` knows, in the order it runs them. Add new ones here. */
import { checksumBenchmark } from './checksum.bench.js';
import type { Benchmark } from './harness.js';

/** All registered benchmarks. */
export const benchmarks: readonly Benchmark[] = [checksumBenchmark];
