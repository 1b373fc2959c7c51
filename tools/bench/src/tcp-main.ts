/**
 * Runs every TCP figure ({@link tcpBenchmark}, {@link tcpMemoryBenchmark}, {@link tcpIoBenchmark})
 * with the asynchronous runner and prints one table. The TAP figure needs root and curl (skipped
 * with the reason otherwise); the heap figure is exact with `--expose-gc`.
 *
 *   node --expose-gc --conditions=@postern/source --import tsx tools/bench/src/tcp-main.ts [samples] [sampleMs]
 */
import { formatTable, runBenchmarksAsync } from './harness.js';
import { tcpBenchmark, tcpIoBenchmark, tcpMemoryBenchmark } from './tcp.bench.js';

const samples = Number(process.argv[2] ?? 5);
const sampleMs = Number(process.argv[3] ?? 300);
const results = await runBenchmarksAsync([tcpBenchmark, tcpMemoryBenchmark, tcpIoBenchmark], {
  samples,
  sampleMs,
  maxSeconds: 600,
  onFailure: 'record',
  onResult: (r) => process.stderr.write(`  measured ${r.benchmark} / ${r.figure}\n`),
  onNote: (m) => process.stderr.write(`  ${m}\n`),
});
console.log(formatTable(results));
process.exit(0);
