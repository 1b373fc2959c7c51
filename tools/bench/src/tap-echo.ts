/**
 * The bare TAP echo: the floor of any Node program on a TAP device. `TapNicDriver` alone (no
 * NetDevice, no scheduler, no stack) answers ARP requests for one address and ICMP echo requests by
 * rewriting the received frame in place. Its ping round trip is what Node's event loop and the TAP
 * descriptor cost before any protocol work; the gateway's ping is measured beside it.
 *
 * Run as a child process (inside the client namespace):
 *   node --conditions=@postern/source --import tsx tools/bench/src/tap-echo.ts IFNAME ADDRESS
 * It creates the TAP device IFNAME, prints `ready`, and runs until SIGTERM.
 */
import { TapNicDriver } from '@postern/nic';
import { internetChecksum, parseIpv4 } from '@postern/wire';

const OUR_MAC = [0x02, 0x50, 0x53, 0x54, 0x00, 0xec];

/** Answers one received frame (no FCS) by transmitting the reply built in `out`, if it needs one. */
function answer(driver: TapNicDriver, address: number, frame: Uint8Array): void {
  const type = (frame[12]! << 8) | frame[13]!;
  const out = new Uint8Array(frame.byteLength + 4); // + the 4 FCS bytes a driver frame reserves
  out.set(frame);
  out.copyWithin(0, 6, 12);
  out.set(OUR_MAC, 6);
  if (type === 0x0806 && frame.byteLength >= 42 && frame[21] === 1) {
    const target = ((frame[38]! << 24) | (frame[39]! << 16) | (frame[40]! << 8) | frame[41]!) >>> 0;
    if (target !== address) return;
    out[21] = 2;
    out.set(frame.subarray(22, 32), 32); // sender -> target
    out.set(OUR_MAC, 22);
    out.set(frame.subarray(38, 42), 28);
    driver.transmit(out);
  } else if (type === 0x0800 && frame.byteLength >= 42 && frame[23] === 1 && frame[34] === 8) {
    const ipTotal = (frame[16]! << 8) | frame[17]!;
    out.set(frame.subarray(30, 34), 26);
    out.set(frame.subarray(26, 30), 30);
    out[34] = 0;
    out[36] = 0;
    out[37] = 0;
    const sum = internetChecksum(out.subarray(34, 14 + ipTotal));
    out[36] = sum >>> 8;
    out[37] = sum & 0xff;
    driver.transmit(out);
  }
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
