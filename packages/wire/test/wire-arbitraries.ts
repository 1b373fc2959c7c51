/**
 * fast-check arbitraries and helpers for the Ethernet, ARP, IPv4 and ICMPv4 tests: valid reprs
 * (as the TSDoc of each repr defines "valid") and byte helpers.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  DecodeError,
  emitIpv4,
  ETHERTYPE_MIN,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_TIME_EXCEEDED,
  ICMP_UNREACH_FRAG_NEEDED,
  ipv4BufferLength,
  ipv4HeaderLength,
  type ArpRepr,
  type EthernetRepr,
  type Icmpv4Repr,
  type Ipv4Repr,
  type VlanTag,
} from '../src/index.js';

/** Bytes from a hex string; spaces and newlines are ignored. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd hex');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Runs `fn` and fails the test if it throws anything but a DecodeError; returns what it threw or undefined. */
export function onlyDecodeErrors(fn: () => void): DecodeError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
}

const u16 = fc.integer({ min: 0, max: 0xffff });

/** Any 48-bit MAC address, built independently of readMac. */
export const macArb = fc.tuple(u16, u16, u16).map(([a, b, c]) => a * 0x1_0000_0000 + b * 0x1_0000 + c);

/** Any IPv4 address as an unsigned 32-bit number. */
export const ipv4AddressArb = fc.tuple(u16, u16).map(([a, b]) => a * 0x1_0000 + b);

export const vlanTagArb: fc.Arbitrary<VlanTag> = fc.record({
  pcp: fc.integer({ min: 0, max: 7 }),
  dei: fc.boolean(),
  vid: fc.integer({ min: 0, max: 0xfff }),
});

export const ethernetReprArb: fc.Arbitrary<EthernetRepr> = fc.record({
  destination: macArb,
  source: macArb,
  etherType: fc
    .integer({ min: ETHERTYPE_MIN, max: 0xffff })
    .filter((t) => t !== ETHERTYPE_VLAN && t !== ETHERTYPE_QINQ),
  vlan: fc.option(vlanTagArb, { nil: null }),
  serviceVlan: fc.option(vlanTagArb, { nil: null }),
});

export const arpReprArb: fc.Arbitrary<ArpRepr> = fc.record({
  operation: fc.constantFrom(1 as const, 2 as const),
  senderHardwareAddress: macArb,
  senderProtocolAddress: ipv4AddressArb,
  targetHardwareAddress: macArb,
  targetProtocolAddress: ipv4AddressArb,
});

/** One well-formed option: a NOP, or a type other than END/NOP with a correct length octet. */
const ipv4OptionArb = fc.oneof(
  fc.constant(Uint8Array.of(1)),
  fc
    .tuple(fc.integer({ min: 2, max: 255 }), fc.uint8Array({ maxLength: 6 }))
    .map(([type, data]) => Uint8Array.from([type, data.length + 2, ...data])),
);

/** Well-formed option bytes: up to 4 options, zero-padded (END) to a multiple of 4 (at most 32 bytes). */
export const ipv4OptionsArb = fc.array(ipv4OptionArb, { maxLength: 4 }).map((opts) => {
  const raw = opts.flatMap((o) => [...o]);
  const padded = new Uint8Array(Math.ceil(raw.length / 4) * 4);
  padded.set(raw);
  return padded;
});

export function ipv4ReprArb(maxPayload = 1500): fc.Arbitrary<Ipv4Repr> {
  return fc.record({
    dscp: fc.integer({ min: 0, max: 63 }),
    ecn: fc.integer({ min: 0, max: 3 }),
    identification: u16,
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((o) => o * 8),
    ttl: fc.integer({ min: 0, max: 255 }),
    protocol: fc.integer({ min: 0, max: 255 }),
    source: ipv4AddressArb,
    destination: ipv4AddressArb,
    options: ipv4OptionsArb,
    payloadLength: fc.integer({ min: 0, max: maxPayload }),
  });
}

/** A valid IPv4 packet (header, options, payload) as bytes, with its repr and payload. */
export const ipv4PacketArb = ipv4ReprArb(200).chain((repr) =>
  fc.uint8Array({ minLength: repr.payloadLength, maxLength: repr.payloadLength }).map((payload) => {
    const bytes = new Uint8Array(ipv4BufferLength(repr));
    emitIpv4(repr, bytes, payload);
    return { repr, payload, bytes };
  }),
);

/** A quoted datagram as an ICMP error carries it: a valid IPv4 header plus 0..16 bytes of its payload. */
export const quotedDatagramArb = fc
  .tuple(
    ipv4ReprArb(1480).filter((r) => r.payloadLength >= 16),
    fc.integer({ min: 0, max: 16 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
  )
  .map(([repr, keep, start]) => {
    const header = ipv4HeaderLength(repr);
    const quoted = new Uint8Array(header + keep);
    emitIpv4(repr, quoted);
    quoted.set(start.subarray(0, keep), header);
    return quoted;
  });

export const icmpv4ReprArb: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const),
    identifier: u16,
    sequenceNumber: u16,
    data: fc.uint8Array({ maxLength: 100 }),
  }),
  fc
    .record({ code: fc.integer({ min: 0, max: 255 }), mtu: u16, quoted: quotedDatagramArb })
    .map(({ code, mtu, quoted }) => ({
      kind: 'destinationUnreachable' as const,
      code,
      nextHopMtu: code === ICMP_UNREACH_FRAG_NEEDED ? mtu : 0,
      quoted,
    })),
  fc.record({
    kind: fc.constant('timeExceeded' as const),
    code: fc.integer({ min: 0, max: 255 }),
    quoted: quotedDatagramArb,
  }),
  fc.record({
    kind: fc.constant('other' as const),
    type: fc
      .integer({ min: 0, max: 255 })
      .filter(
        (t) =>
          t !== ICMP_ECHO_REPLY && t !== ICMP_ECHO_REQUEST && t !== ICMP_DEST_UNREACHABLE && t !== ICMP_TIME_EXCEEDED,
      ),
    code: fc.integer({ min: 0, max: 255 }),
    restOfHeader: fc.tuple(u16, u16).map(([a, b]) => a * 0x1_0000 + b),
    data: fc.uint8Array({ maxLength: 100 }),
  }),
);

/** `bytes` with `flips` random bytes overwritten: a corrupted but mostly plausible packet. */
export function mutated(bytes: Uint8Array, flips: readonly [number, number][]): Uint8Array {
  const copy = bytes.slice();
  if (copy.length === 0) return copy;
  for (const [at, value] of flips) copy[at % copy.length] = value;
  return copy;
}

export const flipsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
