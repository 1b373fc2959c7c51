/**
 * `npm run docs` (TypeDoc, configured by the root typedoc.json) converts every library and the apps'
 * and flash tool's public modules without a single warning: typedoc.json treats warnings as errors,
 * so a broken `{@link}`, or a public signature naming a type the package does not export, fails here.
 * Run with `--emit none` (every check, no HTML written); about 30 s on an idle two-core machine.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const TYPEDOC_TIMEOUT_MS = 600_000;

describe('the API documentation site', () => {
  it('typedoc.json treats warnings as errors and takes in the libraries, the apps and the flash tool', () => {
    const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));
    expect(config.treatWarningsAsErrors).toBe(true);
    expect(config.entryPoints).toEqual(
      expect.arrayContaining(['packages/*', 'apps/gateway', 'apps/device-simulator', 'tools/flash']),
    );
    expect(config.packageOptions.entryPoints).toEqual(['src/index.ts']);
  });

  it(
    'typedoc converts and validates every entry point with no warning',
    async () => {
      const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(
          process.execPath,
          [typedoc, '--emit', 'none', '--logLevel', 'Warn'],
          { cwd: root, timeout: TYPEDOC_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => {
            resolve({
              code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
              output: `${stdout}${stderr}`,
            });
          },
        );
      });
      expect(result.output.replace(/\x1b\[[0-9;]*m/g, '').trim()).toBe('');
      expect(result.code).toBe(0);
    },
    TYPEDOC_TIMEOUT_MS + 10_000,
  );
});
