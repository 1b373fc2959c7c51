/**
 * The `postern-sim` command (see `postern-sim --help`): parses the flags, starts the simulator,
 * prints what the gateway needs, and runs until SIGINT/SIGTERM. Every error ends with one line on
 * stderr and a non-zero exit status (2 for a bad flag, 1 otherwise).
 */
import { ipv4ToString, macToString } from '@postern/wire';
import { BOOTLOADER_HELP_TEXT, extractBootloaderFlags, runBootloaderBoard } from './bootloader-cli.js';
import { HELP_TEXT, parseCommandLine } from './cli.js';
import { SimulatorError } from './errors.js';
import { createSimulator } from './simulator.js';

function die(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`postern-sim: ${message.split('\n')[0]}\n`);
  process.exit(err instanceof SimulatorError && err.code === 'BAD_ARGUMENT' ? 2 : 1);
}

async function main(): Promise<void> {
  const boot = extractBootloaderFlags(process.argv.slice(2));
  const cmd = parseCommandLine(boot.rest);
  if (cmd.help) {
    process.stdout.write(HELP_TEXT + BOOTLOADER_HELP_TEXT);
    return;
  }
  if (boot.flags !== undefined) {
    await runBootloaderBoard(boot.flags, cmd.options, (line) => void process.stdout.write(`postern-sim: ${line}\n`));
    return;
  }
  const sim = await createSimulator(cmd.options);
  const say = (line: string): void => {
    process.stdout.write(`postern-sim: ${line}\n`);
  };
  say(`serial ${sim.device.endpoint.address ?? ''}`);
  say(`device MAC ${macToString(sim.device.mac)}`);
  say(
    `host ${ipv4ToString(sim.host.address)} (MAC ${macToString(sim.host.device.mac)}), gateway expected at ${ipv4ToString(sim.gatewayAddress)}`,
  );
  for (const f of sim.forwarders) say(`hostfwd ${f.describe()}`);
  if (sim.tap !== undefined) say(`tap ${sim.tap.name}`);
  if (cmd.options.pcap !== undefined) say(`pcap ${cmd.options.pcap}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(() => process.exit(0), die);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  say('ready'); // once the signal handlers are in place: a signal right after it stops cleanly
}

main().catch(die);
