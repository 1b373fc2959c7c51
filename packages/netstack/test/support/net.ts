/**
 * Test topologies on the virtual clock: hosts and a router joined by in-memory links, and a
 * builder for raw frames (to inject malformed or hand-made packets from a device).
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink, type MemoryLink } from '@postern/nic';
import { memoryPair } from '@postern/netlab';
import { emitIpv4, parseIpv4, ETHERTYPE_IPV4, writeMac, type Ipv4Repr, type MacAddress } from '@postern/wire';
import { Stack, type NetInterface, type StackOptions } from '../../src/index.js';

export const ip = parseIpv4;

/** One end of a link with its stack. */
export interface Host {
  stack: Stack;
  iface: NetInterface;
  device: NetDevice;
}

let linkCounter = 0;

/** A link between two devices on `sched`, with unique names and MACs. */
export function makeLink(sched: Scheduler, mtu = 1500): { link: MemoryLink; a: NetDevice; b: NetDevice } {
  const n = ++linkCounter;
  const link = createMemoryLink(sched, {
    names: [`l${n}a`, `l${n}b`],
    macA: 0x02_00_00_00_00_00 + n * 16 + 1,
    macB: 0x02_00_00_00_00_00 + n * 16 + 2,
    mtu,
  });
  return { link, a: new NetDevice(link.a, sched), b: new NetDevice(link.b, sched) };
}

/** Two hosts on one /24: a = 198.18.0.1, b = 198.18.0.2 (the kit's `memoryPair`, ARP not yet resolved). */
export async function twoHosts(options: { a?: StackOptions; b?: StackOptions; mtu?: number; seed?: number } = {}) {
  const sched = new Scheduler({ seed: options.seed ?? 7 });
  const { link, a, b, devA, devB, ifA, ifB } = await memoryPair(
    { createMemoryLink, NetDevice, Stack, parseIpv4 },
    sched,
    {
      tag: 'p',
      ...(options.a === undefined ? {} : { a: options.a }),
      ...(options.b === undefined ? {} : { b: options.b }),
      ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
      resolveArp: false,
    },
  );
  sched.runPending();
  return {
    sched,
    link,
    a: { stack: a, iface: ifA, device: devA } as Host,
    b: { stack: b, iface: ifB, device: devB } as Host,
  };
}

/**
 * A (198.18.1.2/24) -- R (198.18.1.1 | 198.18.2.1) -- B (198.18.2.2/24); A and B route by default
 * through R, which forwards.
 */
export async function routed(options: { router?: StackOptions; mtu2?: number; seed?: number } = {}) {
  const sched = new Scheduler({ seed: options.seed ?? 11 });
  const l1 = makeLink(sched);
  const l2 = makeLink(sched, options.mtu2);
  const a = new Stack(sched);
  const r = new Stack(sched, { forwarding: true, ...options.router });
  const b = new Stack(sched);
  const ifA = a.addInterface(l1.a);
  const ifR1 = r.addInterface(l1.b);
  const ifR2 = r.addInterface(l2.a);
  const ifB = b.addInterface(l2.b);
  ifA.addAddress(ip('198.18.1.2'), 24);
  ifR1.addAddress(ip('198.18.1.1'), 24);
  ifR2.addAddress(ip('198.18.2.1'), 24);
  ifB.addAddress(ip('198.18.2.2'), 24);
  a.routes.setDefaultRoute(ip('198.18.1.1'));
  b.routes.setDefaultRoute(ip('198.18.2.1'));
  for (const d of [l1.a, l1.b, l2.a, l2.b]) await d.open();
  sched.runPending();
  return {
    sched,
    links: [l1.link, l2.link] as const,
    a: { stack: a, iface: ifA, device: l1.a } as Host,
    r: { stack: r, iface: ifR1, device: l1.b } as Host,
    r2: { stack: r, iface: ifR2, device: l2.a } as Host,
    b: { stack: b, iface: ifB, device: l2.b } as Host,
  };
}

/** Runs the virtual clock until a promise settles and reports its outcome: the kit's `outcomeOnVirtualClock`. */
export { outcomeOnVirtualClock as settle } from '@postern/netlab';

/** Fields of a hand-made IPv4 packet; defaults make a valid 20-byte header. */
export interface RawIp {
  src: number;
  dst: number;
  protocol?: number;
  ttl?: number;
  payload?: Uint8Array;
  df?: boolean;
  mf?: boolean;
  fragmentOffset?: number;
  identification?: number;
  options?: Uint8Array;
}

/** A valid IPv4 packet for `raw`. */
export function rawIpv4(raw: RawIp): Uint8Array {
  const payload = raw.payload ?? new Uint8Array(8);
  const repr: Ipv4Repr = {
    dscp: 0,
    ecn: 0,
    identification: raw.identification ?? 1,
    dontFragment: raw.df ?? false,
    moreFragments: raw.mf ?? false,
    fragmentOffset: raw.fragmentOffset ?? 0,
    ttl: raw.ttl ?? 64,
    protocol: raw.protocol ?? 253,
    source: raw.src,
    destination: raw.dst,
    options: raw.options ?? new Uint8Array(0),
    payloadLength: payload.byteLength,
  };
  const out = new Uint8Array(20 + repr.options.byteLength + payload.byteLength);
  emitIpv4(repr, out, payload);
  return out;
}

/** A frame buffer (FCS room included) carrying `packet` with `etherType` from `src` to `dst` MAC. */
export function rawFrame(
  dst: MacAddress,
  src: MacAddress,
  packet: Uint8Array,
  etherType = ETHERTYPE_IPV4,
  pad = true,
): Uint8Array {
  const frame = new Uint8Array(Math.max(14 + packet.byteLength, pad ? 60 : 0) + 4);
  writeMac(frame, 0, dst);
  writeMac(frame, 6, src);
  frame[12] = etherType >>> 8;
  frame[13] = etherType & 0xff;
  frame.set(packet, 14);
  return frame;
}

/** Sends `packet` raw from `from`'s device to `toMac`. */
export function inject(
  from: Host,
  toMac: MacAddress,
  packet: Uint8Array,
  etherType = ETHERTYPE_IPV4,
  pad = true,
): void {
  if (!from.device.transmit(rawFrame(toMac, from.device.mac, packet, etherType, pad)))
    throw new Error('device refused the injected frame');
}
