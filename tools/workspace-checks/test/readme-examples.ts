/**
 * Every TypeScript and JavaScript example in the libraries' READMEs works as written, against the
 * PACKED libraries: each block becomes a module in the scratch consumer project of the packed
 * workspace, where `@postern/*` resolves only to the installed tarballs. `tsc` type-checks every
 * TypeScript block (strict, against the installed `dist/*.d.ts`, skipLibCheck off) and emits it as
 * plain JavaScript; then each block runs by itself with plain `node` (no tsx, no export conditions)
 * and must exit 0 within {@link EXAMPLE_TIMEOUT_MS}. A block marked ```` ```ts no-run ```` is
 * type-checked and not run (see `support/readme-blocks.ts`).
 *
 * Registered from `pack.test.ts`, which makes the packed workspace once for both.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { examplesOf, type Example } from './support/readme-blocks.js';
import { libraries, root, run, type PackedWorkspace } from './support/packed-workspace.js';

/** Each example must finish within this; they all use in-memory links or the loopback interface. */
export const EXAMPLE_TIMEOUT_MS = 30_000;

interface ReadmeExample extends Example {
  /** `packages/<name>/README.md:<line>`: where a failure points to. */
  where: string;
  /** The module's base name in the scratch project. */
  module: string;
}

/** The examples of every library README, in library order. */
export function libraryReadmeExamples(): ReadmeExample[] {
  return libraries.flatMap((name) =>
    examplesOf(join(root, 'packages', name, 'README.md')).map((example) => ({
      ...example,
      where: `packages/${name}/README.md:${example.line}`,
      module: `${name}-readme-line-${example.line}`,
    })),
  );
}

export function describeReadmeExamples(packedWorkspace: () => PackedWorkspace): void {
  const all = libraryReadmeExamples();
  const runnable = all.filter((e) => e.run);

  describe('every TypeScript/JavaScript example of the library READMEs, against the installed tarballs', () => {
    let dir = '';
    let tscOutput = '';

    beforeAll(async () => {
      const { scratch } = packedWorkspace();
      dir = join(scratch, 'readme-examples');
      mkdirSync(join(dir, 'out'), { recursive: true });
      for (const example of all) {
        if (example.kind === 'ts') writeFileSync(join(dir, `${example.module}.ts`), example.code);
        else writeFileSync(join(dir, 'out', `${example.module}.js`), example.code);
      }
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            moduleDetection: 'force',
            strict: true,
            skipLibCheck: false,
            outDir: 'out',
            rootDir: '.',
            types: ['node'],
            typeRoots: [join(root, 'node_modules', '@types')],
          },
          include: ['*.ts'],
        }),
      );
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      // tsc emits even when a block does not type-check; that failure is reported by the test below.
      tscOutput = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], dir, 120_000).catch(
        (error: Error) => error.message,
      );
    }, 180_000);

    it('there are examples to check, and each library README has at least one that runs', () => {
      for (const name of libraries)
        expect(runnable.map((e) => e.where)).toContainEqual(
          expect.stringMatching(new RegExp(`^packages/${name}/README`)),
        );
    });

    it('tsc type-checks every TypeScript example (strict, skipLibCheck off)', () => {
      expect(tscOutput).toBe('');
    });

    it.each(runnable.map((e) => [e.where, e] as const))(
      '%s runs with plain node and exits 0',
      async (_where, example) => {
        const cwd = mkdtempSync(join(packedWorkspace().work, 'example-'));
        const script = join(dir, 'out', `${example.module}.js`);
        await expect(run(process.execPath, [script], cwd, EXAMPLE_TIMEOUT_MS)).resolves.toBeTypeOf('string');
      },
      EXAMPLE_TIMEOUT_MS + 10_000,
    );
  });
}
