/**
 * The IPv4 layer refills a few objects per datagram instead of making new ones: the header a
 * delivery carries (its addresses stored only when they change), the route choices a send reads
 * (a route-cache slot or one shared object, whose addresses go to the payload writer), and the
 * source half of the Ethernet header (copied from the interface). Reuse goes wrong by letting one
 * datagram's values reach the next: these tests send runs of datagrams whose fields change from
 * one to the next and check that each one's own values arrive.
 */
import { describe, expect, it } from 'vitest';
import { IPV4_BROADCAST, MAC_BROADCAST, readMac, readUint32 } from '@postern/wire';
import type { Ipv4Delivery } from '../src/index.js';
import { ANY_SOURCE, routeSlotIndex } from '../src/ipv4/route-cache.js';
import { inject, ip, rawIpv4, routed, twoHosts } from './support/net.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const PROTO = 253;

/** What a handler saw of one delivery, copied during the call. */
interface Seen {
  source: number;
  destination: number;
  ttl: number;
  dontFragment: boolean;
  identification: number;
  options: number[];
  payloadLength: number;
  payload: number[];
  destinationKind: string;
}

function see(d: Ipv4Delivery): Seen {
  return {
    source: d.header.source,
    destination: d.header.destination,
    ttl: d.header.ttl,
    dontFragment: d.header.dontFragment,
    identification: d.header.identification,
    options: [...d.header.options],
    payloadLength: d.header.payloadLength,
    payload: [...d.payload],
    destinationKind: d.destination,
  };
}

/** Wraps `driver.transmit` to keep a copy of every frame it is given. */
function capture(driver: { transmit(frame: Uint8Array): boolean }): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const inner = driver.transmit.bind(driver);
  driver.transmit = (frame: Uint8Array): boolean => {
    frames.push(frame.slice());
    return inner(frame);
  };
  return frames;
}

describe('IPv4 receive: the refilled delivery header carries each datagram its own fields', () => {
  it('delivers source, TTL, flags, options and payload of each datagram, though the header object is one', async () => {
    const { sched, a, b } = await twoHosts();
    const seen: Seen[] = [];
    const headers = new Set<object>();
    b.stack.registerProtocol(PROTO, (d) => {
      headers.add(d.header);
      seen.push(see(d));
    });
    const other = ip('198.18.0.77'); // another on-link sender (not a host of the pair)
    const high = ip('203.0.113.200'); // far away: both ends of an address are >= 2^31 here
    const sent = [
      { src: A, ttl: 64, df: true, identification: 1, options: [], payload: [1, 2, 3] },
      { src: other, ttl: 9, df: false, identification: 2, options: [1, 1, 1, 1], payload: [4, 5] },
      { src: other, ttl: 9, df: false, identification: 3, options: [], payload: [6, 7, 8, 9] },
      { src: high, ttl: 200, df: true, identification: 4, options: [], payload: [10] },
      { src: A, ttl: 1, df: false, identification: 5, options: [1, 1, 1, 1, 1, 1, 1, 1], payload: [] },
      { src: A, ttl: 2, df: true, identification: 6, options: [], payload: [11, 12] },
    ];
    for (const p of sent) {
      const packet = rawIpv4({
        src: p.src,
        dst: B,
        protocol: PROTO,
        ttl: p.ttl,
        df: p.df,
        identification: p.identification,
        options: Uint8Array.from(p.options),
        payload: Uint8Array.from(p.payload),
      });
      inject(a, b.device.mac, packet);
    }
    sched.advance(10);
    expect(seen).toEqual(
      sent.map((p) => ({
        source: p.src,
        destination: B,
        ttl: p.ttl,
        dontFragment: p.df,
        identification: p.identification,
        options: p.options,
        payloadLength: p.payload.length,
        payload: p.payload,
        destinationKind: 'unicast',
      })),
    );
    // One object for every unfragmented datagram (the contract: valid during the call only).
    expect(headers.size).toBe(1);
  });

  it('keeps no value of an earlier datagram: a broadcast between unicasts, and a looped-back datagram', async () => {
    const { sched, a, b } = await twoHosts();
    const atB: Seen[] = [];
    b.stack.registerProtocol(PROTO, (d) => atB.push(see(d)));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: PROTO, payload: Uint8Array.of(1) }));
    inject(a, MAC_BROADCAST, rawIpv4({ src: A, dst: IPV4_BROADCAST, protocol: PROTO, payload: Uint8Array.of(2) }));
    // B to itself: delivered from B's own frame in a later round.
    b.stack.sendIpv4({ dst: B, protocol: PROTO }, 1, (payload) => (payload[0] = 3));
    inject(a, b.device.mac, rawIpv4({ src: A, dst: B, protocol: PROTO, payload: Uint8Array.of(4) }));
    sched.advance(10);
    // In payload order (the looped-back datagram needs no link crossing: it may come first).
    const got = atB.map((s) => [s.source, s.destination, s.destinationKind, s.payload[0]!] as const);
    expect(got.sort((x, y) => x[3] - y[3])).toEqual([
      [A, B, 'unicast', 1],
      [A, IPV4_BROADCAST, 'broadcast', 2],
      [B, B, 'unicast', 3],
      [A, B, 'unicast', 4],
    ]);
  });
});

describe('IPv4 send: the reused route choice hands each datagram its own addresses', () => {
  it('passes the writer the source and destination of each datagram, cached, uncached and colliding', async () => {
    const { sched, a, b } = await twoHosts();
    const frames = capture(a.device.driver);
    // An on-link destination that shares B's route-cache slot: each send to it replaces B's choice.
    let rival = 0;
    for (let host = 3; host < 255 && rival === 0; host++) {
      const candidate = ip(`198.18.0.${host}`);
      if (routeSlotIndex(candidate, ANY_SOURCE) === routeSlotIndex(B, ANY_SOURCE)) rival = candidate;
    }
    expect(rival).not.toBe(0);
    const atB: Seen[] = [];
    b.stack.registerProtocol(PROTO, (d) => atB.push(see(d)));
    const writes: Array<[number, number]> = [];
    const dsts = [B, B, rival, B, IPV4_BROADCAST, B, A, rival, B];
    const used: number[] = [];
    for (const [i, dst] of dsts.entries()) {
      const ifIndex = dst === IPV4_BROADCAST ? a.iface.index : undefined;
      used.push(
        a.stack.sendIpv4({ dst, protocol: PROTO, ...(ifIndex === undefined ? {} : { ifIndex }) }, 2, (p, src, d) => {
          writes.push([src, d]);
          p[0] = i;
        }),
      );
      sched.advance(1);
    }
    sched.advance(10);
    expect(writes).toEqual(dsts.map((dst) => [A, dst]));
    expect(used).toEqual(dsts.map(() => A));
    // B got its own and the broadcast, in order, each with its own destination.
    expect(atB.map((s) => [s.destination, s.payload[0]])).toEqual(
      dsts.flatMap((dst, i) => (dst === B || dst === IPV4_BROADCAST ? [[dst, i]] : [])),
    );
    // Every IPv4 frame on the wire names the datagram's own destination, from A's MAC.
    const ipFrames = frames.filter((f) => f[12] === 0x08 && f[13] === 0x00);
    expect(ipFrames.map((f) => [readUint32(f, 30), f[34]])).toEqual(
      dsts.flatMap((dst, i) => (dst === B || dst === IPV4_BROADCAST ? [[dst, i]] : [])),
    );
    for (const f of ipFrames) expect(readMac(f, 6)).toBe(a.device.mac);
  });

  it("writes each interface's own MAC as the source of the frames it sends", async () => {
    const { sched, a, r, r2, b } = await routed();
    const out1 = capture(r.device.driver);
    const out2 = capture(r2.device.driver);
    expect(r.device.mac).not.toBe(r2.device.mac);
    // The router answers on both links, and forwards A's datagram to B on the second.
    const atB: number[] = [];
    b.stack.registerProtocol(PROTO, (d) => atB.push(d.payload[0]!));
    for (let i = 0; i < 3; i++) {
      r.stack.sendIpv4({ dst: ip('198.18.1.2'), protocol: PROTO }, 1, (p) => (p[0] = i));
      r.stack.sendIpv4({ dst: ip('198.18.2.2'), protocol: PROTO }, 1, (p) => (p[0] = 10 + i));
      a.stack.sendIpv4({ dst: ip('198.18.2.2'), protocol: PROTO }, 1, (p) => (p[0] = 20 + i));
      sched.advance(5);
    }
    sched.advance(10);
    expect(atB.sort((x, y) => x - y)).toEqual([10, 11, 12, 20, 21, 22]);
    const ipv4 = (frames: Uint8Array[]) => frames.filter((f) => f[12] === 0x08 && f[13] === 0x00);
    expect(ipv4(out1)).toHaveLength(3);
    expect(ipv4(out2)).toHaveLength(6);
    for (const f of ipv4(out1)) expect(readMac(f, 6)).toBe(r.device.mac);
    for (const f of ipv4(out2)) expect(readMac(f, 6)).toBe(r2.device.mac);
  });

  it('writes the MAC a device learned after its interface was made (a serial device reports it once connected)', async () => {
    const { sched, a } = await twoHosts();
    const frames = capture(a.device.driver);
    const send = (i: number) => a.stack.sendIpv4({ dst: B, protocol: PROTO }, 1, (p) => (p[0] = i));
    const first = a.device.mac;
    send(0);
    sched.advance(5);
    const learned = 0x02_00_5e_00_53_99;
    expect(first).not.toBe(learned);
    Object.defineProperty(a.device.driver, 'mac', { get: () => learned, configurable: true });
    send(1);
    sched.advance(5);
    const ipv4 = frames.filter((f) => f[12] === 0x08 && f[13] === 0x00);
    expect(ipv4.map((f) => [f[14 + 20], readMac(f, 6)])).toEqual([
      [0, first],
      [1, learned],
    ]);
  });
});
