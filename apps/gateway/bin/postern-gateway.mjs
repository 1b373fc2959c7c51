#!/usr/bin/env node
// postern-gateway: the gateway (`postern-gateway --help`).
// This file is the program: it runs, in this process, the bundle of apps/gateway/src/main.ts that `npm ci` builds
// (the root `prepare` script, tools/scripts/build-bins.mjs; `npm run build:bins` rebuilds it). No tsx
// and no second process at run time: the PID you hold is the program, signals reach it directly, and
// it works from any directory.
// Exit status: 0 on success and after SIGINT/SIGTERM, 2 for a bad command line, 1 (one line on stderr)
// for any other failure, including a missing build.
//
// V8's young generation is sized by the bundle itself (apps/gateway/src/young-generation.ts, run first by
// src/main.ts): two 8-MiB semi-spaces, grown once at start-up and then fixed, unless node's command line or
// NODE_OPTIONS names a semi-space flag of yours (`--max-semi-space-size`, `--min-semi-space-size`,
// `--semi-space-growth-factor`), which is left as given. Measurements: apps/gateway/README.md ("Memory and GC").
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bin/postern-gateway.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    'postern-gateway: not built (apps/gateway/dist/bin/postern-gateway.js is missing): run `npm ci` or `npm run build:bins` in the repository\n',
  );
  process.exit(1);
}
await import(bundle.href);
