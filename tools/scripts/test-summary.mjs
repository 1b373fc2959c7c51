// Sums every vitest JSON report under reports/vitest into one closing line: "N passed, N failed, N skipped".
// A skipped test counts as failed under CI=true (interop tests must run there).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'reports', 'vitest');
let passed = 0, failed = 0, skipped = 0;
const skippedNames = [];
if (existsSync(dir)) {
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    for (const suite of r.testResults ?? []) {
      if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed += 1; // a file that failed to load
      for (const a of suite.assertionResults ?? []) if (a.status === 'pending' || a.status === 'skipped' || a.status === 'todo') skippedNames.push(`${f}: ${a.fullName}`);
    }
  }
}
if (process.env.CI === 'true' && skipped > 0) {
  console.log(`Under CI=true a skipped test is a failure:\n  ${skippedNames.join('\n  ')}`);
  failed += skipped;
  skipped = 0;
}
const extra = process.env.EXTRA_FAILED ? Number(process.env.EXTRA_FAILED) : 0;
failed += extra;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
