/**
 * Runs the TAP figures ({@link tapBenchmarks}), which the synchronous harness cannot sample, and
 * prints one table. Needs root, iproute2 and python3.
 *
 *   node --conditions=@postern/source --import tsx tools/bench/src/tap-main.ts [durationMs] [samples]
 */
import { formatTable } from './harness.js';
import { tapBenchmarks } from './tap.bench.js';

const durationMs = Number(process.argv[2] ?? 1000);
const samples = Number(process.argv[3] ?? 5);
const results = await tapBenchmarks({ durationMs, samples });
if (results.length > 0) console.log(formatTable(results));
process.exit(0);
