import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  FirmwareError,
  IMAGE_HEADER_LENGTH,
  buildImage,
  decodeArchive,
  encodeArchive,
  generateSigningKeyPair,
  keyFingerprint,
  loadPublicKey,
  parseImage,
  sha256Hex,
  unpackImage,
  verifyImage,
} from '../src/index.js';

const keys = generateSigningKeyPair();
const other = generateSigningKeyPair();
const files = [
  { path: 'app/image-entry.mjs', data: new TextEncoder().encode('console.log("hi")\n') },
  { path: 'ui/index.html', data: new TextEncoder().encode('<html></html>') },
  { path: 'ui/empty', data: new Uint8Array(0) },
];
const input = {
  name: '@postern/gateway',
  version: '0.1.0',
  target: 'board-1',
  entry: 'app/image-entry.mjs',
  runtime: '>=20',
  defaultConfig: { http: { port: 80 } },
};
const image = buildImage(files, input, keys.privateKeyPem);

describe('the image format', () => {
  it('carries a manifest that describes the payload and the signing key', () => {
    const { manifest, payload } = parseImage(image);
    expect(manifest).toMatchObject({ ...input, format: 1, size: payload.length, sha256: sha256Hex(payload) });
    expect(manifest.buildId).toBe(manifest.sha256.slice(0, 16));
    expect(manifest.keyFingerprint).toBe(keys.fingerprint);
    expect(keyFingerprint(loadPublicKey(keys.privateKeyPem))).toBe(keys.fingerprint);
    expect(manifest.files).toEqual(files.map((f) => ({ path: f.path, size: f.data.length })));
    expect(decodeArchive(payload).map((f) => [f.path, Buffer.from(f.data).toString()])).toEqual(
      files.map((f) => [f.path, Buffer.from(f.data).toString()]),
    );
  });

  it('is reproducible: the same inputs give the same bytes', () => {
    expect(Buffer.from(buildImage(files, input, keys.privateKeyPem)).equals(Buffer.from(image))).toBe(true);
  });

  it('verifies with the trusted key and the right board only', () => {
    expect(verifyImage(image, keys.publicKeyPem, 'board-1').manifest.target).toBe('board-1');
    expect(() => verifyImage(image, other.publicKeyPem, 'board-1')).toThrow(
      expect.objectContaining({ code: 'BAD_SIGNATURE' }),
    );
    expect(() => verifyImage(image, keys.publicKeyPem, 'board-2')).toThrow(
      expect.objectContaining({ code: 'WRONG_BOARD' }),
    );
    const foreign = buildImage(files, input, other.privateKeyPem);
    expect(() => verifyImage(foreign, keys.publicKeyPem, 'board-1')).toThrow(
      expect.objectContaining({ code: 'BAD_SIGNATURE' }),
    );
  });

  it('refuses every single-bit flip, with a FirmwareError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: image.length * 8 - 1 }), (bit) => {
        const bad = image.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        let err: unknown;
        try {
          verifyImage(bad, keys.publicKeyPem, 'board-1');
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(FirmwareError);
        expect(['BAD_IMAGE', 'DIGEST_MISMATCH', 'BAD_SIGNATURE']).toContain((err as FirmwareError).code);
      }),
      { seed: 42, numRuns: 400 },
    );
  });

  it('never throws anything but a FirmwareError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, withMagic) => {
        const b = bytes.slice();
        if (withMagic && b.length >= 4) b.set([0x50, 0x46, 0x57, 0x31]);
        expect(() => parseImage(b)).toThrow(FirmwareError);
      }),
      { seed: 7, numRuns: 300 },
    );
    expect(() => parseImage(image.subarray(0, image.length - 1))).toThrow(
      expect.objectContaining({ code: 'BAD_IMAGE' }),
    );
    const badJson = image.slice();
    badJson[IMAGE_HEADER_LENGTH] = 0x5b; // '[' instead of '{'
    expect(() => parseImage(badJson)).toThrow(expect.objectContaining({ code: 'BAD_IMAGE' }));
  });

  it('refuses archive paths that escape, duplicates, and an entry that is missing', () => {
    for (const path of ['../x', '/etc/passwd', 'a/../../b', 'a//b', '']) {
      expect(() => encodeArchive([{ path, data: new Uint8Array(1) }]), path).toThrow(
        expect.objectContaining({ code: 'BAD_IMAGE' }),
      );
    }
    expect(() => encodeArchive([files[0]!, files[0]!])).toThrow(expect.objectContaining({ code: 'BAD_IMAGE' }));
    expect(() => buildImage(files, { ...input, entry: 'app/nope.mjs' }, keys.privateKeyPem)).toThrow(
      expect.objectContaining({ code: 'BAD_IMAGE' }),
    );
    expect(() => buildImage(files, input, keys.publicKeyPem)).toThrow(expect.objectContaining({ code: 'BAD_KEY' }));
  });

  it('unpacks into a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-unpack-'));
    try {
      const u = unpackImage(image, dir);
      expect(u.entryPath).toBe(join(dir, 'app/image-entry.mjs'));
      expect(readFileSync(u.entryPath, 'utf8')).toBe('console.log("hi")\n');
      expect(existsSync(join(dir, 'ui/empty'))).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).sha256).toBe(u.manifest.sha256);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
