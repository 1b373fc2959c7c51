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
];
