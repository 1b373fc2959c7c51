/**
 * The entry point of `postern-gateway` (bundled by tools/scripts/build-bins.mjs; bin/postern-gateway.mjs
 * runs the bundle in its own process): sizes V8's young generation ({@link fixYoungGeneration}, unless node's
 * command line or NODE_OPTIONS names a semi-space flag of the user's), then runs {@link main} and exits with its
 * status.
 */
import { main } from './run.js';
import { fixYoungGeneration, userSetsSemiSpace } from './young-generation.js';

if (!userSetsSemiSpace(process.execArgv, process.env['NODE_OPTIONS'])) fixYoungGeneration();

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`postern-gateway: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
