/**
 * The IP layer's per-packet cost: packets per second forwarded by a router stack between two
 * in-memory links (64-byte and 1500-byte IP packets, UDP, delivered to a bound port on the far
 * host), and ICMP echo round trips per second between two stacks. The reference, in the same run,
 * is the bare in-memory link with `NetDevice`s and no stack, FCS written and checked alike: the
 * same frames over ONE link into a no-op handler (a forwarded packet crosses two links, so a
 * stack that cost nothing would show about 0.5x), and for the round trip a frame bounced back by
 * the peer's handler (two link crossings, as an echo).
 *
 * Everything runs on a virtual-clock scheduler driven by `runPending()`; only the sampler reads
 * wall time. Each injected frame is a fresh copy of a template (the stack forwards in place and
 * the link hands buffers over), in the figure and in the reference alike.
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack } from '@postern/netstack';
import { ETHERTYPE_IPV4, IP_PROTO_UDP, emitIpv4, emitUdp, parseIpv4, writeMac } from '@postern/wire';
import type { Benchmark, Figure, Sampler } from './harness.js';

/** Frames injected per scheduler run (below the memory link's 1024 in-flight bound). */
const BATCH = 256;
const A = parseIpv4('198.18.1.2');
const B = parseIpv4('198.18.2.2');
const PORT = 9000;

let linkSerial = 0;

function link(sched: Scheduler) {
  const n = ++linkSerial;
  const l = createMemoryLink(sched, {
    names: [`fwd${n}a`, `fwd${n}b`],
    macA: 0x02_00_00_00_10_00 + n * 2,
    macB: 0x02_00_00_00_10_01 + n * 2,
  });
  return { a: new NetDevice(l.a, sched), b: new NetDevice(l.b, sched) };
}

/** A wire-ready frame (FCS room included) carrying a UDP datagram of `ipLength` bytes from A to B. */
function udpFrame(ipLength: number, dstMac: number, srcMac: number): Uint8Array {
  const payloadLength = ipLength - 28;
  const frame = new Uint8Array(Math.max(14 + ipLength, 60) + 4);
  writeMac(frame, 0, dstMac);
  writeMac(frame, 6, srcMac);
  frame[12] = ETHERTYPE_IPV4 >>> 8;
  frame[13] = ETHERTYPE_IPV4 & 0xff;
  const ip = frame.subarray(14, 14 + ipLength);
  emitUdp({ srcPort: 4000, dstPort: PORT }, ip.subarray(20), A, B, new Uint8Array(payloadLength));
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: 1,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO_UDP,
      source: A,
      destination: B,
      options: new Uint8Array(0),
      payloadLength: 8 + payloadLength,
    },
    ip,
  );
  return frame;
}

/** Runs `round()` (which returns how many packets it completed) until `budgetMs` pass; returns packets per second. */
function rateSampler(round: () => number): Sampler {
  return (budgetMs) => {
    let packets = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < budgetMs) {
      packets += round();
      elapsed = performance.now() - t0;
    }
    return packets / (elapsed / 1000);
  };
}

/** A (raw injector) -- R (router stack) -- B (host stack with a bound UDP port): packets forwarded per second. */
function forwardFigure(ipLength: number): Sampler {
  const sched = new Scheduler({ seed: 3 });
  const l1 = link(sched);
  const l2 = link(sched);
  const r = new Stack(sched, { forwarding: true });
  const b = new Stack(sched);
  r.addInterface(l1.b).addAddress(parseIpv4('198.18.1.1'), 24);
  r.addInterface(l2.a).addAddress(parseIpv4('198.18.2.1'), 24);
  b.addInterface(l2.b).addAddress(B, 24);
  b.routes.setDefaultRoute(parseIpv4('198.18.2.1'));
  let received = 0;
  b.udp.bind(PORT, () => {
    received++;
  });
  for (const d of [l1.a, l1.b, l2.a, l2.b]) openNow(d);
  sched.runPending();
  const template = udpFrame(ipLength, l1.b.mac, l1.a.mac);
  const round = () => {
    const before = received;
    for (let i = 0; i < BATCH; i++) l1.a.transmit(template.slice());
    sched.runPending();
    return received - before;
  };
  round(); // resolves B's MAC on the router
  if (r.ipCounters.get('forwarded') === 0) throw new Error('forward bench: the router forwarded nothing');
  return rateSampler(round);
}

/** The same frames over one bare link into a NetDevice with a no-op handler. */
function linkReference(ipLength: number): Sampler {
  const sched = new Scheduler({ seed: 3 });
  const l = link(sched);
  let received = 0;
  l.b.onEtherType(ETHERTYPE_IPV4, () => {
    received++;
  });
  openNow(l.a);
  openNow(l.b);
  const template = udpFrame(ipLength, l.b.mac, l.a.mac);
  return rateSampler(() => {
    const before = received;
    for (let i = 0; i < BATCH; i++) l.a.transmit(template.slice());
    sched.runPending();
    return received - before;
  });
}

/** ICMP echo round trips per second between two stacks on one link (56 data bytes, one at a time). */
function echoFigure(): Sampler {
  const sched = new Scheduler({ seed: 5 });
  const l = link(sched);
  const a = new Stack(sched);
  const b = new Stack(sched);
  a.addInterface(l.a).addAddress(A, 24);
  b.addInterface(l.b).addAddress(parseIpv4('198.18.1.3'), 24);
  openNow(l.a);
  openNow(l.b);
  let replies = 0;
  const onReply = (error: unknown) => {
    if (error === undefined) replies++;
  };
  const dst = parseIpv4('198.18.1.3');
  const round = () => {
    const before = replies;
    for (let i = 0; i < 64; i++) {
      a.icmp.echo({ dst, timeoutMs: 60_000 }, onReply);
      sched.runPending();
    }
    return replies - before;
  };
  round();
  if (replies === 0) throw new Error('echo bench: no reply');
  return rateSampler(round);
}

/** A frame bounced back by the peer's handler: the bare link's round trip. */
function bounceReference(): Sampler {
  const sched = new Scheduler({ seed: 5 });
  const l = link(sched);
  let back = 0;
  const template = udpFrame(84, l.b.mac, l.a.mac);
  const reply = udpFrame(84, l.a.mac, l.b.mac);
  l.b.onEtherType(ETHERTYPE_IPV4, () => {
    l.b.transmit(reply.slice());
  });
  l.a.onEtherType(ETHERTYPE_IPV4, () => {
    back++;
  });
  openNow(l.a);
  openNow(l.b);
  return rateSampler(() => {
    const before = back;
    for (let i = 0; i < 64; i++) {
      l.a.transmit(template.slice());
      sched.runPending();
    }
    return back - before;
  });
}

/**
 * Opens a device on a memory link. `NetDevice.open` registers its IRQ line and opens the driver
 * before its first `await`, and a memory link endpoint opens at once, so the device is usable when
 * this returns; a failure would surface as a thrown error from the bench's own sanity check.
 */
function openNow(device: NetDevice): void {
  void device.open();
  if (!device.isOpen) throw new Error(`forward bench: ${device.name} did not open`);
}

/** The forwarding benchmark. */
export const forwardBenchmark: Benchmark = {
  name: 'forward',
  description:
    'router stack packets/s between two in-memory links (64 B, 1500 B) and ICMP echo round trips/s, beside the bare link frame rate',
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const size of [64, 1500]) {
      figures.push({
        name: `forward UDP ${size} B`,
        unit: 'pkt/s',
        sample: forwardFigure(size),
        reference: { name: `bare link ${size} B`, sample: linkReference(size) },
      });
    }
    figures.push({
      name: 'ICMP echo round trip',
      unit: 'rt/s',
      sample: echoFigure(),
      reference: { name: 'bare link bounce', sample: bounceReference() },
    });
    return figures;
  },
};
