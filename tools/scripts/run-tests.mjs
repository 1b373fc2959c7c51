// The README's test command: every project's lint, typecheck and tests through Nx, then one closing
// line that sums every test that ran. Exits non-zero when anything failed.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('reports/vitest', { recursive: true, force: true });
const nx = spawnSync('npx', ['nx', 'run-many', '-t', 'lint', 'typecheck', 'test', '--outputStyle=static', '--skip-nx-cache', ...process.argv.slice(2)], { stdio: 'inherit' });
const nxFailed = nx.status !== 0;
if (nxFailed) console.log('nx run-many reported a failing task (lint, typecheck or test): see above.');
const summary = spawnSync(process.execPath, ['tools/scripts/test-summary.mjs'], {
  stdio: 'inherit',
  env: { ...process.env, EXTRA_FAILED: nxFailed ? '1' : '0' },
});
process.exit(nxFailed || summary.status !== 0 ? 1 : 0);
