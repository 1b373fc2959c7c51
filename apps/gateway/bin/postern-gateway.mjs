#!/usr/bin/env node
// postern-gateway: the gateway (`postern-gateway --help`).
// This file is the program: it runs, in this process, the bundle of apps/gateway/src/main.ts that `npm ci` builds
// (the root `prepare` script, tools/scripts/build-bins.mjs; `npm run build:bins` rebuilds it). No tsx
// and no second process at run time: the PID you hold is the program, signals reach it directly, and
// it works from any directory.
// Exit status: 0 on success and after SIGINT/SIGTERM, 2 for a bad command line, 1 (one line on stderr)
// for any other failure, including a missing build.
//
// V8's young generation does not grow (`--semi-space-growth-factor=1`, set below before the bundle
// loads; V8 reads this flag at each growth decision, so setting it at run time works, whereas the
// semi-space SIZE flags are fixed when the heap is made and `v8.setFlagsFromString` cannot change them).
// By default a burst of connections that survive (10,000 keep-alive connections opened at once) grows
// the two semi-spaces from 1 to 16 MiB each, and they stay resident while the gateway idles.
// Measured with the shipped bin (2 cores shared, load 16-25; samples alternated):
// - `npm run bench -- --filter idle-connections` (RSS with 10,000 idle connections): 132 MiB with this
//   flag, 150 and 151 MiB without in the same quarter hour (Node http beside it: 131 MiB each time);
// - short HTTP/1.0 connections, fresh gateway, 9,000 one at a time: 42-47 scavenges without growth,
//   48 and 48 with it, gateway CPU per connection over connections 6,001-9,000 of 293-387 us and
//   457-507 us (noise at that load), RSS after them 136 against 140-141 MiB;
// - keep-alive `wrk -t1 -c32` (identical and varying requests, 12 s): 42 and 47 scavenges without
//   growth, 47 and 38 with it: the young generation does not grow under that load anyway.
// A LARGER young generation, the other way to cut scavenges, costs memory: `--max-semi-space-size=32`
// (possible only on node's command line) gave 181 and 178 MiB idle against 163 and 150 MiB without it,
// with the same scavenge count on short connections (33-38 against 31-43). Not adopted.
// Two 8-MiB semi-spaces fixed at start-up (grown once from inside the process) were tried too: scavenges per
// 1,000 keep-alive requests 1.6 -> 0.2 and per 1,000 short connections 5.0 -> 0.7, but curl's 64 MiB download
// fell by a quarter to a third (same bundle alternated on a quiet machine: 139-236 against 215-337 MB/s; the
// file's chunks are most likely freed only at a scavenge, so fewer scavenges keep more resident) for at most about
// 0.3 ms less CPU per 1,000 keep-alive requests. Reverted.
// Your own `--max-semi-space-size`, `--min-semi-space-size` or `--semi-space-growth-factor` (on
// node's command line or in NODE_OPTIONS) is left as given.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

const ownFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (!/semi[-_]space/.test(ownFlags)) setFlagsFromString('--semi-space-growth-factor=1');

const bundle = new URL('../dist/bin/postern-gateway.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    'postern-gateway: not built (apps/gateway/dist/bin/postern-gateway.js is missing): run `npm ci` or `npm run build:bins` in the repository\n',
  );
  process.exit(1);
}
await import(bundle.href);
