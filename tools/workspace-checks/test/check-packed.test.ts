/**
 * `tools/scripts/check-packed.mjs`, the release check of `npm pack` tarballs, on small tarballs made
 * here with `tar` in npm's layout (everything below `package/`): a clean one passes; the source
 * condition (at any depth of `exports`), a named file the tarball lacks, and a TypeScript source as a
 * target are each one line naming the tarball, with exit 1; a file that is no tarball is a problem
 * too; no argument is a usage line and exit 2. pack.test.ts runs it on the real tarballs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(root, 'tools', 'scripts', 'check-packed.mjs');
const work = mkdtempSync(join(tmpdir(), 'postern-check-packed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A gzipped tarball `name` holding `package/package.json` (`manifest`) and `package/<file>` for each of `files`. */
function tarball(name: string, manifest: Record<string, unknown>, files: readonly string[]): string {
  const dir = join(work, name);
  for (const file of files) {
    mkdirSync(dirname(join(dir, 'package', file)), { recursive: true });
    writeFileSync(join(dir, 'package', file), 'export {};\n');
  }
  mkdirSync(join(dir, 'package'), { recursive: true });
  writeFileSync(join(dir, 'package', 'package.json'), JSON.stringify(manifest));
  const out = join(work, name);
  execFileSync('tar', ['-czf', `${out}.tgz`, '-C', dir, 'package']);
  return `${out}.tgz`;
}

function check(...files: string[]): { status: number | null; stdout: string; stderr: string[] } {
  const r = spawnSync(process.execPath, [script, ...files], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split('\n').filter((l) => l !== '') };
}

const published = {
  name: '@postern/example',
  version: '1.0.0',
  exports: {
    '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
    './package.json': './package.json',
  },
  types: './dist/index.d.ts',
};
const shipped = ['dist/index.js', 'dist/index.d.ts'];

describe('check-packed.mjs', () => {
  it('passes a tarball whose manifest names only shipped JavaScript and declarations', () => {
    const r = check(tarball('clean', published, shipped));
    expect(r).toEqual({ status: 0, stdout: 'check-packed: clean.tgz ok\n', stderr: [] });
  });

  it('rejects the source condition at any depth, naming the tarball', () => {
    const nested = {
      ...published,
      exports: { '.': { node: { '@postern/source': './dist/index.js', import: './dist/index.js' } } },
    };
    const r = check(tarball('clean-again', published, shipped), tarball('nested', nested, shipped));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toEqual([
      'check-packed: nested.tgz: exports keep the "@postern/source" condition (packed without its prepack script?)',
    ]);
  });

  it('rejects a named file the tarball lacks and a TypeScript source (a .d.ts is fine), in bin and main too', () => {
    const manifest = { ...published, main: './lib/main.cjs', bin: { tool: './bin/tool.mts' } };
    const r = check(tarball('missing', manifest, [...shipped, 'bin/tool.mts']));
    expect(r.status).toBe(1);
    expect(r.stderr).toEqual([
      'check-packed: missing.tgz: "lib/main.cjs" is named by the manifest but not in the tarball',
      'check-packed: missing.tgz: "bin/tool.mts" is a TypeScript source',
    ]);
  });

  it('a file that is not a tarball is a problem; no argument is a usage line and exit 2', () => {
    writeFileSync(join(work, 'junk.tgz'), 'not a tarball');
    const r = check(join(work, 'junk.tgz'));
    expect(r.status).toBe(1);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(/^check-packed: junk\.tgz: not a readable npm tarball/);
    const usage = check();
    expect(usage.status).toBe(2);
    expect(usage.stderr).toEqual(['check-packed: usage: check-packed.mjs FILE.tgz...']);
  });
});
