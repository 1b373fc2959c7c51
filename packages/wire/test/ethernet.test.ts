import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  emitEthernet,
  EthernetPacket,
  ethernetBufferLength,
  ethernetHeaderLength,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  parseEthernet,
  parseMac,
  TruncatedError,
  UnsupportedError,
  type EthernetRepr,
} from '../src/index.js';
import { ethernetReprArb, flipsArb, hex, mutated, onlyDecodeErrors } from './wire-arbitraries.js';

/** Reads every accessor; none may throw after `checked`. */
function readAll(p: EthernetPacket): unknown[] {
  return [
    p.destination,
    p.source,
    p.etherType,
    p.hasVlan,
    p.vlanTci,
    p.vlanId,
    p.hasServiceVlan,
    p.serviceVlanTci,
    p.payload,
    p.headerLength,
  ];
}

function decode(bytes: Uint8Array): void {
  const p = EthernetPacket.checked(bytes);
  readAll(p);
  parseEthernet(p);
}

// The frame of `ping -c1 127.0.0.1` captured on Linux `lo` (addresses are zero on loopback).
const LOOPBACK_PING = hex(`
  000000000000 000000000000 0800
  4500 0054 1666 4000 4001 2641 7f00 0001 7f00 0001
  0800 4ece 1edc 0001 1ada 066b 0000 0000 a93c 0100 0000 0000
  1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637`);

// An ARP reply in an 802.1Q tag (PCP 3, VID 100), padded to the 64-byte minimum of a tagged frame; decoded as such by tshark.
const TAGGED_ARP = hex(`
  000c29123456 005056c00008 8100 6064 0806
  0001 0800 06 04 0002 005056c00008 c0a80101 000c29123456 c0a80164
  000000000000000000000000000000000000`);

// QinQ: S-tag (PCP 5, VID 300) outside a C-tag (DEI, VID 42), then IPv4; decoded as such by tshark.
const QINQ_FRAME = hex(`
  01005e000016 000c29123456 88a8 a12c 8100 102a 0800
  46b9 0020 beef 4000 0102 7f05 c6120001 e0000016 94040000 2200 ddff 0000 0000`);

describe('EthernetPacket', () => {
  it('reads an untagged frame (a real loopback ping)', () => {
    const p = EthernetPacket.checked(LOOPBACK_PING);
    expect(p.destination).toBe(0);
    expect(p.source).toBe(0);
    expect(p.etherType).toBe(ETHERTYPE_IPV4);
    expect(p.hasVlan).toBe(false);
    expect(p.hasServiceVlan).toBe(false);
    expect(p.headerLength).toBe(14);
    expect(p.payload.byteLength).toBe(84);
    expect(p.payload[0]).toBe(0x45);
    // The payload is a view into the frame, not a copy.
    expect(p.payload.buffer).toBe(LOOPBACK_PING.buffer);
    expect(p.payload.byteOffset).toBe(LOOPBACK_PING.byteOffset + 14);
  });

  it('reads an 802.1Q-tagged frame', () => {
    const p = EthernetPacket.checked(TAGGED_ARP);
    expect(p.destination).toBe(parseMac('00:0c:29:12:34:56'));
    expect(p.source).toBe(parseMac('00:50:56:c0:00:08'));
    expect(p.hasVlan).toBe(true);
    expect(p.vlanTci).toBe(0x6064);
    expect(p.vlanId).toBe(100);
    expect(p.etherType).toBe(ETHERTYPE_ARP);
    expect(p.headerLength).toBe(18);
    expect(p.payload.byteLength).toBe(64 - 18);
    expect(parseEthernet(p)).toEqual({
      destination: parseMac('00:0c:29:12:34:56'),
      source: parseMac('00:50:56:c0:00:08'),
      etherType: ETHERTYPE_ARP,
      vlan: { pcp: 3, dei: false, vid: 100 },
      serviceVlan: null,
    });
  });

  it('reads a QinQ frame (802.1ad S-tag then 802.1Q C-tag)', () => {
    const p = EthernetPacket.checked(QINQ_FRAME);
    expect(p.headerLength).toBe(22);
    expect(p.etherType).toBe(ETHERTYPE_IPV4);
    expect(p.serviceVlanTci).toBe(0xa12c);
    expect(parseEthernet(p)).toEqual({
      destination: parseMac('01:00:5e:00:00:16'),
      source: parseMac('00:0c:29:12:34:56'),
      etherType: ETHERTYPE_IPV4,
      vlan: { pcp: 0, dei: true, vid: 42 },
      serviceVlan: { pcp: 5, dei: false, vid: 300 },
    });
    expect(p.payload[0]).toBe(0x46);
  });

  it('emits the tagged and QinQ frames byte for byte', () => {
    for (const frame of [TAGGED_ARP, QINQ_FRAME, LOOPBACK_PING]) {
      const p = EthernetPacket.checked(frame);
      const repr = parseEthernet(p);
      const out = new Uint8Array(frame.byteLength);
      expect(emitEthernet(repr, out, p.payload)).toBe(frame.byteLength);
      expect(out).toEqual(frame);
    }
  });

  it('needs the whole header, tags included', () => {
    expect(() => EthernetPacket.checked(new Uint8Array(13))).toThrow(TruncatedError);
    const e = onlyDecodeErrors(() => EthernetPacket.checked(TAGGED_ARP.subarray(0, 17)));
    expect(e).toBeInstanceOf(TruncatedError);
    expect((e as TruncatedError).needed).toBe(18);
    const q = onlyDecodeErrors(() => EthernetPacket.checked(QINQ_FRAME.subarray(0, 21)));
    expect((q as TruncatedError).needed).toBe(22);
    // A header with no payload at all is a valid (if useless) frame.
    expect(EthernetPacket.checked(TAGGED_ARP.subarray(0, 18)).payload.byteLength).toBe(0);
  });

  it('rejects 802.3 length frames and unsupported tag stacks as unsupported', () => {
    const llc = LOOPBACK_PING.slice();
    llc[12] = 0x00;
    llc[13] = 0x2e; // a length of 46: an LLC frame (e.g. spanning tree)
    expect(() => parseEthernet(EthernetPacket.checked(llc))).toThrow(UnsupportedError);
    const doubleQ = hex('000c29123456 005056c00008 8100 0064 8100 00c8 0800 4500');
    const p = EthernetPacket.checked(doubleQ);
    expect(p.etherType).toBe(0x8100);
    expect(() => parseEthernet(p)).toThrow(UnsupportedError);
  });

  it('rewrites addresses in place', () => {
    const frame = TAGGED_ARP.slice();
    const p = EthernetPacket.checked(frame);
    p.setDestination(parseMac('02:00:00:00:00:01'));
    p.setSource(parseMac('02:00:00:00:00:02'));
    expect(Array.from(frame.subarray(0, 12))).toEqual([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
    expect(frame.subarray(12)).toEqual(TAGGED_ARP.subarray(12));
  });

  it('honours a view that starts inside a larger buffer', () => {
    const pool = new Uint8Array(200);
    pool.set(TAGGED_ARP, 37);
    const p = EthernetPacket.checked(pool.subarray(37, 37 + TAGGED_ARP.byteLength));
    expect(p.vlanId).toBe(100);
    expect(p.payload.byteOffset).toBe(37 + 18);
  });
});

describe('emitEthernet', () => {
  const repr: EthernetRepr = { destination: 1, source: 2, etherType: ETHERTYPE_IPV4, vlan: null, serviceVlan: null };

  it('leaves an in-place payload alone and copies one from elsewhere', () => {
    const frame = new Uint8Array(20);
    frame.set([1, 2, 3, 4, 5, 6], 14);
    expect(emitEthernet(repr, frame, frame.subarray(14))).toBe(20);
    expect(Array.from(frame.subarray(14))).toEqual([1, 2, 3, 4, 5, 6]);
    // A payload elsewhere in the same buffer (overlapping the header) is moved correctly.
    const shifted = new Uint8Array(20);
    shifted.set([9, 8, 7, 6, 5, 4], 0);
    expect(emitEthernet(repr, shifted, shifted.subarray(0, 6))).toBe(20);
    expect(Array.from(shifted.subarray(14))).toEqual([9, 8, 7, 6, 5, 4]);
    expect(emitEthernet(repr, new Uint8Array(14))).toBe(14);
  });

  it('copies the payload only when it is not already in place', () => {
    const frame = new Uint8Array(20);
    const set = vi.spyOn(frame, 'set');
    emitEthernet(repr, frame, frame.subarray(14));
    expect(set).not.toHaveBeenCalled();
    // Same bytes, but a different ArrayBuffer: must be copied.
    emitEthernet(repr, frame, new Uint8Array(6));
    expect(set).toHaveBeenCalledTimes(1);
  });

  it('refuses a short buffer or an EtherType that would not parse back', () => {
    expect(() => emitEthernet(repr, new Uint8Array(13))).toThrow(RangeError);
    expect(() => emitEthernet({ ...repr, vlan: { pcp: 0, dei: false, vid: 1 } }, new Uint8Array(17))).toThrow(
      RangeError,
    );
    expect(() => emitEthernet(repr, new Uint8Array(15), new Uint8Array(2))).toThrow(RangeError);
    expect(() => emitEthernet({ ...repr, etherType: 0x8100 }, new Uint8Array(14))).toThrow(RangeError);
    expect(() => emitEthernet({ ...repr, etherType: 0x05dc }, new Uint8Array(14))).toThrow(RangeError);
  });
});

describe('Ethernet properties', () => {
  it('parse(checked(emit(repr))) equals repr, and the payload comes back', () => {
    fc.assert(
      fc.property(ethernetReprArb, fc.uint8Array({ maxLength: 64 }), (repr, payload) => {
        const buffer = new Uint8Array(ethernetBufferLength(repr, payload.byteLength));
        expect(emitEthernet(repr, buffer, payload)).toBe(buffer.byteLength);
        const p = EthernetPacket.checked(buffer);
        expect(parseEthernet(p)).toEqual(repr);
        expect(p.headerLength).toBe(ethernetHeaderLength(repr));
        expect(p.payload).toEqual(payload);
      }),
    );
  });

  it('arbitrary and corrupted bytes raise only DecodeErrors, and accessors never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void onlyDecodeErrors(() => decode(bytes))));
    fc.assert(
      fc.property(ethernetReprArb, flipsArb, (repr, flips) => {
        const buffer = new Uint8Array(ethernetBufferLength(repr, 4));
        emitEthernet(repr, buffer);
        onlyDecodeErrors(() => decode(mutated(buffer, flips)));
      }),
    );
  });

  it('every truncation of a valid frame raises only DecodeErrors (TruncatedError inside the header)', () => {
    fc.assert(
      fc.property(ethernetReprArb, (repr) => {
        const buffer = new Uint8Array(ethernetBufferLength(repr, 8));
        emitEthernet(repr, buffer);
        const header = ethernetHeaderLength(repr);
        for (let n = 0; n < buffer.byteLength; n++) {
          const e = onlyDecodeErrors(() => decode(buffer.subarray(0, n)));
          if (n < header) expect(e).toBeInstanceOf(TruncatedError);
          else expect(e).toBeUndefined();
        }
      }),
    );
  });
});
