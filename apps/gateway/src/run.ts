/**
 * The `postern-gateway` program as a function ({@link main}): parse the command line, load the configuration, start the gateway, print where
 * it can be reached, and shut down cleanly on SIGINT/SIGTERM (exit 0). A bad command line or
 * configuration (a flag, a field, a missing www directory) prints ONE line on stderr and exits 2
 * before anything starts; any later start-up failure prints ONE line and exits 1. A reboot from the admin API closes
 * the gateway and starts it again from the same configuration in this process.
 *
 * {@link runGateway} is the same program with what a firmware image does differently (its log name,
 * a reboot as an exit status for the board, work once the gateway is up): the one place that owns this
 * composition, for `postern-gateway` and the firmware image's entry (tools/flash) alike.
 */
import { parseCommandLine, HELP_TEXT, UsageError } from './cli.js';
import { ConfigError } from './config.js';
import { GatewayStartError, toStartError } from './errors.js';
import { startGateway, type Gateway } from './gateway.js';
import { loadConfig } from './load-config.js';

/** What a program built on {@link runGateway} does differently from `postern-gateway`. */
export interface RunOptions {
  /** The name its log lines on stderr start with (`postern-gateway` by default). */
  readonly name?: string;
  /**
   * What a reboot asked for by the admin API does: undefined (the default) closes the gateway and
   * starts it again in this process; a number closes it and ends the run with that exit status (a
   * firmware image, whose board then resets).
   */
  readonly rebootExitStatus?: number;
  /**
   * Called once, after the first start, when the URLs are printed and SIGINT/SIGTERM stop the
   * gateway; `log` writes one line on stderr (under {@link RunOptions.name}, not silenced by
   * POSTERN_QUIET). The gateway serves meanwhile; a rejection is logged and changes nothing else.
   */
  readonly onStarted?: (gateway: Gateway, log: (line: string) => void) => void | Promise<void>;
}

/** Runs the command line `argv` (without node and the script). Resolves with the exit status once the gateway has stopped. */
export function main(argv: readonly string[]): Promise<number> {
  return runGateway(argv);
}

/**
 * Runs the command line `argv` (without node and the script) as {@link main} does, with the
 * differences `options` names. Resolves with the exit status once the gateway has stopped.
 */
export async function runGateway(argv: readonly string[], options: RunOptions = {}): Promise<number> {
  const { name = 'postern-gateway', rebootExitStatus, onStarted } = options;
  let cli;
  try {
    cli = parseCommandLine(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (cli.help) {
    process.stdout.write(HELP_TEXT);
    return 0;
  }
  const log = (line: string): void => void process.stderr.write(`${name}: ${line}\n`);
  let gateway: Gateway;
  let config;
  try {
    // Everything that can be checked before start-up is: a bad flag, field or path exits 2 before anything starts.
    config = loadConfig(cli);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log(err.message);
    return 2;
  }
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));
  // Before the start: a reboot that ends the run may come as soon as the gateway serves.
  let stopping = false;
  const onReboot = rebootExitStatus === undefined ? () => void reboot() : () => stop(rebootExitStatus);
  try {
    gateway = await startGateway(config, { log: quiet(log), onReboot });
  } catch (err) {
    log(toStartError(err).message);
    return 1;
  }
  let rebooting = false;
  let reboots = 0;
  async function reboot(): Promise<void> {
    if (rebooting) return;
    rebooting = true;
    log('rebooting');
    // The new run keeps the capture (a new numbered file) and the host-forward ports of this one.
    const hostForwardPorts = (gateway.simulator?.forwarders ?? []).map((f) => f.port);
    await gateway.close();
    try {
      gateway = await startGateway(config!, {
        log: quiet(log),
        onReboot,
        restart: { count: ++reboots, hostForwardPorts },
      });
      announce(gateway);
    } catch (err) {
      log(`reboot failed: ${err instanceof GatewayStartError ? err.message : String(err)}`);
      stop(1);
    } finally {
      rebooting = false;
    }
  }

  function stop(code: number): void {
    if (stopping) return;
    stopping = true;
    void gateway.close().then(
      () => resolveExit(code),
      (err: unknown) => {
        log(`shutdown: ${err instanceof Error ? err.message : String(err)}`);
        resolveExit(1);
      },
    );
  }
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  // Announced once the signal handlers are in place: a Ctrl-C right after the URL appears stops cleanly.
  announce(gateway);
  if (config.admin.password === undefined)
    quiet(log)(
      'admin changes are disabled: no admin password (set admin.password in the config file or POSTERN_ADMIN_PASSWORD)',
    );
  if (onStarted !== undefined)
    void (async () => onStarted(gateway, log))().catch((err: unknown) =>
      log(err instanceof Error ? err.message : String(err)),
    );
  return exited;
}

function quiet(log: (line: string) => void): (line: string) => void {
  return process.env['POSTERN_QUIET'] === '1' ? () => {} : log;
}

function announce(gateway: Gateway): void {
  for (const url of gateway.urls) process.stdout.write(`open ${url}\n`);
  if (gateway.urls.length === 0) {
    // An interface with ip "dhcp" has no address to name yet (its lease is logged when it comes).
    const ips = gateway.interfaces.filter((i) => i.config.ip !== 'dhcp').map((i) => i.config.ip.split('/')[0]);
    process.stdout.write(`listening on ${ips.map((ip) => `http://${ip}:${gateway.config.http.port}/`).join(' ')}\n`);
  }
}
