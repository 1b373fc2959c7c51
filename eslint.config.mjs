// Lint for every project. The module-boundary rule makes the layering (README.md, "Layout") enforceable:
// an import may only point down (wire <- irq <- nic <- firmware <- netstack <- socket <- http), and nothing in
// packages/ may import an app or a tool. One exception: the tests of packages and apps (never published) may
// import the projects tagged `scope:test-support` (the network-namespace lab, @postern/netlab).
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const layers = ['wire', 'irq', 'nic', 'firmware', 'netstack', 'socket', 'http'];
const TEST_SUPPORT = 'scope:test-support';

/**
 * The dependency constraints; with `testSupport`, every library and app may also import projects
 * tagged {@link TEST_SUPPORT}. Libraries may depend on libraries only (checked at each import, so no
 * chain of source imports can reach a tool or an app either).
 */
function depConstraints(testSupport) {
  const extra = testSupport ? [TEST_SUPPORT] : [];
  return [
    ...layers.map((layer, i) => ({
      sourceTag: `layer:${layer}`,
      onlyDependOnLibsWithTags: [...layers.slice(0, i + 1).map((l) => `layer:${l}`), ...extra],
    })),
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...extra] },
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:app', ...extra] },
    { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:app', 'type:tool'] },
  ];
}

function moduleBoundaries(testSupport) {
  return ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: depConstraints(testSupport) }];
}

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', 'reports/**', 'docs/api/**', '**/*.mjs', '**/*.js', '**/vitest.config.ts', 'vitest.*.ts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': moduleBoundaries(false),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Test files are not published: they may use the lab (projects tagged scope:test-support).
    files: ['packages/*/test/**/*.ts', 'apps/*/test/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': moduleBoundaries(true) },
  },
  {
    // Determinism: library and app sources take time, timers and randomness from the scheduler
    // (@postern/irq: `scheduler.now`, `wallTime()`, `timerAfter()`, `random()`, `hostSeed()`), never from
    // the host. packages/irq/src is the one place that reads the host's clock and entropy.
    // tools/workspace-checks/test/clock-rule.test.ts proves each form below is refused.
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    ignores: ['packages/irq/src/**'],
    rules: {
      'no-restricted-globals': ['error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'performance'].map((name) => ({
          name, message: `${name}: use the scheduler (@postern/irq: timerAfter/timerAt, now) instead of the host's timers and clock.`,
        })),
      ],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Date.now(): use scheduler.now (monotonic) or scheduler.wallTime() (epoch ms) from @postern/irq.' },
        { object: 'performance', property: 'now', message: 'performance.now(): use scheduler.now from @postern/irq.' },
        { object: 'Math', property: 'random', message: 'Math.random(): use scheduler.random()/randomUint32() (seeded) from @postern/irq.' },
        { object: 'process', property: 'hrtime', message: 'process.hrtime: use scheduler.now from @postern/irq.' },
        ...['setTimeout', 'setInterval', 'setImmediate', 'performance', 'crypto'].map((property) => ({
          object: 'globalThis', property, message: `globalThis.${property}: use the scheduler (@postern/irq) for time, timers and randomness.`,
        })),
        ...['randomBytes', 'randomUUID', 'getRandomValues', 'randomInt', 'randomFill', 'randomFillSync'].map((property) => ({
          property, message: `${property}: take randomness from the scheduler (scheduler.random(), or hostSeed() from @postern/irq to seed it).`,
        })),
      ],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'new Date() reads the host clock: use new Date(scheduler.wallTime()) (@postern/irq).' },
        { selector: "CallExpression[callee.name='Date']", message: 'Date() reads the host clock: use new Date(scheduler.wallTime()).toString() (@postern/irq).' },
      ],
      'no-restricted-imports': ['error', {
        paths: [
          ...['timers', 'node:timers', 'timers/promises', 'node:timers/promises'].map((name) => ({
            name, message: 'Host timers: use the scheduler (@postern/irq: timerAfter/timerAt).',
          })),
          ...['perf_hooks', 'node:perf_hooks'].map((name) => ({
            name, importNames: ['performance'], message: 'performance: use scheduler.now from @postern/irq.',
          })),
          ...['crypto', 'node:crypto'].map((name) => ({
            name, importNames: ['randomBytes', 'randomUUID', 'getRandomValues', 'randomInt', 'randomFill', 'randomFillSync', 'webcrypto'],
            message: 'OS randomness: use scheduler.random() (seeded), or hostSeed() from @postern/irq to seed a scheduler.',
          })),
        ],
      }],
    },
  },
];
