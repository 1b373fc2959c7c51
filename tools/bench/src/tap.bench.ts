/**
 * The TAP data path: frames/s and MB/s that {@link TapNicDriver} reads from and writes to a Linux TAP
 * device, each beside a reference measured in the same run on a second TAP device in the same
 * namespace:
 *
 * - RX: the kernel floods UDP datagrams (1472-byte payload: 1514-byte frames) from inside a
 *   namespace to a neighbour address with a static ARP entry, routed over the TAP; we count frames
 *   delivered to the receiver, as a rate (first to last frame of the sample) and as a share of the
 *   frames the kernel offered (the rest were dropped by the TAP's queue while the reader lagged). Reference: the plain reader FIGURES.md measured, `fs.read` on a
 *   blocking descriptor through libuv's thread pool with 4 reads in flight. The rate the kernel
 *   offered (frames the TAP device sent or dropped) is reported beside.
 * - TX: `transmit` as fast as the TX ring takes frames; counted by the kernel (the device's
 *   rx_packets). Reference: `fs.writeSync` of one frame at a time on the main thread.
 *
 * Samples alternate driver and reference. Needs root, iproute2 and python3 (the flood sender).
 * The harness's samplers are synchronous and this is not, so it runs on its own:
 *
 *   node --conditions=@postern/source --import tsx tools/bench/src/tap-main.ts [durationMs] [samples]
 *
 * Bounded: every flood lasts `durationMs` and at most `maxFramesPerSample` datagrams; the sender
 * runs under a kill timeout.
 */
import { closeSync, read, writeSync } from 'node:fs';
import { TapNicDriver, openTapFd, type TapFd } from '@postern/nic';
import { writeMac } from '@postern/wire';
import { NetLab, netlabSkipReason } from '@postern/netlab';
import { summarize } from './stats.js';
import type { FigureResult } from './harness.js';

/** Options of {@link tapBenchmarks}. */
export interface TapBenchOptions {
  /** Length of one sample (one flood, one write burst) in ms. Default 1000. */
  durationMs?: number;
  /** Samples per figure and per reference. Default 5. */
  samples?: number;
  /** Largest number of datagrams one flood sends. Default 2,000,000. */
  maxFramesPerSample?: number;
}

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
  return { fps: (rx.frames - 1) / seconds, mbps: ((rx.bytes * (rx.frames - 1)) / rx.frames) / 1e6 / seconds };
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

/**
 * Runs the TAP figures and resolves with harness-style results (print them with `formatTable`).
 * Resolves with an empty list, after printing why, when the lab cannot be built (no root).
 */
export async function tapBenchmarks(options: TapBenchOptions = {}): Promise<FigureResult[]> {
  const durationMs = options.durationMs ?? 1000;
  const samples = options.samples ?? 5;
  const limit = options.maxFramesPerSample ?? 2_000_000;
  const why = await netlabSkipReason({ needTap: true });
  if (why !== undefined) {
    console.error(`tap bench: not run: ${why}`);
    return [];
  }
  const lab = new NetLab();
  let driver: TapNicDriver | undefined;
  let ref: TapFd | undefined;
  try {
    const ns = await lab.namespace();
    await lab.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1']);
    const drvName = await lab.tap();
    const refName = await lab.tap();
    driver = new TapNicDriver({ ifname: drvName, mac: parseInt(OUR_MAC.replaceAll(':', ''), 16) });
    let rx = newRx();
    driver.onReceive((f) => count(rx, f.length - 4));
    await driver.open();
    ref = await openTapFd(refName, { nonBlocking: false });
    let refRx = newRx();
    threadPoolReader(ref.fd, REFERENCE_READS_IN_FLIGHT, (n) => count(refRx, n));
    const subnet = { [drvName]: '198.18.1', [refName]: '198.18.2' };
    for (const dev of [drvName, refName]) {
      await lab.moveToNamespace(dev, ns);
      await lab.setAddress(dev, `${subnet[dev]}.1/24`, ns);
      await lab.linkUp(dev, ns);
      await lab.addNeighbour(dev, `${subnet[dev]}.2`, OUR_MAC, ns);
    }
    const kernelMac = async (dev: string) => {
      const { stdout } = await lab.exec(ns, 'cat', [`/sys/class/net/${dev}/address`]);
      return parseInt(stdout.trim().replaceAll(':', ''), 16);
    };
    const offeredOf = async (dev: string) => {
      const c = await lab.linkCounters(dev, ns);
      return c.txPackets + c.txDropped;
    };
    const flood = async (dev: string): Promise<number> => {
      const before = await offeredOf(dev);
      await lab.exec(ns, 'python3', ['-c', FLOOD_SCRIPT, `${subnet[dev]}.2`, String(durationMs / 1000), String(UDP_PAYLOAD), String(limit)], { timeoutMs: durationMs + 10_000 });
      await sleep(100); // let the queued frames drain
      return (await offeredOf(dev)) - before;
    };

    type RxSamples = { fps: number[]; mbps: number[]; offered: number[]; delivered: number[] };
    const rxOwn: RxSamples = { fps: [], mbps: [], offered: [], delivered: [] };
    const rxRef: RxSamples = { fps: [], mbps: [], offered: [], delivered: [] };
    const sampleRx = async (which: 'own' | 'ref') => {
      const dev = which === 'own' ? drvName : refName;
      rx = newRx();
      refRx = newRx();
      const offered = await flood(dev);
      const counted = which === 'own' ? rx : refRx;
      const got = rates(counted);
      const into = which === 'own' ? rxOwn : rxRef;
      into.fps.push(got.fps);
      into.mbps.push(got.mbps);
      into.offered.push(offered / (durationMs / 1000));
      into.delivered.push(offered > 0 ? (100 * counted.frames) / offered : 0);
    };
    await sampleRx('own'); // warm-up pair, discarded
    await sampleRx('ref');
    for (const r of [rxOwn, rxRef]) r.fps.length = r.mbps.length = r.offered.length = r.delivered.length = 0;
    for (let i = 0; i < samples; i++) {
      const order: ('own' | 'ref')[] = i % 2 === 0 ? ['own', 'ref'] : ['ref', 'own'];
      for (const w of order) await sampleRx(w);
    }

    // TX: frames to the kernel's own MAC with a local experimental EtherType (counted, then dropped).
    const txOwn: number[] = [];
    const txRef: number[] = [];
    const drvMac = await kernelMac(drvName);
    const refMac = await kernelMac(refName);
    const frameTo = (mac: number, withFcs: boolean) => {
      const f = new Uint8Array(FRAME + (withFcs ? 4 : 0));
      writeMac(f, 0, mac);
      writeMac(f, 6, parseInt(OUR_MAC.replaceAll(':', ''), 16));
      f[12] = 0x88;
      f[13] = 0xb5;
      return f;
    };
    const ownFrame = frameTo(drvMac, true);
    const refFrame = frameTo(refMac, false);
    const d = driver;
    const sampleTx = async (which: 'own' | 'ref') => {
      const dev = which === 'own' ? drvName : refName;
      const before = (await lab.linkCounters(dev, ns)).rxPackets;
      const t0 = performance.now();
      if (which === 'own') {
        const written0 = d.ringStats.txWritten;
        let queued = 0;
        while (performance.now() - t0 < durationMs && queued < limit) {
          for (let i = 0; i < 256; i++) if (d.transmit(ownFrame)) queued++;
          await new Promise((r) => setImmediate(r));
        }
        while (d.ringStats.txWritten - written0 < queued) await new Promise((r) => setImmediate(r));
      } else {
        let n = 0;
        while (performance.now() - t0 < durationMs && n < limit) {
          for (let i = 0; i < 256; i++) writeSync(ref!.fd, refFrame);
          n += 256;
        }
      }
      const elapsed = (performance.now() - t0) / 1000;
      await sleep(50);
      const frames = (await lab.linkCounters(dev, ns)).rxPackets - before;
      (which === 'own' ? txOwn : txRef).push(frames / elapsed);
    };
    await sampleTx('own');
    await sampleTx('ref');
    txOwn.length = txRef.length = 0;
    for (let i = 0; i < samples; i++) {
      const order: ('own' | 'ref')[] = i % 2 === 0 ? ['own', 'ref'] : ['ref', 'own'];
      for (const w of order) await sampleTx(w);
    }

    const result = (figure: string, unit: string, own: number[], refName_: string | undefined, theirs: number[] | undefined): FigureResult => {
      const summary = summarize(own);
      const refSummary = theirs ? summarize(theirs) : undefined;
      return {
        benchmark: 'tap', figure, unit, samples: own, summary,
        ...(refName_ !== undefined && theirs !== undefined ? { reference: { name: refName_, samples: theirs, summary: refSummary } } : {}),
        ratio: refSummary && refSummary.median !== 0 ? summary.median / refSummary.median : undefined,
      };
    };
    const refReadName = `fs.read thread pool, ${REFERENCE_READS_IN_FLIGHT} in flight`;
    const fps = (v: number[]) => v.map((x) => Math.round(x));
    return [
      result(`RX ${FRAME} B, TapNicDriver (worker + ring)`, 'frames/s', fps(rxOwn.fps), refReadName, fps(rxRef.fps)),
      result(`RX ${FRAME} B, TapNicDriver (worker + ring)`, 'MB/s', rxOwn.mbps, refReadName, rxRef.mbps),
      result(`RX ${FRAME} B, share of offered frames delivered`, '%', rxOwn.delivered, refReadName, rxRef.delivered),
      result(`RX ${FRAME} B, kernel offered (driver samples)`, 'frames/s', fps(rxOwn.offered), 'kernel offered (reference samples)', fps(rxRef.offered)),
      result(`TX ${FRAME} B, TapNicDriver (worker + ring)`, 'frames/s', fps(txOwn), 'fs.writeSync per frame, main thread', fps(txRef)),
      result(`TX ${FRAME} B, TapNicDriver (worker + ring)`, 'MB/s', txOwn.map((x) => (x * FRAME) / 1e6), 'fs.writeSync per frame, main thread', txRef.map((x) => (x * FRAME) / 1e6)),
    ];
  } finally {
    await driver?.close();
    // Deleting the devices (with the namespace) fails the reference's blocked reads; then close its fd.
    await lab.cleanup();
    if (ref) closeSync(ref.fd);
  }
}
