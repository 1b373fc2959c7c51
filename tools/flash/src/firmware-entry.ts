/**
 * The entry point of the gateway firmware image (`app/image-entry.mjs` once bundled by
 * {@link buildFirmwareImage}): runs the gateway from its command line and configuration as
 * `postern-gateway` does (`runGateway` of `@postern/gateway`, the one place that owns that program),
 * logging as `postern-firmware`; once the gateway is up it confirms the boot to the bootloader named
 * by the `POSTERN_BOOT_CONTROL` environment variable (a serial endpoint, docs/flash-protocol.md §7),
 * so a trial image that cannot start is rolled back.
 *
 * Exit status: 0 after SIGINT/SIGTERM; 1 when start-up fails (one line on stderr); 2 for a bad
 * command line or configuration; 75 when the admin API asked for a reboot (the board resets).
 */
import { runGateway, type Gateway } from '@postern/gateway';
import { BOOT_CONTROL_ENV, EXIT_REBOOT } from '@postern/firmware';
import { confirmRunningFirmware } from './client.js';

const NAME = 'postern-firmware';

/** Once the gateway is up: say where, then confirm the boot if a bootloader waits for it. */
async function confirmBoot(gateway: Gateway, say: (line: string) => void): Promise<void> {
  say(`up on ${gateway.interfaces.map((i) => i.config.ip).join(', ')}, HTTP port ${gateway.config.http.port}`);
  const control = process.env[BOOT_CONTROL_ENV];
  if (control === undefined || control === '') return;
  try {
    const slot = await confirmRunningFirmware(control);
    say(`boot confirmed (slot ${slot})`);
  } catch (err) {
    say(`boot confirmation failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

runGateway(process.argv.slice(2), { name: NAME, rebootExitStatus: EXIT_REBOOT, onStarted: confirmBoot }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${NAME}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
