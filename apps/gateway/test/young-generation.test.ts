/**
 * V8's young generation in the started `postern-gateway` (src/young-generation.ts, run by src/main.ts): two 8-MiB
 * semi-spaces from start-up that do not grow under surviving allocation, and a user's own semi-space flag left as
 * given. The bin is spawned as a user runs it (`--nic sim`, no privileges) with a preload (`--import`) that, on
 * SIGUSR2, reads the young generation's capacity in the gateway's own process, makes 48 MiB survive scavenges (which
 * grows an unfixed young generation), reads it again and prints both on stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { userSetsSemiSpace, YOUNG_GENERATION_SEMI_SPACE_MIB } from '../src/young-generation.js';

const BIN = fileURLToPath(new URL('../bin/postern-gateway.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'postern-gw-young-'));
const PRELOAD = join(dir, 'young-probe.mjs');
writeFileSync(
  PRELOAD,
  `import { getHeapSpaceStatistics } from 'node:v8';
const semi = () => {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return (s.space_used_size + s.space_available_size) / 1048576;
};
process.on('SIGUSR2', () => {
  const before = semi();
  const keep = [];
  for (let i = 0; i < 1536; i++) keep.push(new Array(4096).fill(0.5));
  process.stderr.write('young ' + JSON.stringify({ before, after: semi(), kept: keep.length }) + '\\n');
});
`,
);

interface Young {
  /** Semi-space capacity in MiB when the gateway was running. */
  before: number;
  /** The same after 48 MiB survived scavenges. */
  after: number;
}

/** Starts the bin with `nodeFlags` and the probe, waits for its URL, signals the probe, returns what it read. */
async function probe(nodeFlags: string[]): Promise<Young> {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      '--import',
      pathToFileURL(PRELOAD).href,
      BIN,
      '--nic',
      'sim',
      '--hostfwd',
      'tcp:127.0.0.1:0-198.18.0.1:80',
    ],
    { env: { ...process.env, POSTERN_QUIET: '1', NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    return await new Promise<Young>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer; stdout: ${stdout} stderr: ${stderr}`)), 30_000);
      child.stdout!.on('data', (c: Buffer) => {
        const had = /open http/.test(stdout);
        stdout += c.toString();
        if (!had && /open http/.test(stdout)) child.kill('SIGUSR2');
      });
      child.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /^young (.*)$/m.exec(stderr);
        if (m !== null) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]!) as Young);
        }
      });
    });
  } finally {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

describe('userSetsSemiSpace', () => {
  it('finds a semi-space flag on the command line or in NODE_OPTIONS, in either spelling', () => {
    expect(userSetsSemiSpace([], undefined)).toBe(false);
    expect(userSetsSemiSpace(['--max-old-space-size=512', '--import', 'x.mjs'], '--trace-gc')).toBe(false);
    expect(userSetsSemiSpace(['--max-semi-space-size=32'], undefined)).toBe(true);
    expect(userSetsSemiSpace([], '--min_semi_space_size=4')).toBe(true);
    expect(userSetsSemiSpace([], '--trace-gc --semi-space-growth-factor=2')).toBe(true);
  });
});

describe('the young generation of the started postern-gateway (spawned)', () => {
  it(`is ${YOUNG_GENERATION_SEMI_SPACE_MIB} MiB per semi-space from start-up and does not grow`, async () => {
    const young = await probe([]);
    // A semi-space of N MiB holds a little less than N MiB (page headers).
    expect(young.before).toBeGreaterThan(YOUNG_GENERATION_SEMI_SPACE_MIB * 0.9);
    expect(young.before).toBeLessThanOrEqual(YOUNG_GENERATION_SEMI_SPACE_MIB);
    expect(young.after).toBe(young.before);
  });

  it("leaves the user's own semi-space flag as given: V8 then grows the young generation itself", async () => {
    const young = await probe(['--semi-space-growth-factor=2']);
    expect(young.before).toBeLessThan(YOUNG_GENERATION_SEMI_SPACE_MIB * 0.9);
    expect(young.after).toBeGreaterThan(young.before);
  });
});
