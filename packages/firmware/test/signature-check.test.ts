// checkImageSignature: the host's check before flashing tells an image signed with an untrusted key
// from a damaged one, using the public key the manifest carries once its fingerprint is the trusted one.
import { describe, expect, it } from 'vitest';
import { sign } from 'node:crypto';
import fc from 'fast-check';
import {
  FirmwareError,
  IMAGE_HEADER_LENGTH,
  IMAGE_SIGNATURE_LENGTH,
  buildImage,
  checkImageSignature,
  generateSigningKeyPair,
  loadPrivateKey,
  parseImage,
} from '../src/index.js';

const keys = generateSigningKeyPair();
const other = generateSigningKeyPair();
const files = [{ path: 'app/main.mjs', data: new TextEncoder().encode('console.log("hi")\n') }];
const input = {
  name: 'x',
  version: '1.0.0',
  target: 'board-1',
  entry: 'app/main.mjs',
  runtime: '>=20',
  defaultConfig: {},
};
const image = buildImage(files, input, keys.privateKeyPem);
const foreign = buildImage(files, input, other.privateKeyPem);

/** The same image with its manifest rewritten by `edit` and signed again with `pem` (as older builds, without `publicKey`). */
function resigned(img: Uint8Array, edit: (m: Record<string, unknown>) => void, pem: string): Uint8Array {
  const { manifest, payload } = parseImage(img);
  const m = { ...manifest } as Record<string, unknown>;
  edit(m);
  const json = Buffer.from(JSON.stringify(m));
  const out = new Uint8Array(IMAGE_HEADER_LENGTH + json.length + payload.length + IMAGE_SIGNATURE_LENGTH);
  out.set(img.subarray(0, IMAGE_HEADER_LENGTH));
  new DataView(out.buffer).setUint32(8, json.length);
  out.set(json, IMAGE_HEADER_LENGTH);
  out.set(payload, IMAGE_HEADER_LENGTH + json.length);
  const signedLength = out.length - IMAGE_SIGNATURE_LENGTH;
  out.set(sign(null, out.subarray(0, signedLength), loadPrivateKey(pem)), signedLength);
  return out;
}

function flipSignature(img: Uint8Array): Uint8Array {
  const bad = img.slice();
  bad[bad.length - 7]! ^= 0x01;
  return bad;
}

describe('checkImageSignature', () => {
  it('accepts an image signed with the trusted key, known by its fingerprint only', () => {
    expect(parseImage(image).manifest.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(checkImageSignature(parseImage(image), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'valid',
      key: keys.fingerprint,
    });
  });

  it('calls a flipped signature byte damaged, naming the trusted key', () => {
    expect(checkImageSignature(parseImage(flipSignature(image)), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'damaged',
      key: keys.fingerprint,
    });
  });

  it('calls an intact image signed with another key untrusted, and a damaged one damaged', () => {
    expect(checkImageSignature(parseImage(foreign), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'untrusted-key',
      signedWith: other.fingerprint,
      trusted: keys.fingerprint,
    });
    expect(checkImageSignature(parseImage(flipSignature(foreign)), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'damaged',
      key: other.fingerprint,
    });
  });

  it('calls an image that claims the trusted key but was signed by another damaged', () => {
    const liar = resigned(image, () => {}, other.privateKeyPem);
    expect(checkImageSignature(parseImage(liar), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'damaged',
      key: keys.fingerprint,
    });
  });

  it('leaves an older image (no publicKey) to the board unless the caller names the key', () => {
    const old = resigned(image, (m) => delete m['publicKey'], keys.privateKeyPem);
    const oldBad = flipSignature(old);
    expect(checkImageSignature(parseImage(old), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'unchecked',
      trusted: keys.fingerprint,
    });
    expect(checkImageSignature(parseImage(oldBad), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'unchecked',
      trusted: keys.fingerprint,
    });
    expect(checkImageSignature(parseImage(old), { key: keys.publicKeyPem })).toEqual({
      kind: 'valid',
      key: keys.fingerprint,
    });
    expect(checkImageSignature(parseImage(oldBad), { key: keys.publicKeyPem })).toEqual({
      kind: 'damaged',
      key: keys.fingerprint,
    });
    const oldForeign = resigned(foreign, (m) => delete m['publicKey'], other.privateKeyPem);
    expect(checkImageSignature(parseImage(oldForeign), { fingerprint: keys.fingerprint })).toEqual({
      kind: 'untrusted-key',
      signedWith: other.fingerprint,
      trusted: keys.fingerprint,
    });
  });

  it('refuses a publicKey that is not 64 hex digits, and needs a fingerprint or a key', () => {
    const bad = resigned(image, (m) => (m['publicKey'] = 'xyz'), keys.privateKeyPem);
    expect(() => parseImage(bad)).toThrow(FirmwareError);
    expect(() => checkImageSignature(parseImage(image), {})).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('never calls an image with a flipped bit valid or untrusted: it is refused, damaged, or (publicKey gone) left to the board', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: image.length * 8 - 1 }), (bit) => {
        const bad = image.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        let parsed;
        try {
          parsed = parseImage(bad);
        } catch (err) {
          expect(err).toBeInstanceOf(FirmwareError);
          return;
        }
        const verdict = checkImageSignature(parsed, { fingerprint: keys.fingerprint });
        if (parsed.manifest.publicKey === undefined) expect(['damaged', 'unchecked']).toContain(verdict.kind);
        else expect(verdict.kind).toBe('damaged');
      }),
      { numRuns: 400, seed: 15 },
    );
  });
});
