/**
 * No tracked Markdown file names a path of the machine it was written on: a checkout directory,
 * a home directory, or a scratch directory made by `mktemp`/`mkdtemp`. Such a path means nothing to
 * a reader on another machine (or points at files outside the repository). Example paths a reader
 * is meant to choose (`/tmp/prof`, `/srv/www`, `/dev/net/tun`) are fine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Absolute paths that belong to one machine: home and checkout directories, and temporary
 * directories whose last part ends in a generated suffix (six or more letters and digits, at least
 * one a digit: `/tmp/postern-pack-k3XwQ9`, `/tmp/tmp.Ab12Cd34Ef`).
 */
const MACHINE_PATH = new RegExp(
  [
    String.raw`(?<![\w.-])/(?:work|root|home|Users|var/folders|private/var)/[^\s\`'")\]]*`,
    String.raw`(?<![\w.-])/(?:tmp|var/tmp)/[\w.-]*?(?=[A-Za-z]*\d)[A-Za-z0-9]{6,}(?![\w-])[^\s\`'")\]]*`,
    String.raw`\b[A-Z]:\\(?:Users|Documents and Settings)\\[^\s\`'")\]]*`,
  ].join('|'),
  'g',
);

/** Each machine path in `text` as `line: path`. */
export function machinePaths(text: string): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    for (const match of line.matchAll(MACHINE_PATH)) found.push(`${index + 1}: ${match[0]}`);
  }
  return found;
}

describe('machine paths in Markdown', () => {
  it('the detector finds checkout, home and generated temporary paths, and leaves example paths alone', () => {
    expect(machinePaths('see `/work/team/notes.md` and /root/.npmrc\nfile:///home/ann/x.md')).toEqual([
      '1: /work/team/notes.md',
      '1: /root/.npmrc',
      '2: /home/ann/x.md',
    ]);
    expect(
      machinePaths('(/tmp/postern-pack-k3XwQ9/consumer) /tmp/tmp.Ab12Cd34Ef /Users/ann/src C:\\Users\\ann\\x'),
    ).toEqual([
      '1: /tmp/postern-pack-k3XwQ9/consumer',
      '1: /tmp/tmp.Ab12Cd34Ef',
      '1: /Users/ann/src',
      '1: C:\\Users\\ann\\x',
    ]);
    expect(
      machinePaths(
        '--cpu-prof-dir=/tmp/prof, serveStatic(`/srv/www`), /dev/net/tun, https://example.org/work/x, docs/work/a.md',
      ),
    ).toEqual([]);
  });

  it('no tracked Markdown file names one', () => {
    const files = execFileSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '');
    expect(files.length).toBeGreaterThan(10);
    const found = files.flatMap((file) =>
      machinePaths(readFileSync(join(root, file), 'utf8')).map((hit) => `${file}:${hit}`),
    );
    expect(found).toEqual([]);
  });
});
