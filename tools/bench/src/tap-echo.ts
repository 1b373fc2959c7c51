/**
 * The bare TAP echo: the floor of any Node program on a TAP device. `TapNicDriver` alone (no
 * NetDevice, no scheduler, no stack) answers ARP requests for one address and ICMP echo requests to
 * it with a rewritten copy of the received frame (`arp-echo-reply.ts`, as the TCP reflector does).
 * Its ping round trip is what Node's event loop and the TAP descriptor cost before any protocol
 * work; the gateway's ping is measured beside it.
 *
 * Run as a child process (inside the client namespace):
 *   node --conditions=@postern/source --import tsx tools/bench/src/tap-echo.ts IFNAME ADDRESS
 * It creates the TAP device IFNAME, prints `ready`, and runs until SIGTERM.
 */
import { TapNicDriver } from '@postern/nic';
import { parseIpv4 } from '@postern/wire';
import { arpReply, echoReply } from './arp-echo-reply.js';

const OUR_MAC = new Uint8Array([0x02, 0x50, 0x53, 0x54, 0x00, 0xec]);

/** Answers one received frame (no FCS): an ARP request for `address` or a ping to it; nothing else. */
function answer(driver: TapNicDriver, address: number, frame: Uint8Array): void {
  const reply = arpReply(frame, OUR_MAC, address) ?? echoReply(frame, OUR_MAC, address);
  if (reply !== undefined) driver.transmit(reply);
}

const [ifname, addressText] = process.argv.slice(2);
if (ifname === undefined || addressText === undefined) {
  process.stderr.write('usage: tap-echo.ts IFNAME ADDRESS\n');
  process.exit(2);
}
const address = parseIpv4(addressText);
const driver = new TapNicDriver({ ifname, create: true });
driver.onReceive((frame) => answer(driver, address, frame));
await driver.open();
process.stdout.write(`ready ${driver.name} (${driver.io} I/O)\n`);
process.on('SIGTERM', () => void driver.close().then(() => process.exit(0)));
