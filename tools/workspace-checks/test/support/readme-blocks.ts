/**
 * The code examples of a Markdown file: every fenced block (```` ``` ```` at the start of a line) with
 * its language and the words after it (the info string). A TypeScript or JavaScript example is a
 * program that must run by itself, unless its info string says `no-run` (then it is only
 * type-checked): ```` ```ts no-run ```` followed by why, e.g. ```` ```ts no-run: needs a serial port ````.
 */
import { readFileSync } from 'node:fs';

/** One fenced code block. */
export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The first word of the info string, lower-cased (`ts`, `sh`, ...); empty when there is none. */
  language: string;
  /** The rest of the info string. */
  info: string;
  /** The lines between the fences, each ending in a newline. */
  code: string;
}

/** An example to check: TypeScript or JavaScript, with whether it is to be run. */
export interface Example extends CodeBlock {
  kind: 'ts' | 'js';
  run: boolean;
}

const TS = new Set(['ts', 'typescript', 'mts']);
const JS = new Set(['js', 'javascript', 'mjs']);
/** The info-string word that marks an example as not runnable (it is still type-checked). */
export const NO_RUN = 'no-run';

/**
 * Every fenced block of `markdown`, in order. An unterminated fence is an error (the rest of the
 * file would silently be code).
 */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let open: { line: number; fence: string; language: string; info: string; code: string[] } | undefined;
  for (const [index, text] of lines.entries()) {
    const fence = /^(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(text);
    if (open === undefined) {
      if (fence !== null)
        open = {
          line: index + 1,
          fence: fence[1]!,
          language: fence[2]!.toLowerCase(),
          info: fence[3]!.trim(),
          code: [],
        };
    } else if (fence !== null && fence[1]!.startsWith(open.fence) && fence[2] === '' && fence[3] === '') {
      blocks.push({
        line: open.line,
        language: open.language,
        info: open.info,
        code: open.code.map((l) => `${l}\n`).join(''),
      });
      open = undefined;
    } else {
      open.code.push(text);
    }
  }
  if (open !== undefined) throw new Error(`the code block opened at line ${open.line} is never closed`);
  return blocks;
}

/** The TypeScript and JavaScript examples of `markdown`. */
export function examples(markdown: string): Example[] {
  return codeBlocks(markdown).flatMap((block): Example[] => {
    const kind = TS.has(block.language) ? 'ts' : JS.has(block.language) ? 'js' : undefined;
    if (kind === undefined) return [];
    const words = block.info.split(/[\s:,]+/);
    return [{ ...block, kind, run: !words.includes(NO_RUN) }];
  });
}

/** The examples of the Markdown file at `path`. */
export function examplesOf(path: string): Example[] {
  return examples(readFileSync(path, 'utf8'));
}
