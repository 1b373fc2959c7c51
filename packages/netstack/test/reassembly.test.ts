import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IP_PROTO_TCP, IP_PROTO_UDP, Ipv4Packet, parseIpv4, parseIpv4Packet, type Ipv4Repr } from '@postern/wire';
import {
  DATAGRAM_OVERHEAD_BYTES,
  FragmentError,
  Reassembler,
  copiedOptions,
  fragmentIpv4,
  reassembledPacketFrame,
  type ReassemblyResult,
} from '../src/index.js';

const SRC = parseIpv4('198.18.0.1');
const DST = parseIpv4('198.18.0.2');

function header(offset: number, more: boolean, length: number, fields: Partial<Ipv4Repr> = {}): Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    identification: 0x1234,
    dontFragment: false,
    moreFragments: more,
    fragmentOffset: offset,
    ttl: 64,
    protocol: IP_PROTO_UDP,
    source: SRC,
    destination: DST,
    options: new Uint8Array(0),
    payloadLength: length,
    ...fields,
  };
}

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** Feeds fragment [offset, offset+length) of `data`. */
function feed(
  r: Reassembler,
  now: number,
  data: Uint8Array,
  offset: number,
  length: number,
  more: boolean,
  fields: Partial<Ipv4Repr> = {},
): ReassemblyResult {
  return r.add(now, header(offset, more, length, fields), data.subarray(offset, offset + length));
}

/** Index of the first differing byte, or -1 when equal (fast on large buffers, unlike deep equality). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.byteLength === b.byteLength ? -1 : n;
}

function complete(res: ReassemblyResult): Uint8Array {
  if (res.status !== 'complete') throw new Error(`expected complete, got ${JSON.stringify(res)}`);
  return res.payload;
}

describe('Reassembler', () => {
  it('reassembles in order and out of order, and reports the first fragment header', () => {
    const data = bytes(3000);
    for (const order of [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
    ]) {
      const r = new Reassembler();
      const opts = Uint8Array.of(0x94, 4, 0, 0); // router alert, kept from the first fragment
      const frags = [
        [0, 1480, true],
        [1480, 1480, true],
        [2960, 40, false],
      ] as const;
      let res: ReassemblyResult | undefined;
      for (const i of order) {
        const [o, l, m] = frags[i]!;
        res = feed(r, 0, data, o, l, m, o === 0 ? { options: opts, ttl: 9 } : {});
      }
      expect(complete(res!)).toEqual(data);
      const h = (res as { header: Ipv4Repr }).header;
      expect(h).toMatchObject({
        fragmentOffset: 0,
        moreFragments: false,
        payloadLength: 3000,
        ttl: 9,
        identification: 0x1234,
      });
      expect(h.options).toEqual(opts);
      expect(r.datagrams).toBe(0);
      expect(r.memory).toBe(0);
      expect(r.stats.get('reassembled')).toBe(1);
    }
  });

  it('copies fragment payloads so the caller may reuse its buffers', () => {
    const r = new Reassembler();
    const buf = bytes(16, 3);
    const want = buf.slice();
    r.add(0, header(0, true, 8), buf.subarray(0, 8));
    buf.fill(0, 0, 8);
    expect(complete(r.add(0, header(8, false, 8), buf.subarray(8, 16))).subarray(0, 8)).toEqual(want.subarray(0, 8));
  });

  it('passes a packet that is not a fragment straight through', () => {
    const r = new Reassembler();
    const p = bytes(10);
    const res = r.add(0, header(0, false, 10), p);
    expect(complete(res)).toBe(p);
    expect(r.stats.get('fragments')).toBe(0);
  });

  it('keeps datagrams with different keys apart', () => {
    const r = new Reassembler();
    const a = bytes(16, 1);
    const b = bytes(16, 2);
    expect(feed(r, 0, a, 0, 8, true, { identification: 1 }).status).toBe('pending');
    expect(feed(r, 0, b, 0, 8, true, { identification: 2 }).status).toBe('pending');
    expect(feed(r, 0, b, 8, 8, false, { identification: 2, protocol: IP_PROTO_TCP }).status).toBe('dropped'); // other protocol: tinyOffset, other key
    expect(complete(feed(r, 0, b, 8, 8, false, { identification: 2 }))).toEqual(b);
    expect(complete(feed(r, 0, a, 8, 8, false, { identification: 1 }))).toEqual(a);
  });

  it('drops an exact duplicate alone and still completes', () => {
    const r = new Reassembler();
    const d = bytes(24);
    feed(r, 0, d, 0, 8, true);
    expect(feed(r, 0, d, 0, 8, true)).toEqual({ status: 'dropped', reason: 'duplicate' });
    feed(r, 0, d, 16, 8, false);
    expect(feed(r, 0, d, 16, 8, false).status).toBe('dropped');
    expect(complete(feed(r, 0, d, 8, 8, true))).toEqual(d);
    expect(r.stats.get('duplicate')).toBe(2);
  });

  it('drops the whole datagram on a partial overlap', () => {
    const r = new Reassembler();
    const d = bytes(48);
    feed(r, 0, d, 0, 16, true);
    feed(r, 0, d, 32, 16, false);
    expect(feed(r, 0, d, 8, 16, true)).toEqual({ status: 'dropped', reason: 'overlap' });
    expect(r.datagrams).toBe(0);
    expect(r.memory).toBe(0);
    // The rest of the original datagram no longer completes anything.
    expect(feed(r, 0, d, 16, 16, true).status).toBe('pending');
    expect(r.stats.get('overlap')).toBe(1);
  });

  it('rejects each attack shape with its own counter', () => {
    const cases: [string, (r: Reassembler) => ReassemblyResult][] = [
      ['tinyFirst', (r) => r.add(0, header(0, true, 8, { protocol: IP_PROTO_TCP }), bytes(8))],
      [
        'tinyOffset',
        (r) => (
          r.add(0, header(0, true, 24, { protocol: IP_PROTO_TCP }), bytes(24)),
          r.add(0, header(8, false, 16, { protocol: IP_PROTO_TCP }), bytes(16))
        ),
      ],
      ['oversize', (r) => r.add(0, header(65528, false, 16), bytes(16))],
      ['oversize', (r) => r.add(0, header(65512, true, 8), bytes(8))],
      ['badLast', (r) => (r.add(0, header(16, false, 8), bytes(8)), r.add(0, header(32, false, 8), bytes(8)))],
      ['badLast', (r) => (r.add(0, header(16, false, 8), bytes(8)), r.add(0, header(24, true, 8), bytes(8)))],
      ['badLast', (r) => (r.add(0, header(16, true, 16), bytes(16)), r.add(0, header(8, false, 8), bytes(8)))],
      ['misaligned', (r) => r.add(0, header(0, true, 12), bytes(12))],
      ['empty', (r) => r.add(0, header(8, true, 0), bytes(0))],
    ];
    for (const [reason, run] of cases) {
      const r = new Reassembler();
      expect(run(r), reason).toEqual({ status: 'dropped', reason });
      expect(r.stats.get(reason as 'overlap'), reason).toBe(1);
      expect(r.datagrams, reason).toBe(0);
      expect(r.memory, reason).toBe(0);
    }
  });

  it('bounds the fragments per datagram', () => {
    const r = new Reassembler({ maxFragmentsPerDatagram: 4 });
    const d = bytes(80);
    for (let i = 0; i < 4; i++) expect(feed(r, 0, d, 8 + i * 8, 8, true).status).toBe('pending');
    expect(feed(r, 0, d, 40, 8, true)).toEqual({ status: 'dropped', reason: 'tooManyFragments' });
    expect(r.datagrams).toBe(0);
  });

  it('times out 30 s after the first fragment, reports it for ICMP, and pollAt says when', () => {
    const r = new Reassembler();
    const d = bytes(32);
    expect(r.pollAt()).toBeUndefined();
    feed(r, 1000, d, 0, 8, true, { identification: 1 });
    feed(r, 2000, d, 8, 8, true, { identification: 2 }); // no first fragment: expires silently
    feed(r, 20_000, d, 16, 8, true, { identification: 1 }); // later fragments do not extend the life
    expect(r.pollAt()).toBe(31_000);
    expect(r.poll(30_999)).toEqual([]);
    const expired = r.poll(31_000);
    expect(expired.length).toBe(1);
    expect(expired[0]!.header.identification).toBe(1);
    expect(expired[0]!.firstPayload).toEqual(d.subarray(0, 8));
    expect(r.pollAt()).toBe(32_000);
    expect(r.poll(40_000)).toEqual([]);
    expect(r.stats.get('timeout')).toBe(2);
    expect(r.datagrams).toBe(0);
    expect(r.memory).toBe(0);
  });

  it('does not complete with a fragment arriving after the deadline', () => {
    const r = new Reassembler({ timeoutMs: 5000 });
    const d = bytes(16);
    feed(r, 0, d, 0, 8, true);
    expect(feed(r, 5000, d, 8, 8, false).status).toBe('pending');
    expect(r.stats.get('timeout')).toBe(1);
  });

  it('evicts the oldest datagrams to stay under the memory cap', () => {
    const cap = 3 * (DATAGRAM_OVERHEAD_BYTES + 1000);
    const r = new Reassembler({ maxBytes: cap });
    const d = bytes(2000);
    for (let id = 1; id <= 3; id++)
      expect(feed(r, id, d, 0, 1000, true, { identification: id }).status).toBe('pending');
    expect(r.memory).toBe(cap);
    expect(feed(r, 4, d, 0, 1000, true, { identification: 4 }).status).toBe('pending');
    expect(r.stats.get('memoryEvicted')).toBe(1); // id 1, the oldest
    expect(r.memory).toBe(cap);
    // Completing id 4 needs 1000 more bytes: id 2, now the oldest, goes.
    expect(complete(feed(r, 5, d, 1000, 1000, false, { identification: 4 }))).toEqual(d);
    expect(r.stats.get('memoryEvicted')).toBe(2);
    expect(r.memory).toBe(DATAGRAM_OVERHEAD_BYTES + 1000);
    expect(complete(feed(r, 6, d, 1000, 1000, false, { identification: 3 }))).toEqual(d);
    expect(feed(r, 7, d, 1000, 1000, false, { identification: 2 }).status).toBe('pending');
    expect(feed(r, 7, d, 1000, 1000, false, { identification: 1 }).status).toBe('pending');
    expect(r.memory).toBeLessThanOrEqual(cap);
  });

  it('drops a datagram that cannot fit even alone', () => {
    const r = new Reassembler({ maxBytes: DATAGRAM_OVERHEAD_BYTES + 100 });
    const d = bytes(200);
    expect(feed(r, 0, d, 0, 96, true).status).toBe('pending');
    expect(feed(r, 0, d, 96, 104, false)).toEqual({ status: 'dropped', reason: 'memoryLimit' });
    expect(r.memory).toBe(0);
  });

  it('reassembles random fragmentations of random payloads in random order, with duplicates (property)', () => {
    const arb = fc.integer({ min: 1, max: 4000 }).chain((size) =>
      fc.record({
        size: fc.constant(size),
        cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, Math.floor((size - 1) / 8)) }), { maxLength: 40 }),
        order: fc.array(fc.nat(), { minLength: 45, maxLength: 45 }),
        dups: fc.array(fc.nat(), { maxLength: 5 }),
        seed: fc.nat(255),
      }),
    );
    fc.assert(
      fc.property(arb, ({ size, cuts, order, dups, seed }) => {
        const data = bytes(size, seed);
        const points = [
          0,
          ...cuts
            .map((c) => c * 8)
            .filter((c) => c > 0 && c < size)
            .sort((a, b) => a - b),
          size,
        ];
        const frags = points.slice(0, -1).map((o, i) => [o, points[i + 1]! - o, i < points.length - 2] as const);
        // Shuffle by the random keys, then replay some fragments as exact duplicates after their
        // first copy but before the fragment that completes the datagram (the last one in order).
        const shuffled = frags
          .map((f, i) => [order[i] ?? 0, f] as const)
          .sort((a, b) => a[0] - b[0])
          .map(([, f]) => f);
        const seq = [...shuffled];
        for (const d of dups) {
          const f = shuffled[d % shuffled.length]!;
          if (f === shuffled[shuffled.length - 1]) continue;
          seq.splice(seq.indexOf(f) + 1, 0, f);
        }
        const r = new Reassembler();
        const results = seq.map(([o, l, m]) => feed(r, 0, data, o, l, m));
        expect(firstDifference(complete(results[results.length - 1]!), data)).toBe(-1);
        for (const x of results.slice(0, -1))
          expect(x.status === 'pending' || (x.status === 'dropped' && x.reason === 'duplicate')).toBe(true);
        expect(r.stats.get('duplicate')).toBe(seq.length - shuffled.length);
        expect(r.datagrams).toBe(0);
        expect(r.memory).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('fragmentIpv4', () => {
  it('cuts on 8-byte boundaries within the MTU, copying only copied options', () => {
    // Record route (7, not copied) then loose source route (131, copied), then padding.
    const options = Uint8Array.of(7, 7, 4, 0, 0, 0, 0, 131, 7, 4, 198, 18, 0, 9, 1, 0);
    const payload = bytes(1000);
    const repr = header(0, false, 1000, { options, identification: 77 });
    const frags = fragmentIpv4(repr, payload, 576);
    expect(frags.length).toBe(2);
    const parsed = frags.map((f) => parseIpv4Packet(Ipv4Packet.checked(f)));
    expect(frags.every((f) => f.byteLength <= 576)).toBe(true);
    expect(parsed.map((p) => [p.fragmentOffset, p.moreFragments, p.identification])).toEqual([
      [0, true, 77],
      [536, false, 77],
    ]);
    expect(parsed[0]!.payloadLength % 8).toBe(0);
    expect(parsed[0]!.options).toEqual(options);
    expect(parsed[1]!.options).toEqual(Uint8Array.of(131, 7, 4, 198, 18, 0, 9, 0));
    expect(copiedOptions(new Uint8Array(0)).byteLength).toBe(0);
  });

  it('sends a datagram that fits as one packet and refuses DF or a tiny MTU', () => {
    const payload = bytes(100);
    expect(fragmentIpv4(header(0, false, 100), payload, 1500).length).toBe(1);
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof FragmentError ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => fragmentIpv4(header(0, false, 100, { dontFragment: true }), payload, 68))).toBe('DONT_FRAGMENT');
    expect(code(() => fragmentIpv4(header(0, false, 100), payload, 67))).toBe('MTU_TOO_SMALL');
    expect(code(() => fragmentIpv4(header(0, false, 99), payload, 576))).toBe('PAYLOAD_LENGTH');
  });

  it('refragments a fragment, keeping its offset and More Fragments', () => {
    const payload = bytes(200);
    const frags = fragmentIpv4(header(800, true, 200), payload, 100).map((f) => parseIpv4Packet(Ipv4Packet.checked(f)));
    expect(frags.map((f) => [f.fragmentOffset, f.moreFragments])).toEqual([
      [800, true],
      [880, true],
      [960, true],
    ]);
  });

  it('round-trips through the reassembler for random sizes, MTUs and orders (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9000 }),
        fc.integer({ min: 68, max: 1500 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
        (size, mtu, optionWords, keys) => {
          const options = new Uint8Array(optionWords * 4);
          if (optionWords > 0) options.set([0x88, 4, 0, 1]); // stream id: copied
          const payload = bytes(size, size);
          const repr = header(0, false, size, { options, identification: size & 0xffff });
          const frags = fragmentIpv4(repr, payload, mtu);
          const order = frags
            .map((f, i) => [keys[i] ?? i, f] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, f]) => f);
          const r = new Reassembler({ maxFragmentsPerDatagram: 256 });
          let done: ReassemblyResult | undefined;
          for (const f of order) {
            expect(f.byteLength).toBeLessThanOrEqual(mtu);
            const p = Ipv4Packet.checked(f);
            const res = r.add(0, parseIpv4Packet(p), p.payload);
            if (res.status === 'complete') done = res;
          }
          expect(firstDifference(complete(done!), payload)).toBe(-1);
          expect((done as { header: Ipv4Repr }).header.options).toEqual(options);
          expect(r.datagrams).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('reassembledPacketFrame', () => {
  it('writes the header in front of a reassembled payload, in the frame the reassembler made, without copying it', () => {
    const r = new Reassembler();
    const data = bytes(3000, 4);
    feed(r, 0, data, 0, 1480, true);
    const res = feed(r, 0, data, 1480, 1520, false);
    if (res.status !== 'complete') throw new Error('not complete');
    const frame = reassembledPacketFrame(res);
    expect(frame).toBe(res.frame);
    expect(res.payload.buffer).toBe(frame.buffer);
    expect(res.payload.byteOffset).toBe(frame.byteOffset + 14 + 20);
    const packet = Ipv4Packet.checked(frame.subarray(14, 14 + 3020));
    expect(parseIpv4Packet(packet)).toMatchObject({ moreFragments: false, fragmentOffset: 0, payloadLength: 3000 });
    expect(firstDifference(packet.payload, data)).toBe(-1);
  });

  it('gives each reassembled datagram a frame buffer of its own, so kept payloads pin only their own bytes', () => {
    const r = new Reassembler();
    const kept: Uint8Array[] = [];
    const sizes = [1000, 1480 + 8, 3000, 40];
    for (let n = 0; n < 24; n++) {
      const size = sizes[n % sizes.length]!;
      const data = bytes(size, n);
      const cut = size > 1480 ? 1480 : 16;
      feed(r, 0, data, 0, cut, true, { identification: n });
      const res = feed(r, 0, data, cut, size - cut, false, { identification: n });
      if (res.status !== 'complete') throw new Error('not complete');
      expect(firstDifference(res.payload, data)).toBe(-1);
      kept.push(res.payload);
    }
    // Each payload's buffer is exactly its frame (Ethernet header, IPv4 header, payload, FCS room; at
    // least the 60-byte minimum frame), whole and shared with no other payload: N kept payloads keep
    // N frames alive, not N slabs of other frames.
    const buffers = new Set<ArrayBufferLike>();
    let pinned = 0;
    for (const payload of kept) {
      expect(payload.byteOffset).toBe(14 + 20);
      expect(payload.buffer.byteLength).toBe(Math.max(14 + 20 + payload.length, 60) + 4);
      buffers.add(payload.buffer);
      pinned += payload.buffer.byteLength;
    }
    expect(buffers.size).toBe(kept.length);
    const carried = kept.reduce((sum, payload) => sum + payload.length, 0);
    expect(pinned).toBeLessThanOrEqual(carried + kept.length * 64);
  });

  it('copies a packet that was no fragment into a new frame, leaving the caller’s buffer alone', () => {
    const r = new Reassembler();
    const payload = bytes(100, 2);
    const before = payload.slice();
    const res = r.add(0, header(0, false, 100), payload);
    if (res.status !== 'complete') throw new Error('not complete');
    expect(res.frame).toBeUndefined();
    const frame = reassembledPacketFrame(res);
    expect(frame.buffer).not.toBe(payload.buffer);
    expect(payload).toEqual(before);
    const packet = Ipv4Packet.checked(frame.subarray(14, 14 + 120));
    expect(firstDifference(packet.payload, payload)).toBe(-1);
  });
});
