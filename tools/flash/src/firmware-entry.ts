/**
 * The entry point of the gateway firmware image (`app/image-entry.mjs` once bundled by
 * {@link buildFirmwareImage}): runs the gateway from its command line and configuration like
 * `postern-gateway` does, then, once the gateway is up, confirms the boot to the bootloader named
 * by the `POSTERN_BOOT_CONTROL` environment variable (a serial endpoint, docs/flash-protocol.md §7),
 * so a trial image that cannot start is rolled back.
 *
 * Exit status: 0 after SIGINT/SIGTERM; 1 when start-up fails (one line on stderr); 2 for a bad
 * command line; 75 when the admin API asked for a reboot (the board resets).
 */
import { HELP_TEXT, UsageError, loadConfig, parseCommandLine, startGateway, toStartError } from '@postern/gateway';
import { BOOT_CONTROL_ENV, EXIT_REBOOT } from '@postern/firmware';
import { confirmRunningFirmware } from './client.js';

const say = (line: string): void => void process.stderr.write(`postern-firmware: ${line}\n`);

async function run(argv: readonly string[]): Promise<number> {
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
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (resolveExit = r));
  let gateway;
  try {
    gateway = await startGateway(loadConfig(cli), {
      log: process.env['POSTERN_QUIET'] === '1' ? () => {} : say,
      onReboot: () => stop(EXIT_REBOOT),
    });
  } catch (err) {
    say(toStartError(err).message);
    return 1;
  }
  for (const url of gateway.urls) process.stdout.write(`open ${url}\n`);
  say(`up on ${gateway.interfaces.map((i) => i.config.ip).join(', ')}, HTTP port ${gateway.config.http.port}`);
  const control = process.env[BOOT_CONTROL_ENV];
  if (control !== undefined && control !== '') {
    try {
      const slot = await confirmRunningFirmware(control);
      say(`boot confirmed (slot ${slot})`);
    } catch (err) {
      say(`boot confirmation failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let stopping = false;
  function stop(code: number): void {
    if (stopping) return;
    stopping = true;
    void gateway!.close().then(
      () => resolveExit(code),
      () => resolveExit(1),
    );
  }
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  return exited;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
