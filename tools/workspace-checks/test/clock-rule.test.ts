import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const CLOCK_RULES = new Set([
  'no-restricted-globals',
  'no-restricted-properties',
  'no-restricted-syntax',
  'no-restricted-imports',
]);

/** The clock-and-randomness rule's messages for a probe source linted as if it stood at `filePath` (nothing is written). */
async function clockErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: `${root}/${filePath}` });
  return (result?.messages ?? []).filter((m) => m.ruleId !== null && CLOCK_RULES.has(m.ruleId)).map((m) => m.message);
}

/** Each way of reading the host's clock, timers or entropy, as one small module. */
const FORBIDDEN: Array<[string, string]> = [
  ['Date.now()', 'export const t = Date.now();\n'],
  ['new Date() without arguments', 'export const d = new Date();\n'],
  ['Date() called as a function', 'export const d = Date();\n'],
  ['performance.now() (global)', 'export const t = performance.now();\n'],
  [
    'performance.now() (perf_hooks)',
    "import { performance } from 'node:perf_hooks';\nexport const t = performance.now();\n",
  ],
  ['Math.random()', 'export const r = Math.random();\n'],
  ['setTimeout', 'export const h = setTimeout(() => {}, 10);\n'],
  ['setInterval', 'export const h = setInterval(() => {}, 10);\n'],
  ['setImmediate', 'export const h = setImmediate(() => {});\n'],
  ['globalThis.setTimeout', 'export const h = globalThis.setTimeout(() => {}, 10);\n'],
  [
    'node:timers/promises',
    "import { setTimeout as sleep } from 'node:timers/promises';\nexport const p = sleep(10);\n",
  ],
  ['process.hrtime', 'export const t = process.hrtime();\n'],
  ['process.hrtime.bigint', 'export const t = process.hrtime.bigint();\n'],
  [
    'crypto randomBytes (named import)',
    "import { randomBytes } from 'node:crypto';\nexport const b = randomBytes(4);\n",
  ],
  [
    'crypto randomBytes (namespace)',
    "import * as crypto from 'node:crypto';\nexport const b = crypto.randomBytes(4);\n",
  ],
  ['crypto randomUUID (named import)', "import { randomUUID } from 'crypto';\nexport const u = randomUUID();\n"],
  ['crypto.randomUUID (global)', 'export const u = crypto.randomUUID();\n'],
  ['crypto.getRandomValues (global)', 'export const v = crypto.getRandomValues(new Uint32Array(1));\n'],
];

describe('the clock rule: sources take time, timers and randomness from the scheduler (eslint.config.mjs)', () => {
  it.each(FORBIDDEN)('%s is refused in a package source', async (_form, code) => {
    const errors = await clockErrors('packages/netstack/src/probe.ts', code);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/scheduler|@postern\/irq/);
  });

  it.each(FORBIDDEN)('%s is refused in an app source', async (_form, code) => {
    expect((await clockErrors('apps/gateway/src/probe.ts', code)).length).toBeGreaterThan(0);
  });

  it.each(FORBIDDEN)('%s is allowed in packages/irq/src, the one place that reads the host', async (_form, code) => {
    expect(await clockErrors('packages/irq/src/probe.ts', code)).toEqual([]);
  });

  const allowed: Array<[string, string]> = [
    [
      'new Date(epochMs) (formatting a given time)',
      'export const iso = (ms: number): string => new Date(ms).toISOString();\n',
    ],
    [
      'a method named setTimeout on an object',
      'export function idle(s: { setTimeout(ms: number): void }): void {\n  s.setTimeout(5);\n}\n',
    ],
    [
      'node:crypto hashing',
      "import { createHash } from 'node:crypto';\nexport const h = createHash('sha256').update('x').digest('hex');\n",
    ],
  ];
  it.each(allowed)('%s is allowed in a package source', async (_form, code) => {
    expect(await clockErrors('packages/netstack/src/probe.ts', code)).toEqual([]);
  });
});
