/**
 * Every benchmark `npm run bench` knows, in the order it runs them: first the in-memory ones (CPU
 * bound, synchronous samplers), then the ones with real I/O (a PTY, a TAP device; asynchronous
 * samplers with their own setup and teardown). Add new ones here.
 */
import { checksumBenchmark } from './checksum.bench.js';
import { forwardBenchmark } from './forward.bench.js';
import type { Benchmark } from './harness.js';
import { hostfwdBenchmark, hostfwdSerialBenchmark } from './hostfwd.bench.js';
import { httpBenchmark } from './http.bench.js';
import { idleConnectionsBenchmark } from './idle-connections.bench.js';
import { httpCompareBenchmarks } from './http-compare.bench.js';
import { httpLayerBenchmark } from './http-layer.bench.js';
import { httpConnectionCostBenchmark } from './http-connection-cost.bench.js';
import { memoryLinkBenchmark } from './memory-link.bench.js';
import { serialCodecBenchmark, serialGoodputBenchmark, serialLinkBenchmark } from './serial.bench.js';
import { socketBenchmark } from './socket.bench.js';
import { tapBenchmark } from './tap.bench.js';
import { tcpBenchmark, tcpIoBenchmark, tcpMemoryBenchmark } from './tcp.bench.js';
import { tcpLossBenchmark } from './tcp-loss.bench.js';

/** All registered benchmarks. */
export const benchmarks: readonly Benchmark[] = [
  checksumBenchmark,
  serialCodecBenchmark,
  memoryLinkBenchmark,
  forwardBenchmark,
  tcpBenchmark,
  tcpMemoryBenchmark,
  socketBenchmark,
  serialLinkBenchmark,
  serialGoodputBenchmark,
  tapBenchmark,
  tcpIoBenchmark,
  httpBenchmark,
  httpLayerBenchmark,
  httpConnectionCostBenchmark,
  hostfwdBenchmark,
  hostfwdSerialBenchmark,
  ...httpCompareBenchmarks,
  idleConnectionsBenchmark,
  tcpLossBenchmark,
];
