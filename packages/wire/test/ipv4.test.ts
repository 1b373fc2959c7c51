import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  ChecksumError,
  emitIpv4,
  internetChecksum,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  IPV4_OPTION_ROUTER_ALERT,
  IPV4_OPTION_RECORD_ROUTE,
  ipv4BufferLength,
  ipv4HeaderChecksumValid,
  ipv4HeaderLength,
  Ipv4OptionReader,
  Ipv4Packet,
  ipv4PseudoHeaderSum,
  MalformedError,
  onesComplementSum,
  parseIpv4,
  parseIpv4Packet,
  TruncatedError,
  writeIpv4Header,
  type Ipv4Repr,
} from '../src/index.js';
import {
  flipsArb,
  hex,
  ipv4AddressArb,
  ipv4PacketArb,
  ipv4ReprArb,
  mutated,
  onlyDecodeErrors,
} from './wire-arbitraries.js';

function readAll(p: Ipv4Packet): unknown[] {
  return [
    p.version,
    p.ihl,
    p.headerLength,
    p.dscp,
    p.ecn,
    p.totalLength,
    p.identification,
    p.reservedFlag,
    p.dontFragment,
    p.moreFragments,
    p.fragmentOffset,
    p.isFragment,
    p.ttl,
    p.protocol,
    p.checksum,
    p.source,
    p.destination,
    p.options,
    p.payload,
    p.verifyChecksum(),
  ];
}

function decode(bytes: Uint8Array): void {
  const p = Ipv4Packet.checked(bytes);
  readAll(p);
  parseIpv4Packet(p, { checksum: 'ignore' });
  parseIpv4Packet(p);
}

// The IPv4 packet of `ping -c1 127.0.0.1` captured on Linux `lo`.
const LOOPBACK_PING = hex(`
  4500 0054 1666 4000 4001 2641 7f00 0001 7f00 0001
  0800 4ece 1edc 0001 1ada 066b 0000 0000 a93c 0100 0000 0000
  1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637`);

// A UDP datagram from `nc -u -p 40000 127.0.0.1 9` carrying "hello postern", captured on `lo`.
const LOOPBACK_UDP = hex(`
  4500 0029 52fe 4000 4011 e9c3 7f00 0001 7f00 0001
  9c40 0009 0015 fe28 6865 6c6c 6f20 706f 7374 6572 6e`);

/** The 2008-byte ICMP echo (id 0x1234, seq 7, data bytes 0,1,2,...) that the two fragments below carry. */
function fragmentedEcho(): Uint8Array {
  const icmp = new Uint8Array(2008);
  icmp.set(hex('0800 a19c 1234 0007'));
  for (let i = 0; i < 2000; i++) icmp[8 + i] = i & 0xff;
  return icmp;
}
// Headers of that echo split for a 1500-byte MTU; tshark finds both header checksums and, reassembled, the ICMP checksum good.
const FRAGMENT_1_HEADER = hex('4500 05dc 1c46 2000 4001 acb3 c6120001 c6120002');
const FRAGMENT_2_HEADER = hex('4500 0224 1c46 00b9 4001 cfb2 c6120001 c6120002');

// IGMPv3 report to 224.0.0.22 with a Router Alert option (DSCP EF, ECT(1), DF, TTL 1); checked with tshark.
const ROUTER_ALERT = hex('46b9 0020 beef 4000 0102 7f05 c6120001 e0000016 94040000 2200 ddff 0000 0000');

describe('Ipv4Packet', () => {
  it('reads a real ping packet and verifies its checksum', () => {
    const p = Ipv4Packet.checked(LOOPBACK_PING);
    expect(p.version).toBe(4);
    expect(p.ihl).toBe(5);
    expect(p.totalLength).toBe(84);
    expect(p.identification).toBe(0x1666);
    expect(p.dontFragment).toBe(true);
    expect(p.moreFragments).toBe(false);
    expect(p.isFragment).toBe(false);
    expect(p.ttl).toBe(64);
    expect(p.protocol).toBe(IP_PROTO_ICMP);
    expect(p.checksum).toBe(0x2641);
    expect(p.source).toBe(parseIpv4('127.0.0.1'));
    expect(p.verifyChecksum()).toBe(true);
    expect(p.options.byteLength).toBe(0);
    expect(p.payload.byteLength).toBe(64);
    expect(p.payload[0]).toBe(8);
  });

  it('matches the RFC 791 header checksum of a well-known header (0xb861)', () => {
    const packet = new Uint8Array(0x73);
    packet.set(hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7'));
    const p = Ipv4Packet.checked(packet);
    expect(p.verifyChecksum()).toBe(true);
    packet[10] = 0x12;
    packet[11] = 0x34;
    expect(p.verifyChecksum()).toBe(false);
    expect(() => parseIpv4Packet(p)).toThrow(ChecksumError);
    expect(parseIpv4Packet(p, { checksum: 'ignore' }).payloadLength).toBe(0x73 - 20);
    p.fillChecksum();
    expect(p.checksum).toBe(0xb861);
  });

  it('reads both fragments of a fragmented echo', () => {
    const icmp = fragmentedEcho();
    const first = new Uint8Array(1500);
    first.set(FRAGMENT_1_HEADER);
    first.set(icmp.subarray(0, 1480), 20);
    const second = new Uint8Array(548);
    second.set(FRAGMENT_2_HEADER);
    second.set(icmp.subarray(1480), 20);

    const a = parseIpv4Packet(Ipv4Packet.checked(first));
    expect(a).toMatchObject({
      identification: 0x1c46,
      moreFragments: true,
      dontFragment: false,
      fragmentOffset: 0,
      payloadLength: 1480,
    });
    const b = Ipv4Packet.checked(second);
    expect(b.isFragment).toBe(true);
    expect(b.fragmentOffset).toBe(1480);
    expect(parseIpv4Packet(b)).toMatchObject({
      identification: 0x1c46,
      moreFragments: false,
      fragmentOffset: 1480,
      payloadLength: 528,
    });
    // Reassembled, the echo's checksum is good: the payloads are the right bytes.
    const whole = new Uint8Array(2008);
    whole.set(Ipv4Packet.checked(first).payload, a.fragmentOffset);
    whole.set(b.payload, b.fragmentOffset);
    expect(onesComplementSum(whole)).toBe(0xffff);
    // And emitting the fragments' reprs rebuilds the same headers.
    const out = new Uint8Array(1500);
    emitIpv4(a, out, icmp.subarray(0, 1480));
    expect(out).toEqual(first);
  });

  it('keeps options and iterates them', () => {
    const p = Ipv4Packet.checked(ROUTER_ALERT);
    expect(p.headerLength).toBe(24);
    expect(p.dscp).toBe(46);
    expect(p.ecn).toBe(1);
    expect(p.verifyChecksum()).toBe(true);
    const repr = parseIpv4Packet(p);
    expect(Array.from(repr.options)).toEqual([0x94, 4, 0, 0]);
    const reader = new Ipv4OptionReader(repr.options);
    expect(reader.next()).toBe(true);
    expect(reader.type).toBe(IPV4_OPTION_ROUTER_ALERT);
    expect(reader.length).toBe(4);
    expect(Array.from(reader.data)).toEqual([0, 0]);
    expect(reader.next()).toBe(false);
    const out = new Uint8Array(ipv4BufferLength(repr));
    emitIpv4(repr, out, p.payload);
    expect(out).toEqual(ROUTER_ALERT);
  });

  it('skips NOPs, stops at End of Option List and is reusable', () => {
    const reader = new Ipv4OptionReader(Uint8Array.of(1, 1, 7, 7, 4, 0, 0, 0, 0, 1, 0, 0x99));
    expect(reader.next()).toBe(true);
    expect(reader.type).toBe(IPV4_OPTION_RECORD_ROUTE);
    expect(reader.offset).toBe(2);
    expect(reader.data.byteLength).toBe(5);
    // After the NOP at 9 comes End of Option List at 10: the 0x99 after it is padding, never read.
    expect(reader.next()).toBe(false);
    expect(reader.next()).toBe(false);
    expect(reader.data.byteLength).toBe(0);
    reader.reset(Uint8Array.of(0x94, 4, 0, 0));
    expect(reader.next()).toBe(true);
    expect(reader.type).toBe(IPV4_OPTION_ROUTER_ALERT);
  });

  it('rejects malformed options', () => {
    for (const options of [
      [0x94, 1, 0, 0],
      [0x94, 8, 0, 0],
      [1, 1, 1, 0x94],
    ]) {
      const packet = ROUTER_ALERT.slice();
      packet.set(options, 20);
      const p = Ipv4Packet.checked(packet);
      p.fillChecksum();
      expect(() => parseIpv4Packet(p)).toThrow(MalformedError);
      expect(() => {
        const r = new Ipv4OptionReader(p.options);
        while (r.next());
      }).toThrow(MalformedError);
    }
  });

  it('bounds the payload by the total length, not the frame (Ethernet padding)', () => {
    const padded = new Uint8Array(46);
    padded.set(LOOPBACK_UDP);
    const p = Ipv4Packet.checked(padded);
    expect(p.payload.byteLength).toBe(21);
    expect(parseIpv4Packet(p).payloadLength).toBe(21);
  });

  it('validates version, IHL and total length', () => {
    const cases: [number, number, number][] = [
      [0, 0x65, 0], // version 6
      [0, 0x44, 0], // IHL 4
      [3, 0x13, 0], // total length 19 < 20
    ];
    for (const [at, value] of cases) {
      const bad = LOOPBACK_UDP.slice();
      bad[at] = value;
      if (at === 3) bad[2] = 0;
      expect(() => Ipv4Packet.checked(bad)).toThrow(MalformedError);
    }
    const ihl15 = LOOPBACK_UDP.slice();
    ihl15[0] = 0x4f; // 60-byte header in a 41-byte total length
    expect(() => Ipv4Packet.checked(ihl15)).toThrow(MalformedError);
    const e = onlyDecodeErrors(() => Ipv4Packet.checked(LOOPBACK_UDP.subarray(0, 40)));
    expect(e).toBeInstanceOf(TruncatedError);
    expect((e as TruncatedError).needed).toBe(41);
    expect(() => Ipv4Packet.checked(LOOPBACK_UDP.subarray(0, 19))).toThrow(TruncatedError);
  });

  it('reads a quoted header whose payload is cut short with checkedHeader', () => {
    const quoted = LOOPBACK_UDP.subarray(0, 28);
    expect(() => Ipv4Packet.checked(quoted)).toThrow(TruncatedError);
    const p = Ipv4Packet.checkedHeader(quoted);
    expect(p.totalLength).toBe(41);
    expect(p.payload.byteLength).toBe(8);
    expect(parseIpv4Packet(p).payloadLength).toBe(21);
    expect(() => Ipv4Packet.checkedHeader(quoted.subarray(0, 19))).toThrow(TruncatedError);
  });

  it('setTtl updates the checksum incrementally', () => {
    const packet = LOOPBACK_PING.slice();
    const p = Ipv4Packet.checked(packet);
    p.setTtl(p.ttl - 1);
    expect(p.ttl).toBe(63);
    expect(p.verifyChecksum()).toBe(true);
    expect(p.checksum).toBe(0x2741);
  });
});

describe('emitIpv4', () => {
  const repr: Ipv4Repr = {
    dscp: 0,
    ecn: 0,
    identification: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: IP_PROTO_UDP,
    source: 1,
    destination: 2,
    options: new Uint8Array(0),
    payloadLength: 4,
  };

  it('writes only the header without a payload, and returns the packet length', () => {
    const buffer = new Uint8Array(24).fill(0xee);
    expect(emitIpv4(repr, buffer)).toBe(24);
    expect(Array.from(buffer.subarray(20))).toEqual([0xee, 0xee, 0xee, 0xee]);
    expect(emitIpv4(repr, new Uint8Array(20))).toBe(24);
    expect(internetChecksum(buffer.subarray(0, 20))).toBe(0);
  });

  it('copies neither payload nor options that are already in place', () => {
    const withOptions = { ...repr, options: new Uint8Array(4) };
    const buffer = new Uint8Array(28);
    buffer.set([0x94, 4, 0, 0], 20);
    buffer.set([1, 2, 3, 4], 24);
    const set = vi.spyOn(buffer, 'set');
    emitIpv4({ ...withOptions, options: buffer.subarray(20, 24) }, buffer, buffer.subarray(24));
    expect(set).not.toHaveBeenCalled();
    expect(parseIpv4Packet(Ipv4Packet.checked(buffer))).toEqual({
      ...withOptions,
      options: Uint8Array.of(0x94, 4, 0, 0),
    });
  });

  it('moves a payload that overlaps the header', () => {
    const buffer = new Uint8Array(24);
    buffer.set([1, 2, 3, 4], 2);
    emitIpv4(repr, buffer, buffer.subarray(2, 6));
    expect(Array.from(buffer.subarray(20))).toEqual([1, 2, 3, 4]);
    expect(Ipv4Packet.checked(buffer).verifyChecksum()).toBe(true);
  });

  it('refuses reprs that would not parse back and short buffers', () => {
    expect(() => emitIpv4({ ...repr, fragmentOffset: 12 }, new Uint8Array(24))).toThrow(RangeError);
    expect(() => emitIpv4({ ...repr, fragmentOffset: 65536 }, new Uint8Array(24))).toThrow(RangeError);
    expect(() => emitIpv4({ ...repr, options: new Uint8Array(3) }, new Uint8Array(28))).toThrow(RangeError);
    expect(() => emitIpv4({ ...repr, options: new Uint8Array(44) }, new Uint8Array(70))).toThrow(RangeError);
    expect(() => emitIpv4({ ...repr, payloadLength: 65516 }, new Uint8Array(20))).toThrow(RangeError);
    expect(() => emitIpv4(repr, new Uint8Array(23), new Uint8Array(4))).toThrow(RangeError);
    expect(() => emitIpv4(repr, new Uint8Array(30), new Uint8Array(5))).toThrow(RangeError);
    expect(() => emitIpv4(repr, new Uint8Array(19))).toThrow(RangeError);
    expect(() => emitIpv4(repr, new Uint8Array(34), undefined, 15)).toThrow(RangeError);
    expect(() => emitIpv4(repr, new Uint8Array(34), undefined, -1)).toThrow(RangeError);
  });

  it('writes at an offset exactly what it writes at the start of a view there, and nothing before it', () => {
    fc.assert(
      fc.property(ipv4ReprArb(), fc.integer({ min: 0, max: 40 }), (r, at) => {
        const payload = new Uint8Array(r.payloadLength).fill(0x5a);
        const length = ipv4BufferLength(r);
        const viaView = new Uint8Array(at + length).fill(0xee);
        emitIpv4(r, viaView.subarray(at), payload);
        const inPlace = new Uint8Array(at + length).fill(0xee);
        expect(emitIpv4(r, inPlace, payload, at)).toBe(length);
        expect(inPlace).toEqual(viaView);
      }),
    );
  });
});

describe('Ipv4Packet.prechecked', () => {
  it('reads a valid packet exactly as Ipv4Packet.checked does', () => {
    fc.assert(
      fc.property(ipv4PacketArb, fc.integer({ min: 0, max: 8 }), ({ bytes }, padding) => {
        const framed = new Uint8Array(bytes.byteLength + padding);
        framed.set(bytes);
        const checked = Ipv4Packet.checked(framed);
        const pre = Ipv4Packet.prechecked(framed, checked.headerLength, checked.totalLength);
        expect(pre.payload).toEqual(checked.payload);
        expect(pre.verifyChecksum()).toBe(checked.verifyChecksum());
        expect(parseIpv4Packet(pre, { checksum: 'ignore' })).toEqual(parseIpv4Packet(checked, { checksum: 'ignore' }));
      }),
    );
  });
});

describe('writeIpv4Header', () => {
  it('writes the bytes emitIpv4 writes for a 20-byte unfragmented header, and no other byte', () => {
    fc.assert(
      fc.property(
        fc.record({
          tos: fc.integer({ min: 0, max: 255 }),
          payloadLength: fc.integer({ min: 0, max: 0xffff - 20 }),
          identification: fc.integer({ min: 0, max: 0xffff }),
          dontFragment: fc.boolean(),
          ttl: fc.integer({ min: 0, max: 255 }),
          protocol: fc.integer({ min: 0, max: 255 }),
          source: ipv4AddressArb,
          destination: ipv4AddressArb,
        }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 255 }),
        (f, at, fill) => {
          const repr: Ipv4Repr = {
            dscp: f.tos >>> 2,
            ecn: f.tos & 3,
            identification: f.identification,
            dontFragment: f.dontFragment,
            moreFragments: false,
            fragmentOffset: 0,
            ttl: f.ttl,
            protocol: f.protocol,
            source: f.source,
            destination: f.destination,
            options: new Uint8Array(0),
            payloadLength: f.payloadLength,
          };
          const expected = new Uint8Array(at + 60).fill(fill);
          emitIpv4(repr, expected, undefined, at);
          const actual = new Uint8Array(at + 60).fill(fill);
          writeIpv4Header(
            actual,
            at,
            f.tos,
            20 + f.payloadLength,
            f.identification,
            f.dontFragment,
            f.ttl,
            f.protocol,
            f.source,
            f.destination,
          );
          expect(hexOf(actual)).toBe(hexOf(expected));
          expect(ipv4HeaderChecksumValid(actual, at, 20)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('ipv4HeaderChecksumValid', () => {
  it('says whether any 20 bytes sum to 0xffff (the unrolled path), at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.nat(9), fc.boolean(), (header, at, fix) => {
        const framed = new Uint8Array(at + 24).fill(0xa5);
        framed.set(header, at);
        if (fix) {
          framed[at + 10] = 0;
          framed[at + 11] = 0;
          const checksum = internetChecksum(framed.subarray(at, at + 20));
          framed[at + 10] = checksum >>> 8;
          framed[at + 11] = checksum & 0xff;
        }
        const valid = onesComplementSum(framed.subarray(at, at + 20)) === 0xffff;
        if (fix) expect(valid).toBe(true);
        expect(ipv4HeaderChecksumValid(framed, at, 20)).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with Ipv4Packet.verifyChecksum for a header at any offset, checksum right or damaged', () => {
    fc.assert(
      fc.property(
        ipv4PacketArb,
        fc.integer({ min: 0, max: 20 }),
        fc.option(fc.integer({ min: 0, max: 59 }), { nil: undefined }),
        ({ bytes }, at, damage) => {
          const framed = new Uint8Array(at + bytes.byteLength);
          framed.set(bytes, at);
          const headerLength = (bytes[0]! & 0x0f) * 4;
          if (damage !== undefined) framed[at + (damage % headerLength)]! ^= 0x10;
          const packet = Ipv4Packet.prechecked(framed.subarray(at), headerLength, bytes.byteLength);
          expect(ipv4HeaderChecksumValid(framed, at, headerLength)).toBe(packet.verifyChecksum());
          expect(ipv4HeaderChecksumValid(framed, at, headerLength)).toBe(damage === undefined);
        },
      ),
    );
  });
});

describe('ipv4PseudoHeaderSum', () => {
  it('matches Linux and tshark on a real UDP datagram', () => {
    const p = Ipv4Packet.checked(LOOPBACK_UDP);
    const initial = ipv4PseudoHeaderSum(p.source, p.destination, p.protocol, p.payload.byteLength);
    // On lo Linux offloads the UDP checksum (CHECKSUM_PARTIAL): the field still holds the folded
    // pseudo-header sum, which is exactly what this helper returns.
    expect(initial).toBe(0xfe28);
    // tshark computes 0x6a2f as the full checksum of this datagram.
    const udp = p.payload.slice();
    udp[6] = 0;
    udp[7] = 0;
    expect(internetChecksum(udp, initial)).toBe(0x6a2f);
    udp[6] = 0x6a;
    udp[7] = 0x2f;
    expect(onesComplementSum(udp, initial)).toBe(0xffff);
  });

  it('equals the sum over an explicit 12-byte pseudo-header', () => {
    fc.assert(
      fc.property(
        ipv4AddressArb,
        ipv4AddressArb,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        (src, dst, proto, len) => {
          const pseudo = new Uint8Array(12);
          const v = new DataView(pseudo.buffer);
          v.setUint32(0, src);
          v.setUint32(4, dst);
          v.setUint8(9, proto);
          v.setUint16(10, len);
          const sum = ipv4PseudoHeaderSum(src, dst, proto, len);
          expect(sum).toBeLessThanOrEqual(0xffff);
          // Equal as ones'-complement numbers (0 and 0xffff are both zero).
          expect(sum % 0xffff).toBe(onesComplementSum(pseudo) % 0xffff);
          const segment = Uint8Array.of(1, 2, 3, 4, 5);
          const joined = new Uint8Array(17);
          joined.set(pseudo);
          joined.set(segment, 12);
          expect(internetChecksum(segment, sum)).toBe(internetChecksum(joined));
        },
      ),
    );
  });
});

describe('IPv4 properties', () => {
  it('parse(checked(emit(repr))) equals repr, the payload comes back and the checksum is right', () => {
    fc.assert(
      fc.property(ipv4PacketArb, ({ repr, payload, bytes }) => {
        const p = Ipv4Packet.checked(bytes);
        expect(parseIpv4Packet(p)).toEqual(repr);
        expect(p.headerLength).toBe(ipv4HeaderLength(repr));
        expect(p.payload).toEqual(payload);
        expect(internetChecksum(bytes.subarray(0, p.headerLength))).toBe(0);
      }),
    );
  });

  it('round-trips large payloads (header emitted alone, payload placed by the caller)', () => {
    fc.assert(
      fc.property(ipv4ReprArb(65515 - 40), (repr) => {
        const buffer = new Uint8Array(ipv4BufferLength(repr));
        expect(emitIpv4(repr, buffer)).toBe(buffer.byteLength);
        expect(parseIpv4Packet(Ipv4Packet.checked(buffer))).toEqual(repr);
      }),
      { numRuns: 30 },
    );
  });

  it('setTtl equals recomputing the checksum', () => {
    fc.assert(
      fc.property(ipv4PacketArb, fc.integer({ min: 0, max: 255 }), ({ bytes }, ttl) => {
        const incremental = Ipv4Packet.checked(bytes.slice());
        incremental.setTtl(ttl);
        const recomputed = Ipv4Packet.checked(incremental.bytes.slice());
        recomputed.fillChecksum();
        expect(incremental.ttl).toBe(ttl);
        expect(incremental.checksum).toBe(recomputed.checksum);
        expect(incremental.verifyChecksum()).toBe(true);
      }),
    );
  });

  it('arbitrary and corrupted bytes raise only DecodeErrors, and accessors never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => void onlyDecodeErrors(() => decode(bytes))));
    fc.assert(
      fc.property(ipv4PacketArb, flipsArb, ({ bytes }, flips) => {
        const bad = mutated(
          bytes,
          flips.map(([at, v]) => [at % Math.min(bytes.length, 64), v]),
        );
        onlyDecodeErrors(() => decode(bad));
        onlyDecodeErrors(() => {
          const p = Ipv4Packet.checkedHeader(bad);
          readAll(p);
          parseIpv4Packet(p, { checksum: 'ignore' });
        });
      }),
    );
  });

  it('every truncation of a valid packet raises TruncatedError', () => {
    fc.assert(
      fc.property(ipv4PacketArb, ({ bytes }) => {
        for (let n = 0; n < bytes.byteLength; n++) {
          expect(onlyDecodeErrors(() => decode(bytes.subarray(0, n)))).toBeInstanceOf(TruncatedError);
        }
      }),
    );
  });
});
