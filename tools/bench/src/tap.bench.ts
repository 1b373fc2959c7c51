/**
 * The TAP data path: frames/s and MB/s that {@link TapNicDriver} reads from and writes to a Linux TAP
 * device, each beside a reference measured in the same run on a second TAP device in the same
 * network namespace (built by `@postern/netlab`, addresses from 198.18.0.0/15 only):
 *
 * - RX: the kernel floods UDP datagrams (1472-byte payload: 1514-byte frames) from inside the
 *   namespace to a neighbour address with a static ARP entry, routed over the TAP; we count frames
 *   delivered to the receiver, as a rate (first to last frame of the sample) and as a share of the
 *   frames the kernel offered (the rest were dropped by the TAP's queue while the reader lagged).
 *   Reference: the plain reader, `fs.read` on a blocking descriptor through
 *   libuv's thread pool with 4 reads in flight. The rate the kernel offered (frames the TAP device
 *   sent or dropped) is reported beside.
 * - TX: `transmit` as fast as the TX ring takes frames; counted by the kernel (the device's
 *   rx_packets). Reference: `fs.writeSync` of one frame at a time on the main thread.
 *
 * Needs root, iproute2, TUN/TAP and python3 (the flood sender); without them the rows say skipped.
 * Bounded: every flood lasts one sample (`sampleMs`) and at most {@link TAP_BENCH_MAX_FRAMES_PER_SAMPLE}
 * datagrams; the sender runs under a kill timeout. Teardown deletes the namespace and both devices.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, read, writeSync } from 'node:fs';
import { TapNicDriver, openTapFd, type TapFd } from '@postern/nic';
import { writeMac } from '@postern/wire';
import { NetLab, hasRoot, netlabSkipReason } from '@postern/netlab';
import type { Benchmark, Companion, Figure } from './harness.js';

/** Largest number of datagrams one flood sends. */
export const TAP_BENCH_MAX_FRAMES_PER_SAMPLE = 2_000_000;
const FRAME = 1514;
const UDP_PAYLOAD = FRAME - 14 - 20 - 8;
const OUR_MAC = '02:50:53:54:00:02';
const REFERENCE_READS_IN_FLIGHT = 4;

const FLOOD_SCRIPT = `
import socket, sys, time
dst, dur, size, limit = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes(size); addr = (dst, 9); send = s.sendto
end = time.monotonic() + dur; n = 0
while n < limit and time.monotonic() < end:
    for _ in range(64):
        try: send(payload, addr)
        except OSError: pass
    n += 64
print(n)
`;

interface Rx {
  frames: number;
  bytes: number;
  first: number;
  last: number;
}

function newRx(): Rx {
  return { frames: 0, bytes: 0, first: 0, last: 0 };
}

function count(rx: Rx, length: number): void {
  const t = performance.now();
  if (rx.frames === 0) rx.first = t;
  rx.last = t;
  rx.frames++;
  rx.bytes += length;
}

/** Frames/s and MB/s over first..last frame of a sample. */
function rates(rx: Rx): { fps: number; mbps: number } {
  const seconds = (rx.last - rx.first) / 1000;
  if (rx.frames < 2 || seconds <= 0) return { fps: 0, mbps: 0 };
  return { fps: (rx.frames - 1) / seconds, mbps: (rx.bytes * (rx.frames - 1)) / rx.frames / 1e6 / seconds };
}

/** The plain reference reader: `fs.read` through the thread pool, `inFlight` reads outstanding. */
function threadPoolReader(fd: number, inFlight: number, onFrame: (length: number) => void): void {
  for (let i = 0; i < inFlight; i++) {
    const buf = Buffer.alloc(2048);
    const again = (): void => {
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err) return; // the device was deleted: the bench is over
        onFrame(n);
        again();
      });
    };
    again();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const macNumber = (mac: string) => parseInt(mac.replaceAll(':', ''), 16);

/** What the last RX sample of one side saw besides its frame rate (read by companions). */
interface LastRx {
  mbps: number;
  deliveredPct: number;
  offeredFps: number;
}

/** Everything setup builds; filled step by step so that teardown can undo a half-done setup. */
interface TapRig {
  lab: NetLab;
  ns?: string;
  drvName?: string;
  refName?: string;
  driver?: TapNicDriver;
  ref?: TapFd;
  rx: Rx;
  refRx: Rx;
  ownFrame?: Uint8Array;
  refFrame?: Uint8Array;
}

let rig: TapRig | undefined;

interface ReadyRig extends TapRig {
  ns: string;
  drvName: string;
  refName: string;
  driver: TapNicDriver;
  ref: TapFd;
  ownFrame: Uint8Array;
  refFrame: Uint8Array;
}

function requireRig(): ReadyRig {
  const r = rig;
  if (
    r?.ns === undefined ||
    r.drvName === undefined ||
    r.refName === undefined ||
    r.driver === undefined ||
    r.ref === undefined ||
    r.ownFrame === undefined ||
    r.refFrame === undefined
  ) {
    throw new Error('tap bench: sampled before setup');
  }
  return r as ReadyRig;
}

const SUBNET_DRIVER = '198.18.1';
const SUBNET_REFERENCE = '198.18.2';

async function offeredOf(r: ReadyRig, dev: string): Promise<number> {
  const c = await r.lab.linkCounters(dev, r.ns);
  return c.txPackets + c.txDropped;
}

/** One RX sample: flood the driver's (`own`) or the reference's TAP for `ms`; frames/s received. */
async function sampleRx(which: 'own' | 'ref', ms: number, last: LastRx): Promise<number> {
  const r = requireRig();
  const dev = which === 'own' ? r.drvName : r.refName;
  const subnet = which === 'own' ? SUBNET_DRIVER : SUBNET_REFERENCE;
  r.rx = newRx();
  r.refRx = newRx();
  const before = await offeredOf(r, dev);
  await r.lab.exec(
    r.ns,
    'python3',
    [
      '-c',
      FLOOD_SCRIPT,
      `${subnet}.2`,
      String(ms / 1000),
      String(UDP_PAYLOAD),
      String(TAP_BENCH_MAX_FRAMES_PER_SAMPLE),
    ],
    { timeoutMs: ms + 10_000 },
  );
  await sleep(100); // let the queued frames drain
  const offered = (await offeredOf(r, dev)) - before;
  const counted = which === 'own' ? r.rx : r.refRx;
  const got = rates(counted);
  last.mbps = got.mbps;
  last.offeredFps = offered / (ms / 1000);
  last.deliveredPct = offered > 0 ? (100 * counted.frames) / offered : 0;
  return got.fps;
}

/** One TX sample: frames/s the kernel counted on the driver's (`own`) or the reference's TAP. */
async function sampleTx(which: 'own' | 'ref', ms: number): Promise<number> {
  const r = requireRig();
  const dev = which === 'own' ? r.drvName : r.refName;
  const before = (await r.lab.linkCounters(dev, r.ns)).rxPackets;
  const t0 = performance.now();
  if (which === 'own') {
    const d = r.driver;
    const written0 = d.ringStats.txWritten;
    let queued = 0;
    while (performance.now() - t0 < ms && queued < TAP_BENCH_MAX_FRAMES_PER_SAMPLE) {
      for (let i = 0; i < 256; i++) if (d.transmit(r.ownFrame)) queued++;
      await new Promise((res) => setImmediate(res));
    }
    const waitUntil = performance.now() + 5000;
    while (d.ringStats.txWritten - written0 < queued && performance.now() < waitUntil)
      await new Promise((res) => setImmediate(res));
  } else {
    let n = 0;
    while (performance.now() - t0 < ms && n < TAP_BENCH_MAX_FRAMES_PER_SAMPLE) {
      for (let i = 0; i < 256; i++) writeSync(r.ref.fd, r.refFrame);
      n += 256;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  await sleep(50);
  const frames = (await r.lab.linkCounters(dev, r.ns)).rxPackets - before;
  return frames / elapsed;
}

/** Why the TAP benchmark cannot run here, or undefined. */
async function tapSkipReason(): Promise<string | undefined> {
  if (!hasRoot()) return 'needs root (a network namespace and TAP devices)';
  const why = await netlabSkipReason({ needTap: true });
  if (why !== undefined) return why;
  const python = spawnSync('python3', ['-c', ''], { stdio: 'ignore' });
  if (python.error !== undefined || python.status !== 0) return 'needs python3 (the flood sender)';
  return undefined;
}

/** The TAP benchmark: TapNicDriver RX and TX beside plain fd readers and writers on a second TAP. */
export const tapBenchmark: Benchmark = {
  name: 'tap',
  description: `TapNicDriver (worker thread + shared ring) RX and TX of ${FRAME}-byte frames on a TAP in a namespace, beside fs.read through the thread pool and fs.writeSync on a second TAP`,
  sampleMs: 500,
  maxSamples: 5,
  skipReason: tapSkipReason,
  async setup(): Promise<void> {
    const r: TapRig = { lab: new NetLab(), rx: newRx(), refRx: newRx() };
    rig = r;
    const ns = await r.lab.namespace();
    r.ns = ns;
    await r.lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
    const drvName = await r.lab.tap();
    r.drvName = drvName;
    const refName = await r.lab.tap();
    r.refName = refName;
    const driver = new TapNicDriver({ ifname: drvName, mac: macNumber(OUR_MAC) });
    r.driver = driver;
    driver.onReceive((f: Uint8Array) => count(r.rx, f.length)); // a TAP frame carries no FCS
    await driver.open();
    const ref = await openTapFd(refName, { nonBlocking: false });
    r.ref = ref;
    threadPoolReader(ref.fd, REFERENCE_READS_IN_FLIGHT, (n) => count(r.refRx, n));
    const devices: ReadonlyArray<readonly [string, string]> = [
      [drvName, SUBNET_DRIVER],
      [refName, SUBNET_REFERENCE],
    ];
    for (const [dev, subnet] of devices) {
      await r.lab.moveToNamespace(dev, ns);
      await r.lab.setAddress(dev, `${subnet}.1/24`, ns);
      await r.lab.linkUp(dev, ns);
      await r.lab.addNeighbour(dev, `${subnet}.2`, OUR_MAC, ns);
    }
    const kernelMac = async (dev: string) =>
      macNumber((await r.lab.exec(ns, 'cat', [`/sys/class/net/${dev}/address`])).stdout.trim());
    // TX frames go to the kernel's own MAC with a local experimental EtherType (counted, then dropped).
    const frameTo = (mac: number, withFcs: boolean) => {
      const f = new Uint8Array(FRAME + (withFcs ? 4 : 0));
      writeMac(f, 0, mac);
      writeMac(f, 6, macNumber(OUR_MAC));
      f[12] = 0x88;
      f[13] = 0xb5;
      return f;
    };
    r.ownFrame = frameTo(await kernelMac(drvName), true);
    r.refFrame = frameTo(await kernelMac(refName), false);
  },
  async teardown(): Promise<void> {
    const r = rig;
    rig = undefined;
    if (r === undefined) return;
    try {
      await r.driver?.close();
    } finally {
      // Deleting the devices (with the namespace) fails the reference's blocked reads; then close its fd.
      await r.lab.cleanup();
      if (r.ref !== undefined) closeSync(r.ref.fd);
    }
  },
  figures(): Figure[] {
    const own: LastRx = { mbps: 0, deliveredPct: 0, offeredFps: 0 };
    const theirs: LastRx = { mbps: 0, deliveredPct: 0, offeredFps: 0 };
    const rxCompanions: Companion[] = [
      { name: `RX ${FRAME} B MB/s`, unit: 'MB/s', read: () => own.mbps, readReference: () => theirs.mbps },
      {
        name: `RX ${FRAME} B share of offered frames delivered`,
        unit: '%',
        read: () => own.deliveredPct,
        readReference: () => theirs.deliveredPct,
      },
      {
        name: `RX ${FRAME} B kernel offered`,
        unit: 'frames/s',
        read: () => own.offeredFps,
        readReference: () => theirs.offeredFps,
      },
    ];
    const txMbps = (fps: number) => (fps * FRAME) / 1e6;
    return [
      {
        name: `RX ${FRAME} B frames/s (TapNicDriver: worker + ring)`,
        unit: 'frames/s',
        sample: (ms) => sampleRx('own', ms, own),
        reference: {
          name: `fs.read thread pool, ${REFERENCE_READS_IN_FLIGHT} in flight`,
          sample: (ms) => sampleRx('ref', ms, theirs),
        },
        companions: rxCompanions,
      },
      {
        name: `TX ${FRAME} B frames/s (TapNicDriver: worker + ring)`,
        unit: 'frames/s',
        sample: (ms) => sampleTx('own', ms),
        reference: { name: 'fs.writeSync per frame, main thread', sample: (ms) => sampleTx('ref', ms) },
        companions: [{ name: `TX ${FRAME} B MB/s`, unit: 'MB/s', read: txMbps, readReference: txMbps }],
      },
    ];
  },
};
