/**
 * No import circle inside any project: the modules of each project's published code (src/, bin/),
 * joined by their relative imports (type-only ones too, as madge counts them: a circle of types is
 * still a circle of designs), form no strongly connected component of more than one module, and no
 * module imports itself. Between projects, the dependency graph has no circle either
 * (boundaries.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { importCircles } from './support/circles.js';
import { projectModules, relativeImportGraph, workspaceProjects } from './support/imports.js';

describe('import circles', () => {
  it('the finder finds a circle of three, a module importing itself, and nothing in a tree', () => {
    const circles = importCircles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a', 'd']],
        ['d', []],
        ['e', ['e']],
        ['f', ['d']],
      ]),
    );
    expect(circles).toEqual([['a', 'b', 'c'], ['e']]);
    expect(
      importCircles(
        new Map([
          ['a', ['b', 'c']],
          ['b', ['c']],
          ['c', []],
        ]),
      ),
    ).toEqual([]);
  });

  it.each(workspaceProjects().map((p) => [p.dir]))('%s: its published code has no import circle', (dir) => {
    const graph = relativeImportGraph(projectModules(dir).source);
    expect(importCircles(graph)).toEqual([]);
  });
});
