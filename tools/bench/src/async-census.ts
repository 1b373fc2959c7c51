/**
 * Counts the async work a running Node program makes and the callbacks Node enters for it, per async resource
 * type, over a window you choose: `TickObject` is a `process.nextTick`, `PROMISE` a promise (each
 * `p.then(fn)` makes one; its reaction runs as a microtask), `Immediate` a `setImmediate`, `Timeout` a timer,
 * `PIPEWRAP`/`TCPWRAP` a libuv handle whose callbacks enter JavaScript (`before` counts those entries: the
 * wake-ups that reached JS). With stacks on, each created resource is also counted by the code that made it,
 * so "9 nextTicks per connection" comes with the 9 places that asked for them. Load it before the program:
 *
 *   POSTERN_CENSUS_STACKS=8 node --import tsx --import ./tools/bench/src/async-census.ts \
 *       apps/gateway/dist/bin/postern-gateway.js --nic tap:t0 ...
 *   kill -USR2 PID    # opens a window: counts start from zero
 *   ab -n 3000 -c 1 http://.../small   # any bounded load
 *   kill -USR2 PID    # closes it: writes PREFIX-N.json (prints its path on stderr)
 *   node --import tsx tools/bench/src/async-census.ts report PREFIX-N.json [--per 3000] [--top 30]
 *
 * Environment: `POSTERN_CENSUS_OUT` (the prefix of the files written; default `/tmp/async-census-PID`),
 * `POSTERN_CENSUS_STACKS` (frames kept per creating stack; 0 or unset: counts only). The hooks only install
 * when this module is given to `--import`/`--require` (see {@link loadedAsPreload}). Async hooks with promise
 * tracking slow the program down several times: use the counts, never the times, of such a run.
 */
import { createHook } from 'node:async_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** What one window counted (the JSON a closed window writes). */
export interface Census {
  /** Length of the window in milliseconds. */
  readonly windowMs: number;
  /** Async resources created, by type. */
  readonly init: Record<string, number>;
  /** Callbacks entered (`before` hooks), by the type of their resource. */
  readonly before: Record<string, number>;
  /** `TYPE` + the creating stack's kept frames (one per line) -> resources created there; empty without stacks. */
  readonly sites: Record<string, number>;
}

/** Frames of a creating stack that say nothing about the program: the hook machinery and this module. */
const NOISE = /node:internal\/async_hooks|node:internal\/promise_hooks|async-census\.[tj]s/;

/**
 * The key of a creation site: `type`, then the first `frames` frames of `stack` (an `Error().stack`: its
 * first line, the message, is dropped) that are not {@link NOISE}, each trimmed of `at ` and of a
 * `file:///.../` prefix, one per line.
 */
export function siteKey(type: string, stack: string, frames: number): string {
  const kept = stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && !NOISE.test(l))
    .slice(0, frames)
    .map((l) => l.slice(3).replace(/(?<=^|\()(?:file:\/\/)?\/(?:[^/():\s]+\/)+/, ''));
  return [type, ...kept].join('\n');
}

/** Lines of a readable report of `census`: per type created and entered, then the top `top` sites. */
export function formatCensus(census: Census, per?: number, top = 30): string[] {
  const unit = per === undefined ? '' : ` per ${String(per)} units`;
  const fmt = (n: number) => (per === undefined ? String(n) : (n / per).toFixed(3)).padStart(10);
  const out = [
    `window ${census.windowMs.toFixed(0)} ms${unit}`,
    `${'created'.padStart(10)} ${'entered'.padStart(10)}  type`,
  ];
  const types = new Set([...Object.keys(census.init), ...Object.keys(census.before)]);
  const rows = [...types].map((t) => [t, census.init[t] ?? 0, census.before[t] ?? 0] as const);
  rows.sort((a, b) => b[1] + b[2] - (a[1] + a[2]));
  for (const [t, made, entered] of rows) out.push(`${fmt(made)} ${fmt(entered)}  ${t}`);
  const sites = Object.entries(census.sites).sort((a, b) => b[1] - a[1]);
  if (sites.length > 0)
    out.push('', `creating sites (top ${String(Math.min(top, sites.length))} of ${String(sites.length)}):`);
  for (const [key, n] of sites.slice(0, top)) {
    const [type, ...frames] = key.split('\n');
    out.push(`${fmt(n)}  ${type ?? ''}`, ...frames.map((f) => `              ${f}`));
  }
  return out;
}

/** Whether this module was given to `--import`/`--require` (so it should install its hooks). */
export function loadedAsPreload(execArgv: readonly string[]): boolean {
  return execArgv.some((a) => /async-census\.[tj]s$/.test(a));
}

/**
 * Installs the hooks and the SIGUSR2 window switch (see the file's comment). Returns a function that
 * switches the window as the signal does (for programs that cannot signal themselves, and for tests).
 */
export function installCensus(outPrefix: string, stackFrames: number): () => void {
  const init = new Map<string, number>();
  const before = new Map<string, number>();
  const sites = new Map<string, number>();
  const typeOf = new Map<number, string>();
  let open = false;
  let openedAt = 0;
  let written = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  createHook({
    init(id, type) {
      // Types are kept for resources made outside the window too: their callbacks may run inside it.
      typeOf.set(id, type);
      if (!open) return;
      bump(init, type);
      if (stackFrames > 0) {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = stackFrames + 8;
        const stack = new Error().stack ?? '';
        Error.stackTraceLimit = limit;
        bump(sites, siteKey(type, stack, stackFrames));
      }
    },
    before(id) {
      if (open) bump(before, typeOf.get(id) ?? '(made before the hooks)');
    },
    destroy(id) {
      typeOf.delete(id);
    },
    promiseResolve() {},
  }).enable();
  const toggle = (): void => {
    if (!open) {
      init.clear();
      before.clear();
      sites.clear();
      openedAt = performance.now();
      open = true;
      return;
    }
    open = false;
    const census: Census = {
      windowMs: performance.now() - openedAt,
      init: Object.fromEntries(init),
      before: Object.fromEntries(before),
      sites: Object.fromEntries(sites),
    };
    const file = `${outPrefix}-${String(written++)}.json`;
    writeFileSync(file, JSON.stringify(census));
    process.stderr.write(`async-census: ${file}\n`);
  };
  process.on('SIGUSR2', toggle);
  return toggle;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: 'string' }, top: { type: 'string', default: '30' } },
  });
  const per = values.per === undefined ? undefined : Number(values.per);
  const top = Number(values.top);
  if (positionals[0] !== 'report' || positionals[1] === undefined || (per !== undefined && !(per > 0)) || !(top > 0)) {
    console.error('usage: async-census.ts report CENSUS.json [--per N>0] [--top N>0] (load it with --import to count)');
    process.exit(2);
  }
  let census: Census;
  try {
    census = JSON.parse(readFileSync(positionals[1], 'utf8')) as Census;
  } catch (e) {
    console.error(`async-census: ${positionals[1]}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  console.log(formatCensus(census, per, top).join('\n'));
} else if (loadedAsPreload(process.execArgv)) {
  const frames = Number(process.env.POSTERN_CENSUS_STACKS ?? '0');
  installCensus(
    process.env.POSTERN_CENSUS_OUT ?? `/tmp/async-census-${String(process.pid)}`,
    Number.isInteger(frames) && frames > 0 ? frames : 0,
  );
}
