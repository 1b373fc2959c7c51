/**
 * The TAP driver against the Linux kernel. Each test attaches a driver to a fresh TAP device, moves
 * the device's kernel side into a fresh network namespace (the descriptor stays in this process)
 * and configures it there with 198.18.0.1/24; the driver plays 198.18.0.2. Needs root; without it
 * every test here skips with the reason in its title (and CI, which runs as root, counts a skip as
 * a failure).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ArpPacket,
  ETHERTYPE_ARP,
  emitArp,
  internetChecksum,
  macToString,
  parseArp,
  parseIpv4,
  parseMac,
  readMac,
  writeFcs,
  writeMac,
} from '@postern/wire';
import { Scheduler } from '@postern/irq';
import {
  ForwardingDriver,
  TapNicDriver,
  NicError,
  DEFAULT_TAP_MAC,
  type LinkState,
  type NicDriver,
  type TapIoMode,
} from '../src/index.js';
import { eventually, ip, NetLab, netlabSkipReason, tryCommand, uniqueName } from '@postern/netlab';
import { runDriverContract, type DriverPair } from './contract.js';
import { HandTcpSender } from './tcp-by-hand.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3'] }); // the TAP driver attaches through python3
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);

/**
 * The Python interpreter itself, asked once. A version manager's shim on PATH (pyenv's is a shell
 * script) took 4-7 s per start on a loaded machine: long enough for a kernel sink to start after its
 * test had given up waiting, closed the driver and so deleted the TAP and its address, and then fail
 * its bind with EADDRNOTAVAIL. Every helper here (the driver's attach helper included) runs this one.
 */
const PYTHON = skip === undefined ? await pythonExecutable() : 'python3';

async function pythonExecutable(): Promise<string> {
  const r = await tryCommand('python3', ['-c', 'import sys; print(sys.executable)'], { timeoutMs: 60_000 });
  const path = r.stdout.trim();
  return r.code === 0 && path !== '' ? path : 'python3';
}
const rootIt = it.skipIf(skip !== undefined);

const KERNEL_IP = '198.18.0.1';
const OUR_IP = '198.18.0.2';
const OUR_MAC = parseMac('02:50:53:54:00:02');

let lab = new NetLab({ disableIpv6: true });
const drivers: NicDriver[] = [];

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await lab.cleanup();
  lab = new NetLab({ disableIpv6: true });
});

/** A driver on a TAP device it creates, whose kernel side is moved into a fresh namespace as 198.18.0.1/24. */
async function attachedInNamespace(
  options: { rxRingSlots?: number; rxBatch?: number; io?: TapIoMode; scheduler?: Scheduler; tso?: boolean } = {},
) {
  const ns = await lab.namespace();
  const ifname = uniqueName('t');
  const driver = new TapNicDriver({ python: PYTHON, ifname, create: true, mac: OUR_MAC, ...options });
  drivers.push(driver);
  const frames: Uint8Array[] = [];
  driver.onReceive((f) => frames.push(f));
  await driver.open();
  const kernelMac = parseMac(await lab.moveAndConfigure(ifname, ns, { address: `${KERNEL_IP}/24` }));
  return { ns, ifname, driver, frames, kernelMac };
}

function etherType(frame: Uint8Array): number {
  return (frame[12]! << 8) | frame[13]!;
}

/** An ARP packet in a minimum-size wire frame (60 bytes + FCS). */
function arpFrame(
  op: typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY,
  dst: number,
  targetMac: number,
  targetIp: string,
): Uint8Array {
  const frame = new Uint8Array(64);
  writeMac(frame, 0, dst);
  writeMac(frame, 6, OUR_MAC);
  frame[12] = ETHERTYPE_ARP >>> 8;
  frame[13] = ETHERTYPE_ARP & 0xff;
  emitArp(
    {
      operation: op,
      senderHardwareAddress: OUR_MAC,
      senderProtocolAddress: parseIpv4(OUR_IP),
      targetHardwareAddress: targetMac,
      targetProtocolAddress: parseIpv4(targetIp),
    },
    frame.subarray(14),
  );
  writeFcs(frame);
  return frame;
}

/** The ARP packet in a received frame (a TAP frame carries no FCS). */
function arpOf(frame: Uint8Array) {
  return parseArp(ArpPacket.checked(frame.subarray(14)));
}

/** The echo reply to an ICMP echo request frame (no FCS, as a TAP delivers it), as a wire frame from us (4 FCS bytes reserved). */
function echoReply(request: Uint8Array): Uint8Array {
  const reply = new Uint8Array(request.length + 4);
  reply.set(request);
  const ihl = (reply[14]! & 0x0f) * 4;
  const ipTotal = (reply[16]! << 8) | reply[17]!;
  writeMac(reply, 0, readMac(request, 6));
  writeMac(reply, 6, OUR_MAC);
  reply.set(request.subarray(30, 34), 26);
  reply.set(request.subarray(26, 30), 30);
  reply[22] = 64;
  reply[24] = 0;
  reply[25] = 0;
  const ipSum = internetChecksum(reply.subarray(14, 14 + ihl));
  reply[24] = ipSum >>> 8;
  reply[25] = ipSum & 0xff;
  const icmp = 14 + ihl;
  reply[icmp] = 0;
  reply[icmp + 2] = 0;
  reply[icmp + 3] = 0;
  const icmpSum = internetChecksum(reply.subarray(icmp, 14 + ipTotal));
  reply[icmp + 2] = icmpSum >>> 8;
  reply[icmp + 3] = icmpSum & 0xff;
  writeFcs(reply);
  return reply;
}

function isEchoRequestTo(frame: Uint8Array, dstIp: string): boolean {
  if (etherType(frame) !== 0x0800 || frame[23] !== 1) return false;
  const ihl = (frame[14]! & 0x0f) * 4;
  const dst = ((frame[30]! << 24) | (frame[31]! << 16) | (frame[32]! << 8) | frame[33]!) >>> 0;
  return dst === parseIpv4(dstIp) && frame[14 + ihl] === 8;
}

/** UDP datagrams of the given payload sizes from the namespace to `to`:9, payload byte i = (seq + i) & 0xff. */
function udpSender(sizes: readonly number[], to: string): string[] {
  return [
    '-c',
    [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      `for seq, n in enumerate(${JSON.stringify(sizes)}):`,
      `    s.sendto(bytes((seq + i) & 0xff for i in range(n)), ('${to}', 9))`,
    ].join('\n'),
  ];
}

describe('TapNicDriver against the Linux kernel', () => {
  rootIt(
    title(
      "receives the kernel's ARP request (no FCS: the medium has none); the kernel learns our reply and gets its ping answered",
    ),
    async () => {
      const { ns, driver, frames, kernelMac } = await attachedInNamespace();
      // Answer ARP for 198.18.0.2 and echo requests to it, as a stack would.
      const answered: string[] = [];
      driver.onReceive((f) => {
        frames.push(f);
        if (etherType(f) === ETHERTYPE_ARP) {
          const arp = arpOf(f);
          if (arp.operation === ARP_OP_REQUEST && arp.targetProtocolAddress === parseIpv4(OUR_IP)) {
            expect(
              driver.transmit(arpFrame(ARP_OP_REPLY, arp.senderHardwareAddress, arp.senderHardwareAddress, KERNEL_IP)),
            ).toBe(true);
            answered.push('arp');
          }
        } else if (isEchoRequestTo(f, OUR_IP)) {
          expect(driver.transmit(echoReply(f))).toBe(true);
          answered.push('echo');
        }
      });
      const ping = await lab.exec(ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', OUR_IP], { timeoutMs: 10_000 });
      expect(ping.stdout).toMatch(/2 packets transmitted, 2 received/);

      const request = frames.find((f) => etherType(f) === ETHERTYPE_ARP && arpOf(f).operation === ARP_OP_REQUEST);
      expect(request).toBeDefined();
      expect(driver.fcs).toBe('none');
      expect(request!.length).toBe(42); // header + ARP, no padding and no FCS on a TAP
      expect(readMac(request!, 6)).toBe(kernelMac);
      const arp = arpOf(request!);
      expect(arp.senderHardwareAddress).toBe(kernelMac);
      expect(arp.senderProtocolAddress).toBe(parseIpv4(KERNEL_IP));
      expect(arp.targetProtocolAddress).toBe(parseIpv4(OUR_IP));
      expect(answered.filter((a) => a === 'echo')).toHaveLength(2);

      const neigh = JSON.parse((await ip(['-j', 'neigh', 'show', OUR_IP], ns)).stdout) as { lladdr?: string }[];
      expect(neigh[0]?.lladdr).toBe(macToString(OUR_MAC));
      expect(driver.stats.rxFrames).toBe(frames.length);
      expect(driver.stats.txFrames).toBe(3);
    },
  );

  rootIt(title("an ARP request we send gets the kernel's reply back through the driver"), async () => {
    const { driver, frames, kernelMac } = await attachedInNamespace();
    expect(driver.transmit(arpFrame(ARP_OP_REQUEST, 0xffff_ffff_ffff, 0, KERNEL_IP))).toBe(true);
    const isReply = (f: Uint8Array) => etherType(f) === ETHERTYPE_ARP && arpOf(f).operation === ARP_OP_REPLY;
    expect(await eventually(() => frames.some(isReply))).toBe(true);
    const reply = arpOf(frames.find(isReply)!);
    expect(reply.senderHardwareAddress).toBe(kernelMac);
    expect(reply.senderProtocolAddress).toBe(parseIpv4(KERNEL_IP));
    expect(reply.targetHardwareAddress).toBe(OUR_MAC);
    expect(reply.targetProtocolAddress).toBe(parseIpv4(OUR_IP));
  });

  rootIt(title('one transmit is one frame on the kernel side, FCS stripped'), async () => {
    const { ns, ifname, driver, kernelMac } = await attachedInNamespace();
    const counters = async () => {
      const row = (
        JSON.parse((await ip(['-j', '-s', 'link', 'show', 'dev', ifname], ns)).stdout) as {
          stats64: { rx: { packets: number; bytes: number } };
        }[]
      )[0]!;
      return row.stats64.rx;
    };
    const before = await counters();
    const sizes = [60, 61, 64, 100, 333, 1000, 1517, 1518, 64, 60];
    for (const [seq, size] of sizes.entries()) {
      const f = new Uint8Array(size);
      writeMac(f, 0, kernelMac);
      writeMac(f, 6, OUR_MAC);
      f[12] = 0x88;
      f[13] = 0xb5;
      f[14] = seq;
      writeFcs(f);
      expect(driver.transmit(f)).toBe(true);
    }
    const expectedBytes = sizes.reduce((s, n) => s + n - 4, 0);
    let after = before;
    expect(
      await eventually(async () => {
        after = await counters();
        return after.packets - before.packets >= sizes.length;
      }),
    ).toBe(true);
    expect(after.packets - before.packets).toBe(sizes.length);
    expect(after.bytes - before.bytes).toBe(expectedBytes);
    expect(driver.ringStats.txWritten).toBe(sizes.length);
    expect(driver.ringStats.txWritesQueued).toBe(0); // a TAP takes every frame at once
  });

  for (const io of ['event-loop', 'worker'] as const)
    rootIt(title(`one frame from the kernel is one received frame, without FCS (${io} I/O)`), async () => {
      const { ns, ifname, driver, frames } = await attachedInNamespace({ io });
      expect(driver.io).toBe(io);
      await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
      const sizes = [0, 1, 17, 18, 100, 1000, 1471, 1472];
      await lab.exec(ns, PYTHON, udpSender(sizes, OUR_IP));
      const udp = (f: Uint8Array) => etherType(f) === 0x0800 && f[23] === 17;
      expect(await eventually(() => frames.filter(udp).length >= sizes.length)).toBe(true);
      const got = frames.filter(udp);
      expect(got.map((f) => f.length)).toEqual(sizes.map((n) => 14 + 20 + 8 + n));
      for (const [seq, f] of got.entries()) {
        const payload = f.subarray(42);
        expect(payload.every((b, i) => b === ((seq + i) & 0xff))).toBe(true);
      }
      expect(driver.stats.rxBytes).toBe(frames.reduce((s, f) => s + f.length, 0));
      // No buffer per frame: frames are views into shared slabs, and none overwrote another (checked above).
      expect(new Set(got.map((f) => f.buffer)).size).toBeLessThan(got.length);
    });

  for (const io of ['event-loop', 'worker'] as const)
    rootIt(
      title(`frames transmitted in one go leave in one flush at the end of the scheduler step (${io} I/O)`),
      async () => {
        const scheduler = new Scheduler({ clock: 'real' });
        scheduler.start();
        try {
          const { ns, ifname, driver, kernelMac } = await attachedInNamespace({ io, scheduler });
          const kernelRx = async () =>
            (
              JSON.parse((await ip(['-j', '-s', 'link', 'show', 'dev', ifname], ns)).stdout) as {
                stats64: { rx: { packets: number } };
              }[]
            )[0]!.stats64.rx.packets;
          const before = await kernelRx();
          const flushes = driver.ringStats.txFlushes;
          const written = driver.ringStats.txWritten;
          for (let seq = 0; seq < 16; seq++) {
            const f = new Uint8Array(64);
            writeMac(f, 0, kernelMac);
            writeMac(f, 6, OUR_MAC);
            f[12] = 0x88;
            f[13] = 0xb5;
            f[14] = seq;
            expect(driver.transmit(f)).toBe(true);
          }
          // Nothing was written yet: the queue waits for the end of the step.
          expect(driver.ringStats.txWritten).toBe(written);
          expect(await eventually(async () => (await kernelRx()) - before >= 16)).toBe(true);
          expect((await kernelRx()) - before).toBe(16);
          expect(driver.ringStats.txWritten - written).toBe(16);
          expect(driver.ringStats.txFlushes - flushes).toBe(1);
        } finally {
          scheduler.stop();
        }
      },
    );

  rootIt(
    title(
      'event-loop I/O: frames transmitted during a wake-up (by the receiver, or by the turn it runs) leave when it ends, with no TX bottom half',
    ),
    async () => {
      const scheduler = new Scheduler({ clock: 'real', hostWake: 'microtask' });
      scheduler.start();
      try {
        const { ns, ifname, driver, kernelMac } = await attachedInNamespace({ io: 'event-loop', scheduler });
        await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
        const kernelRx = async () =>
          (
            JSON.parse((await ip(['-j', '-s', 'link', 'show', 'dev', ifname], ns)).stdout) as {
              stats64: { rx: { packets: number } };
            }[]
          )[0]!.stats64.rx.packets;
        let seq = 0;
        const answerFrame = (): Uint8Array => {
          const f = new Uint8Array(64);
          writeMac(f, 0, kernelMac);
          writeMac(f, 6, OUR_MAC);
          f[12] = 0x88;
          f[13] = 0xb5;
          f[14] = seq++;
          return f;
        };
        // Two frames from the receiver itself, two from a bottom half of the turn the wake-up runs.
        let answered = 0;
        let turnPolls = 0;
        let notWrittenYet = 0;
        const turnAnswer = {
          name: 'test answer',
          poll: (): number => {
            turnPolls++;
            const written = driver.ringStats.txWritten;
            expect(driver.transmit(answerFrame())).toBe(true);
            expect(driver.transmit(answerFrame())).toBe(true);
            if (driver.ringStats.txWritten === written) notWrittenYet++;
            return 0;
          },
        };
        driver.onReceive((f) => {
          if (etherType(f) !== 0x0800 || f[23] !== 17) return;
          answered++;
          expect(driver.transmit(answerFrame())).toBe(true);
          expect(driver.transmit(answerFrame())).toBe(true);
          scheduler.schedule(turnAnswer);
        });
        const before = await kernelRx();
        const runs = scheduler.stats.deferred.runs;
        const flushes = driver.ringStats.txFlushes;
        const written = driver.ringStats.txWritten;
        await lab.exec(ns, PYTHON, udpSender([10, 20, 30], OUR_IP));
        // The bottom half is scheduled once per turn however many datagrams the wake-up read: it answers once per turn.
        const sent = (): number => 2 * answered + 2 * turnPolls;
        const arrived = await eventually(async () => answered >= 3 && (await kernelRx()) - before >= sent());
        expect(
          arrived,
          `answered ${answered}, turns ${turnPolls}, kernel received ${(await kernelRx()) - before}`,
        ).toBe(true);
        expect(answered).toBe(3);
        expect((await kernelRx()) - before).toBe(sent());
        expect(driver.ringStats.txWritten - written).toBe(sent());
        // Every deferred poll was the test's own: the TX bottom half never ran.
        expect(scheduler.stats.deferred.runs - runs).toBe(turnPolls);
        expect(turnPolls).toBeGreaterThanOrEqual(1);
        // The turn's frames waited for the wake-up's end, like the receiver's; one flush per wake-up at most.
        expect(notWrittenYet).toBe(turnPolls);
        const flushed = driver.ringStats.txFlushes - flushes;
        expect(flushed).toBeGreaterThanOrEqual(1);
        expect(flushed).toBeLessThanOrEqual(answered);
      } finally {
        scheduler.stop();
      }
    },
  );

  rootIt(
    title('worker I/O: the RX interrupt is an IRQ line on the given scheduler, handled there, freed on close'),
    async () => {
      const scheduler = new Scheduler({ clock: 'real' });
      scheduler.start();
      try {
        const { ns, ifname, driver, frames } = await attachedInNamespace({ io: 'worker', scheduler });
        const line = `${driver.name} rx`;
        expect(scheduler.stats.irq.get(line)?.handled).toBe(0);
        await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
        await lab.exec(ns, PYTHON, udpSender([10, 20, 30], OUR_IP));
        const udp = (f: Uint8Array) => etherType(f) === 0x0800 && f[23] === 17;
        expect(await eventually(() => frames.filter(udp).length >= 3)).toBe(true);
        const stats = scheduler.stats.irq.get(line)!;
        expect(stats.handled).toBeGreaterThan(0);
        expect(stats.raised).toBeGreaterThanOrEqual(stats.handled);
        expect(scheduler.stats.deferred.items).toBeGreaterThanOrEqual(frames.length);
        await driver.close();
        expect(scheduler.stats.irq.has(line)).toBe(false);
      } finally {
        scheduler.stop();
      }
    },
  );

  rootIt(title('worker I/O: while the RX ring is full, frames wait in the kernel and none is lost'), async () => {
    const { ns, ifname, driver, frames } = await attachedInNamespace({ rxRingSlots: 4, rxBatch: 2, io: 'worker' });
    await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
    const count = 64;
    const sizes = Array.from({ length: count }, (_, i) => 10 + i);
    const sender = lab.exec(ns, PYTHON, udpSender(sizes, OUR_IP));
    // Block the main thread (no frame can be taken off the ring) while the sender runs.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
    await sender;
    const udp = (f: Uint8Array) => etherType(f) === 0x0800 && f[23] === 17;
    expect(await eventually(() => frames.filter(udp).length >= count)).toBe(true);
    expect(frames.filter(udp).map((f) => f.length - 42)).toEqual(sizes);
    expect(driver.ringStats.rxRingFull).toBeGreaterThan(0);
    expect(driver.stats.errors).toBe(0);
  });

  rootIt(
    title('event-loop I/O: frames queued in the kernel are read ahead, several per wake-up, all of them, in order'),
    async () => {
      const { ns, ifname, driver, frames } = await attachedInNamespace({ io: 'event-loop' });
      await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
      const count = 200;
      const sizes = Array.from({ length: count }, (_, i) => 10 + i);
      const done = join(mkdtempSync(join(tmpdir(), 'tap-burst-')), 'sent');
      const [flag, script] = udpSender(sizes, OUR_IP);
      const sender = lab.exec(ns, PYTHON, [flag!, `${script}\nopen('${done}', 'w').close()`]);
      // Block the main thread until the sender is done: the burst waits in the TAP's queue (500 frames deep).
      const block = new Int32Array(new SharedArrayBuffer(4));
      for (let waited = 0; !existsSync(done) && waited < 20_000; waited += 20) Atomics.wait(block, 0, 0, 20);
      await sender;
      rmSync(dirname(done), { recursive: true, force: true });
      const udp = (f: Uint8Array) => etherType(f) === 0x0800 && f[23] === 17;
      expect(await eventually(() => frames.filter(udp).length >= count)).toBe(true);
      expect(frames.filter(udp).map((f) => f.length - 42)).toEqual(sizes);
      const stats = driver.ringStats;
      expect(stats.rxReadAhead).toBeGreaterThan(count / 2);
      expect(stats.rxWakeups).toBeLessThan(count / 2);
      expect(stats.rxWakeups + stats.rxReadAhead).toBe(driver.stats.rxFrames);
      expect(driver.stats.errors).toBe(0);
    },
  );

  rootIt(
    title('drops and counts a frame longer than the MTU allows (device MTU raised after open), and goes on'),
    async () => {
      const { ns, ifname, driver, frames } = await attachedInNamespace();
      await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
      await ip(['link', 'set', 'dev', ifname, 'mtu', '4000'], ns);
      await lab.exec(ns, PYTHON, udpSender([3000, 100], OUR_IP));
      const udp = (f: Uint8Array) => etherType(f) === 0x0800 && f[23] === 17;
      expect(await eventually(() => frames.some(udp))).toBe(true);
      expect(frames.filter(udp).map((f) => f.length)).toEqual([14 + 28 + 100]);
      expect(driver.ringStats.rxOversize).toBe(1);
      expect(driver.stats.errors).toBe(1);
    },
  );

  rootIt(title('closes promptly while the kernel floods it, and delivers nothing after close'), async () => {
    const { ns, ifname, driver, frames } = await attachedInNamespace();
    await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
    const flood = lab.exec(
      ns,
      PYTHON,
      [
        '-c',
        [
          'import socket, time',
          's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          'end = time.monotonic() + 1.5',
          'n = 0',
          'while time.monotonic() < end and n < 500000:',
          '    n += 1',
          `    try: s.sendto(bytes(1000), ('${OUR_IP}', 9))`,
          '    except OSError: break  # the device went away with the driver',
        ].join('\n'),
      ],
      { timeoutMs: 10_000 },
    );
    expect(await eventually(() => frames.length > 1000)).toBe(true);
    await driver.close();
    const atClose = frames.length;
    expect(driver.linkState).toBe('down');
    await flood;
    await new Promise((r) => setTimeout(r, 50));
    expect(frames.length).toBe(atClose);
    expect(driver.stats.rxFrames).toBe(atClose);
  });

  rootIt(title('reports link down once when the device disappears, refuses transmit, and still closes'), async () => {
    const { ns, driver } = await attachedInNamespace();
    const events: LinkState[] = [];
    driver.onLinkChange((s) => events.push(s));
    await tryCommand('ip', ['netns', 'del', ns]); // takes the TAP device with it
    expect(await eventually(() => driver.linkState === 'down')).toBe(true);
    expect(events).toEqual(['down']);
    const refused = driver.stats.txDroppedLinkDown;
    expect(driver.transmit(arpFrame(ARP_OP_REQUEST, 0xffff_ffff_ffff, 0, KERNEL_IP))).toBe(false);
    expect(driver.stats.txDroppedLinkDown).toBe(refused + 1);
    await driver.close();
    expect(driver.linkState).toBe('down');
  });

  rootIt(
    title(
      'a frame sent while the kernel side is still down is refused (txDroppedLinkDown here, one RX drop in the kernel), and the link stays up',
    ),
    async () => {
      // As at a gateway's start: the driver creates the device, whose kernel side is down until someone sets it up.
      const ns = await lab.namespace();
      const ifname = uniqueName('t');
      const scheduler = new Scheduler({ clock: 'real' });
      scheduler.start();
      try {
        const driver = new TapNicDriver({ python: PYTHON, ifname, create: true, mac: OUR_MAC, scheduler });
        drivers.push(driver);
        await driver.open();
        await lab.moveToNamespace(ifname, ns);
        const before = await kernelRx(ns, ifname);
        expect(driver.transmit(arpFrame(ARP_OP_REQUEST, 0xffff_ffff_ffff, 0, KERNEL_IP))).toBe(true);
        expect(await eventually(() => driver.stats.txDroppedLinkDown === 1)).toBe(true);
        expect(driver.stats.txFrames).toBe(0);
        expect((await kernelRx(ns, ifname)).dropped - before.dropped).toBe(1);
        expect(driver.linkState).toBe('up');
        // Once the kernel side is up, frames go through.
        await ip(['link', 'set', 'dev', ifname, 'up'], ns);
        expect(driver.transmit(arpFrame(ARP_OP_REQUEST, 0xffff_ffff_ffff, 0, KERNEL_IP))).toBe(true);
        expect(await eventually(() => driver.stats.txFrames === 1)).toBe(true);
        expect((await kernelRx(ns, ifname)).packets - before.packets).toBe(1);
      } finally {
        scheduler.stop();
      }
    },
  );

  rootIt(
    title('a device it created goes away on close; a persistent one stays, and can be attached again'),
    async () => {
      const created = uniqueName('t');
      const d1 = new TapNicDriver({ python: PYTHON, ifname: created, create: true });
      drivers.push(d1);
      await d1.open();
      expect((await tryCommand('ip', ['link', 'show', 'dev', created])).code).toBe(0);
      await d1.close();
      expect((await tryCommand('ip', ['link', 'show', 'dev', created])).code).not.toBe(0);

      const persistent = uniqueName('t');
      lab.adopt(persistent);
      await ip(['tuntap', 'add', 'dev', persistent, 'mode', 'tap']);
      await ip(['link', 'set', 'dev', persistent, 'mtu', '1400']);
      const d2 = new TapNicDriver({ python: PYTHON, ifname: persistent });
      drivers.push(d2);
      await d2.open();
      expect(d2.mtu).toBe(1400);
      expect(d2.name).toBe(`tap:${persistent}`);
      expect(d2.mac).toBe(DEFAULT_TAP_MAC);
      await d2.close();
      expect((await tryCommand('ip', ['link', 'show', 'dev', persistent])).code).toBe(0);
      const d3 = new TapNicDriver({ python: PYTHON, ifname: persistent, mtu: 1280 });
      drivers.push(d3);
      await d3.open();
      expect(d3.mtu).toBe(1280);
      await expect(d3.open()).resolves.toBeUndefined();
      await d3.close();
      await expect(d3.open()).rejects.toMatchObject({ code: 'CLOSED' });
    },
  );

  rootIt(title('refuses to attach with typed errors: missing, busy, not a TAP'), async () => {
    const missing = new TapNicDriver({ python: PYTHON, ifname: uniqueName('t') });
    await expect(missing.open()).rejects.toMatchObject({ name: 'NicError', code: 'DEVICE_NOT_FOUND' });

    const busyName = uniqueName('t');
    const holder = new TapNicDriver({ python: PYTHON, ifname: busyName, create: true });
    drivers.push(holder);
    await holder.open();
    const second = new TapNicDriver({ python: PYTHON, ifname: busyName });
    await expect(second.open()).rejects.toMatchObject({ code: 'DEVICE_BUSY' });

    const tun = uniqueName('t');
    lab.adopt(tun);
    await ip(['tuntap', 'add', 'dev', tun, 'mode', 'tun']);
    await expect(new TapNicDriver({ python: PYTHON, ifname: tun }).open()).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });

    // The refused drivers left nothing open: the busy device can be had once its holder lets go.
    await holder.close();
  });
});

/** The kernel's receive counters of `ifname` in `ns` (for a TAP: what its driver wrote). */
async function kernelRx(ns: string, ifname: string) {
  const row = (
    JSON.parse((await ip(['-j', '-s', 'link', 'show', 'dev', ifname], ns)).stdout) as {
      stats64: { rx: { packets: number; bytes: number; errors: number; dropped: number } };
    }[]
  )[0]!;
  return row.stats64.rx;
}

/** The kernel's count of TCP segments it dropped for a bad checksum, in `ns`. */
async function tcpInCsumErrors(ns: string): Promise<number> {
  const snmp = (await lab.exec(ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = snmp[0]!.split(/\s+/);
  const values = snmp[1]!.split(/\s+/);
  return Number(values[names.indexOf('InCsumErrors')]);
}

/** A kernel TCP server in `ns` on port 5001: reads one connection to its end, prints `<bytes> <sha256>`. */
function kernelSink(ns: string) {
  const code = [
    'import hashlib, socket',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    "s.bind(('0.0.0.0', 5001))",
    's.listen(1)',
    's.settimeout(20)',
    'c, _ = s.accept()',
    'c.settimeout(20)',
    'h, n = hashlib.sha256(), 0',
    'while True:',
    '    d = c.recv(1 << 20)',
    '    if not d: break',
    '    h.update(d); n += len(d)',
    'print(n, h.hexdigest(), flush=True)',
  ].join('\n');
  return lab.exec(ns, PYTHON, ['-c', code], { timeoutMs: 30_000 });
}

/** Waits until something listens on TCP port 5001 in `ns`. */
async function listening(ns: string): Promise<boolean> {
  return eventually(
    async () => (await lab.exec(ns, 'ss', ['-Hltn', 'sport = :5001'])).stdout.includes('5001'),
    15_000,
    20,
  );
}

/**
 * A driver (with `options`) in a fresh namespace, a kernel sink listening there ({@link kernelSink}),
 * and a hand-made TCP sender on the driver from `ourPort` to the sink, not yet connected.
 */
async function tcpToKernelSink(options: { io?: TapIoMode; tso: boolean }, ourPort: number) {
  const { ns, ifname, driver, kernelMac } = await attachedInNamespace(options);
  await ip(['neigh', 'replace', OUR_IP, 'lladdr', macToString(OUR_MAC), 'dev', ifname, 'nud', 'permanent'], ns);
  const sink = kernelSink(ns);
  sink.catch(() => {}); // awaited by the test; a failure before that is reported by the assertions in between
  expect(await listening(ns)).toBe(true);
  const tcp = new HandTcpSender(driver, {
    ourMac: OUR_MAC,
    peerMac: kernelMac,
    ourIp: Uint8Array.of(198, 18, 0, 2),
    peerIp: Uint8Array.of(198, 18, 0, 1),
    ourPort,
    peerPort: 5001,
  });
  driver.onReceive((f) => tcp.receive(f));
  return { ns, ifname, driver, sink, tcp };
}

/** `bytes` of data that no short pattern repeats in (so a misplaced payload shows in the digest). */
function streamData(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  let x = 0x12345678;
  for (let i = 0; i < bytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

describe('TapNicDriver TCP segmentation offload (virtio-net header) against the Linux kernel', () => {
  const cases: { io: TapIoMode; tso: boolean; merges: boolean }[] = [
    { io: 'event-loop', tso: true, merges: true },
    { io: 'worker', tso: true, merges: false },
    { io: 'event-loop', tso: false, merges: false },
  ];
  for (const { io, tso, merges } of cases)
    rootIt(
      title(
        `a kernel TCP socket receives 2 MiB byte-exact, ${merges ? 'in GSO super-frames' : 'frame by frame'} (${io} I/O, tso ${tso})`,
      ),
      async () => {
        const { ns, ifname, driver, sink, tcp } = await tcpToKernelSink({ io, tso }, 40000);
        expect(driver.tso).toBe(tso);
        const before = await kernelRx(ns, ifname);
        expect(await tcp.connect()).toBe(true);
        const data = streamData(2 * 1024 * 1024);
        let segments = 0;
        for (let off = 0; off < data.length;) {
          const burst = Math.min(data.length - off, Math.floor(Math.min(tcp.peer.window, 40 * 1460) / 1460) * 1460);
          expect(burst).toBeGreaterThan(0);
          expect(await tcp.sendBurst(data.subarray(off, off + burst))).toBe(true);
          segments += Math.ceil(burst / 1460);
          off += burst;
        }
        tcp.close();
        const [count, digest] = (await sink).stdout.trim().split(' ');
        expect(Number(count)).toBe(data.length);
        expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
        const after = await kernelRx(ns, ifname);
        expect(after.errors - before.errors).toBe(0);
        expect(after.dropped - before.dropped).toBe(0);
        const frames = after.packets - before.packets; // SYN, ACK, data, FIN
        const stats = driver.ringStats;
        expect(stats.txWriteErrors).toBe(0);
        expect(stats.txMerging).toBe(merges);
        expect(driver.stats.txFrames).toBe(segments + 3);
        if (merges) {
          // Each burst of up to 40 segments is one write, one frame for the kernel.
          expect(frames).toBeLessThan(segments / 10);
          expect(stats.txSuperFrames).toBeGreaterThan(0);
          expect(stats.txCoalesced).toBeGreaterThan(segments / 2);
        } else {
          expect(frames).toBe(segments + 3);
          expect(stats.txSuperFrames).toBe(0);
        }
      },
    );

  rootIt(title('the kernel still verifies a super-frame: a damaged segment spoils it, and it is dropped'), async () => {
    const { ns, driver, sink, tcp } = await tcpToKernelSink({ tso: true }, 40001);
    expect(await tcp.connect()).toBe(true);
    const csumErrors = await tcpInCsumErrors(ns);
    const data = streamData(20 * 1460);
    expect(await tcp.sendBurst(data, 7)).toBe(false); // segment 7 damaged: nothing of the burst is taken
    expect(tcp.peer.acked).toBe(0);
    expect(await tcpInCsumErrors(ns)).toBe(csumErrors + 1);
    expect(driver.ringStats.txSuperFrames).toBe(1);
    expect(await tcp.sendBurst(data)).toBe(true); // sent again, undamaged
    tcp.close();
    const [count, digest] = (await sink).stdout.trim().split(' ');
    expect(Number(count)).toBe(data.length);
    expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe('TapNicDriver without a device', () => {
  it('rejects bad names and bad options with BAD_ARGUMENT before touching the kernel', async () => {
    await expect(new TapNicDriver({ ifname: 'a-name-longer-than-15' }).open()).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await expect(new TapNicDriver({ ifname: '' }).open()).rejects.toBeInstanceOf(NicError);
    expect(() => new TapNicDriver({ ifname: 'x', rxRingSlots: 100 })).toThrow(NicError);
    expect(() => new TapNicDriver({ ifname: 'x', mtu: 20 })).toThrow(NicError);
    expect(() => new TapNicDriver({ ifname: 'x', irqPriority: Number.NaN })).toThrow(NicError);
  });

  it('refuses transmit before open and counts it', () => {
    const d = new TapNicDriver({ ifname: 'pst-unused' });
    expect(d.linkState).toBe('down');
    expect(d.transmit(new Uint8Array(64))).toBe(false);
    expect(d.stats.txDroppedLinkDown).toBe(1);
    expect(d.stats.txFrames).toBe(0);
  });

  it('close before open is a no-op', async () => {
    const d = new TapNicDriver({ ifname: 'pst-unused' });
    await d.close();
    await d.close();
    expect(d.linkState).toBe('down');
  });
});

/**
 * Adapts a TAP driver for the contract pair: after the driver attaches (in this namespace, where
 * TUNSETIFF finds the device), its kernel side is moved into the bridge's namespace and enslaved.
 * Everything else is the driver itself.
 */
class BridgedTap extends ForwardingDriver {
  constructor(
    inner: TapNicDriver,
    private readonly ns: string,
    private readonly bridge: string,
    private readonly ifname: string,
  ) {
    super(inner);
  }
  override async open(): Promise<void> {
    await this.inner.open();
    await ip(['link', 'set', 'dev', this.ifname, 'netns', this.ns]);
    await ip(['link', 'set', 'dev', this.ifname, 'master', this.bridge], this.ns);
    await ip(['link', 'set', 'dev', this.ifname, 'up'], this.ns);
  }
}

async function bridgedTapPair(): Promise<DriverPair> {
  const pairLab = new NetLab({ disableIpv6: true });
  const ns = await pairLab.namespace();
  const bridge = uniqueName('b');
  // Without snooping the bridge joins no group of its own (with it, it reports 224.0.0.106 over IGMP,
  // a frame the contract's exact frame lists would not expect).
  await ip(['link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0'], ns);
  await ip(['link', 'set', 'dev', bridge, 'up'], ns);
  const [ta, tb] = [uniqueName('t'), uniqueName('t')];
  const sched = new Scheduler({ clock: 'real' });
  const a = new BridgedTap(
    new TapNicDriver({
      python: PYTHON,
      ifname: ta,
      create: true,
      mac: parseMac('02:50:53:54:0a:01'),
      scheduler: sched,
    }),
    ns,
    bridge,
    ta,
  );
  const b = new BridgedTap(
    new TapNicDriver({
      python: PYTHON,
      ifname: tb,
      create: true,
      mac: parseMac('02:50:53:54:0b:01'),
      scheduler: sched,
    }),
    ns,
    bridge,
    tb,
  );
  return {
    a,
    b,
    sched,
    async cleanup() {
      sched.stop();
      await pairLab.cleanup();
    },
  };
}

if (skip === undefined) {
  runDriverContract('TAP (two TAP devices on a Linux bridge in a namespace)', bridgedTapPair);
} else {
  it.skip(title('driver contract: TAP'), () => {});
}
