// Builds the workspace's executables: each program's TypeScript entry bundled by esbuild into one ES
// module that its bin (`bin/*.mjs`) imports and runs in its own process (no tsx, no child process).
//
//   node --import tsx tools/scripts/build-bins.mjs     (the root `prepare` script: `npm ci` runs it)
//
// - The bundle options are the firmware image's (NODE_BUNDLE_OPTIONS, tools/flash/src/bundle-options.ts):
//   Node 20+, ES module, workspace packages from their TypeScript sources (`@postern/source`).
// - Packages that cannot be bundled (EXTERNAL_PACKAGES: `serialport` with its native binding, `esbuild`)
//   stay external: Node resolves them from node_modules beside the bundle. The rest is bundled.
// - A source module's `import.meta.url` is rewritten to that module's own location, relative to the
//   bundle, so files found relative to a module (the gateway's `ui/`, postern-flash's firmware entry)
//   are found from the bundle too, from any working directory and wherever the clone lies.
// - Each bundle is written to a temporary file and renamed, so concurrent builds (test projects run
//   in parallel and each rebuilds before spawning a bin) never leave a half-written bundle.
//
// Also the vitest global setup of the projects whose tests spawn a bin (vitest.shared.ts), so they never
// run a stale build.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, transform } from 'esbuild';
import { NODE_BUNDLE_OPTIONS } from '../flash/src/bundle-options.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The programs: `name` (the command), `entry` (its TypeScript entry module) and `bundle` (what its
 * bin imports), paths relative to the repository root. `postern-keygen` is `postern-flash keygen`.
 */
export const PROGRAMS = [
  { name: 'postern-gateway', entry: 'apps/gateway/src/main.ts', bundle: 'apps/gateway/dist/bin/postern-gateway.js' },
  {
    name: 'postern-sim',
    entry: 'apps/device-simulator/src/main.ts',
    bundle: 'apps/device-simulator/dist/bin/postern-sim.js',
  },
  { name: 'postern-board', entry: 'apps/board/src/main.ts', bundle: 'apps/board/dist/bin/postern-board.js' },
  { name: 'postern-flash', entry: 'tools/flash/src/main.ts', bundle: 'tools/flash/dist/bin/postern-flash.js' },
];

/**
 * Packages left out of the bundles and resolved at run time from node_modules beside them: the ones
 * that cannot be bundled (`serialport` loads a native binding; `esbuild` runs its own binary).
 * Everything else, workspace packages and plain JavaScript dependencies alike, is bundled.
 */
export const EXTERNAL_PACKAGES = ['serialport', '@serialport/*', 'esbuild'];

/**
 * Rewrites the expression `import.meta.url` (not the text inside a string) in workspace TypeScript
 * sources to the source module's own URL, computed from the bundle's.
 */
function sourceLocations(bundleDir) {
  return {
    name: 'postern-source-locations',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
        const text = readFileSync(args.path, 'utf8');
        if (args.path.split(sep).includes('node_modules') || !text.includes('import.meta.url')) return undefined;
        const js = await transform(text, {
          loader: 'ts',
          sourcefile: args.path,
          define: { 'import.meta.url': '__posternSourceUrl' },
        });
        const rel = relative(bundleDir, args.path).split(sep).join('/');
        return {
          contents: `const __posternSourceUrl = new URL(${JSON.stringify(rel)}, import.meta.url).href;\n${js.code}`,
          loader: 'js',
        };
      });
    },
  };
}

/** Bundles one program of {@link PROGRAMS}; resolves with its bundle's absolute path. */
export async function buildBin(program) {
  const out = join(ROOT, program.bundle);
  const result = await build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [join(ROOT, program.entry)],
    write: false,
    external: EXTERNAL_PACKAGES,
    plugins: [sourceLocations(dirname(out))],
  });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error(`esbuild produced no output for ${program.entry}`);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, out);
  return out;
}

/**
 * Bundles the programs named in `names` (default all of {@link PROGRAMS}); resolves with the bundles'
 * absolute paths. Rejects with the first esbuild error when a source does not build.
 */
export async function buildBins(names = PROGRAMS.map((p) => p.name)) {
  return Promise.all(PROGRAMS.filter((p) => names.includes(p.name)).map(buildBin));
}

/**
 * Vitest global setup (vitest.shared.ts) of the projects whose tests run bins: rebuilds every bundle.
 * A program whose sources do not build loses its bundle (its bin then says it is not built, and the
 * esbuild error is printed here), so no test runs a stale build and the other programs still run.
 */
export async function setup() {
  const results = await Promise.allSettled(PROGRAMS.map(buildBin));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const p = PROGRAMS[i];
    rmSync(join(ROOT, p.bundle), { force: true });
    console.error(
      `build-bins: ${p.name} (${p.entry}) does not build: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`,
    );
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const outs = await buildBins();
    if (process.env.npm_lifecycle_event !== 'prepare') for (const o of outs) console.log(relative(process.cwd(), o));
  } catch (err) {
    console.error(`build-bins: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
