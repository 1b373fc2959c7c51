import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ChecksumError,
  emitIcmpv4,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_UNREACH_FRAG_NEEDED,
  ICMP_UNREACH_PORT,
  icmpv4BufferLength,
  Icmpv4Packet,
  internetChecksum,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  Ipv4Packet,
  MalformedError,
  parseIcmpv4,
  parseIpv4,
  parseIpv4Packet,
  TruncatedError,
  type Icmpv4Repr,
} from '../src/index.js';
import { flipsArb, hex, icmpv4ReprArb, mutated, onlyDecodeErrors } from './wire-arbitraries.js';

function readAll(p: Icmpv4Packet): unknown[] {
  return [
    p.type,
    p.code,
    p.checksum,
    p.restOfHeader,
    p.identifier,
    p.sequenceNumber,
    p.nextHopMtu,
    p.data,
    p.verifyChecksum(),
  ];
}

function decode(bytes: Uint8Array): void {
  const p = Icmpv4Packet.checked(bytes);
  readAll(p);
  parseIcmpv4(p, { checksum: 'ignore' });
  parseIcmpv4(p);
}

function emitted(repr: Icmpv4Repr): Uint8Array {
  const buffer = new Uint8Array(icmpv4BufferLength(repr));
  expect(emitIcmpv4(repr, buffer)).toBe(buffer.byteLength);
  return buffer;
}

const PING_DATA = hex(`
  1ada 066b 0000 0000 a93c 0100 0000 0000
  1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637`);
// The echo request and reply of `ping -c1 127.0.0.1` (iputils) captured on Linux `lo`: 16 bytes of
// timestamp, then 0x10, 0x11, ... up to 56 bytes of data.
const LINUX_ECHO_REQUEST = Uint8Array.from([...hex('0800 4ece 1edc 0001'), ...PING_DATA]);
const LINUX_ECHO_REPLY = Uint8Array.from([...hex('0000 56ce 1edc 0001'), ...PING_DATA]);

// The ICMP port unreachable Linux sent for `nc -u -p 40000 127.0.0.1 9` (no listener), IPv4 header
// included: it quotes the whole 41-byte UDP datagram.
const LINUX_PORT_UNREACHABLE = hex(`
  45c0 0045 8da4 0000 4001 ee51 7f00 0001 7f00 0001
  0303 672c 0000 0000
  4500 0029 52fe 4000 4011 e9c3 7f00 0001 7f00 0001 9c40 0009 0015 fe28 6865 6c6c 6f20 706f 7374 6572 6e`);

// Fragmentation needed (next-hop MTU 1400) and TTL exceeded, each quoting a 1500-byte DF UDP datagram's
// header and first 8 bytes; tshark finds the ICMP checksums (0x5546, 0x52c2) good.
const QUOTED = hex('4500 05dc 4242 4000 3f11 679f c6120001 c6130009 9c40 0035 05c8 0000');
const FRAG_NEEDED = Uint8Array.from([...hex('0304 5546 0000 0578'), ...QUOTED]);
const TTL_EXCEEDED = Uint8Array.from([...hex('0b00 52c2 0000 0000'), ...QUOTED]);

describe('Icmpv4Packet', () => {
  it('reads an echo request as Linux ping sends it, and emits it byte for byte', () => {
    const p = Icmpv4Packet.checked(LINUX_ECHO_REQUEST);
    expect(p.type).toBe(ICMP_ECHO_REQUEST);
    expect(p.checksum).toBe(0x4ece);
    expect(p.verifyChecksum()).toBe(true);
    const repr = parseIcmpv4(p);
    expect(repr).toEqual({ kind: 'echoRequest', identifier: 0x1edc, sequenceNumber: 1, data: PING_DATA });
    expect(emitted(repr)).toEqual(LINUX_ECHO_REQUEST);
  });

  it('builds the reply Linux built, reusing the request data', () => {
    const request = parseIcmpv4(Icmpv4Packet.checked(LINUX_ECHO_REQUEST));
    if (request.kind !== 'echoRequest') throw new Error('not an echo request');
    const reply: Icmpv4Repr = { ...request, kind: 'echoReply' };
    expect(emitted(reply)).toEqual(LINUX_ECHO_REPLY);
    expect(Icmpv4Packet.checked(LINUX_ECHO_REPLY).type).toBe(ICMP_ECHO_REPLY);
  });

  it('reads a real port unreachable and the datagram it quotes', () => {
    const ip = Ipv4Packet.checked(LINUX_PORT_UNREACHABLE);
    expect(ip.protocol).toBe(IP_PROTO_ICMP);
    const icmp = Icmpv4Packet.checked(ip.payload);
    expect(icmp.verifyChecksum()).toBe(true);
    const repr = parseIcmpv4(icmp);
    expect(repr).toMatchObject({ kind: 'destinationUnreachable', code: ICMP_UNREACH_PORT, nextHopMtu: 0 });
    if (repr.kind !== 'destinationUnreachable') throw new Error('unexpected kind');
    expect(repr.quoted.buffer).toBe(LINUX_PORT_UNREACHABLE.buffer);
    const quoted = Ipv4Packet.checkedHeader(repr.quoted);
    expect(parseIpv4Packet(quoted)).toMatchObject({
      protocol: IP_PROTO_UDP,
      source: parseIpv4('127.0.0.1'),
      identification: 0x52fe,
    });
    expect(Array.from(quoted.payload.subarray(0, 4))).toEqual([0x9c, 0x40, 0x00, 0x09]);
    expect(emitted(repr)).toEqual(ip.payload);
  });

  it('reads fragmentation needed with its next-hop MTU, and time exceeded', () => {
    const frag = parseIcmpv4(Icmpv4Packet.checked(FRAG_NEEDED));
    expect(frag).toEqual({
      kind: 'destinationUnreachable',
      code: ICMP_UNREACH_FRAG_NEEDED,
      nextHopMtu: 1400,
      quoted: QUOTED,
    });
    expect(Icmpv4Packet.checked(FRAG_NEEDED).nextHopMtu).toBe(1400);
    expect(emitted(frag)).toEqual(FRAG_NEEDED);
    const ttl = parseIcmpv4(Icmpv4Packet.checked(TTL_EXCEEDED));
    expect(ttl).toEqual({ kind: 'timeExceeded', code: ICMP_TIME_EXCEEDED_TTL, quoted: QUOTED });
    expect(emitted(ttl)).toEqual(TTL_EXCEEDED);
  });

  it('keeps other types generically', () => {
    // A timestamp request (type 13): id 1, seq 2, then three 32-bit timestamps.
    const msg = hex('0d00 0000 0001 0002 0000 0001 0000 0000 0000 0000');
    const p = Icmpv4Packet.checked(msg);
    p.fillChecksum();
    expect(internetChecksum(msg)).toBe(0);
    const repr = parseIcmpv4(p);
    expect(repr).toEqual({ kind: 'other', type: 13, code: 0, restOfHeader: 0x0001_0002, data: msg.subarray(8) });
    expect(emitted(repr)).toEqual(msg);
  });

  it('checks the checksum unless told not to', () => {
    const bad = LINUX_ECHO_REQUEST.slice();
    bad[20] = bad[20]! ^ 0x01;
    const p = Icmpv4Packet.checked(bad);
    expect(p.verifyChecksum()).toBe(false);
    expect(() => parseIcmpv4(p)).toThrow(ChecksumError);
    expect(parseIcmpv4(p, { checksum: 'ignore' }).kind).toBe('echoRequest');
    p.fillChecksum();
    expect(p.verifyChecksum()).toBe(true);
  });

  it('needs 8 bytes, and errors must quote a whole IPv4 header', () => {
    expect(() => Icmpv4Packet.checked(new Uint8Array(7))).toThrow(TruncatedError);
    for (const quoted of [
      QUOTED.subarray(0, 19),
      hex('6500 05dc 4242 4000 3f11 679f c6120001 c6130009'),
      hex('4600 05dc 4242 4000 3f11 679f c6120001 c6130009'),
      hex('4500 0013 4242 4000 3f11 679f c6120001 c6130009'),
    ]) {
      for (const type of [ICMP_DEST_UNREACHABLE, ICMP_TIME_EXCEEDED]) {
        const msg = new Uint8Array(8 + quoted.byteLength);
        msg[0] = type;
        msg.set(quoted, 8);
        const p = Icmpv4Packet.checked(msg);
        p.fillChecksum();
        expect(() => parseIcmpv4(p)).toThrow(MalformedError);
      }
    }
  });

  it('refuses to emit into a short buffer or a typed message as "other"', () => {
    const echo: Icmpv4Repr = { kind: 'echoRequest', identifier: 1, sequenceNumber: 1, data: new Uint8Array(4) };
    expect(() => emitIcmpv4(echo, new Uint8Array(11))).toThrow(RangeError);
    expect(() =>
      emitIcmpv4(
        { kind: 'other', type: ICMP_ECHO_REQUEST, code: 0, restOfHeader: 0, data: new Uint8Array(0) },
        new Uint8Array(8),
      ),
    ).toThrow(RangeError);
  });

  it('emits data already in place without losing it, and moves overlapping data', () => {
    const buffer = new Uint8Array(12);
    buffer.set([1, 2, 3, 4], 8);
    emitIcmpv4({ kind: 'echoReply', identifier: 9, sequenceNumber: 9, data: buffer.subarray(8) }, buffer);
    expect(Array.from(buffer.subarray(8))).toEqual([1, 2, 3, 4]);
    expect(Icmpv4Packet.checked(buffer).verifyChecksum()).toBe(true);
    const overlapping = new Uint8Array(12);
    overlapping.set([5, 6, 7, 8], 1);
    emitIcmpv4({ kind: 'echoReply', identifier: 9, sequenceNumber: 9, data: overlapping.subarray(1, 5) }, overlapping);
    expect(Array.from(overlapping.subarray(8))).toEqual([5, 6, 7, 8]);
    expect(Icmpv4Packet.checked(overlapping).verifyChecksum()).toBe(true);
  });
});

describe('ICMPv4 properties', () => {
  it('parse(checked(emit(repr))) equals repr with a correct checksum', () => {
    fc.assert(
      fc.property(icmpv4ReprArb, (repr) => {
        const bytes = emitted(repr);
        expect(internetChecksum(bytes)).toBe(0);
        expect(parseIcmpv4(Icmpv4Packet.checked(bytes))).toEqual(repr);
      }),
    );
  });

  it('arbitrary and corrupted bytes raise only DecodeErrors, and accessors never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => void onlyDecodeErrors(() => decode(bytes))));
    fc.assert(
      fc.property(icmpv4ReprArb, flipsArb, (repr, flips) => {
        const bad = mutated(
          emitted(repr),
          flips.map(([at, v]) => [at % 32, v]),
        );
        onlyDecodeErrors(() => decode(bad));
      }),
    );
  });

  it('every truncation of a valid message raises only DecodeErrors', () => {
    fc.assert(
      fc.property(icmpv4ReprArb, (repr) => {
        const bytes = emitted(repr);
        for (let n = 0; n < bytes.byteLength; n++) {
          const e = onlyDecodeErrors(() => decode(bytes.subarray(0, n)));
          if (n < 8) expect(e).toBeInstanceOf(TruncatedError);
        }
      }),
    );
  });
});
