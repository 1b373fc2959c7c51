import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SipHash24 } from '../src/tcp/index.js';

/**
 * The 64 test vectors of the SipHash reference implementation (vectors.h): key 00 01 .. 0f, message
 * 00 01 .. (i - 1) for i = 0..63; each value is the 8 output bytes in order. Entry 15 is the
 * worked example of the SipHash paper's appendix (output a129ca6149be45e5 as a little-endian word).
 */
const VECTORS = [
  '310e0edd47db6f72',
  'fd67dc93c539f874',
  '5a4fa9d909806c0d',
  '2d7efbd796666785',
  'b7877127e09427cf',
  '8da699cd64557618',
  'cee3fe586e46c9cb',
  '37d1018bf50002ab',
  '6224939a79f5f593',
  'b0e4a90bdf82009e',
  'f3b9dd94c5bb5d7a',
  'a7ad6b22462fb3f4',
  'fbe50e86bc8f1e75',
  '903d84c02756ea14',
  'eef27a8e90ca23f7',
  'e545be4961ca29a1',
  'db9bc2577fcc2a3f',
  '9447be2cf5e99a69',
  '9cd38d96f0b3c14b',
  'bd6179a71dc96dbb',
  '98eea21af25cd6be',
  'c7673b2eb0cbf2d0',
  '883ea3e395675393',
  'c8ce5ccd8c030ca8',
  '94af49f6c650adb8',
  'eab8858ade92e1bc',
  'f315bb5bb835d817',
  'adcf6b0763612e2f',
  'a5c91da7acaa4dde',
  '716595876650a2a6',
  '28ef495c53a387ad',
  '42c341d8fa92d832',
  'ce7cf2722f512771',
  'e37859f94623f3a7',
  '381205bb1ab0e012',
  'ae97a10fd434e015',
  'b4a31508beff4d31',
  '81396229f0907902',
  '4d0cf49ee5d4dcca',
  '5c73336a76d8bf9a',
  'd0a704536ba93e0e',
  '925958fcd6420cad',
  'a915c29bc8067318',
  '952b79f3bc0aa6d4',
  'f21df2e41d4535f9',
  '87577519048f53a9',
  '10a56cf5dfcd9adb',
  'eb75095ccd986cd0',
  '51a9cb9ecba312e6',
  '96afadfc2ce666c7',
  '72fe52975a4364ee',
  '5a1645b276d592a1',
  'b274cb8ebf87870a',
  '6f9bb4203de7b381',
  'eaecb2a30b22a87f',
  '9924a43cc1315724',
  'bd838d3aafbf8db7',
  '0b1a2a3265d51aea',
  '135079a3231ce660',
  '932b2846e4d70666',
  'e1915f5cb1eca46c',
  'f325965ca16d629f',
  '575ff28e60381be5',
  '724506eb4c328a95',
];

const key = Uint8Array.from({ length: 16 }, (_, i) => i);
const message = Uint8Array.from({ length: 64 }, (_, i) => i);

/** The 64-bit result as its 8 little-endian output bytes in hex. */
function outputHex(out: Uint32Array): string {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(0, out[0]!, true);
  new DataView(bytes.buffer).setUint32(4, out[1]!, true);
  return Buffer.from(bytes).toString('hex');
}

describe('SipHash-2-4', () => {
  it('matches the 64 reference vectors', () => {
    const h = new SipHash24(key);
    const out = new Uint32Array(2);
    for (let i = 0; i < 64; i++) {
      const low = h.hash(message.subarray(0, i), out);
      expect(outputHex(out), `length ${i}`).toBe(VECTORS[i]);
      expect(low).toBe(out[0]);
    }
  });

  it('hashes a sub-range exactly like a copy of it', () => {
    const h = new SipHash24(key);
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    const big = Uint8Array.from({ length: 100 }, (_, i) => (i * 7) & 0xff);
    for (const [offset, length] of [
      [0, 0],
      [3, 9],
      [10, 17],
      [50, 50],
    ] as const) {
      h.hash(big, a, offset, length);
      h.hash(big.slice(offset, offset + length), b);
      expect([...a]).toEqual([...b]);
    }
  });

  it('depends on the key', () => {
    const other = key.slice();
    other[15] = other[15]! ^ 1;
    const m = message.subarray(0, 12);
    expect(new SipHash24(other).hash(m)).not.toBe(new SipHash24(key).hash(m));
  });

  it('hash12: the 12-byte reference vector, from the three little-endian words of the message', () => {
    const h = new SipHash24(key);
    const words = new DataView(message.buffer, 0, 12);
    const low = h.hash12(words.getUint32(0, true), words.getUint32(4, true), words.getUint32(8, true));
    expect(outputHex(Uint32Array.of(low, h.high))).toBe(VECTORS[12]);
  });

  it('hash12 gives the 64 bits hash gives for the same 12 bytes, under any key', () => {
    const out = new Uint32Array(2);
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: 3, maxLength: 3 }),
        (k, [w0, w1, w2]) => {
          const h = new SipHash24(k);
          view.setUint32(0, w0!, true);
          view.setUint32(4, w1!, true);
          view.setUint32(8, w2!, true);
          h.hash(bytes, out);
          expect(h.hash12(w0!, w1!, w2!)).toBe(out[0]);
          expect(h.high).toBe(out[1]);
        },
      ),
      { numRuns: 2000, seed: 12 },
    );
  });

  it('needs a 16-byte key', () => {
    expect(() => new SipHash24(new Uint8Array(15))).toThrow(RangeError);
  });
});
