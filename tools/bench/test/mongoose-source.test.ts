import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCompareGatewayBenchmark } from '../src/http-compare.bench.js';
import { MONGOOSE_SRC_ENV, findMongooseSource, mongooseVersionOf } from '../src/http-servers.js';

// How the bench finds the Mongoose sources it compiles its reference against (none of them are in
// this repository): the POSTERN_MONGOOSE_SRC lookup, and tools/bench/mongoose/source.sh, which
// extracts mongoose.c and mongoose.h from a git directory, a tarball or a directory into a cache.
// Stand-in sources (a few lines each) play the part of Mongoose's files.

const SOURCE_SH = fileURLToPath(new URL('../mongoose/source.sh', import.meta.url));
const HEADER = (version: string) =>
  `// stand-in header\n#pragma once\n#define MG_VERSION "${version}"\nint mg(void);\n`;
const BODY = '// stand-in source\nint mg(void) { return 7; }\n';

let scratch = '';
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'postern-mongoose-source-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh directory under the scratch directory. */
function dir(name: string): string {
  const d = join(scratch, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Writes the two stand-in files (with `version`) into `d`. */
function writeSources(d: string, version = '7.22'): void {
  writeFileSync(join(d, 'mongoose.c'), BODY);
  writeFileSync(join(d, 'mongoose.h'), HEADER(version));
}

/** Runs source.sh with `args`; returns its exit code, stdout and stderr. */
function sourceSh(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', [SOURCE_SH, ...args], { encoding: 'utf8', env: { ...process.env, MONGOOSE_REV: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The directory an `export POSTERN_MONGOOSE_SRC='...'` line names. */
function exported(stdout: string): string {
  const m = /^export POSTERN_MONGOOSE_SRC='([^']+)'$/m.exec(stdout);
  if (m === null) throw new Error(`no export line in ${JSON.stringify(stdout)}`);
  return m[1]!;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.invalid',
    },
  });

describe('mongooseVersionOf', () => {
  it('reads the MG_VERSION a header defines', () => {
    expect(mongooseVersionOf(HEADER('7.22'))).toBe('7.22');
    expect(mongooseVersionOf('#ifndef X\n  #  define   MG_VERSION  "7.19"  // release\n#endif\n')).toBe('7.19');
  });

  it('finds none in a header without one, or with it only in a comment or another macro', () => {
    expect(mongooseVersionOf('#define MG_IO_SIZE 512\n')).toBeUndefined();
    expect(mongooseVersionOf('// #define MG_VERSION "7.22"\n')).toBeUndefined();
    expect(mongooseVersionOf('#define MG_VERSION_MAJOR "7"\n')).toBeUndefined();
  });
});

describe('findMongooseSource', () => {
  it('says which variable to set, and how, when it is not set or empty', () => {
    for (const env of [{}, { [MONGOOSE_SRC_ENV]: '' }]) {
      const found = findMongooseSource(env);
      expect(found.dir).toBeUndefined();
      expect('missing' in found && found.missing).toMatch(/POSTERN_MONGOOSE_SRC is not set.*source\.sh/);
    }
  });

  it('names the file a directory lacks', () => {
    const d = dir('only-header');
    writeFileSync(join(d, 'mongoose.h'), HEADER('7.22'));
    const found = findMongooseSource({ [MONGOOSE_SRC_ENV]: d });
    expect(found.dir).toBeUndefined();
    expect('missing' in found && found.missing).toContain(`${d} has no mongoose.c`);
    const empty = findMongooseSource({ [MONGOOSE_SRC_ENV]: join(scratch, 'no-such-dir') });
    expect('missing' in empty && empty.missing).toContain('has no mongoose.c');
  });

  it('refuses a mongoose.h that declares no version', () => {
    const d = dir('no-version');
    writeFileSync(join(d, 'mongoose.c'), BODY);
    writeFileSync(join(d, 'mongoose.h'), '#pragma once\n');
    const found = findMongooseSource({ [MONGOOSE_SRC_ENV]: d });
    expect('missing' in found && found.missing).toContain('declares no MG_VERSION');
  });

  it('returns the directory and the version of a complete tree', () => {
    const d = dir('complete');
    writeSources(d, '7.22');
    expect(findMongooseSource({ [MONGOOSE_SRC_ENV]: d })).toEqual({ dir: d, version: '7.22' });
  });
});

describe('tools/bench/mongoose/source.sh', () => {
  it('extracts both files of HEAD from a git work tree and from a bare clone, into CACHE/mongoose-<version>', () => {
    const repo = dir('repo');
    git(repo, 'init', '-q');
    writeSources(repo, '7.21');
    git(repo, 'add', 'mongoose.c', 'mongoose.h');
    git(repo, 'commit', '-q', '-m', 'first');
    writeSources(repo, '7.22');
    git(repo, 'commit', '-q', '-am', 'second');
    writeFileSync(join(repo, 'mongoose.h'), HEADER('9.99')); // uncommitted: not taken
    const bare = join(scratch, 'repo.git');
    git(scratch, 'clone', '-q', '--bare', repo, bare);

    for (const source of [repo, bare]) {
      const cache = dir(`cache-${source === repo ? 'work' : 'bare'}`);
      const r = sourceSh(source, cache);
      expect(r.code).toBe(0);
      const out = exported(r.stdout);
      expect(out).toBe(join(cache, 'mongoose-7.22'));
      expect(readFileSync(join(out, 'mongoose.h'), 'utf8')).toBe(HEADER('7.22'));
      expect(readFileSync(join(out, 'mongoose.c'), 'utf8')).toBe(BODY);
      expect(findMongooseSource({ [MONGOOSE_SRC_ENV]: out })).toEqual({ dir: out, version: '7.22' });
      expect(statSync(out).mode & 0o777).toBe(0o755);
    }
  });

  it('takes the top-level files of a release tarball, not the copies under tutorials/', () => {
    const tree = dir('tarball/mongoose-7.22');
    writeSources(tree, '7.22');
    const tutorial = join(tree, 'tutorials', 'tcpip', 'tap-driver');
    mkdirSync(tutorial, { recursive: true });
    writeSources(tutorial, '0.1');
    const tarball = join(scratch, 'mongoose-7.22.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', join(scratch, 'tarball'), 'mongoose-7.22']);
    const cache = dir('cache-tarball');
    const r = sourceSh(tarball, cache);
    expect(r.code).toBe(0);
    const out = exported(r.stdout);
    expect(out).toBe(join(cache, 'mongoose-7.22'));
    expect(readFileSync(join(out, 'mongoose.h'), 'utf8')).toBe(HEADER('7.22'));
  });

  it('copies a plain directory holding both files, replacing an older extraction of the same version', () => {
    const plain = dir('plain');
    writeSources(plain, '7.22');
    const cache = dir('cache-plain');
    const stale = dir('cache-plain/mongoose-7.22');
    writeFileSync(join(stale, 'left-over'), 'x');
    const r = sourceSh(plain, cache);
    expect(r.code).toBe(0);
    const out = exported(r.stdout);
    expect(findMongooseSource({ [MONGOOSE_SRC_ENV]: out })).toEqual({ dir: out, version: '7.22' });
    expect(() => statSync(join(out, 'left-over'))).toThrow();
  });

  it('exits 3 with one line naming the problem when SOURCE holds no Mongoose sources, and 2 without SOURCE', () => {
    const cache = dir('cache-bad');
    const noFiles = sourceSh(dir('nothing-here'), cache);
    expect(noFiles.code).toBe(3);
    expect(noFiles.stderr.trim().split('\n')).toHaveLength(1);
    expect(noFiles.stderr).toContain('neither a git directory');
    const notTar = join(scratch, 'not-a-tarball.tar.gz');
    writeFileSync(notTar, 'plain text');
    expect(sourceSh(notTar, cache).code).toBe(3);
    const noVersion = dir('no-version-dir');
    writeFileSync(join(noVersion, 'mongoose.c'), BODY);
    writeFileSync(join(noVersion, 'mongoose.h'), '#pragma once\n');
    const r = sourceSh(noVersion, cache);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('declares no MG_VERSION');
    expect(r.stdout).toBe('');
    expect(sourceSh().code).toBe(2);
    expect(readdirSync(cache)).toEqual([]); // no half-done extraction left behind
  });
});

describe('http-compare-gateway and the Mongoose rows', () => {
  /** The gateway comparison's figure names with `value` as POSTERN_MONGOOSE_SRC (undefined: unset). */
  function figureNames(value: string | undefined): string[] {
    const saved = process.env[MONGOOSE_SRC_ENV];
    if (value === undefined) delete process.env[MONGOOSE_SRC_ENV];
    else process.env[MONGOOSE_SRC_ENV] = value;
    try {
      return httpCompareGatewayBenchmark.figures().map((f) => f.name);
    } finally {
      if (saved === undefined) delete process.env[MONGOOSE_SRC_ENV];
      else process.env[MONGOOSE_SRC_ENV] = saved;
    }
  }

  it('lists no Mongoose row without a source tree, and the same other rows either way', () => {
    const without = figureNames(undefined);
    expect(without.filter((n) => n.includes('Mongoose'))).toEqual([]);
    const d = dir('listed');
    writeSources(d, '7.22');
    const withIt = figureNames(d);
    expect(withIt.filter((n) => !n.includes('Mongoose'))).toEqual(without);
    expect(figureNames(join(scratch, 'missing-dir')).filter((n) => n.includes('Mongoose'))).toEqual([]);
  });

  it('with one, lists Mongoose 7.22 beside lwIP (bulk, keep-alive, one connection, ping, short) and the gateway beside Mongoose last', () => {
    const d = dir('listed-rows');
    writeSources(d, '7.22');
    const names = figureNames(d);
    const mongoose = names.filter((n) => n.startsWith('Mongoose 7.22 '));
    expect(mongoose.map((n) => n.slice(n.indexOf(': ') + 2))).toEqual([
      'bulk 64 MiB (curl)',
      'keep-alive small, 32 connections (wrk -t1)',
      'one connection (wrk -c1), median latency',
      'ping round trip (average of 25)',
      'short connections one at a time (HTTP/1.0)',
    ]);
    expect(names.at(-1)).toMatch(/^postern-gateway .*short connections one at a time \(HTTP\/1\.0\), beside Mongoose$/);
    expect(new Set(names).size).toBe(names.length);
  });
});
