#!/usr/bin/env node
// postern-flash: builds, signs and flashes firmware images (`postern-flash --help`).
// This file is the program: it runs, in this process, the bundle of tools/flash/src/main.ts that `npm ci` builds
// (the root `prepare` script, tools/scripts/build-bins.mjs; `npm run build:bins` rebuilds it). No tsx
// and no second process at run time: the PID you hold is the program, signals reach it directly, and
// it works from any directory.
// Exit status: 0 on success and after SIGINT/SIGTERM, 2 for a bad command line, 1 (one line on stderr)
// for any other failure, including a missing build.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bin/postern-flash.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    'postern-flash: not built (tools/flash/dist/bin/postern-flash.js is missing): run `npm ci` or `npm run build:bins` in the repository\n',
  );
  process.exit(1);
}
await import(bundle.href);
