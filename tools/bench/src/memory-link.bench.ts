/**
 * The NIC layer's per-frame cost on the in-memory link: frames per second (and MB/s) from one
 * {@link NetDevice} to another through {@link createMemoryLink}, on a virtual-clock scheduler driven by
 * `runPending()`, for minimum-size (64 B on the wire, FCS included) and full-size (1514 B plus FCS)
 * Ethernet frames. Each frame takes the whole path: FCS written on transmit, the link's delay line,
 * FCS check, destination filter, RX ring, IRQ, NAPI bottom half and EtherType dispatch to a handler.
 *
 * References, in the same run:
 * - for the NetDevice figure: the same link without NetDevices (endpoint `transmit` to the peer's
 *   receiver), so the ratio is what the device model costs on top of the cable;
 * - for the bare link figure: the raw {@link Ring} push + shift rate (the queue every stage is built
 *   on), so the ratio is what the cable's scheduling costs on top of its queue.
 *
 * MB/s counts the Ethernet frame as delivered to the handler (header + payload, FCS excluded: 60 and
 * 1514 bytes). The transmitted buffer is reused (its FCS rewritten each time), so the figures measure
 * the NIC path, not the allocator. A sample that loses a frame fails: the bench checks delivery.
 */
import { Ring, Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink, type MemoryLinkEndpoint } from '@postern/nic';
import { writeFcs, writeMac } from '@postern/wire';
import type { Benchmark, Figure, Sampler } from './harness.js';

/** Frames sent per scheduler run: under the RX ring (256) and the link's in-flight bound (1024). */
const BURST = 128;
/** A local experimental EtherType (IEEE 802 "local experimental 1"). */
const ETHERTYPE_BENCH = 0x88b5;
const FCS = 4;

/** The sizes measured, as wire frames with FCS: the Ethernet minimum and an untagged full-size frame. */
const SIZES: ReadonlyArray<{ label: string; wire: number }> = [
  { label: '64 B', wire: 64 },
  { label: '1514 B', wire: 1514 + FCS },
];

/** A wire frame (FCS included, written) from `src` to `dst` with deterministic payload. */
function benchFrame(wire: number, dst: number, src: number): Uint8Array {
  const f = new Uint8Array(wire);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = ETHERTYPE_BENCH >>> 8;
  f[13] = ETHERTYPE_BENCH & 0xff;
  let x = 0x2545f491;
  for (let i = 14; i < wire - FCS; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    f[i] = x >>> 24;
  }
  writeFcs(f);
  return f;
}

/** Runs `burst()` (which returns the frames it completed) until `budgetMs` pass; returns frames per second. */
function frameRate(burst: () => number): Sampler {
  return (budgetMs) => {
    let frames = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      frames += burst();
      elapsed = performance.now() - t0;
    }
    return frames / (elapsed / 1000);
  };
}

/** What setup builds: two NetDevices on one link, and a second link used bare. */
interface Rig {
  readonly scheduler: Scheduler;
  readonly tx: NetDevice;
  readonly rx: NetDevice;
  readonly bareA: MemoryLinkEndpoint;
  readonly bareB: MemoryLinkEndpoint;
  delivered: number;
  bareDelivered: number;
}

let rig: Rig | undefined;

function requireRig(): Rig {
  if (rig === undefined) throw new Error('memory-link bench: sampled before setup');
  return rig;
}

/** NetDevice -> link -> NetDevice: frames/s of `frame` delivered to the receiver's EtherType handler. */
function netDeviceSampler(frame: Uint8Array): Sampler {
  return frameRate(() => {
    const r = requireRig();
    const before = r.delivered;
    for (let i = 0; i < BURST; i++)
      if (!r.tx.transmit(frame))
        throw new Error(`memory-link bench: transmit refused (${JSON.stringify(r.tx.stats.driver)})`);
    r.scheduler.runPending();
    const got = r.delivered - before;
    if (got !== BURST)
      throw new Error(
        `memory-link bench: ${BURST - got} of ${BURST} frames lost (ring full ${r.rx.stats.rxDroppedRingFull}, FCS ${r.rx.stats.rxDroppedFcs}, filter ${r.rx.stats.rxDroppedFilter})`,
      );
    return got;
  });
}

/** The same link without NetDevices: endpoint transmit to the peer's receiver. */
function bareLinkSampler(frame: Uint8Array): Sampler {
  return frameRate(() => {
    const r = requireRig();
    const before = r.bareDelivered;
    for (let i = 0; i < BURST; i++)
      if (!r.bareA.transmit(frame)) throw new Error('memory-link bench: bare link refused a frame');
    r.scheduler.runPending();
    const got = r.bareDelivered - before;
    if (got !== BURST) throw new Error(`memory-link bench: bare link lost ${BURST - got} of ${BURST} frames`);
    return got;
  });
}

/** The raw queue: push a burst of frames into an irq Ring, then shift them all out. */
function ringSampler(frame: Uint8Array): Sampler {
  const ring = new Ring<Uint8Array>(256);
  let sink = 0;
  return frameRate(() => {
    for (let i = 0; i < BURST; i++) ring.push(frame);
    let got = 0;
    for (let f = ring.shift(); f !== undefined; f = ring.shift()) {
      sink ^= f.byteLength;
      got++;
    }
    if (got !== BURST || sink < 0) throw new Error('memory-link bench: ring lost frames');
    return got;
  });
}

/** The in-memory link benchmark: NetDevice to NetDevice over createMemoryLink, beside the bare link and the raw Ring. */
export const memoryLinkBenchmark: Benchmark = {
  name: 'memory-link',
  description:
    'frames/s and MB/s NetDevice -> createMemoryLink -> NetDevice on a virtual-clock scheduler (64 B, 1514 B), beside the bare link and the raw Ring push/shift',
  async setup(): Promise<void> {
    const scheduler = new Scheduler({ seed: 7 });
    const link = createMemoryLink(scheduler, { names: ['bench0', 'bench1'] });
    const bare = createMemoryLink(scheduler, { names: ['bare0', 'bare1'] });
    const r: Rig = {
      scheduler,
      tx: new NetDevice(link.a, scheduler),
      rx: new NetDevice(link.b, scheduler),
      bareA: bare.a,
      bareB: bare.b,
      delivered: 0,
      bareDelivered: 0,
    };
    rig = r;
    r.rx.onEtherType(ETHERTYPE_BENCH, () => {
      r.delivered++;
    });
    bare.b.onReceive(() => {
      r.bareDelivered++;
    });
    await Promise.all([r.tx.open(), r.rx.open(), bare.a.open(), bare.b.open()]);
    scheduler.runPending();
    if (r.tx.linkState !== 'up' || bare.a.linkState !== 'up')
      throw new Error('memory-link bench: link did not come up');
  },
  async teardown(): Promise<void> {
    const r = rig;
    rig = undefined;
    if (r === undefined) return;
    await Promise.all([r.tx.close(), r.rx.close(), r.bareA.close(), r.bareB.close()]);
  },
  figures(): Figure[] {
    const figures: Figure[] = [];
    const macA = 0x02_00_00_00_00_01;
    const macB = 0x02_00_00_00_00_02;
    for (const { label, wire } of SIZES) {
      const frame = benchFrame(wire, macB, macA);
      const bytes = wire - FCS;
      const mbps = (fps: number) => (fps * bytes) / 1e6;
      const bareName = `bare link (endpoint to endpoint) ${label}`;
      figures.push(
        {
          name: `NetDevice -> link -> NetDevice ${label}`,
          unit: 'frames/s',
          sample: netDeviceSampler(frame),
          reference: { name: bareName, sample: bareLinkSampler(frame) },
          companions: [
            { name: `NetDevice -> link -> NetDevice ${label} MB/s`, unit: 'MB/s', read: mbps, readReference: mbps },
          ],
        },
        {
          name: bareName,
          unit: 'frames/s',
          sample: bareLinkSampler(frame),
          reference: { name: `irq Ring push+shift`, sample: ringSampler(frame) },
        },
      );
    }
    return figures;
  },
};
