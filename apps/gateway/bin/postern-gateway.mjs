#!/usr/bin/env node
// Launcher: runs the gateway's TypeScript source (src/main.ts) under tsx, resolving workspace
// packages to their sources through the @postern/source export condition. Signals are passed on
// and the child's exit status becomes ours.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const child = spawn(process.execPath, ['--conditions=@postern/source', '--import', 'tsx', main, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 1));
