/**
 * `tools/scripts/pack-manifest.mjs`, every publishable package's `prepack`/`postpack`: the package.json
 * packed has no `@postern/source` condition, and afterwards the working file is exactly what it was,
 * also after an interrupted pack, and an edit made to it while packing is kept. Runs the script as
 * npm does (from a package directory), on a copy of a real manifest in a scratch directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(root, 'tools', 'scripts', 'pack-manifest.mjs');
const original = readFileSync(join(root, 'packages', 'socket', 'package.json'), 'utf8');

describe('pack-manifest prepack/postpack', () => {
  let dir = '';
  const manifest = () => readFileSync(join(dir, 'package.json'), 'utf8');
  const stage = (name: string) => spawnSync(process.execPath, [script, name], { cwd: dir, encoding: 'utf8' });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'postern-pack-manifest-'));
    writeFileSync(join(dir, 'package.json'), original);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the real manifest has the condition to strip', () => {
    expect(JSON.parse(original).exports['.']['@postern/source']).toBe('./src/index.ts');
  });

  it('prepack leaves the published exports only; postpack restores the exact bytes and removes the backup', () => {
    expect(stage('prepack').status).toBe(0);
    const packed = JSON.parse(manifest());
    expect(JSON.stringify(packed)).not.toContain('@postern/source');
    expect(packed.exports['.']).toEqual({
      types: './dist/index.d.ts',
      import: './dist/index.js',
      default: './dist/index.js',
    });
    const { exports: _packedExports, ...packedRest } = packed;
    const { exports: _originalExports, ...originalRest } = JSON.parse(original);
    expect(packedRest).toEqual(originalRest);

    expect(stage('postpack').status).toBe(0);
    expect(manifest()).toBe(original);
    expect(existsSync(join(dir, '.package.json.prepack'))).toBe(false);
  });

  it('an edit made while packing is kept, and the condition goes back first in its export', () => {
    stage('prepack');
    const edited = JSON.parse(manifest());
    edited.engines = { node: '>=22' };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(edited, null, 2)}\n`);
    expect(stage('postpack').status).toBe(0);
    const restored = JSON.parse(manifest());
    expect(restored.engines).toEqual({ node: '>=22' });
    expect(Object.entries(restored.exports['.'])[0]).toEqual(['@postern/source', './src/index.ts']);
    expect(restored.exports).toEqual(JSON.parse(original).exports);
  });

  it('a prepack after an interrupted pack (no postpack) starts from the original, not the stripped file', () => {
    stage('prepack');
    stage('prepack');
    expect(readFileSync(join(dir, '.package.json.prepack'), 'utf8')).toBe(original);
    stage('postpack');
    expect(manifest()).toBe(original);
  });

  it('postpack without a prepack changes nothing; an unknown stage exits 2 with one line', () => {
    expect(stage('postpack').status).toBe(0);
    expect(manifest()).toBe(original);
    const bad = stage('publish');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(manifest()).toBe(original);
  });
});
