/**
 * `Ipv4Output.sendInFrame`: the same datagrams as `send`, with a writer that fills the payload in
 * the frame at an offset instead of through a view of its own. Two stack pairs with one seed (so
 * one identification sequence) send the same datagrams, one with each writer: every frame on the
 * wire must be byte-identical from the EtherType on (the pairs' MACs differ), fragments included.
 */
import { describe, expect, it } from 'vitest';
import { IPV4_BROADCAST } from '@postern/wire';
import type { Ipv4SendOptions } from '../src/index.js';
import { ip, twoHosts } from './support/net.js';

const A = ip('198.18.0.1');
const B = ip('198.18.0.2');
const PROTO = 253;

/** Payload byte `i` of datagram `n`. */
const byteOf = (n: number, i: number): number => (n * 31 + i * 7 + 1) & 0xff;

interface Case {
  options: Ipv4SendOptions;
  length: number;
}

const cases = (ifIndex: number): Case[] => [
  { options: { dst: B, protocol: PROTO, df: true }, length: 20 },
  { options: { dst: B, protocol: PROTO }, length: 0 },
  { options: { dst: B, protocol: PROTO, ttl: 9, tos: 0xb8 }, length: 7 },
  { options: { dst: B, protocol: PROTO, src: A }, length: 1480 },
  { options: { dst: B, protocol: PROTO }, length: 4000 }, // fragmented (MTU 1500, DF clear)
  { options: { dst: IPV4_BROADCAST, protocol: PROTO, ifIndex }, length: 33 },
  { options: { dst: B, protocol: PROTO, df: true }, length: 301 },
];

/** Sends every case from a fresh pair (seed 5) with `send` or `sendInFrame`; returns the frames A put on the wire and what B received. */
async function run(inFrame: boolean): Promise<{ frames: Uint8Array[]; received: number[][] }> {
  const { sched, a, b } = await twoHosts({ seed: 5 });
  const frames: Uint8Array[] = [];
  const driver = a.device.driver;
  const transmit = driver.transmit.bind(driver);
  driver.transmit = (frame) => frames.push(frame.slice()) > 0 && transmit(frame);
  const received: number[][] = [];
  b.stack.registerProtocol(PROTO, (d) => received.push([...d.payload]));
  for (const [n, c] of cases(a.iface.index).entries()) {
    if (inFrame) {
      a.stack.output.sendInFrame(c.options, c.length, (frame, at, length) => {
        expect(length).toBe(c.length);
        for (let i = 0; i < length; i++) {
          expect(frame[at + i]).toBe(0);
          frame[at + i] = byteOf(n, i);
        }
      });
    } else {
      a.stack.output.send(c.options, c.length, (payload) => {
        for (let i = 0; i < payload.length; i++) payload[i] = byteOf(n, i);
      });
    }
    sched.advance(5);
  }
  sched.advance(50);
  return { frames, received };
}

describe('Ipv4Output.sendInFrame', () => {
  it('puts on the wire exactly the frames send puts there, fragments and broadcasts included', async () => {
    const viaView = await run(false);
    const viaFrame = await run(true);
    // ARP request, then one frame per datagram and three fragments for the 4000-byte one.
    expect(viaView.frames.length).toBe(1 + cases(0).length + 2);
    // The pairs differ only in their MACs (and so in the FCS): compare from the EtherType to the FCS.
    const datagrams = (frames: Uint8Array[]): number[][] =>
      frames.slice(1).map((f) => [...f.subarray(12, f.length - 4)]);
    expect(datagrams(viaFrame.frames)).toEqual(datagrams(viaView.frames));
    const expected = cases(0).map((c, n) => Array.from({ length: c.length }, (_, i) => byteOf(n, i)));
    expect(viaView.received).toEqual(expected);
    expect(viaFrame.received).toEqual(expected);
  });

  it('gives the writer the payload offset in the frame, the length, and the addresses; loops back our own', async () => {
    const { sched, a } = await twoHosts({ seed: 5 });
    const seen: Array<[number, number, number, number, number]> = [];
    const looped: number[][] = [];
    a.stack.registerProtocol(PROTO, (d) => looped.push([...d.payload]));
    const write = (frame: Uint8Array, at: number, length: number, src: number, dst: number): void => {
      seen.push([frame.length, at, length, src, dst]);
      frame.fill(0xab, at, at + length);
    };
    a.stack.output.sendInFrame({ dst: B, protocol: PROTO }, 10, write);
    a.stack.output.sendInFrame({ dst: B, protocol: PROTO }, 3000, write);
    a.stack.output.sendInFrame({ dst: A, protocol: PROTO }, 2, write);
    sched.advance(20);
    expect(seen).toEqual([
      [64, 34, 10, A, B], // Ethernet + IPv4 header + 10 bytes, padded to 60, FCS room
      [3020, 20, 3000, A, B], // to be fragmented: the bare datagram
      [64, 34, 2, A, A],
    ]);
    expect(looped).toEqual([[0xab, 0xab]]);
  });
});
