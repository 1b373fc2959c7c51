/**
 * {@link checkImageSignature}: what a host can tell about an image's signature before it sends the
 * image to a board that trusts one key, known by its fingerprint (INFO, docs/flash-protocol.md §5.1).
 *
 * A fingerprint alone cannot verify a signature, so the check looks for a public key whose
 * fingerprint is the trusted one: a key the user names, or the key the image's manifest carries
 * (`publicKey`, §2.1; trustworthy for this purpose because its SHA-256 must equal the trusted
 * fingerprint). It tells apart the two refusals a board would otherwise report alike as
 * `BAD_SIGNATURE`: an image signed with a key the board does not trust, and an image whose signature
 * does not verify with the trusted key (damaged, or signed by another key than it claims).
 */
import { verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { FirmwareError } from './errors.js';
import type { ParsedImage } from './image.js';
import { keyFingerprint, loadPublicKey, publicKeyFromRaw } from './keys.js';

/** The outcome of {@link checkImageSignature}. Fingerprints are lowercase hex (64 digits). */
export type SignatureVerdict =
  /** The signature verifies with the trusted key. */
  | { readonly kind: 'valid'; readonly key: string }
  /** The image is signed (or claims to be signed) with `signedWith`, which is not the trusted key. */
  | { readonly kind: 'untrusted-key'; readonly signedWith: string; readonly trusted: string }
  /** The signature does not verify with `key`, the key the image claims: damaged, or signed by another key. */
  | { readonly kind: 'damaged'; readonly key: string }
  /** No public key with the trusted fingerprint is at hand (an image without `publicKey`): only the board can tell. */
  | { readonly kind: 'unchecked'; readonly trusted: string };

/** The trust a {@link checkImageSignature} checks against. */
export interface SignatureTrust {
  /** Fingerprint (hex, or 32 bytes) of the key the board trusts. Default: the fingerprint of `key`. */
  readonly fingerprint?: string | Uint8Array;
  /** A public or private Ed25519 key (PEM or KeyObject) known to be trusted; used when its fingerprint is the trusted one. */
  readonly key?: string | KeyObject;
}

/** The manifest's `publicKey`: absent, not a valid key (a damaged manifest), or the key. */
function embeddedKey(parsed: ParsedImage): KeyObject | 'absent' | 'invalid' {
  const hex = parsed.manifest.publicKey;
  if (hex === undefined) return 'absent';
  try {
    return publicKeyFromRaw(Buffer.from(hex, 'hex'));
  } catch {
    return 'invalid';
  }
}

/**
 * Checks `parsed`'s signature against the trusted key (see the module comment). Pure: no I/O.
 * @throws {@link FirmwareError} `BAD_KEY` when `trust.key` is not an Ed25519 key, `BAD_ARGUMENT` when
 *   neither a fingerprint nor a key is given.
 */
export function checkImageSignature(parsed: ParsedImage, trust: SignatureTrust): SignatureVerdict {
  const named = trust.key === undefined ? undefined : loadPublicKey(trust.key);
  const fp = trust.fingerprint;
  const trusted =
    fp === undefined
      ? named === undefined
        ? undefined
        : keyFingerprint(named)
      : typeof fp === 'string'
        ? fp.toLowerCase()
        : Buffer.from(fp).toString('hex');
  if (trusted === undefined)
    throw new FirmwareError('BAD_ARGUMENT', 'a trusted key or fingerprint is needed to check a signature');
  const claimed = parsed.manifest.keyFingerprint.toLowerCase();
  const embedded = embeddedKey(parsed);
  const carried = typeof embedded === 'string' ? undefined : embedded;
  // A manifest whose carried key is not the key it names was damaged (a build writes both from one key).
  const consistent = embedded === 'absent' || (carried !== undefined && keyFingerprint(carried) === claimed);
  const verifies = (k: KeyObject): boolean => verify(null, parsed.signed, k, parsed.signature);
  const key = [named, carried].find((k): k is KeyObject => k !== undefined && keyFingerprint(k) === trusted);
  if (key !== undefined) {
    if (verifies(key)) return { kind: 'valid', key: trusted };
    // Signed by another key: the carried key is the claimed one and verifies, or there is none to check (an older image).
    if (claimed !== trusted && consistent && (carried === undefined || verifies(carried)))
      return { kind: 'untrusted-key', signedWith: claimed, trusted };
    return { kind: 'damaged', key: trusted };
  }
  if (!consistent) return { kind: 'damaged', key: claimed };
  if (carried !== undefined)
    return verifies(carried)
      ? { kind: 'untrusted-key', signedWith: claimed, trusted }
      : { kind: 'damaged', key: claimed };
  return claimed === trusted ? { kind: 'unchecked', trusted } : { kind: 'untrusted-key', signedWith: claimed, trusted };
}
