/**
 * Ed25519 signing keys for firmware images (node:crypto): generation, PEM import, and the key
 * fingerprint a board reports (SHA-256 of the raw 32-byte public key, lowercase hex).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { FirmwareError } from './errors.js';

/** A freshly generated key pair in PEM form (PKCS#8 private key, SPKI public key). */
export interface SigningKeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  /** {@link keyFingerprint} of the public key. */
  readonly fingerprint: string;
}

/** Generates an Ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: keyFingerprint(publicKey),
  };
}

/**
 * Imports an Ed25519 private key from PEM (or passes a KeyObject through after checking it).
 * @throws {@link FirmwareError} `BAD_KEY` for anything else.
 */
export function loadPrivateKey(key: string | KeyObject): KeyObject {
  let k: KeyObject;
  try {
    k = typeof key === 'string' ? createPrivateKey(key) : key;
  } catch (err) {
    throw new FirmwareError('BAD_KEY', `not a private key: ${(err as Error).message}`, { cause: err });
  }
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519')
    throw new FirmwareError('BAD_KEY', 'the signing key must be an Ed25519 private key');
  return k;
}

/**
 * Imports an Ed25519 public key from PEM, or derives it from a private key (PEM or KeyObject).
 * @throws {@link FirmwareError} `BAD_KEY` for anything else.
 */
export function loadPublicKey(key: string | KeyObject): KeyObject {
  let k: KeyObject;
  try {
    k = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  } catch (err) {
    throw new FirmwareError('BAD_KEY', `not a public key: ${(err as Error).message}`, { cause: err });
  }
  if (k.type !== 'public' || k.asymmetricKeyType !== 'ed25519')
    throw new FirmwareError('BAD_KEY', 'the trusted key must be an Ed25519 public key');
  return k;
}

/** The raw 32-byte Ed25519 public key (the last 32 bytes of its SPKI DER encoding). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = loadPublicKey(key).export({ type: 'spki', format: 'der' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * Imports an Ed25519 public key from its raw 32 bytes (as the image manifest's `publicKey` carries it).
 * @throws {@link FirmwareError} `BAD_KEY` when `raw` is not 32 bytes or not a valid point.
 */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new FirmwareError('BAD_KEY', `a raw Ed25519 public key is 32 bytes, not ${raw.length}`);
  try {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
      format: 'jwk',
    });
  } catch (err) {
    throw new FirmwareError('BAD_KEY', `not an Ed25519 public key: ${(err as Error).message}`, { cause: err });
  }
}

/** SHA-256 of the raw 32-byte public key, as 32 bytes. */
export function keyFingerprintBytes(key: KeyObject): Uint8Array {
  return new Uint8Array(createHash('sha256').update(rawPublicKey(key)).digest());
}

/** SHA-256 of the raw 32-byte public key, lowercase hex (64 characters). Accepts a private key too. */
export function keyFingerprint(key: KeyObject): string {
  return Buffer.from(keyFingerprintBytes(key)).toString('hex');
}
