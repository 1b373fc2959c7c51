/**
 * The TypeScript and JavaScript examples of the apps' and tools' READMEs (and of docs/*.md and the
 * root README) work inside the workspace, where those projects are used (they are not published
 * libraries; the libraries' examples run against their tarballs in `pack.test.ts`). Each example is
 * written to a scratch directory inside the workspace (so `@postern/*` resolves to the workspace
 * sources through the `@postern/source` condition), `tsc` type-checks all of them with the
 * workspace's strict settings, and every example not marked `no-run` runs by itself under tsx and
 * must exit 0 within {@link TIMEOUT_MS}.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplesOf } from './support/readme-blocks.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
/** Per example; tsx transforms the workspace sources it imports on the fly, slow on a busy machine. */
const TIMEOUT_MS = 90_000;
/** The tsx loader, named absolutely: the examples run from scratch directories outside the workspace. */
const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

function markdownFiles(): string[] {
  const out = ['README.md'];
  for (const group of ['apps', 'tools']) {
    for (const name of readdirSync(join(root, group)))
      if (existsSync(join(root, group, name, 'README.md'))) out.push(`${group}/${name}/README.md`);
  }
  for (const name of readdirSync(join(root, 'docs'))) if (name.endsWith('.md')) out.push(`docs/${name}`);
  return out;
}

const examples = markdownFiles().flatMap((file) =>
  examplesOf(join(root, file)).map((example) => ({
    ...example,
    where: `${file}:${example.line}`,
    // ES modules whatever the directory's package.json says.
    module: `${file.replace(/[/.]/g, '-')}-${example.line}.${example.kind === 'ts' ? 'mts' : 'mjs'}`,
  })),
);

function run(
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          output: `${stdout}${stderr}${error?.killed === true ? '\n(killed: timed out)' : ''}`,
        });
      },
    );
  });
}

describe('the examples of the apps, tools and docs Markdown, in the workspace', () => {
  // Inside the workspace so that Node and tsc find the workspace packages in the root node_modules.
  const dir = join(root, 'node_modules', '.cache', `postern-readme-examples-${process.pid}`);
  let scratch = '';
  let tsc: { code: number | null; output: string } = { code: null, output: 'not run' };

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    scratch = mkdtempSync(join(tmpdir(), 'postern-readme-run-'));
    for (const example of examples) writeFileSync(join(dir, example.module), example.code);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(root, 'tsconfig.base.json'),
        compilerOptions: {
          noEmit: true,
          moduleDetection: 'force',
          skipLibCheck: true,
          allowJs: true,
          checkJs: true,
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        include: ['*.mts', '*.mjs'],
      }),
    );
    tsc = await run(
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--pretty', 'false'],
      dir,
      180_000,
    );
  }, 200_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });

  it('finds the examples, and marks the ones that cannot run by themselves', () => {
    expect(examples.map((e) => e.where)).toContainEqual(expect.stringMatching(/^apps\/device-simulator\/README\.md:/));
    expect(examples.filter((e) => !e.run).map((e) => e.where)).toContainEqual(
      expect.stringMatching(/^tools\/netlab\/README\.md:/),
    );
  });

  it('tsc type-checks every example with the workspace settings', () => {
    expect(tsc.output).toBe('');
    expect(tsc.code).toBe(0);
  });

  it.each(examples.filter((e) => e.run).map((e) => [e.where, e] as const))(
    '%s runs by itself and exits 0',
    async (_where, example) => {
      const cwd = mkdtempSync(join(scratch, 'example-'));
      const result = await run(
        ['--conditions=@postern/source', '--import', tsx, join(dir, example.module)],
        cwd,
        TIMEOUT_MS,
      );
      expect(result, result.output).toMatchObject({ code: 0 });
    },
    TIMEOUT_MS + 10_000,
  );
});
