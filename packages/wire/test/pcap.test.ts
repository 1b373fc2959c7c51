import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  LINKTYPE_ETHERNET,
  MalformedError,
  PCAP_HEADER_LENGTH,
  PCAP_MAX_SNAPLEN,
  PCAP_RECORD_HEADER_LENGTH,
  PcapReader,
  PcapRecord,
  PcapSink,
  PcapStreamReader,
  PcapWriter,
  TruncatedError,
  UnsupportedError,
  parsePcapHeader,
  pcapTimestampFromNanos,
  type PcapPrecision,
  type PcapRecordInput,
  type PcapWriterOptions,
} from '../src/index.js';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function writeFile(options: PcapWriterOptions, records: readonly PcapRecordInput[]): Uint8Array {
  const w = new PcapWriter(options);
  return concat([w.header(), ...records.map((r) => w.record(r))]);
}

/** A hand-made big-endian nanosecond file: one 4-byte record at 1.000000007 s, link type 101. */
const BIG_ENDIAN_NANO = Uint8Array.of(
  0xa1,
  0xb2,
  0x3c,
  0x4d,
  0,
  2,
  0,
  4,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x40,
  0,
  0,
  0,
  101,
  0,
  0,
  0,
  1,
  0,
  0,
  0,
  7,
  0,
  0,
  0,
  4,
  0,
  0,
  0,
  60,
  0xde,
  0xad,
  0xbe,
  0xef,
);

const precisionArb = fc.constantFrom<PcapPrecision>('micro', 'nano');
const optionsArb = fc.record({
  precision: precisionArb,
  littleEndian: fc.boolean(),
  snapLen: fc.oneof(fc.integer({ min: 1, max: 80 }), fc.constant(PCAP_MAX_SNAPLEN)),
  linkType: fc.oneof(fc.constant(LINKTYPE_ETHERNET), fc.integer({ min: 0, max: 0xffff_ffff })),
});
function recordsArb(precision: PcapPrecision): fc.Arbitrary<PcapRecordInput[]> {
  const units = precision === 'micro' ? 1_000_000 : 1_000_000_000;
  return fc.array(
    fc
      .record({
        seconds: fc.integer({ min: 0, max: 0xffff_ffff }),
        fraction: fc.integer({ min: 0, max: units - 1 }),
        data: fc.uint8Array({ maxLength: 120 }),
        extra: fc.integer({ min: 0, max: 70_000 }),
      })
      .map(({ seconds, fraction, data, extra }) => ({
        seconds,
        fraction,
        data,
        originalLength: data.byteLength + extra,
      })),
    { maxLength: 12 },
  );
}
const fileArb = optionsArb.chain((options) => recordsArb(options.precision).map((records) => ({ options, records })));

/** What reading back a written record must give: the data cut to the snapshot length. */
function expected(options: { precision: PcapPrecision; snapLen: number }, r: PcapRecordInput) {
  return {
    seconds: r.seconds,
    fraction: r.fraction,
    precision: options.precision,
    originalLength: r.originalLength ?? r.data.byteLength,
    data: r.data.subarray(0, Math.min(r.data.byteLength, options.snapLen)),
  };
}
function plain(r: PcapRecord) {
  return {
    seconds: r.seconds,
    fraction: r.fraction,
    precision: r.precision,
    originalLength: r.originalLength,
    data: r.data,
  };
}

/** Splits `bytes` at the given cut points (sorted, deduplicated) into zero-copy chunks. */
function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.byteLength]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function expectOnlyDecodeErrors(run: () => void): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}

describe('pcap header', () => {
  it('writes the libpcap 2.4 header byte for byte (little-endian, microseconds)', () => {
    const h = new PcapWriter({ snapLen: 65535 }).header();
    expect([...h]).toEqual([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
  });
  it('writes the nanosecond magic big-endian when asked', () => {
    const h = new PcapWriter({ precision: 'nano', littleEndian: false }).header();
    expect([...h.subarray(0, 4)]).toEqual([0xa1, 0xb2, 0x3c, 0x4d]);
  });
  it('reads a hand-made big-endian nanosecond file and reports its link type', () => {
    const reader = new PcapReader(BIG_ENDIAN_NANO);
    expect(reader.header).toMatchObject({
      precision: 'nano',
      littleEndian: false,
      versionMajor: 2,
      versionMinor: 4,
      snapLen: 64,
      linkType: 101,
    });
    const [r, ...rest] = reader.readAll();
    expect(rest).toHaveLength(0);
    expect(r!.seconds).toBe(1);
    expect(r!.fraction).toBe(7);
    expect(r!.capturedLength).toBe(4);
    expect(r!.originalLength).toBe(60);
    expect([...r!.data]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(r!.timestampNanos()).toBe(1_000_000_007n);
    expect(r!.timestampNanosNumber()).toBe(1_000_000_007);
  });
  it('rejects pcapng, other versions and foreign bytes with distinct typed errors', () => {
    expect(() => parsePcapHeader(Uint8Array.of(0x0a, 0x0d, 0x0d, 0x0a, ...new Array<number>(20).fill(0)))).toThrow(
      UnsupportedError,
    );
    const v1 = BIG_ENDIAN_NANO.slice(0, 24);
    v1[5] = 1;
    expect(() => parsePcapHeader(v1)).toThrow(UnsupportedError);
    expect(() => parsePcapHeader(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n'))).toThrow(MalformedError);
    expect(() => parsePcapHeader(Uint8Array.of(0xd4, 0xc3))).toThrow(TruncatedError);
    expect(() => parsePcapHeader(Uint8Array.of(0xd4, 0x00))).toThrow(MalformedError);
    expect(() => parsePcapHeader(new Uint8Array(0))).toThrow(TruncatedError);
  });
});

describe('pcap records', () => {
  it('converts timestamps both ways at both precisions', () => {
    expect(pcapTimestampFromNanos(1_700_000_000_123_456_789n, 'nano')).toEqual({
      seconds: 1_700_000_000,
      fraction: 123_456_789,
    });
    expect(pcapTimestampFromNanos(1_700_000_000_123_456_789n, 'micro')).toEqual({
      seconds: 1_700_000_000,
      fraction: 123_456,
    });
    expect(new PcapRecord(1_700_000_000, 123_456, 'micro', 0, new Uint8Array(0)).timestampNanos()).toBe(
      1_700_000_000_123_456_000n,
    );
    expect(() => pcapTimestampFromNanos(-1n, 'nano')).toThrow(RangeError);
  });

  it('gives record data as a view of the input, not a copy', () => {
    const file = writeFile({}, [{ seconds: 1, fraction: 2, data: Uint8Array.of(1, 2, 3) }]);
    const [r] = new PcapReader(file).readAll();
    expect(r!.data.buffer).toBe(file.buffer);
    expect(r!.data.byteOffset).toBe(PCAP_HEADER_LENGTH + PCAP_RECORD_HEADER_LENGTH);
  });

  it('truncates to the snapshot length and keeps the original length', () => {
    const file = writeFile({ snapLen: 4 }, [{ seconds: 0, fraction: 0, data: Uint8Array.of(1, 2, 3, 4, 5, 6) }]);
    const [r] = new PcapReader(file).readAll();
    expect([...r!.data]).toEqual([1, 2, 3, 4]);
    expect(r!.originalLength).toBe(6);
  });

  it('rejects bad writer arguments with RangeError', () => {
    const w = new PcapWriter();
    expect(() => w.record({ seconds: -1, fraction: 0, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => w.record({ seconds: 0, fraction: 1_000_000, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => w.record({ seconds: 0, fraction: 0, data: new Uint8Array(4), originalLength: 3 })).toThrow(RangeError);
    expect(() => w.recordInto({ seconds: 0, fraction: 0, data: new Uint8Array(4) }, new Uint8Array(19), 0)).toThrow(
      RangeError,
    );
    expect(() => new PcapWriter({ snapLen: PCAP_MAX_SNAPLEN + 1 })).toThrow(RangeError);
  });

  /** A valid little-endian micro file with one record whose header fields the test then corrupts. */
  function oneRecordFile(snapLen = 100): { file: Uint8Array; view: DataView } {
    const file = writeFile({ snapLen }, [{ seconds: 5, fraction: 6, data: new Uint8Array(10) }]);
    return { file, view: new DataView(file.buffer, file.byteOffset + PCAP_HEADER_LENGTH) };
  }
  it('rejects a captured length above the snapshot length as malformed', () => {
    const { file, view } = oneRecordFile(100);
    view.setUint32(8, 101, true);
    view.setUint32(12, 101, true);
    expect(() => new PcapReader(file).readAll()).toThrow(MalformedError);
  });
  it('rejects an absurd captured length as malformed, not truncated, even before the bytes arrive', () => {
    const { file, view } = oneRecordFile();
    new DataView(file.buffer).setUint32(16, 0, true); // snaplen 0: no stated limit, so the reader's bound applies
    view.setUint32(8, 0x7fff_ffff, true);
    view.setUint32(12, 0x7fff_ffff, true);
    expect(() => new PcapReader(file).readAll()).toThrow(MalformedError);
    const s = new PcapStreamReader();
    s.push(file.subarray(0, PCAP_HEADER_LENGTH + PCAP_RECORD_HEADER_LENGTH));
    expect(() => s.next()).toThrow(MalformedError);
    expect(() => s.next()).toThrow(MalformedError); // sticky
    const bounded = new PcapReader(writeFile({}, [{ seconds: 0, fraction: 0, data: new Uint8Array(50) }]), {
      maxCaptureLength: 49,
    });
    expect(() => bounded.readAll()).toThrow(MalformedError);
  });
  it('rejects an original length below the captured length, and a sub-second field of a second or more', () => {
    const a = oneRecordFile();
    a.view.setUint32(12, 9, true);
    expect(() => new PcapReader(a.file).readAll()).toThrow(MalformedError);
    const b = oneRecordFile();
    b.view.setUint32(4, 1_000_000, true);
    expect(() => new PcapReader(b.file).readAll()).toThrow(MalformedError);
  });

  it('reports truncation with what was needed and what was there', () => {
    const file = writeFile({}, [{ seconds: 1, fraction: 0, data: new Uint8Array(10) }]);
    const cut = file.subarray(0, file.byteLength - 3);
    let caught: unknown;
    try {
      new PcapReader(cut).readAll();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TruncatedError);
    expect((caught as TruncatedError).needed).toBe(file.byteLength);
    expect((caught as TruncatedError).available).toBe(cut.byteLength);
  });

  it('a PcapSink writes the same bytes as the writer', () => {
    const chunks: Uint8Array[] = [];
    const records = [
      { seconds: 10, fraction: 20, data: Uint8Array.of(9, 8, 7) },
      { seconds: 11, fraction: 0, data: new Uint8Array(0) },
    ];
    const sink = new PcapSink({ write: (c) => chunks.push(c) }, { precision: 'nano' });
    for (const r of records) sink.write(r);
    expect(sink.records).toBe(2);
    expect(concat(chunks)).toEqual(writeFile({ precision: 'nano' }, records));
  });
});

describe('pcap properties', () => {
  it('round trip: what the writer writes the reader reads back, both precisions and byte orders', () => {
    fc.assert(
      fc.property(fileArb, ({ options, records }) => {
        const file = writeFile(options, records);
        const reader = new PcapReader(file);
        expect(reader.header).toMatchObject({ ...options, versionMajor: 2, versionMinor: 4 });
        expect(reader.readAll().map(plain)).toEqual(records.map((r) => expected(options, r)));
        // recordInto into one preallocated buffer gives the same file.
        const w = new PcapWriter(options);
        const buf = new Uint8Array(
          PCAP_HEADER_LENGTH + records.reduce((n, r) => n + w.recordLength(r.data.byteLength), 0),
        );
        buf.set(w.header());
        let o = PCAP_HEADER_LENGTH;
        for (const r of records) o += w.recordInto(r, buf, o);
        expect(o).toBe(buf.byteLength);
        expect(buf).toEqual(file);
      }),
      { numRuns: 300 },
    );
  });

  it('streaming: feeding the file in random chunks gives the same records, then ends cleanly', () => {
    fc.assert(
      fc.property(fileArb, fc.array(fc.nat(), { maxLength: 40 }), ({ options, records }, cuts) => {
        const file = writeFile(options, records);
        const whole = new PcapReader(file).readAll().map(plain);
        const s = new PcapStreamReader();
        const got: PcapRecord[] = [];
        for (const c of chunk(file, cuts)) {
          s.push(c);
          for (const r of s) got.push(r);
        }
        s.end();
        expect(s.bufferedBytes).toBe(0);
        expect(s.header).toEqual(new PcapReader(file).header);
        expect(got.map(plain)).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('truncation anywhere: the whole-buffer reader throws TruncatedError, the stream gives the complete records then end() throws TruncatedError', () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), ({ options, records }, cutSeed) => {
        const file = writeFile(options, records);
        const cut = cutSeed % file.byteLength; // strictly inside the file
        const bytes = file.subarray(0, cut);
        // Record boundaries: cutting exactly on one is a valid shorter file.
        const boundaries = [PCAP_HEADER_LENGTH];
        const w = new PcapWriter(options);
        for (const r of records) boundaries.push(boundaries.at(-1)! + w.recordLength(r.data.byteLength));
        const onBoundary = boundaries.includes(cut);
        const complete = boundaries.filter((b) => b <= cut).length - 1;
        const whole = () => new PcapReader(bytes).readAll();
        if (onBoundary) expect(whole()).toHaveLength(complete);
        else expect(whole).toThrow(TruncatedError);
        const s = new PcapStreamReader();
        s.push(bytes);
        expect([...s]).toHaveLength(Math.max(complete, 0));
        if (onBoundary) s.end();
        else expect(() => s.end()).toThrow(TruncatedError);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary bytes only ever throw DecodeError (whole buffer and streamed)', () => {
    const header = new PcapWriter({ snapLen: 200 }).header();
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((tail) => concat([header, tail])),
    );
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        expectOnlyDecodeErrors(() => new PcapReader(bytes).readAll());
        const s = new PcapStreamReader();
        expectOnlyDecodeErrors(() => {
          for (const c of chunk(bytes, cuts)) {
            s.push(c);
            for (const r of s) expect(r.data.byteLength).toBeLessThanOrEqual(200);
          }
          s.end();
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('a valid file with bytes flipped only ever throws DecodeError, and the stream agrees with the whole-buffer reader', () => {
    fc.assert(
      fc.property(
        fileArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        ({ options, records }, flips) => {
          const file = writeFile(options, records);
          for (const [at, value] of flips) file[at % file.byteLength] = value;
          let wholeError: unknown;
          let wholeCount = 0;
          try {
            for (const _ of new PcapReader(file)) wholeCount++;
          } catch (e) {
            wholeError = e;
            if (!(e instanceof DecodeError)) throw e;
          }
          let streamError: unknown;
          let streamCount = 0;
          const s = new PcapStreamReader();
          try {
            s.push(file);
            for (const _ of s) streamCount++;
            s.end();
          } catch (e) {
            streamError = e;
            if (!(e instanceof DecodeError)) throw e;
          }
          expect(streamCount).toBe(wholeCount);
          expect((streamError as DecodeError | undefined)?.code).toBe((wholeError as DecodeError | undefined)?.code);
        },
      ),
      { numRuns: 500 },
    );
  });
});
