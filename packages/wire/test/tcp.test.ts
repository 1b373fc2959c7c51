import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  Ipv4Packet,
  MalformedError,
  TCP_MAX_OPTIONS_LENGTH,
  TCP_MIN_HEADER_LENGTH,
  TcpFlag,
  TcpOptionSummary,
  TcpPacket,
  TruncatedError,
  emitTcp,
  parseTcp,
  tcpBufferLength,
  tcpHeaderLength,
  tcpOptionsLength,
  type TcpOption,
  type TcpRepr,
} from '../src/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/**
 * A SYN Linux sent out of a TAP device (no checksum offload, so the kernel computed the checksum):
 * 198.18.0.1:49374 -> 198.18.0.2:8080, options MSS 1460, SACK-Permitted, Timestamps, NOP, Window Scale 10.
 */
const LINUX_SYN_FRAME = hex(`
  02 00 00 00 00 02 02 00 00 00 00 01 08 00
  45 00 00 3c 3a 02 40 00 40 06 74 92 c6 12 00 01 c6 12 00 02
  c0 de 1f 90 b4 ce 93 9a 00 00 00 00 a0 02 fa f0 eb 22 00 00
  02 04 05 b4 04 02 08 0a 1b 63 91 86 00 00 00 00 01 03 03 0a`);

const SRC = 0xc612_0001;
const DST = 0xc612_0002;

const uint32 = fc.nat(0xffff_ffff);
const KNOWN_KINDS = new Set([0, 1, 2, 3, 4, 5, 8]);

const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  fc.nat(0xffff).map<TcpOption>((value) => ({ kind: 'mss', value })),
  fc.nat(0xff).map<TcpOption>((shift) => ({ kind: 'windowScale', shift })),
  fc.constant<TcpOption>({ kind: 'sackPermitted' }),
  fc
    .array(fc.record({ left: uint32, right: uint32 }), { minLength: 1, maxLength: 4 })
    .map<TcpOption>((blocks) => ({ kind: 'sack', blocks })),
  fc
    .record({ tsVal: uint32, tsEcr: uint32 })
    .map<TcpOption>(({ tsVal, tsEcr }) => ({ kind: 'timestamps', tsVal, tsEcr })),
  fc
    .record({
      type: fc.integer({ min: 2, max: 255 }).filter((t) => !KNOWN_KINDS.has(t)),
      data: fc.uint8Array({ maxLength: 12 }),
    })
    .map<TcpOption>(({ type, data }) => ({ kind: 'unknown', type, data })),
);

/**
 * Option lists that fit in 40 bytes, in canonical form: an `eol` only at the end, and one whenever
 * the options do not fill a multiple of 4 bytes (the zero padding reads back as an `eol`).
 */
const optionsArb: fc.Arbitrary<TcpOption[]> = fc
  .tuple(fc.array(optionArb, { maxLength: 12 }), fc.boolean())
  .map(([all, withEol]) => {
    const options: TcpOption[] = [];
    let length = 0;
    for (const option of all) {
      const l = tcpOptionsLength([option]);
      if (length + l > TCP_MAX_OPTIONS_LENGTH) break;
      options.push(option);
      length += l;
    }
    if ((withEol && length < TCP_MAX_OPTIONS_LENGTH) || length % 4 !== 0) options.push({ kind: 'eol' });
    return options;
  });

const reprArb: fc.Arbitrary<TcpRepr> = fc.record({
  srcPort: fc.nat(0xffff),
  dstPort: fc.nat(0xffff),
  seq: uint32,
  ack: uint32,
  flags: fc.nat(0xff),
  window: fc.nat(0xffff),
  urgentPointer: fc.nat(0xffff),
  options: optionsArb,
});

function emitToBuffer(repr: TcpRepr, payload: Uint8Array, src = SRC, dst = DST): Uint8Array {
  const buffer = new Uint8Array(tcpBufferLength(repr, payload.byteLength));
  expect(emitTcp(repr, buffer, src, dst, payload)).toBe(buffer.byteLength);
  return buffer;
}

/** What scanOptions should report for `options`: the last of each kind wins. */
function expectedSummary(options: readonly TcpOption[]): Record<string, unknown> {
  const s = {
    mss: -1,
    windowScale: -1,
    sackPermitted: false,
    hasTimestamps: false,
    tsVal: 0,
    tsEcr: 0,
    sackEdges: [] as number[],
  };
  for (const o of options) {
    if (o.kind === 'mss') s.mss = o.value;
    if (o.kind === 'windowScale') s.windowScale = o.shift;
    if (o.kind === 'sackPermitted') s.sackPermitted = true;
    if (o.kind === 'timestamps') Object.assign(s, { hasTimestamps: true, tsVal: o.tsVal, tsEcr: o.tsEcr });
    if (o.kind === 'sack') s.sackEdges = o.blocks.flatMap((b) => [b.left, b.right]);
  }
  return s;
}

function summaryOf(summary: TcpOptionSummary): Record<string, unknown> {
  return {
    mss: summary.mss,
    windowScale: summary.windowScale,
    sackPermitted: summary.sackPermitted,
    hasTimestamps: summary.hasTimestamps,
    tsVal: summary.tsVal,
    tsEcr: summary.tsEcr,
    sackEdges: Array.from(summary.sackEdges.subarray(0, 2 * summary.sackBlockCount)),
  };
}

/** A 20-byte header with data offset 5 + options, followed by `options` padded to the data offset. */
function headerWithOptions(optionBytes: number[], dataOffsetWords = 5 + Math.ceil(optionBytes.length / 4)): Uint8Array {
  const bytes = new Uint8Array(Math.max(dataOffsetWords * 4, TCP_MIN_HEADER_LENGTH + optionBytes.length));
  bytes[12] = dataOffsetWords << 4;
  bytes.set(optionBytes, TCP_MIN_HEADER_LENGTH);
  return bytes;
}

describe('TcpPacket on a real Linux SYN', () => {
  const ip = Ipv4Packet.checked(LINUX_SYN_FRAME.subarray(14));
  const ipRepr = { source: ip.source, destination: ip.destination };
  const packet = TcpPacket.checked(ip.payload);

  it('reads every field', () => {
    expect(packet.srcPort).toBe(49374);
    expect(packet.dstPort).toBe(8080);
    expect(packet.seq).toBe(0xb4ce939a);
    expect(packet.ack).toBe(0);
    expect(packet.dataOffset).toBe(10);
    expect(packet.headerLength).toBe(40);
    expect(packet.flags).toBe(TcpFlag.SYN);
    expect(packet.window).toBe(64240);
    expect(packet.checksum).toBe(0xeb22);
    expect(packet.urgentPointer).toBe(0);
    expect(packet.options.byteLength).toBe(20);
    expect(packet.payloadLength).toBe(0);
    expect(packet.segmentLength).toBe(1);
    expect(packet.verifyChecksum(ipRepr.source, ipRepr.destination)).toBe(true);
    expect(packet.verifyChecksum(ipRepr.destination, ipRepr.source + 1)).toBe(false);
  });

  it('parses the options in order', () => {
    const repr = parseTcp(packet);
    expect(repr).toEqual({
      srcPort: 49374,
      dstPort: 8080,
      seq: 0xb4ce939a,
      ack: 0,
      flags: TcpFlag.SYN,
      window: 64240,
      urgentPointer: 0,
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'sackPermitted' },
        { kind: 'timestamps', tsVal: 0x1b639186, tsEcr: 0 },
        { kind: 'nop' },
        { kind: 'windowScale', shift: 10 },
      ],
    });
  });

  it('scans the options without building arrays', () => {
    const summary = packet.scanOptions(new TcpOptionSummary());
    expect(summaryOf(summary)).toEqual({
      mss: 1460,
      windowScale: 10,
      sackPermitted: true,
      hasTimestamps: true,
      tsVal: 0x1b639186,
      tsEcr: 0,
      sackEdges: [],
    });
  });

  it('emits the kernel bytes back from the repr', () => {
    const again = emitToBuffer(parseTcp(packet), packet.payload, ipRepr.source, ipRepr.destination);
    expect(again).toEqual(ip.payload);
  });
});

describe('TCP repr', () => {
  it('parse(checked(emit(x))) equals x for every option kind, with payload and checksum', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 1500 }), uint32, uint32, (repr, payload, src, dst) => {
        const bytes = emitToBuffer(repr, payload, src, dst);
        expect(tcpHeaderLength(repr) % 4).toBe(0);
        const packet = TcpPacket.checked(bytes);
        expect(packet.headerLength).toBe(tcpHeaderLength(repr));
        expect(parseTcp(packet)).toEqual(repr);
        expect(packet.payload).toEqual(payload);
        expect(packet.verifyChecksum(src, dst)).toBe(true);
        expect(summaryOf(packet.scanOptions(new TcpOptionSummary()))).toEqual(expectedSummary(repr.options));
      }),
      { numRuns: 1000 },
    );
  });

  it('re-emits parsed bytes exactly (unknown options kept, order kept)', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 64 }), (repr, payload) => {
        const bytes = emitToBuffer(repr, payload);
        const packet = TcpPacket.checked(bytes);
        expect(emitToBuffer(parseTcp(packet), packet.payload)).toEqual(bytes);
      }),
    );
  });

  it('detects any single flipped bit outside the checksum field', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(7), (repr, payload, at, bit) => {
        const bytes = emitToBuffer(repr, payload);
        const positions = Array.from({ length: bytes.byteLength }, (_, i) => i).filter((i) => i !== 16 && i !== 17);
        const i = positions[at % positions.length]!;
        bytes[i] = bytes[i]! ^ (1 << bit);
        let ok: boolean;
        try {
          ok = TcpPacket.checked(bytes).verifyChecksum(SRC, DST);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError); // the flip broke an option length
          return;
        }
        expect(ok).toBe(false);
      }),
    );
  });

  it('copies the payload only when it is not already in place', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 300 }), (repr, payload) => {
        const given = emitToBuffer(repr, payload);
        const headerLength = tcpHeaderLength(repr);
        const inPlace = new Uint8Array(given.byteLength);
        inPlace.set(payload, headerLength);
        expect(emitTcp(repr, inPlace, SRC, DST)).toBe(given.byteLength);
        expect(inPlace).toEqual(given);
        expect(emitTcp(repr, inPlace, SRC, DST, inPlace.subarray(headerLength))).toBe(given.byteLength);
        expect(inPlace).toEqual(given);
      }),
    );
  });

  it('a scan summary can be reused: a later packet without options clears it', () => {
    const summary = new TcpOptionSummary();
    const withSack = emitToBuffer(
      {
        srcPort: 1,
        dstPort: 2,
        seq: 3,
        ack: 4,
        flags: TcpFlag.ACK,
        window: 5,
        urgentPointer: 0,
        options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [{ left: 10, right: 20 }] }],
      },
      new Uint8Array(0),
    );
    TcpPacket.checked(withSack).scanOptions(summary);
    expect(summary.sackBlockCount).toBe(1);
    const plain = emitToBuffer(
      { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TcpFlag.ACK, window: 5, urgentPointer: 0, options: [] },
      new Uint8Array(0),
    );
    TcpPacket.checked(plain).scanOptions(summary);
    expect(summaryOf(summary)).toEqual(expectedSummary([]));
  });

  it('rejects bad emit arguments with RangeError', () => {
    const base: TcpRepr = {
      srcPort: 1,
      dstPort: 2,
      seq: 3,
      ack: 4,
      flags: 0,
      window: 5,
      urgentPointer: 0,
      options: [],
    };
    const buffer = new Uint8Array(80);
    const bad: Partial<TcpRepr>[] = [
      { seq: -1 },
      { ack: 2 ** 32 },
      { flags: 0x100 },
      { window: 1.5 },
      { srcPort: 70000 },
      { options: [{ kind: 'eol' }, { kind: 'nop' }] },
      { options: [{ kind: 'sack', blocks: [] }] },
      { options: Array.from({ length: 5 }, () => ({ kind: 'timestamps', tsVal: 0, tsEcr: 0 }) as TcpOption) },
      { options: [{ kind: 'unknown', type: 2, data: new Uint8Array(2) }] },
      { options: [{ kind: 'mss', value: 65536 }] },
    ];
    for (const change of bad)
      expect(() => emitTcp({ ...base, ...change }, buffer, SRC, DST, new Uint8Array(0))).toThrow(RangeError);
    expect(() => emitTcp(base, new Uint8Array(19), SRC, DST)).toThrow(RangeError);
    expect(() => emitTcp(base, new Uint8Array(30), SRC, DST, new Uint8Array(11))).toThrow(RangeError);
  });
});

describe('TcpPacket.checked', () => {
  it('rejects malformed option lengths', () => {
    const malformed: number[][] = [
      [2, 3, 5, 0], // MSS with length 3
      [2, 5, 5, 180, 0, 0, 0, 0], // MSS with length 5
      [3, 2, 1, 1], // window scale with length 2
      [4, 3, 0, 1], // SACK-Permitted with length 3
      [8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // timestamps with length 9
      [5, 2, 1, 1], // SACK with no block
      [5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // SACK with a partial block
      [30, 1, 0, 0], // unknown kind with length 1
      [30, 0, 0, 0], // length 0
      [1, 1, 1, 30], // length octet missing at the end of the header
      [30, 9, 0, 0], // runs past the header
    ];
    for (const options of malformed)
      expect(() => TcpPacket.checked(headerWithOptions(options)), JSON.stringify(options)).toThrow(MalformedError);
  });

  it('ignores anything after EOL and keeps zero-length-data unknown options', () => {
    const packet = TcpPacket.checked(headerWithOptions([30, 2, 0, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(parseTcp(packet).options).toEqual([{ kind: 'unknown', type: 30, data: new Uint8Array(0) }, { kind: 'eol' }]);
  });

  it('rejects a data offset below 5 as malformed and one past the bytes as truncated', () => {
    const bytes = new Uint8Array(24);
    bytes[12] = 4 << 4;
    expect(() => TcpPacket.checked(bytes)).toThrow(MalformedError);
    bytes[12] = 7 << 4;
    expect(() => TcpPacket.checked(bytes)).toThrow(TruncatedError);
    expect(() => TcpPacket.checked(new Uint8Array(19))).toThrow(TruncatedError);
  });

  it('arbitrary bytes only ever throw DecodeError, and what passes parses and scans consistently', () => {
    const header = fc
      .tuple(
        fc.integer({ min: 0, max: 15 }),
        fc.uint8Array({ minLength: 0, maxLength: 44 }),
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
      )
      .map(([dataOffset, rest, fixed]) => {
        const bytes = new Uint8Array(20 + rest.byteLength);
        bytes.set(fixed);
        bytes.set(rest, 20);
        bytes[12] = (dataOffset << 4) | (fixed[12]! & 0x0f);
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(header, fc.uint8Array({ maxLength: 80 })), (bytes) => {
        let packet: TcpPacket;
        try {
          packet = TcpPacket.checked(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          return;
        }
        const repr = parseTcp(packet);
        expect(summaryOf(packet.scanOptions(new TcpOptionSummary()))).toEqual(expectedSummary(repr.options));
        packet.verifyChecksum(SRC, DST);
      }),
      { numRuns: 5000 },
    );
  });

  it('truncations of a valid segment only throw TruncatedError, or succeed with a shorter payload', () => {
    fc.assert(
      fc.property(reprArb, fc.uint8Array({ maxLength: 40 }), fc.nat(), (repr, payload, cut) => {
        const bytes = emitToBuffer(repr, payload);
        const length = cut % (bytes.byteLength + 1);
        const short = bytes.subarray(0, length);
        if (length < tcpHeaderLength(repr)) expect(() => TcpPacket.checked(short)).toThrow(TruncatedError);
        else expect(parseTcp(TcpPacket.checked(short))).toEqual(repr);
      }),
    );
  });
});
