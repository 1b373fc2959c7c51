/**
 * `npm run bench`: runs the registered benchmarks and prints one table.
 *
 *   --filter NAME     only benchmarks or figures whose name contains NAME
 *   --json FILE       also write the results as JSON to FILE
 *   --samples N       samples per figure and per reference (default 7)
 *   --sample-ms MS    wall time of one sample (default 100)
 *   --max-seconds S   stop starting figures after S seconds (default 120)
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { benchmarks } from './benchmarks.js';
import { blackholeValue, formatTable, runBenchmarks } from './harness.js';

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
const maxSeconds = positive(values['max-seconds'], 120, 'max-seconds');

const machine = { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30) };
console.log(`postern bench: ${samples} samples x ${sampleMs} ms per figure and per reference, at most ${maxSeconds} s; ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel})`);
for (const b of benchmarks) console.log(`  ${b.name}: ${b.description}`);
const results = runBenchmarks(benchmarks, {
  samples,
  sampleMs,
  maxSeconds,
  ...(values.filter !== undefined ? { filter: values.filter } : {}),
  onResult: (r) => process.stderr.write(`  measured ${r.benchmark} / ${r.figure}\n`),
});
if (results.length === 0) {
  console.error(`no benchmark or figure matches --filter ${JSON.stringify(values.filter)}; benchmarks: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(1);
}
console.log();
console.log(formatTable(results));
if (values.json !== undefined) {
  writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), machine, options: { samples, sampleMs, maxSeconds, filter: values.filter ?? null }, results }, null, 2) + '\n');
  console.log(`\nwrote ${values.json}`);
}
// Keeps the measured work observable to the JIT; never true in practice.
if (blackholeValue() === 0.5) console.log('');
