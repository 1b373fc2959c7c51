/**
 * {@link ConfigError}: one problem of a configuration, naming where it came from: the JSON path in
 * a config file (`config gw.json: interfaces[1].ip "10.0.0.0/24": is the network address of its
 * prefix`), or the command-line flag that set the value (`--ip 10.0.0.0/24: is the network address
 * of its prefix`).
 */

/** Where a configuration value came from: a config file, or a command-line flag with its value. */
export type ConfigSource =
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'flag'; readonly flag: string; readonly value: string };

/**
 * A configuration was refused. `message` is the one line to print:
 * - from a flag: `--FLAG VALUE: PROBLEM`;
 * - from a file: `config FILE: PATH VALUE: PROBLEM`;
 * - from neither (a document built in code, an API body): `config: PATH VALUE: PROBLEM`.
 *
 * The value is shown as JSON when it is a string, number or boolean.
 */
export class ConfigError extends Error {
  /** The field, e.g. `interfaces[0].ip` (empty for the whole document). */
  readonly path: string;
  /** What is wrong with it, without the value (`is not an IPv4 address`). */
  readonly problem: string;
  /** The offending value, when there is one. */
  readonly value: unknown;
  /** Where the value came from; `undefined` when neither a file nor a flag. */
  readonly source: ConfigSource | undefined;
  constructor(path: string, problem: string, value?: unknown, source?: ConfigSource) {
    super(formatConfigProblem(path, problem, value, source));
    this.name = 'ConfigError';
    this.path = path;
    this.problem = problem;
    this.value = value;
    this.source = source;
  }

  /** The same problem, attributed to `source`. */
  from(source: ConfigSource): ConfigError {
    return new ConfigError(this.path, this.problem, this.value, source);
  }
}

function formatConfigProblem(path: string, problem: string, value: unknown, source: ConfigSource | undefined): string {
  if (source?.kind === 'flag') return `${source.flag} ${source.value}: ${problem}`;
  const shown =
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? JSON.stringify(value) : '';
  const where = [path, shown].filter((s) => s !== '').join(' ');
  const origin = source === undefined ? 'config:' : `config ${source.file}:`;
  return `${origin} ${where === '' ? '' : `${where}: `}${problem}`;
}
