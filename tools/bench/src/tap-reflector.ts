/**
 * The bare Node TAP ceiling of the `http-compare-gateway` benchmark: a measuring instrument, not a
 * stack. `TapNicDriver` in its event-loop mode on a real-clock `Scheduler` with the microtask wake,
 * exactly as `postern-gateway` configures them, and a {@link TcpReflector} answering each received
 * frame (ARP, ping, one canned HTTP answer per request frame, a window-limited sender for
 * `GET /big`; see `tcp-reflector.ts`). What it costs per request is the least any Node program on
 * a TAP device pays: one read, one write, the event loop and the scheduler step; the gateway's
 * figures are measured beside it.
 *
 * Run as a child process (inside the client namespace):
 *   node --conditions=@postern/source --import tsx tools/bench/src/tap-reflector.ts IFNAME ADDRESS RESPONSE_FILE \
 *     [--close-response=FILE] [--io=fs | --tso=off]
 * `--close-response=FILE`: the canned answer (sent with our FIN) to a request that asks to close
 * (HTTP/1.0, `Connection: close`: the short-connection client); default RESPONSE_FILE's;
 * `--io=fs`: blocking `readSync`/`writeSync` instead of the driver (see {@link runBlocking});
 * `--tso=off`: the driver without TCP segmentation offload (plain 1,514-byte frames, one `write`
 * each), for manual comparisons of the bulk ceiling.
 * RESPONSE_FILE holds the canned answer to every request but `GET /big` (the bench copies the
 * gateway's own answer to `GET /small`, head and body, so both send the same bytes). It creates the
 * TAP device IFNAME, prints `ready`, and runs until SIGTERM.
 */
import { readFileSync, readSync, writeSync } from 'node:fs';
import { Scheduler } from '@postern/irq';
import { TapNicDriver, openTapFd } from '@postern/nic';
import { parseIpv4 } from '@postern/wire';
import { BIG_BODY_BYTES } from './http-servers.js';
import { TcpReflector } from './tcp-reflector.js';

const MAC = Uint8Array.of(0x02, 0x50, 0x53, 0x54, 0x00, 0xed);
/** How often a bulk flow without progress goes back to its first unacknowledged byte. */
const TICK_MS = 100;

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const [ifname, addressText, responseFile] = positional;
const closeResponseFile = flags.find((f) => f.startsWith('--close-response='))?.slice('--close-response='.length);
const unknown = flags.find((f) => !/^--(io=fs|tso=off|close-response=.+)$/.test(f));
if (ifname === undefined || addressText === undefined || responseFile === undefined || unknown !== undefined) {
  process.stderr.write(
    `tap-reflector: ${unknown === undefined ? 'missing arguments' : `unknown option ${unknown}`}; usage: tap-reflector.ts IFNAME ADDRESS RESPONSE_FILE [--close-response=FILE] [--io=fs | --tso=off]\n`,
  );
  process.exit(2);
}
const reflector = new TcpReflector({
  mac: MAC,
  address: parseIpv4(addressText),
  port: 80,
  response: readFileSync(responseFile),
  ...(closeResponseFile === undefined ? {} : { closeResponse: readFileSync(closeResponseFile) }),
  bigHead: Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BIG_BODY_BYTES}\r\n\r\n`,
    'latin1',
  ),
  bigBytes: BIG_BODY_BYTES,
});
if (flags.includes('--io=fs')) {
  runBlocking(ifname);
} else {
  await runOnDriver(ifname, !flags.includes('--tso=off'));
}

/** The driver path: as the gateway, a real-clock scheduler whose host wake is a microtask; the driver's TX queue is written at the end of each step of it. */
async function runOnDriver(ifname: string, tso: boolean): Promise<void> {
  const scheduler = new Scheduler({ clock: 'real', hostWake: 'microtask', seed: 46 });
  scheduler.start();
  const driver = new TapNicDriver({ ifname, create: true, scheduler, mac: 0x02_50_53_54_00_ed, tso });
  const send = (frame: Uint8Array): void => void driver.transmit(frame);
  driver.onReceive((frame) => reflector.input(frame, send));
  await driver.open();
  const ticker = setInterval(() => reflector.tick(send), TICK_MS);
  process.stdout.write(`ready ${driver.name} (${driver.io} I/O)\n`);
  process.on('SIGTERM', () => {
    clearInterval(ticker);
    process.stderr.write(`tap-reflector: ${JSON.stringify(reflector.counts)} ${JSON.stringify(driver.ringStats)}\n`);
    void driver.close().then(() => {
      scheduler.stop();
      process.exit(0);
    });
  });
}

/**
 * `--io=fs`: plain `fs` calls on a blocking descriptor, no event loop: `readSync` one frame, answer
 * with `writeSync`, forever (SIGTERM's default action ends it). The least a Node program can do per
 * frame; no timers, so a bulk flow recovers from a loss only by duplicate ACKs.
 */
function runBlocking(ifname: string): void {
  void openTapFd(ifname, { create: true, nonBlocking: false }).then((tap) => {
    const buffer = new Uint8Array(65536);
    const send = (frame: Uint8Array): void => void writeSync(tap.fd, frame, 0, frame.byteLength - 4);
    process.stdout.write(`ready tap:${tap.name} (blocking fs I/O)\n`);
    for (;;) {
      const n = readSync(tap.fd, buffer, 0, buffer.byteLength, null);
      reflector.input(buffer.subarray(0, n), send);
    }
  });
}
