/**
 * Users can consume single packages: the libraries are built, every publishable project is packed
 * with `npm pack`, the libraries are installed from their tarballs into a scratch project outside the
 * workspace (`support/packed-workspace.ts`), and used from there exactly as a user would: a plain
 * `node` ESM script (no tsx, no custom export conditions, so only the published `exports` resolve)
 * serves one HTTP request over an in-memory link, `tsc` type-checks a small TypeScript consumer
 * against the installed `dist/*.d.ts`, and every TypeScript or JavaScript example of the libraries'
 * READMEs runs (`readme-examples.ts`, sharing this one packed workspace).
 *
 * A consumer that turns the workspace's own `@postern/source` condition on (Node's `--conditions`,
 * tsc's `customConditions`, a bundler's `conditions`) still gets `dist/` and never a TypeScript source
 * or a missing file; and the release check (`tools/scripts/check-packed.mjs`) passes the tarballs and
 * rejects the ones `npm pack --ignore-scripts` makes (no prepack, so the condition stays).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeReadmeExamples } from './readme-examples.js';
import {
  SETUP_TIMEOUT_MS,
  createPackedWorkspace,
  disposePackedWorkspace,
  libraries as packages,
  publishableProjects,
  root,
  run,
  type PackedWorkspace,
} from './support/packed-workspace.js';

const fixtures = fileURLToPath(new URL('./pack-consumer', import.meta.url));
const SOURCE_CONDITION = '@postern/source';
const CHECK_PACKED = join(root, 'tools', 'scripts', 'check-packed.mjs');

/** The scratch project's tsconfig for `consumer.ts` (strict, skipLibCheck off), plus `extra` compiler options. */
function consumerTsconfig(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
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
      ...extra,
    },
    files: ['consumer.ts'],
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

/** Every file path a manifest's `exports` (any condition), `types`, `main` and `bin` name. */
function manifestTargets(pkg: Record<string, unknown>): string[] {
  const out: string[] = [];
  const collect = (node: unknown): void => {
    if (typeof node === 'string') out.push(node);
    else if (node !== null && typeof node === 'object') for (const value of Object.values(node)) collect(value);
  };
  for (const field of [pkg.exports, pkg.types, pkg.main, pkg.bin]) collect(field);
  return out.map((p) => p.replace(/^\.\//, ''));
}

const publishable = publishableProjects();

describe('the libraries, packed and installed outside the workspace', () => {
  let workspace: PackedWorkspace | undefined;
  let tarballs = '';
  let scratch = '';
  let packed: PackedWorkspace['packed'] = [];
  const packedWorkspace = (): PackedWorkspace => {
    if (workspace === undefined) throw new Error('the packed workspace was not made (see the beforeAll error)');
    return workspace;
  };

  beforeAll(async () => {
    workspace = await createPackedWorkspace();
    ({ tarballs, scratch, packed } = workspace);
    for (const file of ['serve-one-request.mjs', 'consumer.ts'])
      copyFileSync(join(fixtures, file), join(scratch, file));
  }, SETUP_TIMEOUT_MS);

  afterAll(() => disposePackedWorkspace(workspace));

  it('the packed set is every project with a files field, the seven libraries among them', () => {
    for (const name of packages)
      expect(publishable).toContainEqual({ dir: `packages/${name}`, name: `@postern/${name}` });
    expect(publishable.map((p) => p.dir)).toEqual(
      expect.arrayContaining(['apps/gateway', 'apps/device-simulator', 'tools/flash']),
    );
  });

  it('npm pack made one tarball per publishable project, named and versioned as its package.json says', () => {
    expect(packed.map((p) => p.name)).toEqual(publishable.map((p) => p.name));
    for (const [i, result] of packed.entries()) {
      const pkg = JSON.parse(readFileSync(join(root, publishable[i]!.dir, 'package.json'), 'utf8'));
      expect(result.version).toBe(pkg.version);
      expect(existsSync(join(tarballs, result.filename))).toBe(true);
    }
  });

  it.each(publishable.map((p) => [p.name, p.dir]))(
    'the %s tarball holds the MIT LICENSE of the repository',
    (name, dir) => {
      const result = packed.find((p) => p.name === name);
      expect(result?.files.map((f) => f.path)).toContain('LICENSE');
      const license = readFileSync(join(packedWorkspace().work, 'unpacked', name, 'package', 'LICENSE'), 'utf8');
      expect(license).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
      expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the Postern authors\n/);
      expect(readFileSync(join(root, dir, 'LICENSE'), 'utf8')).toBe(license);
    },
  );

  it.each(publishable.map((p) => [p.name, p.dir]))(
    'the %s tarball publishes exports without the source condition, and the packed package.json is restored exactly',
    (name, dir) => {
      const { packedManifests, manifestsBefore, manifestsAfter, stage } = packedWorkspace();
      const published = packedManifests.get(name);
      expect(published).toBeDefined();
      const text = JSON.stringify(published);
      expect(text).not.toContain(SOURCE_CONDITION);
      // No path a consumer resolves points into src/ (the build scripts may name sources: they never run for a consumer).
      expect(JSON.stringify({ ...published, scripts: undefined })).not.toMatch(/\bsrc\//);
      // Every file the manifest names that exists in the workspace is in the tarball (build output
      // of projects this check does not build is out of scope).
      const files = new Set(packed.find((p) => p.name === name)!.files.map((f) => f.path));
      const missing = manifestTargets(published!).filter(
        (f) =>
          f !== 'package.json' &&
          !files.has(f) &&
          (packages.some((lib) => `@postern/${lib}` === name) || existsSync(join(root, dir, f))),
      );
      expect(missing).toEqual([]);
      // The packed (staged) file after `npm pack`: byte for byte the working file, with the source
      // condition (workspace tools rely on it), and no backup left behind.
      expect(manifestsAfter.get(dir)).toBe(manifestsBefore.get(dir));
      expect(manifestsAfter.get(dir)).toContain(`"${SOURCE_CONDITION}": "./src/`);
      expect(existsSync(join(stage, dir, '.package.json.prepack'))).toBe(false);
    },
  );

  it.each(packages)(
    'the %s tarball holds README.md, LICENSE, package.json and dist/index.{js,d.ts}, and no sources or tests',
    (name) => {
      const result = packed.find((p) => p.name === `@postern/${name}`);
      expect(result).toBeDefined();
      const files = result!.files.map((f) => f.path);
      for (const required of ['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts'])
        expect(files).toContain(required);
      const strays = files.filter(
        (f) =>
          /^(src|test)\//.test(f) ||
          /\.test\.(js|d\.ts|ts)$/.test(f) ||
          /(^|\/)tsconfig[^/]*\.json$/.test(f) ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      );
      expect(strays).toEqual([]);
      // Every file is the README, the licence, the manifest, or build output.
      expect(
        files.filter((f) => !f.startsWith('dist/') && !['README.md', 'LICENSE', 'package.json'].includes(f)),
      ).toEqual([]);
      // No stale output: every emitted module comes from a source file that exists now.
      const stale = files
        .filter((f) => f.startsWith('dist/') && !f.endsWith('.map'))
        .map((f) => f.replace(/^dist\//, 'src/').replace(/\.(d\.ts|js)$/, '.ts'))
        .filter((src) => !existsSync(join(root, 'packages', name, src)));
      expect(stale).toEqual([]);
      // Maps must not point at sources the tarball leaves out: no declaration maps, and the JS maps
      // carry their sources inline.
      expect(files.filter((f) => f.endsWith('.d.ts.map'))).toEqual([]);
      const indexMap = JSON.parse(
        readFileSync(join(scratch, 'node_modules', '@postern', name, 'dist', 'index.js.map'), 'utf8'),
      );
      expect(indexMap.sourcesContent?.[0]).toContain('export');
    },
  );

  it.each(packages)(
    'the installed %s declares its @postern dependencies with exact versions, and its README an install line',
    (name) => {
      const dir = join(scratch, 'node_modules', '@postern', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(pkg.exports['.'].import).toBe('./dist/index.js');
      expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
      for (const [dep, range] of Object.entries<string>(pkg.dependencies ?? {})) {
        if (!dep.startsWith('@postern/')) continue;
        const depPkg = JSON.parse(
          readFileSync(join(root, 'packages', dep.slice('@postern/'.length), 'package.json'), 'utf8'),
        );
        expect(range).toBe(depPkg.version);
      }
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      expect(readme).toContain(`npm install @postern/${name}`);
      expect(readme).toMatch(/```ts\n[\s\S]*from '@postern\//);
    },
  );

  it('every import in the installed dist/*.js resolves: relative ones to a shipped .js file, bare ones to a dependency', () => {
    const problems: string[] = [];
    for (const name of packages) {
      const dir = join(scratch, 'node_modules', '@postern', name);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const allowed = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
      for (const file of walk(join(dir, 'dist')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))) {
        const from = join(dir, 'dist', file);
        for (const spec of specifiers(readFileSync(from, 'utf8'))) {
          const where = `${name}/dist/${file}: '${spec}'`;
          if (spec.startsWith('.')) {
            const target = resolve(dirname(from), spec);
            if (!spec.endsWith('.js')) problems.push(`${where} does not end in .js`);
            else if (!existsSync(target) || !statSync(target).isFile())
              problems.push(`${where} names no shipped file (${relative(dir, target)})`);
          } else if (!spec.startsWith('node:')) {
            const bare = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            if (!allowed.has(bare)) problems.push(`${where} is not a dependency of @postern/${name}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('installing the libraries brings no serialport (an optional peer of nic); opening a serial device path then fails with MISSING_MODULE naming it', async () => {
    expect(existsSync(join(scratch, 'node_modules', 'serialport'))).toBe(false);
    const script = [
      "import { Scheduler } from '@postern/irq';",
      "import { SerialNicDriver } from '@postern/nic';",
      "const driver = new SerialNicDriver({ endpoint: '/dev/null', scheduler: new Scheduler({ clock: 'real', seed: 1 }), reconnect: false });",
      'const outcome = await driver.open().then(() => ({ opened: true }), (err) => ({ name: err.name, code: err.code, message: err.message }));',
      'console.log(JSON.stringify(outcome));',
      'process.exit(0);',
    ].join('\n');
    const stdout = await run(process.execPath, ['--input-type=module', '-e', script], scratch, 60_000);
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(outcome).toMatchObject({ name: 'NicError', code: 'MISSING_MODULE' });
    expect(outcome.message).toContain('"serialport"');
  }, 120_000);

  it.each([
    ['plain node', []],
    [`node --conditions=${SOURCE_CONDITION}`, [`--conditions=${SOURCE_CONDITION}`]],
  ])(
    '%s, importing the installed packages, serves one HTTP request over an in-memory link',
    async (_, flags) => {
      const stdout = await run(process.execPath, [...flags, 'serve-one-request.mjs'], scratch, 60_000);
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(result).toEqual({
        status: 200,
        body: 'hello consumer, from a packed Postern\n',
        clientAddress: '198.18.0.1',
        serverAddress: '198.18.0.2',
        requestsServed: 1,
        connectionsAccepted: 1,
      });
    },
    120_000,
  );

  it('tsc type-checks a TypeScript consumer against the installed types (strict, skipLibCheck off)', async () => {
    writeFileSync(join(scratch, 'tsconfig.json'), consumerTsconfig());
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], scratch, 120_000)).resolves.toBe('');
  }, 180_000);

  it(`with the ${SOURCE_CONDITION} condition on, node resolves and imports each installed library's dist/index.js`, async () => {
    const script = [
      `const names = ${JSON.stringify(packages)};`,
      "const resolved = names.map((name) => import.meta.resolve('@postern/' + name));",
      "for (const name of names) await import('@postern/' + name);",
      'console.log(JSON.stringify(resolved));',
    ].join('\n');
    const stdout = await run(
      process.execPath,
      [`--conditions=${SOURCE_CONDITION}`, '--input-type=module', '-e', script],
      scratch,
      60_000,
    );
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual(
      packages.map((name) => pathToFileURL(join(scratch, 'node_modules', '@postern', name, 'dist', 'index.js')).href),
    );
  }, 120_000);

  it(`tsc with customConditions ["${SOURCE_CONDITION}"] type-checks the consumer from the libraries' dist/*.d.ts only`, async () => {
    writeFileSync(
      join(scratch, 'tsconfig.conditions.json'),
      consumerTsconfig({ customConditions: [SOURCE_CONDITION] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const listed = await run(
      process.execPath,
      [tsc, '-p', 'tsconfig.conditions.json', '--listFiles'],
      scratch,
      120_000,
    );
    const ours = listed
      .split('\n')
      .filter((line) => line.includes('/node_modules/@postern/'))
      .map((line) => line.slice(line.indexOf('/node_modules/@postern/') + '/node_modules/@postern/'.length));
    // Every library the consumer imports was read, each from its declarations under dist/.
    for (const name of ['irq', 'nic', 'netstack', 'socket', 'http', 'wire'])
      expect(ours).toContain(`${name}/dist/index.d.ts`);
    expect(ours.filter((f) => !/^[a-z-]+\/dist\/.+\.d\.ts$/.test(f))).toEqual([]);
  }, 180_000);

  it(`a bundler with the ${SOURCE_CONDITION} condition (esbuild) bundles every library from its dist/*.js`, async () => {
    const entry = packages.map((name) => `export * as ${name} from '@postern/${name}';`).join('\n');
    const result = await build({
      stdin: { contents: entry, resolveDir: scratch, loader: 'js' },
      absWorkingDir: scratch,
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      conditions: [SOURCE_CONDITION],
      external: ['serialport'],
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).filter((f) => f !== '<stdin>');
    for (const name of packages) expect(inputs).toContain(`node_modules/@postern/${name}/dist/index.js`);
    expect(inputs.filter((f) => !/^node_modules\/@postern\/[a-z-]+\/dist\/.+\.js$/.test(f))).toEqual([]);
  }, 120_000);

  it('tools/scripts/check-packed.mjs passes every library tarball', () => {
    const files = packages.map((name) => join(tarballs, packed.find((p) => p.name === `@postern/${name}`)!.filename));
    const check = spawnSync(process.execPath, [CHECK_PACKED, ...files], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(check.stdout.trim().split('\n')).toHaveLength(packages.length);
  });

  it.each(packages)(
    'npm pack --ignore-scripts of %s keeps the source condition (no prepack), and check-packed.mjs rejects that tarball',
    (name) => {
      const { tarballsWithoutScripts, packedWithoutScripts } = packedWorkspace();
      const result = packedWithoutScripts.find((p) => p.name === `@postern/${name}`);
      expect(result).toBeDefined();
      // What a consumer honouring the condition would resolve: a source file that is not shipped.
      expect(result!.files.map((f) => f.path)).not.toContain('src/index.ts');
      const file = join(tarballsWithoutScripts, result!.filename);
      const check = spawnSync(process.execPath, [CHECK_PACKED, file], { encoding: 'utf8' });
      expect(check.status).toBe(1);
      expect(check.stdout).toBe('');
      expect(check.stderr.trim().split('\n')).toEqual([
        `check-packed: ${result!.filename}: exports keep the "${SOURCE_CONDITION}" condition (packed without its prepack script?)`,
        `check-packed: ${result!.filename}: "src/index.ts" is named by the manifest but not in the tarball`,
        `check-packed: ${result!.filename}: "src/index.ts" is a TypeScript source`,
      ]);
    },
  );

  describeReadmeExamples(packedWorkspace);
});
