import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  MalformedError,
  TruncatedError,
  UDP_HEADER_LENGTH,
  UdpPacket,
  emitUdp,
  Ipv4Packet,
  parseUdp,
  udpBufferLength,
  udpHeaderLength,
  type UdpRepr,
} from '../src/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/**
 * A UDP datagram Linux sent out of a TAP device (no checksum offload, so the kernel computed the
 * checksum itself): 198.18.0.1:36155 -> 198.18.0.2:5353, payload "postern wire test".
 */
const LINUX_UDP_FRAME = hex(`
  02 00 00 00 00 02 02 00 00 00 00 01 08 00
  45 00 00 2d 73 e1 40 00 40 11 3a b7 c6 12 00 01 c6 12 00 02
  8d 3b 14 e9 00 19 36 42 70 6f 73 74 65 72 6e 20 77 69 72 65 20 74 65 73 74`);

const SRC = 0xc612_0001;
const DST = 0xc612_0002;

const reprArb: fc.Arbitrary<UdpRepr> = fc.record({ srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff) });

function emitToBuffer(repr: UdpRepr, payload: Uint8Array, src = SRC, dst = DST): Uint8Array {
  const buffer = new Uint8Array(udpBufferLength(repr, payload.byteLength));
  expect(emitUdp(repr, buffer, src, dst, payload)).toBe(buffer.byteLength);
  return buffer;
}

describe('UdpPacket', () => {
  it('reads a datagram Linux sent, field by field, and verifies its checksum', () => {
    const ip = Ipv4Packet.checked(LINUX_UDP_FRAME.subarray(14));
    const ipRepr = { source: ip.source, destination: ip.destination };
    const udp = UdpPacket.checked(ip.payload);
    expect(udp.srcPort).toBe(36155);
    expect(udp.dstPort).toBe(5353);
    expect(udp.length).toBe(25);
    expect(udp.checksum).toBe(0x3642);
    expect(udp.hasChecksum).toBe(true);
    expect(udp.payloadLength).toBe(17);
    expect(new TextDecoder().decode(udp.payload)).toBe('postern wire test');
    expect(udp.verifyChecksum(ipRepr.source, ipRepr.destination)).toBe(true);
    expect(udp.verifyChecksum(ipRepr.source, ipRepr.destination + 1)).toBe(false);
    // Emitting the parsed repr with its payload gives the kernel's bytes back.
    const again = emitToBuffer(parseUdp(udp), udp.payload, ipRepr.source, ipRepr.destination);
    expect(again).toEqual(ip.payload);
  });

  it('bounds the payload by the length field and views the same memory', () => {
    const bytes = new Uint8Array(20);
    bytes.set([0, 1, 0, 2, 0, 10, 0, 0, 0xaa, 0xbb], 0);
    const packet = UdpPacket.checked(bytes);
    expect(packet.bytes.byteLength).toBe(10);
    expect(Array.from(packet.payload)).toEqual([0xaa, 0xbb]);
    expect(packet.payload.buffer).toBe(bytes.buffer);
    expect(packet.payload.byteOffset).toBe(8);
  });

  it('rejects a length field below 8 as malformed and one past the bytes as truncated', () => {
    const bytes = new Uint8Array(12);
    bytes[5] = 7;
    expect(() => UdpPacket.checked(bytes)).toThrow(MalformedError);
    bytes[5] = 13;
    const error = (() => {
      try {
        UdpPacket.checked(bytes);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(TruncatedError);
    expect((error as TruncatedError).needed).toBe(13);
    expect(() => UdpPacket.checked(new Uint8Array(7))).toThrow(TruncatedError);
  });

  it('treats checksum 0 as "none" and sends a computed 0 as 0xffff', () => {
    const repr = { srcPort: 1000, dstPort: 2000 };
    const probe = emitToBuffer(repr, new Uint8Array(2));
    const c = UdpPacket.checked(probe).checksum;
    // Putting the checksum into the payload makes the sum 0xffff, so the computed checksum is 0.
    const zeroing = emitToBuffer(repr, Uint8Array.of(c >>> 8, c & 0xff));
    const packet = UdpPacket.checked(zeroing);
    expect(packet.checksum).toBe(0xffff);
    expect(packet.verifyChecksum(SRC, DST)).toBe(true);
    zeroing[6] = 0;
    zeroing[7] = 0;
    const none = UdpPacket.checked(zeroing);
    expect(none.hasChecksum).toBe(false);
    expect(none.verifyChecksum(SRC, DST + 5)).toBe(true);
  });
});

describe('UDP repr', () => {
  it('parse(checked(emit(x))) equals x, the payload comes back and the checksum verifies', () => {
    fc.assert(
      fc.property(
        reprArb,
        fc.uint8Array({ maxLength: 1600 }),
        fc.nat(0xffff_ffff),
        fc.nat(0xffff_ffff),
        (repr, payload, src, dst) => {
          const bytes = emitToBuffer(repr, payload, src, dst);
          expect(udpHeaderLength(repr)).toBe(UDP_HEADER_LENGTH);
          const packet = UdpPacket.checked(bytes);
          expect(parseUdp(packet)).toEqual(repr);
          expect(packet.payload).toEqual(payload);
          expect(packet.length).toBe(bytes.byteLength);
          expect(packet.hasChecksum).toBe(true);
          expect(packet.verifyChecksum(src, dst)).toBe(true);
        },
      ),
    );
  });

  it('detects any single flipped bit outside the checksum field', () => {
    fc.assert(
      fc.property(
        reprArb,
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.nat(7),
        (repr, payload, at, bit) => {
          const bytes = emitToBuffer(repr, payload);
          const positions = [0, 1, 2, 3, ...Array.from({ length: payload.byteLength }, (_, i) => 8 + i)];
          const i = positions[at % positions.length]!;
          bytes[i] = bytes[i]! ^ (1 << bit);
          expect(UdpPacket.checked(bytes).verifyChecksum(SRC, DST)).toBe(false);
        },
      ),
    );
  });

  it('emits the same bytes whether the payload is given, already in place, or at an odd offset', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 400 }), (repr, payload) => {
        const given = emitToBuffer(repr, payload);
        const inPlace = new Uint8Array(udpBufferLength(repr, payload.byteLength));
        inPlace.set(payload, UDP_HEADER_LENGTH);
        expect(emitUdp(repr, inPlace, SRC, DST)).toBe(inPlace.byteLength);
        expect(inPlace).toEqual(given);
        const backing = new Uint8Array(inPlace.byteLength + 1);
        const odd = backing.subarray(1);
        expect(emitUdp(repr, odd, SRC, DST, payload)).toBe(odd.byteLength);
        expect(odd).toEqual(given);
        expect(emitUdp(repr, inPlace, SRC, DST, inPlace.subarray(UDP_HEADER_LENGTH))).toBe(inPlace.byteLength);
        expect(inPlace).toEqual(given);
      }),
    );
  });

  it('rejects bad emit arguments with RangeError', () => {
    const repr = { srcPort: 1, dstPort: 2 };
    expect(() => emitUdp(repr, new Uint8Array(9), SRC, DST, new Uint8Array(2))).toThrow(RangeError);
    expect(() => emitUdp(repr, new Uint8Array(7), SRC, DST)).toThrow(RangeError);
    expect(() => emitUdp({ srcPort: 65536, dstPort: 2 }, new Uint8Array(8), SRC, DST)).toThrow(RangeError);
    expect(() => emitUdp(repr, new Uint8Array(70000), SRC, DST)).toThrow(RangeError);
  });

  it('arbitrary bytes and truncations only ever throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          const packet = UdpPacket.checked(bytes);
          parseUdp(packet);
          void packet.payload;
          packet.verifyChecksum(SRC, DST);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 100 }), fc.nat(), (repr, payload, cut) => {
        const bytes = emitToBuffer(repr, payload);
        const short = bytes.subarray(0, cut % bytes.byteLength);
        expect(() => UdpPacket.checked(short)).toThrow(TruncatedError);
      }),
    );
  });
});
