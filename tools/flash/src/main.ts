/**
 * The entry point of `postern-flash` (the bin launcher runs this file with tsx). With `keygen` as
 * the program name's suffix (`postern-keygen`) the first argument may be left out.
 */
import { runFlashCli } from './cli.js';

const argv = process.argv.slice(2);
if (process.env['POSTERN_FLASH_COMMAND'] === 'keygen') argv.unshift('keygen');
runFlashCli(argv, { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t), tty: process.stderr.isTTY === true }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`postern-flash: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
