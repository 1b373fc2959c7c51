import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { IsnGenerator, SYN_COOKIE_MSS_TABLE, SipHash24, SynCookies, seqSub, type TcpTuple } from '../src/tcp/index.js';

const secret = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);
const otherSecret = Uint8Array.from({ length: 16 }, (_, i) => (i * 53 + 5) & 0xff);
const A = 0xc612_0001; // 198.18.0.1
const B = 0xc612_0002; // 198.18.0.2

describe('IsnGenerator (RFC 6528)', () => {
  it('advances 250 per millisecond (4 µs ticks) for one 4-tuple, across the 2^32 wrap', () => {
    const g = new IsnGenerator(secret);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 1_000_000 }), (t, dt) => {
        const a = g.isn(t, A, 80, B, 40000);
        const b = g.isn(t + dt, A, 80, B, 40000);
        expect(((b - a + 2 ** 32) % 2 ** 32) >>> 0).toBe((dt * 250) % 2 ** 32);
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThan(2 ** 32);
      }),
      { numRuns: 500, seed: 5 },
    );
    // Within one 4 µs tick the ISN does not move; after it, it does.
    expect(g.isn(10.001, A, 80, B, 1)).toBe(g.isn(10, A, 80, B, 1));
    expect(seqSub(g.isn(10.004, A, 80, B, 1), g.isn(10, A, 80, B, 1))).toBe(1);
  });

  it('gives different 4-tuples unrelated offsets', () => {
    const g = new IsnGenerator(secret);
    const seen = new Set<number>();
    for (let port = 1024; port < 3024; port++) seen.add(g.isn(1000, A, 80, B, port));
    for (let port = 1024; port < 3024; port++) seen.add(g.isn(1000, B, 80, A, port)); // swapped addresses
    expect(seen.size).toBe(4000);
    // Neighbouring ports are not neighbouring ISNs.
    const d = seqSub(g.isn(0, A, 80, B, 1025), g.isn(0, A, 80, B, 1024));
    expect(Math.abs(d)).toBeGreaterThan(1000);
  });

  it('is RFC 6528 to the bit: M + the low 32 bits of SipHash-2-4 over local address, local port, remote address, remote port (network order)', () => {
    const g = new IsnGenerator(secret);
    const prf = new SipHash24(secret);
    const m = new Uint8Array(12);
    const v = new DataView(m.buffer);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.double({ min: 0, max: 2 ** 40, noNaN: true }),
        (la, lp, ra, rp, t) => {
          v.setUint32(0, la);
          v.setUint16(4, lp);
          v.setUint32(6, ra);
          v.setUint16(10, rp);
          const expected = (Math.floor(t * 250) + prf.hash(m)) % 2 ** 32;
          expect(g.isn(t, la, lp, ra, rp)).toBe(expected);
        },
      ),
      { numRuns: 2000, seed: 28 },
    );
  });

  it('gives each 4-tuple a timestamp offset: the high 32 bits of the SipHash-2-4 whose low 32 bits are F, whatever was hashed before', () => {
    const g = new IsnGenerator(secret);
    const prf = new SipHash24(secret);
    const m = new Uint8Array(12);
    const v = new DataView(m.buffer);
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 0xffff_ffff }),
            fc.integer({ min: 0, max: 0xffff }),
            fc.constantFrom(A, B, 0xffff_ffff, 0),
            fc.integer({ min: 0, max: 3 }),
            fc.boolean(),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        (calls) => {
          for (const [la, lp, ra, rp, isnFirst] of calls) {
            v.setUint32(0, la);
            v.setUint16(4, lp);
            v.setUint32(6, ra);
            v.setUint16(10, rp);
            prf.hash(m, out);
            // The same tuple asked twice in either order, or after another: the same two halves.
            const isn = isnFirst ? g.isn(0, la, lp, ra, rp) : 0;
            expect(g.tsOffset(la, lp, ra, rp)).toBe(out[1]);
            expect(g.isn(0, la, lp, ra, rp)).toBe(out[0]);
            if (isnFirst) expect(isn).toBe(out[0]);
          }
        },
      ),
      { numRuns: 500, seed: 61 },
    );
    // Tuples differing only in the sign bit of an address are not taken for one another.
    expect(g.tsOffset(0x8000_0001, 80, A, 1)).not.toBe(g.tsOffset(1, 80, A, 1));
  });

  it('hashes a 4-tuple once for its timestamp offset and its ISN asked one after the other', () => {
    const g = new IsnGenerator(secret);
    const hash12 = vi.spyOn(SipHash24.prototype, 'hash12');
    try {
      g.tsOffset(B, 80, A, 40000);
      g.isn(5, B, 80, A, 40000); // a passive open: the new TCB's offset, then its ISN
      expect(hash12).toHaveBeenCalledTimes(1);
      g.isn(6, B, 80, A, 40001); // another connection
      g.tsOffset(B, 80, A, 40001);
      expect(hash12).toHaveBeenCalledTimes(2);
    } finally {
      hash12.mockRestore();
    }
  });

  it('depends on the secret', () => {
    expect(new IsnGenerator(secret).isn(0, A, 80, B, 1)).not.toBe(new IsnGenerator(otherSecret).isn(0, A, 80, B, 1));
  });
});

describe('SynCookies', () => {
  const tuple: TcpTuple = [A, 80, B, 40000];

  it('round-trips the MSS (rounded down to the table) within the same period', () => {
    const c = new SynCookies(secret);
    const cases: Array<[number, number]> = [
      [1460, 1460],
      [1400, 1380],
      [1500, 1460],
      [536, 536],
      [100, 256],
      [65535, 8960],
      [1200, 1200],
    ];
    for (const [mss, expected] of cases) {
      const cookie = c.encode(5000, tuple, 0x1234_5678, mss);
      expect(c.decode(5000, tuple, 0x1234_5678, cookie)).toEqual({ mss: expected });
    }
    expect(SYN_COOKIE_MSS_TABLE).toHaveLength(8);
  });

  it('round-trips for any tuple, client ISN and MSS, up to two periods later', () => {
    const c = new SynCookies(secret);
    fc.assert(
      fc.property(
        fc.tuple(fc.nat(2 ** 32 - 1), fc.nat(65535), fc.nat(2 ** 32 - 1), fc.nat(65535)),
        fc.nat(2 ** 32 - 1),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 2 ** 42 }),
        fc.integer({ min: 0, max: 2 * 64_000 }),
        (t, isn, mss, now, later) => {
          const cookie = c.encode(now, t, isn, mss);
          const decoded = c.decode(now + later, t, isn, cookie);
          expect(decoded).toBeDefined();
          expect(decoded!.mss).toBeLessThanOrEqual(Math.max(mss, 256));
        },
      ),
      { numRuns: 500, seed: 9 },
    );
  });

  it('rejects cookies older than two periods', () => {
    const c = new SynCookies(secret);
    const cookie = c.encode(64_000 * 10 + 5, tuple, 7, 1460);
    expect(c.decode(64_000 * 12 + 63_999, tuple, 7, cookie)).toEqual({ mss: 1460 }); // two periods later
    expect(c.decode(64_000 * 13, tuple, 7, cookie)).toBeUndefined(); // three
    expect(c.decode(64_000 * (10 + 32), tuple, 7, cookie)).toBeUndefined(); // same counter bits, a wrap later
    expect(c.decode(64_000 * 9, tuple, 7, cookie)).toBeUndefined(); // from the future
  });

  it('rejects another connection, another client ISN, another secret and any altered bit', () => {
    const c = new SynCookies(secret);
    const cookie = c.encode(1000, tuple, 7, 1460);
    expect(c.decode(1000, [A, 80, B, 40001], 7, cookie)).toBeUndefined();
    expect(c.decode(1000, [A, 81, B, 40000], 7, cookie)).toBeUndefined();
    expect(c.decode(1000, [A, 80, B + 1, 40000], 7, cookie)).toBeUndefined();
    expect(c.decode(1000, tuple, 8, cookie)).toBeUndefined();
    expect(new SynCookies(otherSecret).decode(1000, tuple, 7, cookie)).toBeUndefined();
    for (let bit = 0; bit < 32; bit++) {
      expect(c.decode(1000, tuple, 7, (cookie ^ (1 << bit)) >>> 0), `bit ${bit}`).toBeUndefined();
    }
  });

  it('accepts essentially no forged cookie', () => {
    const c = new SynCookies(secret);
    let accepted = 0;
    let x = 0x9e37_79b9;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0; // a fixed LCG: deterministic guesses
      if (c.decode(1000, tuple, 7, x) !== undefined) accepted++;
    }
    // Expected 20000 * 3/32 * 2^-24 ~ 1e-4.
    expect(accepted).toBe(0);
  });
});
