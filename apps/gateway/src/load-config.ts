/**
 * Start-up's first step: read the config file (if any), lay the command line over it, validate,
 * take the admin password from the environment, and check that something can run.
 */
import { readFileSync } from 'node:fs';
import type { CommandLine } from './cli.js';
import { applyCommandLine } from './cli.js';
import { ConfigError, requireRunnable, validateConfig, type GatewayConfig } from './config.js';

/** The environment variable holding the admin password (overrides `admin.password`). */
export const ADMIN_PASSWORD_ENV = 'POSTERN_ADMIN_PASSWORD';

/**
 * Builds the running configuration from the command line, the file it names and the environment.
 * @throws {@link ConfigError} when the file cannot be read, is not JSON, or any field is invalid.
 */
export function loadConfig(cli: CommandLine, env: Readonly<Record<string, string | undefined>> = process.env): GatewayConfig {
  let file: unknown;
  if (cli.config !== undefined) {
    let text: string;
    try {
      text = readFileSync(cli.config, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ConfigError('', `cannot read ${cli.config}: ${code === 'ENOENT' ? 'no such file' : code}`);
    }
    try {
      file = JSON.parse(text);
    } catch (err) {
      throw new ConfigError('', `${cli.config} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const config = validateConfig(applyCommandLine(file, cli));
  const password = env[ADMIN_PASSWORD_ENV];
  const withPassword = password !== undefined && password !== '' ? { ...config, admin: { ...config.admin, password } } : config;
  return requireRunnable(withPassword);
}
