/**
 * Users can consume single packages: the six libraries are built, packed with `npm pack`, installed
 * from their tarballs into a scratch project outside the workspace, and used from there exactly as a
 * user would: a plain `node` ESM script (no tsx, no custom export conditions, so only the published
 * `exports` resolve) serves one HTTP request over an in-memory link, and `tsc` type-checks a small
 * TypeScript consumer against the installed `dist/*.d.ts`.
 *
 * Child processes get an environment without `npm_*` variables (an outer `npm test` would otherwise
 * hand its prefix and workspace settings to the scratch install) and without `NODE_OPTIONS`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./pack-consumer', import.meta.url));
/** Lowest layer first: the order `tsc` must build them in. */
const packages = ['wire', 'irq', 'nic', 'netstack', 'socket', 'http'] as const;
/** Build, pack and install; a cold CI machine builds all six in about a minute. */
const SETUP_TIMEOUT_MS = 300_000;

interface PackedFile {
  path: string;
}
interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

/** The environment for child processes: no npm lifecycle settings, no Node options. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE_OPTIONS' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

/** Runs `file args` in `cwd`; resolves with stdout, rejects with the exit status and both outputs. */
function run(file: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

/** Every file under `dir`, as paths relative to it. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full).map((p) => join(entry.name, p)));
    else out.push(entry.name);
  }
  return out;
}

/** The module specifiers of `import`/`export ... from` and dynamic `import()` in emitted code. */
function specifiers(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out;
}

describe('the six libraries, packed and installed outside the workspace', () => {
  let work = '';
  let tarballs = '';
  let scratch = '';
  let packed: PackResult[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'postern-pack-'));
    tarballs = join(work, 'tarballs');
    scratch = join(work, 'consumer');
    mkdirSync(tarballs);
    mkdirSync(scratch);

    // Build in dependency order (Nx runs `^build` first and reuses its cache when nothing changed).
    await run(
      'npx',
      ['nx', 'run-many', '-t', 'build', '-p', ...packages.map((p) => `@postern/${p}`), '--outputStyle=static'],
      root,
      SETUP_TIMEOUT_MS,
    );

    const packArgs = ['pack', '--json', '--pack-destination', tarballs, ...packages.flatMap((p) => ['-w', `packages/${p}`])];
    packed = JSON.parse(await run('npm', packArgs, root, 120_000)) as PackResult[];

    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'postern-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    // The tarballs satisfy each other's exact `@postern/*` versions; third-party dependencies
    // (serialport) come from the npm cache or the registry.
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...packed.map((p) => join(tarballs, p.filename))],
      scratch,
      240_000,
    );
    for (const file of ['serve-one-request.mjs', 'consumer.ts']) copyFileSync(join(fixtures, file), join(scratch, file));
  }, SETUP_TIMEOUT_MS);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('npm pack made one tarball per package, named and versioned as its package.json says', () => {
    expect(packed.map((p) => p.name)).toEqual(packages.map((p) => `@postern/${p}`));
    for (const result of packed) {
      const pkg = JSON.parse(readFileSync(join(root, 'packages', result.name.slice('@postern/'.length), 'package.json'), 'utf8'));
      expect(result.version).toBe(pkg.version);
      expect(existsSync(join(tarballs, result.filename))).toBe(true);
    }
  });

  it.each(packages)('the %s tarball holds README.md, package.json and dist/index.{js,d.ts}, and no sources or tests', (name) => {
    const result = packed.find((p) => p.name === `@postern/${name}`);
    expect(result).toBeDefined();
    const files = result!.files.map((f) => f.path);
    for (const required of ['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']) expect(files).toContain(required);
    const strays = files.filter((f) => /^(src|test)\//.test(f) || /\.test\.(js|d\.ts|ts)$/.test(f) || /(^|\/)tsconfig[^/]*\.json$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
    expect(strays).toEqual([]);
    // Every file is the README, the manifest, or build output.
    expect(files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json')).toEqual([]);
    // No stale output: every emitted module comes from a source file that exists now.
    const stale = files
      .filter((f) => f.startsWith('dist/') && !f.endsWith('.map'))
      .map((f) => f.replace(/^dist\//, 'src/').replace(/\.(d\.ts|js)$/, '.ts'))
      .filter((src) => !existsSync(join(root, 'packages', name, src)));
    expect(stale).toEqual([]);
    // Maps must not point at sources the tarball leaves out: no declaration maps, and the JS maps
    // carry their sources inline.
    expect(files.filter((f) => f.endsWith('.d.ts.map'))).toEqual([]);
    const indexMap = JSON.parse(readFileSync(join(scratch, 'node_modules', '@postern', name, 'dist', 'index.js.map'), 'utf8'));
    expect(indexMap.sourcesContent?.[0]).toContain('export');
  });

  it.each(packages)('the installed %s declares its @postern dependencies with exact versions, and its README an install line', (name) => {
    const dir = join(scratch, 'node_modules', '@postern', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.exports['.'].import).toBe('./dist/index.js');
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    for (const [dep, range] of Object.entries<string>(pkg.dependencies ?? {})) {
      if (!dep.startsWith('@postern/')) continue;
      const depPkg = JSON.parse(readFileSync(join(root, 'packages', dep.slice('@postern/'.length), 'package.json'), 'utf8'));
      expect(range).toBe(depPkg.version);
    }
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain(`npm install @postern/${name}`);
    expect(readme).toMatch(/```ts\n[\s\S]*from '@postern\//);
  });

  it('every import in the installed dist/*.js resolves: relative ones to a shipped .js file, bare ones to a dependency', () => {
    const problems: string[] = [];
    for (const name of packages) {
      const dir = join(scratch, 'node_modules', '@postern', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const allowed = new Set(Object.keys(pkg.dependencies ?? {}));
      for (const file of walk(join(dir, 'dist')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
        const from = join(dir, 'dist', file);
        for (const spec of specifiers(readFileSync(from, 'utf8'))) {
          const where = `${name}/dist/${file}: '${spec}'`;
          if (spec.startsWith('.')) {
            const target = resolve(dirname(from), spec);
            if (!spec.endsWith('.js')) problems.push(`${where} does not end in .js`);
            else if (!existsSync(target) || !statSync(target).isFile()) problems.push(`${where} names no shipped file (${relative(dir, target)})`);
          } else if (!spec.startsWith('node:')) {
            const bare = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!allowed.has(bare)) problems.push(`${where} is not a dependency of @postern/${name}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('plain node, importing the installed packages, serves one HTTP request over an in-memory link', async () => {
    const stdout = await run(process.execPath, ['serve-one-request.mjs'], scratch, 60_000);
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toEqual({
      status: 200,
      body: 'hello consumer, from a packed Postern\n',
      clientAddress: '198.18.0.1',
      serverAddress: '198.18.0.2',
      requestsServed: 1,
      connectionsAccepted: 1,
    });
  }, 120_000);

  it('tsc type-checks a TypeScript consumer against the installed types (strict, skipLibCheck off)', async () => {
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], scratch, 120_000)).resolves.toBe('');
  }, 180_000);
});
