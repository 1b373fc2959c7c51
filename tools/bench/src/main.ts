/**
 * `npm run bench`: runs every registered benchmark (in-memory and real I/O alike) and prints one
 * table. A benchmark this machine cannot run (TAP without root, PTYs without socat) shows "skipped"
 * rows; a figure that fails shows "failed" and the run goes on (exit code 1 at the end).
 *
 * The options are those of {@link USAGE}. `--help` prints it and exits 0; an unknown flag, a missing
 * or bad value exits 2 with one line naming the flag, before any benchmark module is loaded.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

/** What `--help` prints. */
const USAGE = `usage: npm run bench -- [options]

Runs every registered benchmark and prints one table; each figure is a ratio against a reference
measured in the same run. Exit status: 0 all measured or skipped, 1 a figure failed, 2 bad arguments.

options:
  --filter NAME     only benchmarks or figures whose name contains NAME; BENCH:FIGURE keeps the
                    figures containing FIGURE of the benchmarks containing BENCH
                    (e.g. http-compare-gateway:keep-alive)
  --json FILE       also write the results as JSON to FILE
  --samples N       samples per figure and per reference (default 7; I/O benchmarks take at most 5)
  --sample-ms MS    wall time of one sample of the in-memory benchmarks (default 100; I/O ones set their own)
  --max-seconds S   stop starting figures after S seconds (default 480, so that the whole run stays
                    under 10 minutes; with --filter 900, so that one benchmark of the shipped gateway
                    run alone, about 9 minutes, measures all its figures)
  -h, --help        print this and exit
`;

/** Ends the process with exit status 2 and one line on stderr: the command-line error. */
function usageError(message: string): never {
  process.stderr.write(`postern bench: ${message} (see --help)\n`);
  process.exit(2);
}

function positive(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usageError(`--${what} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

function parseCommandLine(): ReturnType<typeof parse> {
  try {
    return parse();
  } catch (error) {
    // parseArgs throws TypeErrors with a code (ERR_PARSE_ARGS_UNKNOWN_OPTION, ..._INVALID_OPTION_VALUE,
    // ..._UNEXPECTED_POSITIONAL); its message is already one line naming the argument.
    usageError((error as Error).message.split('\n')[0]!);
  }
}

function parse() {
  return parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      filter: { type: 'string' },
      json: { type: 'string' },
      samples: { type: 'string' },
      'sample-ms': { type: 'string' },
      'max-seconds': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const { values } = parseCommandLine();
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const samples = Math.round(positive(values.samples, 7, 'samples'));
const sampleMs = positive(values['sample-ms'], 100, 'sample-ms');
const maxSeconds = positive(values['max-seconds'], values.filter === undefined ? 480 : 900, 'max-seconds');

// Loaded only after the command line is known to be good: the benchmark modules are heavy.
const { benchmarks } = await import('./benchmarks.js');
const { blackholeValue, formatTable, runBenchmarksAsync } = await import('./harness.js');

const machine = {
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
};
console.log(
  `postern bench: ${samples} samples x ${sampleMs} ms per figure and per reference, at most ${maxSeconds} s; ${machine.node}, ${machine.cpus} CPUs (${machine.cpuModel})`,
);
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
  onResult: (r) =>
    process.stderr.write(`[${elapsed()}]   ${r.failed ?? r.skipped ?? 'measured'}: ${r.benchmark} / ${r.figure}\n`),
});
if (results.length === 0) {
  console.error(
    `no benchmark or figure matches --filter ${JSON.stringify(values.filter)}; benchmarks: ${benchmarks.map((b) => b.name).join(', ')}`,
  );
  process.exit(1);
}
console.log();
console.log(formatTable(results));
console.log(
  `\n${results.length} figures in ${elapsed()}; ratio = figure median / reference median (same run, samples alternated)`,
);
if (values.json !== undefined) {
  writeFileSync(
    values.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        options: { samples, sampleMs, maxSeconds, filter: values.filter ?? null },
        results,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${values.json}`);
}
// Keeps the measured work observable to the JIT; never true in practice.
if (blackholeValue() === 0.5) console.log('');
const failed = results.filter((r) => r.failed !== undefined);
if (failed.length > 0)
  console.error(`${failed.length} figure(s) failed: ${failed.map((r) => `${r.benchmark} / ${r.figure}`).join('; ')}`);
// Worker threads, PTYs and timers are closed by each benchmark's teardown; exit without waiting on stragglers.
process.exit(failed.length > 0 ? 1 : 0);
