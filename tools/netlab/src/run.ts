/**
 * Running `ip` and other programs, bounded in time. Every call has a timeout, so a wedged command
 * fails a test instead of hanging it.
 */
import { execFile } from 'node:child_process';

/** Default time limit for one command, in milliseconds. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 15_000;

/** What a finished command left behind. */
export interface CommandResult {
  /** Exit code; null when a signal (for example the timeout) ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link runCommand}. */
export interface RunOptions {
  /** Kill the command after this many ms (SIGKILL). Default {@link DEFAULT_COMMAND_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Largest stdout/stderr kept, in bytes. Default 16 MiB. */
  maxBuffer?: number;
  /**
   * How stdout and stderr are decoded. Default `'utf8'`; `'latin1'` keeps binary output byte for
   * byte (one character per byte).
   */
  encoding?: 'utf8' | 'latin1';
}

/** A command that failed: exit code other than 0, a signal, or a program that could not start. */
export class CommandError extends Error {
  /** The program and its arguments. */
  readonly argv: readonly string[];
  readonly result: CommandResult;
  constructor(argv: readonly string[], result: CommandResult, cause?: unknown) {
    const why = result.code === null ? 'was killed (timeout?)' : `exited with ${result.code}`;
    super(`netlab: \`${argv.join(' ')}\` ${why}: ${result.stderr.trim() || result.stdout.trim()}`, { cause });
    this.name = 'CommandError';
    this.argv = argv;
    this.result = result;
  }
}

/** Runs `program args...` and resolves with its result whatever its exit code. Never rejects. */
export function tryCommand(program: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      {
        timeout: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: options.maxBuffer ?? 16 << 20,
        encoding: options.encoding ?? 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const e = error as NodeJS.ErrnoException & { code?: unknown };
        const code = typeof e.code === 'number' ? e.code : null;
        const extra = typeof e.code === 'string' ? `${e.code}: ${e.message}` : '';
        resolve({ code: code ?? (extra ? 127 : null), stdout, stderr: stderr || extra });
      },
    );
  });
}

/** Runs `program args...`; resolves with its result on exit code 0, rejects with {@link CommandError} otherwise. */
export async function runCommand(
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const result = await tryCommand(program, args, options);
  if (result.code !== 0) throw new CommandError([program, ...args], result);
  return result;
}

/** Runs `ip args...` (iproute2), optionally inside namespace `netns` (`ip -n NETNS ...`). Rejects with {@link CommandError}. */
export function ip(args: readonly string[], netns?: string, options?: RunOptions): Promise<CommandResult> {
  return runCommand('ip', netns === undefined ? args : ['-n', netns, ...args], options);
}
