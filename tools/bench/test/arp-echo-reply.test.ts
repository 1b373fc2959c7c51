import { describe, expect, it } from 'vitest';
import { internetChecksum } from '@postern/wire';
import { arpReply, echoReply } from '../src/arp-echo-reply.js';

const OUR_MAC = new Uint8Array([0x02, 0, 0, 0, 0, 0x01]);
const PEER_MAC = [0x02, 0, 0, 0, 0, 0x02];
const OURS = 0xc612_0002; // 198.18.0.2
const PEER = 0xc612_0001;

/** An ICMP echo request PEER -> `to` with `optionWords` 32-bit words of IPv4 options and 12 payload bytes. */
function echoRequest(to: number, optionWords = 0): Uint8Array {
  const ihl = 5 + optionWords;
  const icmp = 14 + ihl * 4;
  const frame = new Uint8Array(icmp + 8 + 12);
  frame.set([...OUR_MAC, ...PEER_MAC, 0x08, 0x00, 0x40 | ihl]);
  const view = new DataView(frame.buffer);
  view.setUint16(16, frame.byteLength - 14);
  frame[14 + 8] = 64;
  frame[14 + 9] = 1;
  view.setUint32(26, PEER);
  view.setUint32(30, to);
  view.setUint16(24, internetChecksum(frame.subarray(14, icmp)));
  frame[icmp] = 8;
  view.setUint16(icmp + 4, 0x1234);
  view.setUint16(icmp + 6, 7);
  frame.fill(0x5a, icmp + 8);
  view.setUint16(icmp + 2, internetChecksum(frame.subarray(icmp)));
  return frame;
}

describe('ARP and echo replies of the TAP bench programs', () => {
  it('answers an ARP request for its address only, from its MAC to the asker', () => {
    const request = new Uint8Array(42);
    request.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...PEER_MAC, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, ...PEER_MAC]);
    new DataView(request.buffer).setUint32(28, PEER);
    new DataView(request.buffer).setUint32(38, OURS);
    const reply = arpReply(request, OUR_MAC, OURS)!;
    expect(reply.byteLength).toBe(42 + 4);
    expect([...reply.subarray(0, 6)]).toEqual(PEER_MAC);
    expect(reply[21]).toBe(2);
    expect([...reply.subarray(22, 28)]).toEqual([...OUR_MAC]);
    expect(new DataView(reply.buffer).getUint32(28)).toBe(OURS);
    expect([...reply.subarray(32, 38)]).toEqual(PEER_MAC);
    expect(new DataView(reply.buffer).getUint32(38)).toBe(PEER);
    new DataView(request.buffer).setUint32(38, OURS + 1);
    expect(arpReply(request, OUR_MAC, OURS)).toBeUndefined();
    expect(echoReply(request, OUR_MAC, OURS)).toBeUndefined();
  });

  it('answers a ping to its address (with or without IPv4 options) with valid checksums, and nothing else', () => {
    for (const optionWords of [0, 2]) {
      const request = echoRequest(OURS, optionWords);
      const reply = echoReply(request, OUR_MAC, OURS)!;
      const icmp = 14 + (5 + optionWords) * 4;
      expect(reply.byteLength, `options ${optionWords}`).toBe(request.byteLength + 4);
      expect([...reply.subarray(0, 12)]).toEqual([...PEER_MAC, ...OUR_MAC]);
      expect(new DataView(reply.buffer).getUint32(26)).toBe(OURS);
      expect(new DataView(reply.buffer).getUint32(30)).toBe(PEER);
      expect(internetChecksum(reply.subarray(14, icmp))).toBe(0);
      expect(reply[icmp]).toBe(0);
      expect(internetChecksum(reply.subarray(icmp, request.byteLength))).toBe(0);
      expect([...reply.subarray(icmp + 4, request.byteLength)]).toEqual([...request.subarray(icmp + 4)]);
      expect(arpReply(request, OUR_MAC, OURS)).toBeUndefined();
    }
    expect(echoReply(echoRequest(OURS + 1), OUR_MAC, OURS)).toBeUndefined();
    const whole = echoRequest(OURS);
    const truncated = whole.subarray(0, whole.byteLength - 4); // shorter than its IPv4 total length
    expect(echoReply(truncated, OUR_MAC, OURS)).toBeUndefined();
    const reply = echoRequest(OURS);
    reply[34] = 0;
    expect(echoReply(reply, OUR_MAC, OURS)).toBeUndefined();
  });
});
