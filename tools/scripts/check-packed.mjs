#!/usr/bin/env node
// Checks tarballs made by `npm pack` before they are published:
//
//   node tools/scripts/check-packed.mjs FILE.tgz...
//
// A tarball passes when its package.json has no `@postern/source` export condition (it is for the
// workspace only; `npm pack --ignore-scripts` skips the prepack that strips it, see pack-manifest.mjs)
// and every path its `exports` (any condition), `main`, `types` and `bin` name is a file in the
// tarball and is not a TypeScript source (only `.js`, `.mjs`, `.cjs`, `.json` and `.d.ts`). Each
// problem is one line on stderr naming the tarball; the exit status is 1 if there was any, else 0
// (with one `ok` line per tarball on stdout). A file that is not a readable npm tarball is a problem.
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SOURCE_CONDITION } from './pack-manifest.mjs';

/** Every path a manifest's `exports` (any condition), `main`, `types` and `bin` name, without `./`. */
export function manifestTargets(manifest) {
  const out = [];
  const collect = (node) => {
    if (typeof node === 'string') out.push(node.replace(/^\.\//, ''));
    else if (node !== null && typeof node === 'object') for (const value of Object.values(node)) collect(value);
  };
  for (const field of [manifest.exports, manifest.main, manifest.types, manifest.bin]) collect(field);
  return out;
}

/** True if `node` (an `exports` value) names the source condition at any depth. */
function hasSourceCondition(node) {
  if (node === null || typeof node !== 'object') return false;
  if (!Array.isArray(node) && Object.hasOwn(node, SOURCE_CONDITION)) return true;
  return Object.values(node).some(hasSourceCondition);
}

/** What is wrong with a packed `manifest` whose tarball holds `files` (paths below `package/`): one line each. */
export function packedProblems(manifest, files) {
  const problems = [];
  const shipped = new Set(files);
  if (hasSourceCondition(manifest.exports))
    problems.push(`exports keep the "${SOURCE_CONDITION}" condition (packed without its prepack script?)`);
  for (const target of new Set(manifestTargets(manifest))) {
    if (!shipped.has(target)) problems.push(`"${target}" is named by the manifest but not in the tarball`);
    if (/\.[cm]?tsx?$/.test(target) && !/\.d\.[cm]?ts$/.test(target))
      problems.push(`"${target}" is a TypeScript source`);
  }
  return problems;
}

/** The paths (below `package/`) and the parsed package.json of an npm tarball. */
export function readTarball(file) {
  const options = { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] };
  const list = execFileSync('tar', ['-tzf', file], options);
  const files = list
    .split('\n')
    .filter((line) => line.startsWith('package/') && !line.endsWith('/'))
    .map((line) => line.slice('package/'.length));
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', file, 'package/package.json'], options));
  return { files, manifest };
}

/** Checks each tarball; returns the problem lines, each prefixed with the tarball's name. */
export function checkTarballs(files) {
  const problems = [];
  for (const file of files) {
    let packed;
    try {
      packed = readTarball(file);
    } catch (error) {
      const why =
        String(error.stderr ?? '')
          .trim()
          .split('\n')[0] || String(error.message).split('\n')[0];
      problems.push(`${basename(file)}: not a readable npm tarball (${why})`);
      continue;
    }
    for (const problem of packedProblems(packed.manifest, packed.files)) problems.push(`${basename(file)}: ${problem}`);
  }
  return problems;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('check-packed: usage: check-packed.mjs FILE.tgz...\n');
    process.exit(2);
  }
  const problems = checkTarballs(files);
  for (const problem of problems) process.stderr.write(`check-packed: ${problem}\n`);
  if (problems.length > 0) process.exit(1);
  for (const file of files) process.stdout.write(`check-packed: ${basename(file)} ok\n`);
}
