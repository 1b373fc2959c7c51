// Sums vitest JSON reports into one closing line: "N passed, N failed, N skipped".
//
//   node tools/scripts/test-summary.mjs [DIR...]      (default: reports/vitest)
//
// Each DIR holds the JSON reports of one run (every project writes reports/vitest/<project>.json) and,
// optionally, nx-failed-tasks.txt: the number of failed Nx tasks of that run (tools/scripts/run-tests.mjs
// writes it; a failing lint or typecheck counts as one failure). EXTRA_FAILED adds to the failures.
// A skipped test counts as failed under CI=true (interop tests must run there). A file that failed to
// load counts as one failure. Exits 1 when anything failed or nothing passed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Totals of the reports in `dirs`. */
export function summarize(dirs) {
  let passed = 0,
    failed = 0,
    skipped = 0;
  const skippedNames = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      for (const suite of r.testResults ?? []) {
        if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed += 1; // a file that failed to load
        for (const a of suite.assertionResults ?? [])
          if (a.status === 'pending' || a.status === 'skipped' || a.status === 'todo')
            skippedNames.push(`${join(dir, f)}: ${a.fullName}`);
      }
    }
    const tasks = join(dir, 'nx-failed-tasks.txt');
    if (existsSync(tasks)) failed += Number(readFileSync(tasks, 'utf8').trim()) || 0;
  }
  return { passed, failed, skipped, skippedNames };
}

const dirs = process.argv.length > 2 ? process.argv.slice(2) : [join(process.cwd(), 'reports', 'vitest')];
let { passed, failed, skipped, skippedNames } = summarize(dirs);
if (process.env.CI === 'true' && skipped > 0) {
  console.log(`Under CI=true a skipped test is a failure:\n  ${skippedNames.join('\n  ')}`);
  failed += skipped;
  skipped = 0;
}
failed += process.env.EXTRA_FAILED ? Number(process.env.EXTRA_FAILED) : 0;
console.log(
  `${process.env.SUMMARY_PREFIX ?? ''}${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
