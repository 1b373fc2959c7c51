/**
 * Every project's package.json tells the truth about its imports (`support/imports.ts` reads them
 * with TypeScript's scanner; Node builtins and the project itself are left out):
 * - published code (src/, bin/) imports only its `dependencies` and `peerDependencies`, and every
 *   dependency is imported by it, or provides a peer dependency of a workspace package it imports
 *   (the apps that open serial ports install `serialport` for `@postern/nic`);
 * - tests import only those, their `devDependencies` and the workspace's own tools (the root
 *   package.json's devDependencies: vitest, fast-check, ...), and every devDependency is imported by
 *   a test (or provides a peer, as above);
 * - every peer dependency is imported by the published code;
 * - workspace dependencies follow the dependency graph (`support/graph.ts`).
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceArrows, testArrows } from './support/graph.js';
import {
  ROOT,
  moduleSpecifiers,
  projectImports,
  projectModules,
  readJson,
  workspaceProjects,
  type PackageJson,
} from './support/imports.js';

const projects = workspaceProjects();
const rootDevDependencies = new Set(
  Object.keys(readJson<PackageJson>(join(ROOT, 'package.json')).devDependencies ?? {}),
);
const byName = new Map(projects.map((p) => [p.pkg.name, p]));
const keys = (record: Readonly<Record<string, unknown>> | undefined): string[] => Object.keys(record ?? {});

/** The peer dependencies of the workspace packages in `imported`: what a project may declare to provide them. */
function peersOf(imported: Iterable<string>): Set<string> {
  const peers = new Set<string>();
  for (const name of imported) for (const peer of keys(byName.get(name)?.pkg.peerDependencies)) peers.add(peer);
  return peers;
}

const table = projects.map((p) => [p.dir, p] as const);

describe('declared dependencies equal imported ones', () => {
  it.each(table)('%s: published code imports only what it declares, and uses every dependency', (_dir, project) => {
    const { source } = projectImports(project);
    const declared = new Set([...keys(project.pkg.dependencies), ...keys(project.pkg.peerDependencies)]);
    const undeclared = [...source]
      .filter(([pkg]) => !declared.has(pkg))
      .map(([pkg, file]) => `${pkg} (imported by ${file})`);
    expect(undeclared).toEqual([]);
    const peers = peersOf(source.keys());
    const unused = keys(project.pkg.dependencies).filter((dep) => !source.has(dep) && !peers.has(dep));
    expect(unused).toEqual([]);
    const unusedPeers = keys(project.pkg.peerDependencies).filter((dep) => !source.has(dep));
    expect(unusedPeers).toEqual([]);
  });

  it.each(table)(
    '%s: tests import only what it declares or the workspace tools, and use every devDependency',
    (_dir, project) => {
      const { test } = projectImports(project);
      const declared = new Set([
        ...keys(project.pkg.dependencies),
        ...keys(project.pkg.peerDependencies),
        ...keys(project.pkg.devDependencies),
      ]);
      const undeclared = [...test]
        .filter(([pkg]) => !declared.has(pkg) && !rootDevDependencies.has(pkg))
        .map(([pkg, file]) => `${pkg} (imported by ${file})`);
      expect(undeclared).toEqual([]);
      const peers = peersOf(test.keys());
      const unused = keys(project.pkg.devDependencies).filter((dep) => !test.has(dep) && !peers.has(dep));
      expect(unused).toEqual([]);
      const both = keys(project.pkg.devDependencies).filter((dep) => keys(project.pkg.dependencies).includes(dep));
      expect(both).toEqual([]);
    },
  );

  it.each(table)('%s: its workspace dependencies are arrows of the dependency graph', (dir, project) => {
    const name = basename(dir);
    const workspace = (deps: Readonly<Record<string, string>> | undefined): string[] =>
      keys(deps)
        .filter((dep) => byName.has(dep))
        .map((dep) => basename(byName.get(dep)!.dir));
    for (const dep of workspace(project.pkg.dependencies)) expect(sourceArrows(name)).toContain(dep);
    for (const dep of workspace(project.pkg.devDependencies)) expect(testArrows(name)).toContain(dep);
  });
});

describe('serialport reaches only the users of the serial driver', () => {
  it('no library depends on serialport; @postern/nic has it as an optional peer', () => {
    for (const project of projects.filter((p) => p.dir.startsWith('packages/')))
      expect(keys(project.pkg.dependencies)).not.toContain('serialport');
    const nic = byName.get('@postern/nic')!.pkg;
    expect(nic.peerDependencies?.serialport).toBeDefined();
    expect(nic.peerDependenciesMeta?.serialport?.optional).toBe(true);
  });

  it("nic's published code loads serialport only with import(), never a static import", () => {
    const { source } = projectModules('packages/nic');
    const staticImports = source.filter((file) =>
      /^\s*import\s[^;]*from\s+['"]serialport['"]/m.test(readFileSync(file, 'utf8')),
    );
    expect(staticImports).toEqual([]);
    expect(source.some((file) => moduleSpecifiers(file).includes('serialport'))).toBe(true);
  });
});
