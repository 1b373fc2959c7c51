/**
 * `npm run bench`: runs every registered benchmark (in-memory and real I/O alike) and prints one
 * table. A benchmark this machine cannot run (TAP without root, PTYs without socat) shows "skipped"
 * rows; a figure that fails shows "failed" and the run goes on (exit code 1 at the end).
 *
 *   --filter NAME     only benchmarks or figures whose name contains NAME
 *   --json FILE       also write the results as JSON to FILE
 *   --samples N       samples per figure and per reference (default 7; I/O benchmarks take at most 5)
 *   --sample-ms MS    wall time of one sample of the in-memory benchmarks (default 100; I/O ones set their own)
 *   --max-seconds S   stop starting figures after S seconds (default 480; the whole run stays under 10 minutes)
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchmarks } from './benchmarks.js';
import { blackholeValue, formatTable, runBenchmarksAsync } from './harness.js';

function positive(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

const { values } = parseArgs({
  options: {
    filter: { type: 'string' },
    json: { type: 'string' },
    samples: { type: 'string' },
    'sample-ms': { type: 'string' },
    'max-seconds': { type: 'string' },
  },
});
const samples = Math.round(positive(values.samples, 7, 'samples'));
const sampleMs = positive(values['sample-ms'], 100, 'sample-ms');
const maxSeconds = positive(values['max-seconds'], 480, 'max-seconds');

const machine = { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
console.log(`postern bench: ${samples} samples x ${sampleMs} ms per figure and per reference, at most ${maxSeconds} s; ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel})`);
for (const b of benchmarks) console.log(`  ${b.name}: ${b.description}`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const results = await runBenchmarksAsync(benchmarks, {
  samples,
  sampleMs,
  maxSeconds,
  onFailure: 'record',
  ...(values.filter !== undefined ? { filter: values.filter } : {}),
  onNote: (message) => process.stderr.write(`[${elapsed()}] ${message}\n`),
  onResult: (r) => process.stderr.write(`[${elapsed()}]   ${r.failed ?? r.skipped ?? 'measured'}: ${r.benchmark} / ${r.figure}\n`),
});
if (results.length === 0) {
  console.error(`no benchmark or figure matches --filter ${JSON.stringify(values.filter)}; benchmarks: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(1);
}
console.log();
console.log(formatTable(results));
console.log(`\n${results.length} figures in ${elapsed()}; ratio = figure median / reference median (same run, samples alternated)`);
if (values.json !== undefined) {
  writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), machine, options: { samples, sampleMs, maxSeconds, filter: values.filter ?? null }, results }, null, 2) + '\n');
  console.log(`\nwrote ${values.json}`);
}
// Keeps the measured work observable to the JIT; never true in practice.
if (blackholeValue() === 0.5) console.log('');
const failed = results.filter((r) => r.failed !== undefined);
if (failed.length > 0) console.error(`${failed.length} figure(s) failed: ${failed.map((r) => `${r.benchmark} / ${r.figure}`).join('; ')}`);
// Worker threads, PTYs and timers are closed by each benchmark's teardown; exit without waiting on stragglers.
process.exit(failed.length > 0 ? 1 : 0);
