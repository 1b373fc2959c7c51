/**
 * {@link preflight}: the checks of a configuration that need the file system, made before anything
 * starts, so a missing directory is reported alone (no interface comes up first): the `http.www`
 * directory exists and is a directory; the `pcap` file's directory exists and is writable, and the
 * file itself, when it exists, is a writable regular file.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './config-error.js';
import type { GatewayConfig } from './config.js';

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks the paths `config` names (relative ones against the working directory) and returns
 * `config`.
 * @throws {@link ConfigError} naming `http.www` or `pcap`.
 */
export function preflight(config: GatewayConfig): GatewayConfig {
  const www = config.http.www;
  if (www !== undefined) {
    const st = statOf(resolve(www));
    if (st === undefined) throw new ConfigError('http.www', 'no such directory', www);
    if (!st.isDirectory()) throw new ConfigError('http.www', 'is not a directory', www);
  }
  const pcap = config.pcap;
  if (pcap !== undefined) {
    const path = resolve(pcap);
    const dir = statOf(dirname(path));
    if (dir === undefined || !dir.isDirectory())
      throw new ConfigError('pcap', `its directory ${dirname(path)} does not exist`, pcap);
    const st = statOf(path);
    if (st?.isDirectory() === true) throw new ConfigError('pcap', 'is a directory', pcap);
    if (st === undefined ? !writable(dirname(path)) : !writable(path))
      throw new ConfigError('pcap', 'is not writable', pcap);
  }
  return config;
}
