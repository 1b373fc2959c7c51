// Lint for every project. The module-boundary rule enforces the workspace's dependency graph
// (docs/architecture.md, "The dependency graph"): each project lists exactly the projects its
// published code may import, and the ones its tests (never published) may import besides; nothing
// in packages/ imports an app or a tool. tools/workspace-checks/test/boundaries.test.ts proves that
// every arrow the graph leaves out fails lint, and that every arrow it draws passes.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/**
 * The dependency graph, by project name (each project's package.json carries the tag
 * `project:<name>`): `source` is what its published code (src/, bin/) may import, `test` what its
 * tests may import besides. Every test may also import the test-support kit (tag scope:test-support,
 * tools/netlab), which itself imports no project.
 */
const GRAPH = {
  // Libraries (packages/).
  wire: { source: [] },
  irq: { source: [] },
  nic: { source: ['wire', 'irq'] },
  firmware: { source: ['wire'] }, // the device-protocol codec is in wire: no driver below the bootloader link
  netstack: { source: ['wire', 'irq', 'nic'] }, // nic: the driver interface's types only (NETSTACK_NIC_TYPES_ONLY)
  socket: { source: ['netstack', 'irq', 'wire'], test: ['nic'] },
  http: { source: ['irq'], test: ['socket', 'netstack', 'nic', 'wire'] }, // any net-like transport; tests use Postern's
  // Apps (apps/): the gateway composes the libraries.
  board: { source: ['firmware', 'irq', 'nic', 'wire'] },
  'device-simulator': { source: ['board', 'firmware', 'irq', 'netstack', 'nic', 'wire'] },
  gateway: { source: ['device-simulator', 'http', 'irq', 'netstack', 'nic', 'socket', 'wire'] },
  // Tools (tools/).
  netlab: { source: [] },
  bench: { source: ['device-simulator', 'gateway', 'http', 'irq', 'netlab', 'netstack', 'nic', 'socket', 'wire'] },
  flash: { source: ['firmware', 'gateway', 'nic', 'wire'], test: ['device-simulator'] },
  'workspace-checks': { source: [] },
};
const TEST_SUPPORT = 'scope:test-support';
const tag = (project) => `project:${project}`;

/**
 * The dependency constraints of {@link GRAPH}, for published code or (`tests`) for tests. Projects
 * outside the graph fall back to their type: libraries may depend on libraries only (checked at each
 * import, so no chain of source imports can reach a tool or an app either).
 */
function depConstraints(tests) {
  const extra = tests ? [TEST_SUPPORT] : [];
  return [
    ...Object.entries(GRAPH).map(([project, allowed]) => ({
      sourceTag: tag(project),
      onlyDependOnLibsWithTags: [...allowed.source, ...(tests ? (allowed.test ?? []) : [])].map(tag).concat(extra),
    })),
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...extra] },
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:app', ...extra] },
    { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:app', 'type:tool'] },
  ];
}

function moduleBoundaries(tests) {
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints: depConstraints(tests),
      // Nothing is code-split: a project that loads another lazily (or finds its files with
      // require.resolve, as the bench finds postern-sim) may also import it statically.
      checkDynamicDependenciesExceptions: ['@postern/**'],
    },
  ];
}

/** netstack sees a driver only through `NetDevice`: from @postern/nic it imports types, never code. */
const NETSTACK_NIC_TYPES_ONLY = [
  'error',
  {
    paths: [
      {
        name: '@postern/nic',
        allowTypeImports: true,
        message: 'netstack uses only the types of the driver interface from @postern/nic: use `import type`.',
      },
    ],
  },
];

/** The files of tests: test/ folders and *.test.ts beside sources. */
const TEST_FILES = ['{packages,apps,tools}/*/test/**/*.ts', '{packages,apps,tools}/*/src/**/*.test.ts'];

export default [
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'reports/**',
      'docs/api/**',
      '**/*.mjs',
      '**/*.js',
      '**/vitest.config.ts',
      'vitest.*.ts',
    ],
  },
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
    files: ['packages/netstack/src/**/*.ts'],
    ignores: TEST_FILES,
    rules: { '@typescript-eslint/no-restricted-imports': NETSTACK_NIC_TYPES_ONLY },
  },
  {
    // Test files are not published: they may also use their project's `test` arrows and the kit.
    files: TEST_FILES,
    rules: { '@nx/enforce-module-boundaries': moduleBoundaries(true) },
  },
  {
    // A consumer of the packed libraries, type-checked in a scratch project of its own against the
    // installed tarballs (tools/workspace-checks/test/pack.test.ts): not an import of the workspace.
    files: ['tools/workspace-checks/test/pack-consumer/**'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Determinism: library and app sources take time, timers and randomness from the scheduler
    // (@postern/irq: `scheduler.now`, `wallTime()`, `timerAfter()`, `random()`, `hostSeed()`), never from
    // the host. packages/irq/src is the one place that reads the host's clock and entropy.
    // tools/workspace-checks/test/clock-rule.test.ts proves each form below is refused.
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    ignores: ['packages/irq/src/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'clearImmediate',
          'performance',
        ].map((name) => ({
          name,
          message: `${name}: use the scheduler (@postern/irq: timerAfter/timerAt, now) instead of the host's timers and clock.`,
        })),
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Date.now(): use scheduler.now (monotonic) or scheduler.wallTime() (epoch ms) from @postern/irq.',
        },
        { object: 'performance', property: 'now', message: 'performance.now(): use scheduler.now from @postern/irq.' },
        {
          object: 'Math',
          property: 'random',
          message: 'Math.random(): use scheduler.random()/randomUint32() (seeded) from @postern/irq.',
        },
        { object: 'process', property: 'hrtime', message: 'process.hrtime: use scheduler.now from @postern/irq.' },
        ...['setTimeout', 'setInterval', 'setImmediate', 'performance', 'crypto'].map((property) => ({
          object: 'globalThis',
          property,
          message: `globalThis.${property}: use the scheduler (@postern/irq) for time, timers and randomness.`,
        })),
        ...['randomBytes', 'randomUUID', 'getRandomValues', 'randomInt', 'randomFill', 'randomFillSync'].map(
          (property) => ({
            property,
            message: `${property}: take randomness from the scheduler (scheduler.random(), or hostSeed() from @postern/irq to seed it).`,
          }),
        ),
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'new Date() reads the host clock: use new Date(scheduler.wallTime()) (@postern/irq).',
        },
        {
          selector: "CallExpression[callee.name='Date']",
          message: 'Date() reads the host clock: use new Date(scheduler.wallTime()).toString() (@postern/irq).',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...['timers', 'node:timers', 'timers/promises', 'node:timers/promises'].map((name) => ({
              name,
              message: 'Host timers: use the scheduler (@postern/irq: timerAfter/timerAt).',
            })),
            ...['perf_hooks', 'node:perf_hooks'].map((name) => ({
              name,
              importNames: ['performance'],
              message: 'performance: use scheduler.now from @postern/irq.',
            })),
            ...['crypto', 'node:crypto'].map((name) => ({
              name,
              importNames: [
                'randomBytes',
                'randomUUID',
                'getRandomValues',
                'randomInt',
                'randomFill',
                'randomFillSync',
                'webcrypto',
              ],
              message:
                'OS randomness: use scheduler.random() (seeded), or hostSeed() from @postern/irq to seed a scheduler.',
            })),
          ],
        },
      ],
    },
  },
];
