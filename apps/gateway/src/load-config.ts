/**
 * Start-up's first step: read the config file (if any; a UTF-8 byte-order mark is allowed), lay the
 * command line over it, validate, take the admin password from the environment, check that
 * something can run and that the files it names are usable ({@link preflight}). Every problem is
 * ONE {@link ConfigError} naming where the value came from: the flag (`--www site: no such
 * directory`) or the file and the JSON path (`config gw.json: http.www "site": no such directory`).
 */
import { readFileSync } from 'node:fs';
import type { CommandLine } from './cli.js';
import { applyCommandLine, flagSource } from './cli.js';
import { ConfigError, parseConfigJson, requireRunnable, validateConfig, type GatewayConfig } from './config.js';
import { preflight } from './preflight.js';

/** The environment variable holding the admin password (overrides `admin.password`). */
export const ADMIN_PASSWORD_ENV = 'POSTERN_ADMIN_PASSWORD';

/**
 * Builds the running configuration from the command line, the file it names and the environment,
 * and checks everything that can be checked before anything starts.
 * @throws {@link ConfigError} when the file cannot be read, is not JSON, any field or flag is
 *   invalid, there is no interface, or the www directory or the capture file's directory is unusable.
 */
export function loadConfig(
  cli: CommandLine,
  env: Readonly<Record<string, string | undefined>> = process.env,
): GatewayConfig {
  let file: unknown;
  if (cli.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(cli.config, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const problem =
        code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code})`;
      throw new ConfigError('', problem, undefined, { kind: 'flag', flag: '--config', value: cli.config });
    }
    file = attribute(() => parseConfigJson(text), cli);
  }
  return attribute(() => {
    const config = validateConfig(applyCommandLine(file, cli));
    const password = env[ADMIN_PASSWORD_ENV];
    const withPassword =
      password !== undefined && password !== '' ? { ...config, admin: { ...config.admin, password } } : config;
    return preflight(requireRunnable(withPassword));
  }, cli);
}

/** Runs `step`; a {@link ConfigError} from it is attributed to the flag that set its path, else to the file. */
function attribute<T>(step: () => T, cli: CommandLine): T {
  try {
    return step();
  } catch (err) {
    if (!(err instanceof ConfigError) || err.source !== undefined) throw err;
    if (err.path === 'interfaces[0].ip' && err.problem === 'is missing' && cli.nic !== undefined) {
      throw new ConfigError(
        err.path,
        'needs --ip ADDR/PREFIX or --ip dhcp too (only sim has a default address)',
        undefined,
        {
          kind: 'flag',
          flag: '--nic',
          value: cli.nic,
        },
      );
    }
    const source =
      flagSource(err.path, cli) ?? (cli.config === undefined ? undefined : { kind: 'file' as const, file: cli.config });
    throw source === undefined ? err : err.from(source);
  }
}
