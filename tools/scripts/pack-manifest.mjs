#!/usr/bin/env node
// The published package.json: `npm pack` / `npm publish` run this from a workspace package's
// directory as its `prepack` and `postpack` scripts.
//
//   prepack:  package.json -> .package.json.prepack (the exact bytes), then package.json is rewritten
//             without the `@postern/source` export condition (it points at ./src/*.ts, which no
//             tarball ships; inside the workspace it makes tools and tests run the sources).
//   postpack: package.json gets its exact original bytes back and the backup is removed. If the file
//             was edited while the tarball was being made, that edit is kept and only the condition
//             is put back, first in each export, where it was.
//
// A prepack that finds a backup left by an interrupted pack restores it first. Anything else than
// `prepack` or `postpack` exits 2 with one line.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const SOURCE_CONDITION = '@postern/source';
const MANIFEST = 'package.json';
const BACKUP = '.package.json.prepack';

/** The manifest text as this repository formats it: two-space JSON and a final newline. */
function format(manifest) {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** `manifest` without the source condition in any of its `exports` entries. */
export function publishedManifest(manifest) {
  const copy = structuredClone(manifest);
  const strip = (node) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    delete node[SOURCE_CONDITION];
    for (const value of Object.values(node)) strip(value);
  };
  strip(copy.exports);
  return copy;
}

/** `current` with the source condition of `original` put back, first in each export that had one. */
export function restoredManifest(current, original) {
  const copy = structuredClone(current);
  const put = (target, source) => {
    if (target === null || typeof target !== 'object' || source === null || typeof source !== 'object') return target;
    for (const key of Object.keys(target)) target[key] = put(target[key], source[key]);
    return SOURCE_CONDITION in source && !(SOURCE_CONDITION in target)
      ? { [SOURCE_CONDITION]: source[SOURCE_CONDITION], ...target }
      : target;
  };
  if (copy.exports !== undefined) copy.exports = put(copy.exports, original.exports);
  return copy;
}

function writeAtomically(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export function postpack() {
  if (!existsSync(BACKUP)) return;
  const originalText = readFileSync(BACKUP, 'utf8');
  const original = JSON.parse(originalText);
  const currentText = readFileSync(MANIFEST, 'utf8');
  if (currentText === format(publishedManifest(original))) writeAtomically(MANIFEST, originalText);
  else writeAtomically(MANIFEST, format(restoredManifest(JSON.parse(currentText), original)));
  rmSync(BACKUP);
}

export function prepack() {
  postpack();
  const text = readFileSync(MANIFEST, 'utf8');
  const published = format(publishedManifest(JSON.parse(text)));
  if (published === text) return;
  writeFileSync(BACKUP, text);
  writeAtomically(MANIFEST, published);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const stage = process.argv[2];
  if (stage === 'prepack') prepack();
  else if (stage === 'postpack') postpack();
  else {
    process.stderr.write(`pack-manifest: expected "prepack" or "postpack", got ${JSON.stringify(stage ?? '')}\n`);
    process.exit(2);
  }
}
