/**
 * The workspace's dependency graph as the checks expect it (docs/architecture.md, "The dependency
 * graph"), kept apart from eslint.config.mjs on purpose: changing an arrow means changing both, so
 * no arrow appears or vanishes by accident. `boundaries.test.ts` proves lint enforces exactly this
 * graph; `dependencies.test.ts` holds the package.json files to it.
 */

/** What a project may import: `source` from its published code (src/, bin/), `test` besides from its tests. */
export interface Arrows {
  readonly source: readonly string[];
  readonly test?: readonly string[];
}

/**
 * By project name (the directory's name: `packages/nic` is `nic`). Every test may also import the
 * test-support kit, {@link TEST_SUPPORT}.
 */
export const GRAPH: Readonly<Record<string, Arrows>> = {
  // Libraries.
  wire: { source: [] },
  irq: { source: [] },
  nic: { source: ['wire', 'irq'] },
  firmware: { source: ['wire'] },
  netstack: { source: ['wire', 'irq', 'nic'] },
  socket: { source: ['netstack', 'irq', 'wire'], test: ['nic'] },
  http: { source: ['irq'], test: ['socket', 'netstack', 'nic', 'wire'] },
  // Apps.
  board: { source: ['firmware', 'irq', 'nic', 'wire'] },
  'device-simulator': { source: ['board', 'firmware', 'irq', 'netstack', 'nic', 'wire'] },
  gateway: { source: ['device-simulator', 'http', 'irq', 'netstack', 'nic', 'socket', 'wire'] },
  // Tools.
  netlab: { source: [] },
  bench: { source: ['device-simulator', 'gateway', 'http', 'irq', 'netlab', 'netstack', 'nic', 'socket', 'wire'] },
  flash: { source: ['firmware', 'gateway', 'nic', 'wire'], test: ['device-simulator'] },
  'workspace-checks': { source: [] },
};

/** The test-support kit: every project's tests may import it; it imports no project. */
export const TEST_SUPPORT = 'netlab';

/** The projects `from`'s published code may import. */
export function sourceArrows(from: string): readonly string[] {
  const arrows = GRAPH[from];
  if (arrows === undefined)
    throw new Error(`project ${from} is not in the dependency graph (tools/workspace-checks/test/support/graph.ts)`);
  return arrows.source;
}

/** The projects `from`'s tests may import: its source arrows, its test arrows and the kit. */
export function testArrows(from: string): readonly string[] {
  const arrows = GRAPH[from];
  if (arrows === undefined)
    throw new Error(`project ${from} is not in the dependency graph (tools/workspace-checks/test/support/graph.ts)`);
  return [...new Set([...arrows.source, ...(arrows.test ?? []), ...(from === TEST_SUPPORT ? [] : [TEST_SUPPORT])])];
}
