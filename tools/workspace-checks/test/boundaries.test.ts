import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Lints a probe source as if it stood at `filePath` (nothing is written to disk). */
async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: `${root}/${filePath}` });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@nx/enforce-module-boundaries')
    .map((m) => m.message);
}

describe('module boundaries (the layering in README.md, "Layout")', () => {
  const upward: Array<[string, string]> = [
    ['packages/wire/src/probe.ts', '@postern/netstack'],
    ['packages/wire/src/probe.ts', '@postern/irq'],
    ['packages/irq/src/probe.ts', '@postern/nic'],
    ['packages/nic/src/probe.ts', '@postern/netstack'],
    ['packages/netstack/src/probe.ts', '@postern/socket'],
    ['packages/socket/src/probe.ts', '@postern/http'],
    ['packages/http/src/probe.ts', '@postern/gateway'],
    ['packages/netstack/src/probe.ts', '@postern/bench'],
  ];
  it.each(upward)('%s may not import %s', async (file, target) => {
    const errors = await boundaryErrors(file, `import * as x from '${target}';\nexport const y = x;\n`);
    expect(errors.length).toBeGreaterThan(0);
  });

  const downward: Array<[string, string]> = [
    ['packages/irq/src/probe.ts', '@postern/wire'],
    ['packages/netstack/src/probe.ts', '@postern/nic'],
    ['packages/http/src/probe.ts', '@postern/socket'],
    ['apps/gateway/src/probe.ts', '@postern/http'],
    ['tools/bench/src/probe.ts', '@postern/wire'],
  ];
  it.each(downward)('%s may import %s', async (file, target) => {
    const errors = await boundaryErrors(file, `import * as x from '${target}';\nexport const y = x;\n`);
    expect(errors).toEqual([]);
  });

  // The lab (@postern/netlab, a tool tagged scope:test-support) is for tests only: published
  // sources may not import it, the test files of packages and apps may.
  const labInSource: Array<[string, string]> = [
    ['packages/nic/src/probe.ts', '@postern/netlab'],
    ['packages/netstack/src/probe.ts', '@postern/netlab'],
    ['apps/gateway/src/probe.ts', '@postern/netlab'],
    ['packages/nic/test/probe.test.ts', '@postern/bench'],
    ['packages/netstack/test/support/probe.ts', '@postern/gateway'],
    ['packages/wire/test/probe.test.ts', '@postern/nic'],
  ];
  it.each(labInSource)('%s may not import %s', async (file, target) => {
    const errors = await boundaryErrors(file, `import * as x from '${target}';\nexport const y = x;\n`);
    expect(errors.length).toBeGreaterThan(0);
  });

  const labInTests: Array<[string, string]> = [
    ['packages/nic/test/probe.test.ts', '@postern/netlab'],
    ['packages/netstack/test/support/probe.ts', '@postern/netlab'],
    ['apps/gateway/test/probe.test.ts', '@postern/netlab'],
  ];
  it.each(labInTests)('%s may import %s', async (file, target) => {
    const errors = await boundaryErrors(file, `import * as x from '${target}';\nexport const y = x;\n`);
    expect(errors).toEqual([]);
  });
});
