/**
 * The `postern-board` program (see `postern-board --help`): parses the command line, then runs the
 * board until SIGINT/SIGTERM, or installs it. Every error ends with one line on stderr and a
 * non-zero exit status (2 for a bad command line, 1 otherwise).
 */
import { fileURLToPath } from 'node:url';
import { BOARD_HELP, parseBoardCommand } from './cli.js';
import { startDevBoard } from './dev-board.js';
import { BoardError } from './errors.js';
import { INSTALL_PATHS, installBoard } from './install.js';

const say = (line: string): void => void process.stdout.write(`postern-board: ${line}\n`);

function die(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`postern-board: ${message.split('\n')[0]}\n`);
  process.exit(err instanceof BoardError && err.code === 'BAD_ARGUMENT' ? 2 : 1);
}

async function main(): Promise<void> {
  const cmd = parseBoardCommand(process.argv.slice(2));
  if (cmd.kind === 'help') {
    process.stdout.write(BOARD_HELP);
    return;
  }
  if (cmd.kind === 'install') {
    const program = fileURLToPath(new URL('../bin/postern-board.mjs', import.meta.url));
    const files = installBoard({
      root: cmd.root,
      trustedKeyPem: cmd.trustedKeyPem,
      boardId: cmd.boardId,
      ethernet: cmd.ethernet,
      node: process.execPath,
      program,
    });
    for (const f of Object.values(files)) say(`wrote ${f}`);
    if (cmd.root === '/') say('next: systemctl daemon-reload && systemctl enable --now postern-board');
    else say(`staged under ${cmd.root} (${INSTALL_PATHS.unit} and the rest)`);
    return;
  }
  // Signals are taken from the start: one during start-up stops the board as soon as it is up, so no
  // firmware process it started is left behind.
  let stopRequested = false;
  let stop = (): void => {
    stopRequested = true;
  };
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());
  const board = await startDevBoard({
    port: cmd.port,
    stateDirectory: cmd.stateDirectory,
    trustedKey: cmd.trustedKeyPem,
    boardId: cmd.boardId,
    network: cmd.network,
    mac: cmd.mac,
    imageAddress: cmd.imageAddress,
    trialTimeoutMs: cmd.trialTimeoutMs,
    slotSize: cmd.slotSize,
    log: (line) => say(line),
  });
  const running = board.supervisor.firmware;
  say(
    `board ${board.bootloader.boardId} on ${cmd.port}, Ethernet ${board.network.ethernet} (bridge ${board.network.bridge}), running ${running === undefined ? 'nothing (bootloader)' : `slot ${running.slot}`}`,
  );
  let stopping = false;
  stop = (): void => {
    if (stopping) return;
    stopping = true;
    board.close().then(() => process.exit(0), die);
  };
  if (stopRequested) {
    stop();
    return;
  }
  say('ready');
}

main().catch(die);
