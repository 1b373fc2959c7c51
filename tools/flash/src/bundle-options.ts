/**
 * {@link NODE_BUNDLE_OPTIONS}: how Postern bundles a program into one ES module for Node. One
 * definition for the two users: the firmware image's app ({@link bundleFirmware} in `build.ts`) and
 * the workspace's own executables (`tools/scripts/build-bins.mjs`, which bundles `postern-gateway`,
 * `postern-sim` and `postern-flash`).
 */
import type { BuildOptions } from 'esbuild';

/**
 * The esbuild options shared by every Postern bundle: one self-contained ES module for Node 20 and
 * later, workspace packages resolved to their TypeScript sources (the `@postern/source` export
 * condition), and a `require` for the CommonJS dependencies bundled into it. Callers add the entry,
 * the output, minification and their plugins. Deterministic: the same sources give the same bytes.
 */
export const NODE_BUNDLE_OPTIONS: Readonly<BuildOptions> = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['@postern/source'],
  legalComments: 'none',
  logLevel: 'silent',
  // CommonJS dependencies inside an ES module bundle need a require.
  banner: {
    js: "import { createRequire as __posternCreateRequire } from 'node:module';\nconst require = __posternCreateRequire(import.meta.url);",
  },
};
