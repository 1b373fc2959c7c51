#!/usr/bin/env node
// Launcher for postern-flash: runs the TypeScript source through tsx (a root devDependency),
// resolving workspace packages to their sources. Signals are passed on; the child's status is ours.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const child = spawn(process.execPath, ['--conditions=@postern/source', '--import', tsx, main, ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 1));
