/**
 * The entry point of `postern-flash` (the bin launcher runs this file). With
 * `POSTERN_FLASH_COMMAND=keygen` in the environment (the `postern-keygen` launcher) it runs
 * {@link runKeygenCli}. SIGINT/SIGTERM during a flash are handled by the CLI (a clean stop, status
 * 130/143); the process exits with the status the CLI resolves with.
 */
import { runFlashCli, runKeygenCli } from './cli.js';
import type { CliIo } from './cli.js';

const argv = process.argv.slice(2);
const io: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  tty: process.stderr.isTTY === true,
};
const run = process.env['POSTERN_FLASH_COMMAND'] === 'keygen' ? runKeygenCli(argv, io) : runFlashCli(argv, io);
run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`postern-flash: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
