// One-off scaffolder kept for the next package: `node tools/scripts/scaffold.mjs packages/NAME "tags" "deps" "description"`.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';

const [dir, tags, deps, description] = process.argv.slice(2);
const name = basename(dir);
const isLib = dir.startsWith('packages/');
const depList = deps ? deps.split(',').filter(Boolean) : [];
const depth = dir.split('/').length;
const up = '../'.repeat(depth);
mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'test'), { recursive: true });
const pkg = {
  name: `@postern/${name}`,
  version: '0.1.0',
  description,
  type: 'module',
  license: 'MIT',
  ...(isLib ? {} : { private: true }),
  exports: {
    '.': {
      '@postern/source': './src/index.ts',
      types: './dist/index.d.ts',
      import: './dist/index.js',
      default: './dist/index.js',
    },
    './package.json': './package.json',
  },
  types: './dist/index.d.ts',
  files: ['dist', 'README.md'],
  engines: { node: '^20.19 || ^22.12 || >=24' },
  scripts: {
    build: 'rm -rf dist && tsc -p tsconfig.lib.json',
    typecheck: 'tsc -p tsconfig.json --noEmit',
    test: 'vitest run',
  },
  dependencies: Object.fromEntries(depList.map((d) => [`@postern/${d}`, '0.1.0'])),
  nx: { tags: tags.split(',') },
};
const w = (f, s) => {
  if (!existsSync(join(dir, f))) writeFileSync(join(dir, f), s);
};
w('package.json', JSON.stringify(pkg, null, 2) + '\n');
w(
  'tsconfig.json',
  JSON.stringify(
    { extends: `${up}tsconfig.base.json`, compilerOptions: { noEmit: true }, include: ['src', 'test'] },
    null,
    2,
  ) + '\n',
);
w(
  'tsconfig.lib.json',
  JSON.stringify(
    {
      extends: `${up}tsconfig.base.json`,
      compilerOptions: {
        outDir: 'dist',
        rootDir: 'src',
        customConditions: [],
        declarationMap: false,
        inlineSources: true,
      },
      include: ['src'],
      exclude: ['src/**/*.test.ts'],
    },
    null,
    2,
  ) + '\n',
);
w(
  'vitest.config.ts',
  `import { projectConfig } from '${up}vitest.shared.ts';\n\nexport default projectConfig(import.meta.dirname);\n`,
);
w('src/index.ts', `/**\n * @packageDocumentation\n * ${description}\n */\nexport {};\n`);
w('README.md', `# @postern/${name}\n\n${description}\n`);
