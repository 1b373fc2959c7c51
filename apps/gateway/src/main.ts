/**
 * The entry point of `postern-gateway` (bundled by tools/scripts/build-bins.mjs; bin/postern-gateway.mjs
 * runs the bundle in its own process): runs {@link main} and exits with its status.
 */
import { main } from './run.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`postern-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
