// Lint for every project. The module-boundary rule makes the layering in DEVELOPERS.md enforceable:
// an import may only point down (wire <- irq <- nic <- firmware <- netstack <- socket <- http), and nothing in
// packages/ may import an app or a tool.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const layers = ['wire', 'irq', 'nic', 'firmware', 'netstack', 'socket', 'http'];
const layerConstraints = layers.map((layer, i) => ({
  sourceTag: `layer:${layer}`,
  onlyDependOnLibsWithTags: layers.slice(0, i + 1).map((l) => `layer:${l}`),
}));

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', 'reports/**', 'docs/api/**', '**/*.mjs', '**/*.js', '**/vitest.config.ts', 'vitest.*.ts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            ...layerConstraints,
            { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:app', 'type:tool'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:app'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib', 'type:app', 'type:tool'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
];
