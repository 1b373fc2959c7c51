/**
 * The packed workspace, made once per test run for every check of what users get from npm: the
 * libraries are built, every publishable project (each one with a `files` field) is packed with
 * `npm pack` (which runs its `prepack`/`postpack` scripts), and the libraries are installed from their
 * tarballs into a scratch project outside the workspace, where only the published `exports` resolve.
 * The libraries are also packed with `npm pack --ignore-scripts` (never installed), for the release
 * check that must reject those tarballs.
 *
 * Each project is packed from a staged copy of its directory (laid out as in the repository, with
 * the pack script its `prepack`/`postpack` call), never in place: the prepack rewrites package.json
 * for a moment, and tests of other projects running beside this one resolve the workspace packages
 * through the working package.json files.
 *
 * Child processes get an environment without `npm_*` variables (an outer `npm test` would otherwise
 * hand its prefix and workspace settings to the scratch install) and without `NODE_OPTIONS`.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The script every publishable project runs as its `prepack` and `postpack`, relative to the root. */
const PACK_SCRIPT = 'tools/scripts/pack-manifest.mjs';

/** The workspace root (absolute, with a trailing slash). */
export const root = fileURLToPath(new URL('../../../..', import.meta.url));
/**
 * The libraries users install (every project under packages/), lowest layer first: each after the
 * `@postern/*` libraries it depends on, the order `tsc` must build them in.
 */
export const libraries: readonly string[] = librariesInLayerOrder();

function librariesInLayerOrder(): string[] {
  const dependsOn = new Map<string, string[]>();
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const manifest = join(root, 'packages', name, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> };
    dependsOn.set(
      name,
      Object.keys(pkg.dependencies ?? {})
        .filter((d) => d.startsWith('@postern/'))
        .map((d) => d.slice('@postern/'.length)),
    );
  }
  const ordered: string[] = [];
  const visit = (name: string, path: readonly string[]): void => {
    if (ordered.includes(name) || !dependsOn.has(name)) return;
    if (path.includes(name)) throw new Error(`dependency cycle among the libraries: ${[...path, name].join(' -> ')}`);
    for (const dep of dependsOn.get(name)!) visit(dep, [...path, name]);
    ordered.push(name);
  };
  for (const name of dependsOn.keys()) visit(name, []);
  return ordered;
}
/** Build, pack and install: about a minute on a cold CI machine, four on a busy shared one. */
export const SETUP_TIMEOUT_MS = 600_000;

/** One entry of `npm pack --json`. */
export interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

/** A publishable project: its directory relative to the root, and its package name. */
export interface Publishable {
  dir: string;
  name: string;
}

export interface PackedWorkspace {
  /** Scratch directory holding everything below; removed by {@link disposePackedWorkspace}. */
  work: string;
  /** Where the tarballs are. */
  tarballs: string;
  /** The consumer project the libraries are installed into (`node_modules/@postern/*`). */
  scratch: string;
  /** Every publishable project, in the order packed. */
  publishable: Publishable[];
  /** What `npm pack --json` said, one entry per {@link publishable} project, same order. */
  packed: PackResult[];
  /** Where each project was packed from: a copy of the repository's layout ({@link Publishable.dir} below it). */
  stage: string;
  /** Each project's package.json text (by directory): the working file before `npm pack`, and the staged copy after it. */
  manifestsBefore: Map<string, string>;
  manifestsAfter: Map<string, string>;
  /** Each tarball's own package.json, parsed, by package name. */
  packedManifests: Map<string, Record<string, unknown>>;
  /**
   * Where the libraries packed again with `npm pack --ignore-scripts` are (no prepack runs, so their
   * manifests keep the source condition: the case `tools/scripts/check-packed.mjs` must reject).
   */
  tarballsWithoutScripts: string;
  /** What `npm pack --ignore-scripts --json` said, one entry per library, in {@link libraries} order. */
  packedWithoutScripts: PackResult[];
}

/** The environment for child processes: no npm lifecycle settings, no Node options. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE_OPTIONS' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

/** Runs `file args` in `cwd`; resolves with stdout, rejects with the exit status and both outputs. */
export function run(file: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(
            new Error(
              `${file} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
            ),
          );
        else resolvePromise(stdout);
      },
    );
  });
}

/** Every workspace project with a `files` field: what `npm pack` / `npm publish` would ship. */
export function publishableProjects(): Publishable[] {
  const out: Publishable[] = [];
  for (const group of ['packages', 'apps', 'tools']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      const manifest = join(root, group, entry.name, 'package.json');
      if (!entry.isDirectory() || !existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; files?: unknown };
      if (pkg.files !== undefined) out.push({ dir: `${group}/${entry.name}`, name: pkg.name });
    }
  }
  return out;
}

function readManifests(projects: readonly Publishable[], base: string): Map<string, string> {
  return new Map(projects.map((p) => [p.dir, readFileSync(join(base, p.dir, 'package.json'), 'utf8')]));
}

/**
 * Builds the libraries, packs every publishable project, installs the libraries' tarballs. If any
 * step fails, its scratch directory is removed before the error goes on.
 */
export async function createPackedWorkspace(): Promise<PackedWorkspace> {
  const work = mkdtempSync(join(tmpdir(), 'postern-pack-'));
  try {
    return await fillPackedWorkspace(work);
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
}

async function fillPackedWorkspace(work: string): Promise<PackedWorkspace> {
  const tarballs = join(work, 'tarballs');
  const scratch = join(work, 'consumer');
  mkdirSync(tarballs);
  mkdirSync(scratch);

  // Build one by one in layer order, each through Nx (which reuses its cache when nothing changed);
  // only these builds, not their `^build` task graph, which would also build test-only
  // devDependencies such as netlab.
  for (const name of libraries) {
    await run(
      'npx',
      ['nx', 'run', `@postern/${name}:build`, '--excludeTaskDependencies', '--outputStyle=static'],
      root,
      SETUP_TIMEOUT_MS,
    );
  }

  const publishable = publishableProjects();
  const manifestsBefore = readManifests(publishable, root);
  const stage = join(work, 'stage');
  mkdirSync(join(stage, dirname(PACK_SCRIPT)), { recursive: true });
  cpSync(join(root, PACK_SCRIPT), join(stage, PACK_SCRIPT));
  const packed: PackResult[] = [];
  for (const project of publishable) {
    const staged = join(stage, project.dir);
    cpSync(join(root, project.dir), staged, {
      recursive: true,
      filter: (source) => basename(source) !== 'node_modules',
    });
    packed.push(
      ...(JSON.parse(
        await run('npm', ['pack', '--json', '--pack-destination', tarballs], staged, 120_000),
      ) as PackResult[]),
    );
  }
  const manifestsAfter = readManifests(publishable, stage);

  // The libraries once more, from the same staged copies, with their pack scripts skipped.
  const tarballsWithoutScripts = join(work, 'tarballs-without-scripts');
  mkdirSync(tarballsWithoutScripts);
  const packedWithoutScripts: PackResult[] = [];
  for (const name of libraries) {
    packedWithoutScripts.push(
      ...(JSON.parse(
        await run(
          'npm',
          ['pack', '--ignore-scripts', '--json', '--pack-destination', tarballsWithoutScripts],
          join(stage, 'packages', name),
          120_000,
        ),
      ) as PackResult[]),
    );
  }

  const packedManifests = new Map<string, Record<string, unknown>>();
  for (const result of packed) {
    const dir = join(work, 'unpacked', result.name);
    mkdirSync(dir, { recursive: true });
    await run('tar', ['-xzf', join(tarballs, result.filename), '-C', dir], work, 60_000);
    packedManifests.set(
      result.name,
      JSON.parse(readFileSync(join(dir, 'package', 'package.json'), 'utf8')) as Record<string, unknown>,
    );
  }

  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'postern-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  // The tarballs satisfy each other's exact `@postern/*` versions; third-party dependencies
  // (serialport) come from the npm cache or the registry.
  const libraryTarballs = libraries.map((name) => {
    const result = packed.find((p) => p.name === `@postern/${name}`);
    if (result === undefined) throw new Error(`npm pack made no tarball for @postern/${name}`);
    return join(tarballs, result.filename);
  });
  await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...libraryTarballs],
    scratch,
    240_000,
  );

  return {
    work,
    tarballs,
    scratch,
    stage,
    publishable,
    packed,
    manifestsBefore,
    manifestsAfter,
    packedManifests,
    tarballsWithoutScripts,
    packedWithoutScripts,
  };
}

export function disposePackedWorkspace(workspace: PackedWorkspace | undefined): void {
  if (workspace !== undefined) rmSync(workspace.work, { recursive: true, force: true });
}
