/** Every benchmark `npm run bench` knows, in the order it runs them. Add new ones here. */
import { checksumBenchmark } from './checksum.bench.js';
import { forwardBenchmark } from './forward.bench.js';
import type { Benchmark } from './harness.js';
import { serialCodecBenchmark } from './serial.bench.js';

/** All registered benchmarks. */
export const benchmarks: readonly Benchmark[] = [checksumBenchmark, serialCodecBenchmark, forwardBenchmark];
