// Builds the workspace's executables: each program's TypeScript entry bundled by esbuild into one ES
// module that its bin (`bin/*.mjs`) imports and runs in its own process (no tsx, no child process).
//
//   node --import tsx tools/scripts/build-bins.mjs     (the root `prepare` script: `npm ci` runs it)
//
// - The bundle options are the firmware image's (NODE_BUNDLE_OPTIONS, tools/flash/src/bundle-options.ts):
//   Node 20+, ES module, workspace packages from their TypeScript sources (`@postern/source`).
// - Every package that is not a workspace package (`serialport` and its native binding, `esbuild`,
//   `ajv`, ...) stays external: Node resolves it from node_modules beside the bundle, as it does for
//   the sources.
// - A source module's `import.meta.url` is rewritten to that module's own location, relative to the
//   bundle, so files found relative to a module (the gateway's `ui/`, postern-flash's firmware entry)
//   are found from the bundle too, from any working directory and wherever the clone lies.
// - Each bundle is written to a temporary file and renamed, so concurrent builds (test projects run
//   in parallel and each rebuilds before spawning a bin) never leave a half-written bundle.
//
// Imported by the tests that spawn a bin (`buildBins()` in a beforeAll), so they never run a stale build.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  { name: 'postern-sim', entry: 'apps/device-simulator/src/main.ts', bundle: 'apps/device-simulator/dist/bin/postern-sim.js' },
  { name: 'postern-flash', entry: 'tools/flash/src/main.ts', bundle: 'tools/flash/dist/bin/postern-flash.js' },
];

/** Leaves every non-workspace package external (bare specifiers outside the `@postern/` scope). */
const externalPackages = {
  name: 'postern-external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@postern/') || args.path.startsWith('node:') ? undefined : { path: args.path, external: true }));
  },
};

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
        const js = await transform(text, { loader: 'ts', sourcefile: args.path, define: { 'import.meta.url': '__posternSourceUrl' } });
        const rel = relative(bundleDir, args.path).split(sep).join('/');
        return { contents: `const __posternSourceUrl = new URL(${JSON.stringify(rel)}, import.meta.url).href;\n${js.code}`, loader: 'js' };
      });
    },
  };
}

/**
 * Bundles the programs named in `names` (default all of {@link PROGRAMS}); resolves with the bundles'
 * absolute paths. Rejects with esbuild's error when a source does not build.
 */
export async function buildBins(names = PROGRAMS.map((p) => p.name)) {
  const chosen = PROGRAMS.filter((p) => names.includes(p.name));
  return Promise.all(chosen.map(async (p) => {
    const out = join(ROOT, p.bundle);
    const result = await build({
      ...NODE_BUNDLE_OPTIONS,
      entryPoints: [join(ROOT, p.entry)],
      write: false,
      plugins: [externalPackages, sourceLocations(dirname(out))],
    });
    const code = result.outputFiles[0]?.contents;
    if (code === undefined) throw new Error(`esbuild produced no output for ${p.entry}`);
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, out);
    return out;
  }));
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
