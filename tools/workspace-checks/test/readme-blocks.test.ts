/**
 * The Markdown example extractor the README checks rely on: fences, info strings, `no-run`.
 */
import { describe, expect, it } from 'vitest';
import { codeBlocks, examples } from './support/readme-blocks.js';

const FENCE = '```';

describe('readme-blocks', () => {
  it('finds every fenced block with its language, info string, first line and code', () => {
    const md = [
      '# t',
      `${FENCE}sh`,
      'npm i x',
      FENCE,
      'text',
      `${FENCE}ts no-run: needs a board`,
      'const a = 1;',
      '',
      'a;',
      FENCE,
      `${FENCE}`,
      'plain',
      FENCE,
    ].join('\n');
    expect(codeBlocks(md)).toEqual([
      { line: 2, language: 'sh', info: '', code: 'npm i x\n' },
      { line: 6, language: 'ts', info: 'no-run: needs a board', code: 'const a = 1;\n\na;\n' },
      { line: 11, language: '', info: '', code: 'plain\n' },
    ]);
  });

  it('a longer fence holds shorter ones, and an info string after a fence does not close it', () => {
    const md = ['````md', FENCE, '```ts', 'x', '````'].join('\n');
    expect(codeBlocks(md)).toEqual([{ line: 1, language: 'md', info: '', code: '```\n```ts\nx\n' }]);
  });

  it('an unclosed block is an error naming its line', () => {
    expect(() => codeBlocks(['a', `${FENCE}ts`, 'x'].join('\n'))).toThrow(/line 2/);
  });

  it('examples are the ts/js blocks; no-run (as a word of the info string) marks one not to run', () => {
    const md = [
      `${FENCE}ts`,
      '1',
      FENCE,
      `${FENCE}js no-run`,
      '2',
      FENCE,
      `${FENCE}typescript not-no-runner`,
      '3',
      FENCE,
      `${FENCE}json`,
      '{}',
      FENCE,
    ].join('\n');
    expect(examples(md).map((e) => [e.kind, e.run, e.code])).toEqual([
      ['ts', true, '1\n'],
      ['js', false, '2\n'],
      ['ts', true, '3\n'],
    ]);
  });
});
