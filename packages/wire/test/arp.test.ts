import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ARP_PACKET_LENGTH,
  arpBufferLength,
  ArpPacket,
  emitArp,
  EthernetPacket,
  ETHERTYPE_ARP,
  MAC_BROADCAST,
  parseArp,
  parseEthernet,
  parseIpv4,
  parseMac,
  TruncatedError,
  UnsupportedError,
} from '../src/index.js';
import { arpReprArb, flipsArb, hex, mutated, onlyDecodeErrors } from './wire-arbitraries.js';

function decode(bytes: Uint8Array): void {
  const p = ArpPacket.checked(bytes);
  void [
    p.operation,
    p.senderHardwareAddress,
    p.senderProtocolAddress,
    p.targetHardwareAddress,
    p.targetProtocolAddress,
  ];
  parseArp(p);
}

// "Who has 192.168.1.1? Tell 192.168.1.100", broadcast and padded to 60 bytes; decoded as such by tshark.
const ARP_REQUEST_FRAME = hex(`
  ffffffffffff 000c29123456 0806
  0001 0800 06 04 0001 000c29123456 c0a80164 000000000000 c0a80101
  000000000000000000000000000000000000`);

describe('ArpPacket', () => {
  it('reads a broadcast ARP request inside its padded Ethernet frame', () => {
    const frame = EthernetPacket.checked(ARP_REQUEST_FRAME);
    expect(parseEthernet(frame)).toMatchObject({ destination: MAC_BROADCAST, etherType: ETHERTYPE_ARP });
    const p = ArpPacket.checked(frame.payload);
    expect(p.operation).toBe(ARP_OP_REQUEST);
    expect(parseArp(p)).toEqual({
      operation: ARP_OP_REQUEST,
      senderHardwareAddress: parseMac('00:0c:29:12:34:56'),
      senderProtocolAddress: parseIpv4('192.168.1.100'),
      targetHardwareAddress: 0,
      targetProtocolAddress: parseIpv4('192.168.1.1'),
    });
  });

  it('emits the same 28 bytes', () => {
    const arp = ARP_REQUEST_FRAME.subarray(14, 42);
    const out = new Uint8Array(ARP_PACKET_LENGTH);
    const repr = parseArp(ArpPacket.checked(arp));
    expect(arpBufferLength(repr)).toBe(28);
    expect(emitArp(repr, out)).toBe(28);
    expect(out).toEqual(arp);
  });

  it('rejects non-Ethernet or non-IPv4 ARP as unsupported, before asking for more bytes', () => {
    const arp = ARP_REQUEST_FRAME.slice(14, 42);
    const ieee802 = arp.slice();
    ieee802[1] = 6; // hardware type IEEE 802
    expect(() => ArpPacket.checked(ieee802)).toThrow(UnsupportedError);
    const ipv6 = arp.slice();
    ipv6[2] = 0x86;
    ipv6[3] = 0xdd;
    ipv6[5] = 16;
    expect(() => ArpPacket.checked(ipv6.subarray(0, 10))).toThrow(UnsupportedError);
    const longMac = arp.slice();
    longMac[4] = 8;
    expect(() => ArpPacket.checked(longMac)).toThrow(UnsupportedError);
  });

  it('rejects operations other than request and reply (e.g. RARP) as unsupported', () => {
    const rarp = ARP_REQUEST_FRAME.slice(14, 42);
    rarp[7] = 3;
    const p = ArpPacket.checked(rarp);
    expect(p.operation).toBe(3);
    expect(() => parseArp(p)).toThrow(UnsupportedError);
  });

  it('asks for 28 bytes', () => {
    const e = onlyDecodeErrors(() => ArpPacket.checked(ARP_REQUEST_FRAME.subarray(14, 41)));
    expect(e).toBeInstanceOf(TruncatedError);
    expect((e as TruncatedError).needed).toBe(28);
    expect(() => ArpPacket.checked(new Uint8Array(5))).toThrow(TruncatedError);
  });

  it('refuses to emit into a short buffer', () => {
    const repr = parseArp(ArpPacket.checked(ARP_REQUEST_FRAME.subarray(14)));
    expect(() => emitArp({ ...repr, operation: ARP_OP_REPLY }, new Uint8Array(27))).toThrow(RangeError);
  });
});

describe('ARP properties', () => {
  it('parse(checked(emit(repr))) equals repr', () => {
    fc.assert(
      fc.property(arpReprArb, (repr) => {
        const buffer = new Uint8Array(arpBufferLength(repr));
        expect(emitArp(repr, buffer)).toBe(ARP_PACKET_LENGTH);
        expect(parseArp(ArpPacket.checked(buffer))).toEqual(repr);
      }),
    );
  });

  it('arbitrary and corrupted bytes raise only DecodeErrors, and accessors never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void onlyDecodeErrors(() => decode(bytes))));
    fc.assert(
      fc.property(arpReprArb, flipsArb, (repr, flips) => {
        const buffer = new Uint8Array(ARP_PACKET_LENGTH);
        emitArp(repr, buffer);
        onlyDecodeErrors(() => decode(mutated(buffer, flips)));
      }),
    );
  });

  it('every truncation of a valid packet raises TruncatedError', () => {
    fc.assert(
      fc.property(arpReprArb, (repr) => {
        const buffer = new Uint8Array(ARP_PACKET_LENGTH);
        emitArp(repr, buffer);
        for (let n = 0; n < buffer.byteLength; n++) {
          expect(onlyDecodeErrors(() => decode(buffer.subarray(0, n)))).toBeInstanceOf(TruncatedError);
        }
      }),
    );
  });
});
