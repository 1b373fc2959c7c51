/**
 * The fault bridge as a program: `node --conditions=@postern/source --import tsx
 * tools/netlab/src/fault-bridge-main.ts --a TAP --b TAP --seed N [--loss R] ...` (see
 * `parseFaultBridgeArgs`). Prints `fault-bridge: ready`, forwards until SIGTERM, then prints its
 * counters. Exit 2 for a bad command line, 1 when a TAP cannot be had.
 */
import { runFaultBridgeProcess } from './fault-bridge.js';

process.exitCode = await runFaultBridgeProcess(process.argv.slice(2));
