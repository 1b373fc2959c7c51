/**
 * @packageDocumentation
 * Benchmarks: every figure beside a reference measured in the same run. The harness
 * ({@link runBenchmarksAsync} for synchronous and asynchronous benchmarks, {@link runBenchmarks} for
 * synchronous ones, {@link formatTable}, {@link throughputSampler}) and its statistics
 * ({@link summarize}) are exported for other tools; `npm run bench` runs {@link benchmarks}.
 */
export * from './stats.js';
export * from './harness.js';
export { benchmarks } from './benchmarks.js';
