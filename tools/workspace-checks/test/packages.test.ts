import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sourceArrows } from './support/graph.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const libraries = ['wire', 'irq', 'nic', 'firmware', 'netstack', 'socket', 'http'];

describe('every package is publishable alone', () => {
  it.each(libraries)('packages/%s has a README, a version and typed exports', (name) => {
    const dir = `${root}/packages/${name}`;
    const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
    expect(pkg.name).toBe(`@postern/${name}`);
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(pkg.private).not.toBe(true);
    expect(pkg.exports['.'].types).toBe('./dist/index.d.ts');
    expect(pkg.exports['.'].import).toBe('./dist/index.js');
    expect(pkg.files).toContain('dist');
    expect(existsSync(`${dir}/README.md`)).toBe(true);
    // The dependency graph (support/graph.ts): a package depends only on the packages it may import.
    const workspaceDeps = Object.keys(pkg.dependencies ?? {}).filter((dep) => dep.startsWith('@postern/'));
    for (const dep of workspaceDeps) expect(sourceArrows(name)).toContain(dep.slice('@postern/'.length));
  });
});
