#!/usr/bin/env node
// Launcher for postern-sim: runs the TypeScript source through tsx (a root devDependency), resolving
// sibling packages to their sources, so it works from a fresh clone after `npm ci`.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// tsx is resolved from here (not from the caller's directory), so the command works from any cwd.
const tsx = import.meta.resolve('tsx');
const child = spawn(process.execPath, ['--conditions=@postern/source', '--import', tsx, join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: process.cwd(),
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + 15)));
