import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  SerialFrameDecoder,
  crc8,
  encodeSerialFrame,
  encodeSerialFrameToBytes,
  maxEncodedLength,
  serialProtocol as P,
  totalDecoderErrors,
  writeFcs,
} from '../src/index.js';
import type { DecodedSerialFrame, SerialFrame } from '../src/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

function dataPayload(length: number, fill: (i: number) => number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length - 4; i++) f[i] = fill(i) & 0xff;
  writeFcs(f);
  return f;
}

function collect(options: { maxPayload?: number; verifyDataFcs?: boolean } = {}) {
  const frames: SerialFrame[] = [];
  const unknown: SerialFrame[] = [];
  const copy = (f: DecodedSerialFrame): SerialFrame => ({
    type: f.type,
    flags: f.flags,
    seq: f.seq,
    payload: f.payload.slice(),
  });
  const decoder = new SerialFrameDecoder({
    ...options,
    onFrame: (f) => frames.push(copy(f)),
    onUnknown: (f) => unknown.push(copy(f)),
  });
  return { decoder, frames, unknown };
}

const frameKey = (f: SerialFrame): string => `${f.type}/${f.flags}/${f.seq}/${hex(f.payload)}`;

describe('serial codec: checks', () => {
  it('CRC-8/SMBUS check value', () => {
    expect(crc8(new TextEncoder().encode('123456789'))).toBe(0xf4);
  });

  it('encodes the HELLO request of the protocol document byte for byte', () => {
    const payload = P.emitHelloRequest({ minVersion: 1, maxVersion: 1, maxFrame: 1522, capabilities: 0x0f });
    const bytes = encodeSerialFrameToBytes({ type: P.FrameType.HELLO, flags: 0, seq: 1, payload });
    expect(hex(bytes)).toBe('00020201020102080607010105f20101060f0abf74f000');
  });

  it('encodes the HELLO response of the protocol document byte for byte', () => {
    const payload = P.emitHelloResponse({
      version: 1,
      maxFrame: 1518,
      capabilities: 0x0f,
      window: 32,
      maxMulticast: 32,
    });
    const bytes = encodeSerialFrameToBytes({ type: P.FrameType.HELLO, flags: P.FrameFlag.RESPONSE, seq: 1, payload });
    expect(hex(bytes)).toBe('000302010201020c037a010305ee0101020f02200620f7390a5e00');
  });

  it('encodes the DATA example of the protocol document byte for byte', () => {
    const frame = new Uint8Array(64);
    frame.set(fromHex('ffffffffffff 020000000001 0806'), 0);
    frame.set(fromHex('0001 0800 06 04 0001 020000000001 c6120001 000000000000 c6120002'), 14);
    writeFcs(frame);
    expect(hex(frame.subarray(60))).toBe('5115adc9');
    const bytes = encodeSerialFrameToBytes({ type: P.FrameType.DATA, flags: 0, seq: 0, payload: frame });
    expect(hex(bytes)).toBe(
      '00020101010102400984ffffffffffff02010101040108060301080306040301020101010401c6120201010101010103c6120202' +
        '0101010101010101010101010101010101055115adc900',
    );
    const { decoder, frames } = collect();
    decoder.push(bytes);
    expect(frames).toHaveLength(1);
    expect(hex(frames[0]!.payload)).toBe(hex(frame));
    expect(bytes[0]).toBe(0);
    expect(bytes[bytes.length - 1]).toBe(0);
    expect(bytes.subarray(1, bytes.length - 1).includes(0)).toBe(false);
  });

  it('round-trips COBS edge cases: zeros only, runs of 253/254/255 non-zero bytes', () => {
    const payloads = [
      new Uint8Array(40),
      new Uint8Array(253).fill(7),
      new Uint8Array(254).fill(7),
      new Uint8Array(255).fill(7),
      new Uint8Array(1536).fill(0xff),
    ];
    const { decoder, frames } = collect();
    for (const [i, payload] of payloads.entries())
      decoder.push(encodeSerialFrameToBytes({ type: P.FrameType.GET_STATS, flags: 1, seq: i, payload }));
    expect(frames.map((f) => hex(f.payload))).toEqual(payloads.map(hex));
    expect(totalDecoderErrors(decoder.errors)).toBe(0);
  });

  it('refuses to encode an oversized payload or into a short buffer', () => {
    expect(() =>
      encodeSerialFrameToBytes({ type: 2, flags: 0, seq: 0, payload: new Uint8Array(P.SERIAL_MAX_PAYLOAD + 1) }),
    ).toThrow(/exceeds/);
    expect(() =>
      encodeSerialFrame({ type: 2, flags: 0, seq: 0, payload: new Uint8Array(10) }, new Uint8Array(10), 0),
    ).toThrow(/too small/);
    expect(() => encodeSerialFrameToBytes({ type: 2, flags: 0, seq: 70000, payload: new Uint8Array(1) })).toThrow(
      /out of range/,
    );
  });
});

describe('serial codec: each error is counted and the next frame survives', () => {
  const good = (): Uint8Array =>
    encodeSerialFrameToBytes({ type: P.FrameType.GET_MAC, flags: 1, seq: 9, payload: P.emitMac(0x020000000042) });

  function expectOnly(kind: string, bad: Uint8Array): void {
    const { decoder, frames } = collect();
    decoder.push(bad);
    decoder.push(good());
    expect(frames.map((f) => f.seq)).toEqual([9]);
    const nonZero = Object.entries(decoder.errors).filter(([, v]) => v > 0);
    expect(nonZero).toEqual([[kind, 1]]);
  }

  it('bad header check', () => {
    const b = good();
    b[2]! ^= 0x01; // the type byte (after 00 and the first code byte)
    expectOnly('badHeader', b);
  });

  it('bad control CRC', () => {
    const b = good();
    b[b.length - 3]! ^= 0x10;
    expectOnly('badCrc', b);
  });

  it('bad data FCS', () => {
    const payload = dataPayload(64, (i) => i + 1);
    payload[20]! ^= 0x40;
    expectOnly('badFcs', encodeSerialFrameToBytes({ type: P.FrameType.DATA, flags: 0, seq: 1, payload }));
  });

  it('a bad FCS passes when FCS checking is off', () => {
    const payload = dataPayload(64, (i) => i + 1);
    payload[20]! ^= 0x40;
    const { decoder, frames } = collect({ verifyDataFcs: false });
    decoder.push(encodeSerialFrameToBytes({ type: P.FrameType.DATA, flags: 0, seq: 1, payload }));
    expect(frames).toHaveLength(1);
  });

  it('truncated: cut in the middle', () => {
    const b = good();
    expectOnly('truncated', Uint8Array.from([...b.subarray(0, 8), 0]));
  });

  it('truncated: shorter than a header', () => {
    expectOnly('truncated', fromHex('00 03 02 01 00'));
  });

  it('truncated: a DATA payload under 18 bytes', () => {
    expectOnly(
      'truncated',
      encodeSerialFrameToBytes({ type: P.FrameType.DATA, flags: 0, seq: 1, payload: dataPayload(17, (i) => i + 1) }),
    );
  });

  it('framing: a lost delimiter merges two frames', () => {
    const a = good();
    const merged = Uint8Array.from([...a.subarray(0, a.length - 1), ...a.subarray(2)]);
    expectOnly('framing', merged);
  });

  it('oversize: a run longer than any frame', () => {
    expectOnly('oversize', Uint8Array.from([0, ...new Array<number>(3000).fill(0x41), 0]));
  });

  it('oversize: a declared payload over the configured limit', () => {
    const { decoder, frames } = collect({ maxPayload: 100 });
    decoder.push(
      encodeSerialFrameToBytes({ type: P.FrameType.GET_STATS, flags: 1, seq: 1, payload: new Uint8Array(101) }),
    );
    decoder.push(good());
    expect(frames.map((f) => f.seq)).toEqual([9]);
    expect(decoder.errors.oversize).toBe(1);
  });

  it('unknown type: counted and handed to onUnknown', () => {
    const { decoder, frames, unknown } = collect();
    decoder.push(encodeSerialFrameToBytes({ type: 0x7e, flags: 0, seq: 3, payload: new Uint8Array([1, 2]) }));
    decoder.push(good());
    expect(unknown.map((f) => f.type)).toEqual([0x7e]);
    expect(frames.map((f) => f.seq)).toEqual([9]);
    expect(decoder.errors.unknownType).toBe(1);
  });

  it('a throwing consumer is counted and decoding goes on', () => {
    let calls = 0;
    const decoder = new SerialFrameDecoder({
      onFrame: () => {
        calls++;
        if (calls === 1) throw new Error('consumer bug');
      },
    });
    const two = Uint8Array.from([...good(), ...good()]);
    expect(() => decoder.push(two)).not.toThrow();
    expect(calls).toBe(2);
    expect(decoder.errors.consumerErrors).toBe(1);
  });

  it('consecutive delimiters are empty frames, not errors', () => {
    const { decoder, frames } = collect();
    decoder.push(new Uint8Array(100));
    decoder.push(good());
    expect(frames).toHaveLength(1);
    expect(totalDecoderErrors(decoder.errors)).toBe(0);
  });
});

describe('serial codec: fuzzed stream (random frames, garbage, corruption, truncation, chunking)', () => {
  const controlTypes = [
    P.FrameType.HELLO,
    P.FrameType.GET_MAC,
    P.FrameType.GET_LINK,
    P.FrameType.SET_RX_FILTER,
    P.FrameType.GET_STATS,
    P.FrameType.CREDIT,
    P.FrameType.LINK_EVENT,
  ];
  const frameArb = fc.oneof(
    fc.record({
      type: fc.constant<number>(P.FrameType.DATA),
      flags: fc.constant(0),
      seq: fc.integer({ min: 0, max: 0xffff }),
      payload: fc
        .tuple(fc.integer({ min: 18, max: 1518 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 3 }))
        .map(([len, seed, zeros]) => dataPayload(len, (i) => (zeros === 0 && i % 7 === 0 ? 0 : i * seed + 1))),
    }),
    fc.record({
      type: fc.constantFrom(...controlTypes),
      flags: fc.integer({ min: 0, max: 3 }),
      seq: fc.integer({ min: 0, max: 0xffff }),
      payload: fc.uint8Array({ maxLength: 600 }),
    }),
  );
  type Damage = { kind: 'none' } | { kind: 'flip'; at: number; xor: number } | { kind: 'cut'; at: number; len: number };
  const damageArb: fc.Arbitrary<Damage> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Damage>({ kind: 'none' }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
    },
  );
  const itemArb = fc.record({
    frame: frameArb,
    damage: damageArb,
    garbage: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { freq: 3 }),
  });

  it('recovers every intact frame, counts damage, never throws', () => {
    fc.assert(
      fc.property(
        fc.array(itemArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 50 }),
        (items, chunkSizes) => {
          const parts: Uint8Array[] = [];
          const expected: string[] = [];
          let damaged = 0;
          for (const { frame, damage, garbage } of items) {
            if (garbage !== null) parts.push(garbage);
            const enc = encodeSerialFrameToBytes(frame);
            if (damage.kind === 'none') {
              parts.push(enc);
              expected.push(frameKey(frame));
            } else if (damage.kind === 'flip') {
              // Any byte, delimiters included.
              const b = enc.slice();
              b[damage.at % b.length]! ^= damage.xor;
              parts.push(b);
              damaged++;
            } else {
              // Remove at least one byte of the body after its first (maybe the trailing delimiter too).
              const start = 2 + (damage.at % (enc.length - 3));
              const end = Math.min(enc.length, start + damage.len);
              parts.push(Uint8Array.from([...enc.subarray(0, start), ...enc.subarray(end)]));
              damaged++;
            }
          }
          // A delimiter at the very end ends a damaged last frame (the next frame's leading one would).
          parts.push(new Uint8Array(1));
          const stream = Buffer.concat(parts);
          const { decoder, frames } = collect();
          let pos = 0;
          for (let i = 0; pos < stream.length; i++) {
            const n = chunkSizes[i % chunkSizes.length]!;
            decoder.push(stream.subarray(pos, pos + n));
            pos += n;
          }
          expect(frames.map(frameKey)).toEqual(expected);
          expect(totalDecoderErrors(decoder.errors)).toBeGreaterThanOrEqual(damaged);
          expect(decoder.bytes).toBe(stream.length);
        },
      ),
      { numRuns: 500, seed: 0x5e1a1 },
    );
  });

  it('never throws and stays bounded on pure noise, then decodes a good frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (noise) => {
        const { decoder, frames } = collect();
        decoder.push(noise);
        decoder.push(
          encodeSerialFrameToBytes({ type: P.FrameType.GET_LINK, flags: 1, seq: 77, payload: new Uint8Array(6) }),
        );
        expect(frames.at(-1)?.seq).toBe(77);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('maxEncodedLength bounds every encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: P.SERIAL_MAX_PAYLOAD }), (payload) => {
        const bytes = encodeSerialFrameToBytes({ type: P.FrameType.GET_STATS, flags: 1, seq: 1, payload });
        expect(bytes.length).toBeLessThanOrEqual(maxEncodedLength(payload.length));
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
