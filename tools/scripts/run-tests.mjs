// The README's test command: every project's lint, typecheck and tests through Nx, then one closing
// line that sums every test that ran. Exits non-zero when anything failed.
//
//   node tools/scripts/run-tests.mjs [--targets lint,typecheck,test] [--keep DIR] [NX ARGS...]
//
// --targets  the Nx targets to run (default lint,typecheck,test).
// --keep DIR keep this run's reports in DIR (the vitest JSON reports, which every run writes afresh
//            into reports/vitest, and nx-failed-tasks.txt), so that several runs (.ci/run: one per
//            Node version) can be summed with `node tools/scripts/test-summary.mjs DIR...`. The
//            closing line then starts with "node vX.Y.Z: ".
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Our two options, taken out of the arguments; the rest goes to `nx run-many`. */
const argv = process.argv.slice(2);
const nxArgs = [];
let targets = ['lint', 'typecheck', 'test'];
let keep;
for (let i = 0; i < argv.length; i++) {
  const [flag, inline] = argv[i].split(/=(.*)/s);
  if (flag !== '--targets' && flag !== '--keep') {
    nxArgs.push(argv[i]);
    continue;
  }
  const value = inline ?? argv[++i];
  if (value === undefined || value === '') {
    console.error(`run-tests: ${flag} needs a value`);
    process.exit(2);
  }
  if (flag === '--targets') targets = value.split(',').filter((t) => t !== '');
  else keep = value;
}

rmSync('reports/vitest', { recursive: true, force: true });

// Lint includes the formatter's check: every file Prettier covers (see .prettierignore) is formatted
// as `npm run format` would write it.
let formatFailed = false;
if (targets.includes('lint')) {
  const format = spawnSync('npx', ['prettier', '--check', '.', '--log-level', 'warn'], { stdio: 'inherit' });
  formatFailed = format.status !== 0;
  if (formatFailed) console.log('prettier --check: the files above are not formatted; run `npm run format`.');
}

const nx = spawnSync(
  'npx',
  ['nx', 'run-many', '-t', ...targets, '--outputStyle=static', '--skip-nx-cache', ...nxArgs],
  { stdio: 'inherit' },
);
const nxFailed = nx.status !== 0 || formatFailed;
if (nx.status !== 0) console.log(`nx run-many reported a failing task (${targets.join(', ')}): see above.`);

let summaryArgs = [];
let env = { ...process.env, EXTRA_FAILED: nxFailed ? '1' : '0' };
if (keep !== undefined) {
  rmSync(keep, { recursive: true, force: true });
  mkdirSync('reports/vitest', { recursive: true });
  writeFileSync('reports/vitest/nx-failed-tasks.txt', nxFailed ? '1\n' : '0\n');
  mkdirSync(dirname(keep), { recursive: true });
  renameSync('reports/vitest', keep);
  summaryArgs = [keep];
  env = { ...process.env, SUMMARY_PREFIX: `node ${process.version}: ` };
}
const summary = spawnSync(process.execPath, ['tools/scripts/test-summary.mjs', ...summaryArgs], {
  stdio: 'inherit',
  env,
});
process.exit(nxFailed || summary.status !== 0 ? 1 : 0);
