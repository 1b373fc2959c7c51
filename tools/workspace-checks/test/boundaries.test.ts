/**
 * Lint enforces the dependency graph (`support/graph.ts`, docs/architecture.md "The dependency
 * graph"), arrow by arrow: for every ordered pair of projects, a probe importing the second from
 * inside the first fails `@nx/enforce-module-boundaries` exactly when the graph leaves that arrow
 * out, once as published code (`src/probe.ts`) and once as a test (`test/probe.test.ts`, whose
 * arrows include the test-support kit and the project's test-only arrows). Probes are linted as text
 * at a path inside the project with the repository's ESLint config; nothing is written.
 */
import { ESLint } from 'eslint';
import { createProjectGraphAsync } from '@nx/devkit';
import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRAPH, sourceArrows, testArrows } from './support/graph.js';
import { ROOT, readJson, workspaceProjects } from './support/imports.js';

const projects = workspaceProjects().map((p) => ({ name: basename(p.dir), dir: p.dir, pkg: p.pkg.name }));
const byName = new Map(projects.map((p) => [p.name, p]));
const eslint = new ESLint({ cwd: ROOT });

/** The messages of `ruleId` ESLint gives `code` as if it stood at `file` (relative to the root). */
async function lintMessages(file: string, code: string, ruleId: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${file}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === ruleId).map((m) => m.message);
}

const probe = (target: string): string => `import * as x from '${target}';\nexport const y = x;\n`;
const boundaryErrors = (file: string, target: string): Promise<string[]> =>
  lintMessages(file, probe(target), '@nx/enforce-module-boundaries');

/** Every ordered pair of distinct projects, with whether the graph allows the arrow. */
function pairs(arrows: (from: string) => readonly string[]): Array<[string, string, boolean]> {
  const out: Array<[string, string, boolean]> = [];
  for (const from of projects)
    for (const to of projects) if (from !== to) out.push([from.name, to.name, arrows(from.name).includes(to.name)]);
  return out;
}

// The lint rule reads Nx's cached project graph (tags come from each package.json); make it fresh.
beforeAll(() => createProjectGraphAsync({ exitOnError: false }), 180_000);

describe('the dependency graph', () => {
  it('names every project of the workspace, and only them', () => {
    expect(Object.keys(GRAPH).sort()).toEqual(projects.map((p) => p.name).sort());
    for (const arrows of Object.values(GRAPH))
      for (const to of [...arrows.source, ...(arrows.test ?? [])]) expect(byName.has(to)).toBe(true);
  });

  it('has no circle (published code alone, and with the test arrows)', () => {
    for (const arrows of [sourceArrows, testArrows]) {
      const state = new Map<string, 'open' | 'done'>();
      const visit = (node: string, path: string[]): void => {
        if (state.get(node) === 'done') return;
        if (state.get(node) === 'open') throw new Error(`circle: ${[...path, node].join(' -> ')}`);
        state.set(node, 'open');
        for (const next of arrows(node)) visit(next, [...path, node]);
        state.set(node, 'done');
      };
      for (const p of projects) expect(() => visit(p.name, [])).not.toThrow();
    }
  });

  it('every project carries its tag, project:<name>', () => {
    for (const p of projects) {
      const pkg = readJson<{ nx?: { tags?: string[] } }>(`${ROOT}/${p.dir}/package.json`);
      expect(pkg.nx?.tags).toContain(`project:${p.name}`);
    }
  });
});

describe('lint enforces every arrow of published code (src/)', () => {
  it.each(pairs(sourceArrows))('%s -> %s allowed: %s', async (from, to, allowed) => {
    const errors = await boundaryErrors(`${byName.get(from)!.dir}/src/probe.ts`, byName.get(to)!.pkg);
    if (allowed) expect(errors).toEqual([]);
    else expect(errors.length).toBeGreaterThan(0);
  });
});

describe('lint enforces every arrow of tests (test/)', () => {
  it.each(pairs(testArrows))('%s -> %s allowed: %s', async (from, to, allowed) => {
    const errors = await boundaryErrors(`${byName.get(from)!.dir}/test/probe.test.ts`, byName.get(to)!.pkg);
    if (allowed) expect(errors).toEqual([]);
    else expect(errors.length).toBeGreaterThan(0);
  });

  it('a test beside the sources (src/*.test.ts) counts as a test', async () => {
    expect(await boundaryErrors('packages/http/src/probe.test.ts', '@postern/socket')).toEqual([]);
    expect((await boundaryErrors('packages/http/src/probe.ts', '@postern/socket')).length).toBeGreaterThan(0);
  });
});

describe('netstack sees drivers only through the types of @postern/nic', () => {
  const rule = '@typescript-eslint/no-restricted-imports';
  it('a type import passes', async () => {
    expect(
      await lintMessages(
        'packages/netstack/src/probe.ts',
        "import type { NetDevice } from '@postern/nic';\nexport type D = NetDevice;\n",
        rule,
      ),
    ).toEqual([]);
  });
  it('a value import fails', async () => {
    const errors = await lintMessages(
      'packages/netstack/src/probe.ts',
      "import { NetDevice } from '@postern/nic';\nexport const D = NetDevice;\n",
      rule,
    );
    expect(errors.length).toBeGreaterThan(0);
  });
  it("netstack's tests may use nic's code", async () => {
    expect(
      await lintMessages(
        'packages/netstack/test/probe.test.ts',
        "import { NetDevice } from '@postern/nic';\nexport const D = NetDevice;\n",
        rule,
      ),
    ).toEqual([]);
  });
});
