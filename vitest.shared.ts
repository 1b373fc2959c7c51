/**
 * The one vitest configuration every project uses: sources resolve through the
 * `@postern/source` export condition (so tests run the TypeScript of sibling
 * packages, never a stale build), tests run once (never watch), and each project
 * writes a JSON report that `tools/scripts/test-summary.mjs` sums for CI.
 */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, defaultServerConditions, type UserConfig } from 'vite';

const workspaceRoot = dirname(fileURLToPath(import.meta.url));
const conditions = ['@postern/source', ...defaultServerConditions];

/**
 * Projects whose tests run the workspace's executables (`bin/*.mjs`): before their tests, a global
 * setup rebuilds the bundles those bins run (tools/scripts/build-bins.mjs), so a test never runs a
 * stale build of the sources.
 */
const RUNS_BINS = new Set([
  'apps-gateway',
  'apps-device-simulator',
  'apps-board',
  'tools-flash',
  'tools-bench',
  'tools-workspace-checks',
]);

export function projectConfig(projectRoot: string): UserConfig {
  const name = `${basename(dirname(projectRoot))}-${basename(projectRoot)}`;
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@postern/source'] } },
    test: {
      root: projectRoot,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      watch: false,
      testTimeout: 60_000,
      hookTimeout: 60_000,
      passWithNoTests: true,
      globalSetup: RUNS_BINS.has(name) ? [join(workspaceRoot, 'tools', 'scripts', 'build-bins.mjs')] : [],
      reporters: ['default', 'json'],
      outputFile: { json: join(workspaceRoot, 'reports', 'vitest', `${name}.json`) },
    },
  } as UserConfig);
}
