/**
 * Waiting for a child process to say something: a program a test starts announces readiness (a
 * port, a URL, `ready`) on its output; the test waits for that line, bounded in time, and fails at
 * once when the program exits first.
 */
import type { ChildProcess } from 'node:child_process';

/** Options of {@link waitForOutput}. */
export interface WaitForOutputOptions {
  /** How long to wait, in milliseconds. Default 60 000. */
  limitMs?: number;
  /** Names the program in the error messages. Default: the pattern. */
  what?: string;
}

/**
 * Resolves with the first match of `pattern` in what `child` writes from now on (its stdout and
 * stderr, as far as they are pipes, in the order they arrive, as one text). Rejects when the child
 * exits before (or has already exited), could not be started, or after `limitMs`; the messages
 * carry the output seen.
 * Removes its listeners when it settles. Call it right after starting the child (before any
 * `await`), so no output is missed.
 */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  options: WaitForOutputOptions = {},
): Promise<RegExpExecArray> {
  const limitMs = options.limitMs ?? 60_000;
  const what = options.what ?? String(pattern);
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.reject(new Error(`${what}: the process had already exited (${child.exitCode ?? child.signalCode})`));
  }
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`${what}: timed out after ${limitMs} ms; output: ${seen}`)), limitMs);
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString();
      const m = pattern.exec(seen);
      if (m !== null) done(undefined, m);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      done(new Error(`${what}: exited (${code ?? signal}) before it said ${pattern}; output: ${seen}`));
    const onError = (error: Error): void => done(new Error(`${what}: ${error.message}`));
    function done(err?: Error, m?: RegExpExecArray): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err !== undefined) reject(err);
      else resolve(m!);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}
