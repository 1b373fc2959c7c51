/**
 * The firmware image format (docs/flash-protocol.md §2): one file holding a JSON manifest, a
 * payload (an archive of the files the firmware runs from) and an Ed25519 signature over both.
 *
 * ```
 * off        size  field (integers big-endian)
 * 0          4     magic "PFW1"
 * 4          2     format version (1)
 * 6          2     flags (0)
 * 8          4     manifest length M
 * 12         4     payload length P
 * 16         M     manifest, UTF-8 JSON ({@link ImageManifest})
 * 16+M       P     payload: archive entries [u16 path length, path (UTF-8), u32 size, bytes] ...
 * 16+M+P     64    Ed25519 signature over bytes [0, 16+M+P)
 * ```
 *
 * Contract: {@link parseImage} never throws anything but {@link FirmwareError} (`BAD_IMAGE`,
 * `DIGEST_MISMATCH`), whatever the bytes; {@link verifyImage} adds the board and signature checks.
 * Views returned by the parsers are `subarray`s of the input.
 */
import { createHash, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { FirmwareError } from './errors.js';
import { keyFingerprint, loadPrivateKey, loadPublicKey, rawPublicKey } from './keys.js';

/** The image magic, ASCII "PFW1". */
export const IMAGE_MAGIC = 0x50465731;
/** The image format version this code writes and reads. */
export const IMAGE_FORMAT_VERSION = 1;
/** Bytes before the manifest. */
export const IMAGE_HEADER_LENGTH = 16;
/** Bytes of the trailing Ed25519 signature. */
export const IMAGE_SIGNATURE_LENGTH = 64;
/** Largest manifest accepted (bounds a board's parser). */
export const MAX_MANIFEST_LENGTH = 64 * 1024;
/** Most files in a payload archive. */
export const MAX_ARCHIVE_FILES = 4096;

const HeaderOffset = { MAGIC: 0, VERSION: 4, FLAGS: 6, MANIFEST_LENGTH: 8, PAYLOAD_LENGTH: 12 } as const;

/** One file of the payload archive. */
export interface ImageFile {
  /** Relative path with `/` separators; no `..`, no leading `/`. */
  readonly path: string;
  readonly data: Uint8Array;
}

/** The manifest: what the image is and how to run it. Written by the build tool, read by the board. */
export interface ImageManifest {
  /** The manifest format, {@link IMAGE_FORMAT_VERSION}. */
  readonly format: number;
  /** The firmware's package name (e.g. `@postern/gateway`). */
  readonly name: string;
  /** The firmware's version (semver). */
  readonly version: string;
  /** Identifies this build: the first 16 hex digits of the payload's SHA-256 (builds are reproducible). */
  readonly buildId: string;
  /** The board id the image is for; a board refuses an image for another board. */
  readonly target: string;
  /** Payload bytes. */
  readonly size: number;
  /** SHA-256 of the payload, lowercase hex. */
  readonly sha256: string;
  /** The archive path of the file the board runs (`node ENTRY`). */
  readonly entry: string;
  /** The node.js version range the entry needs. */
  readonly runtime: string;
  /** The firmware's default configuration (the gateway's config-file JSON); the board may override fields. */
  readonly defaultConfig: Readonly<Record<string, unknown>>;
  /** The archive's files with their sizes, in archive order. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number }>;
  /** Fingerprint of the public key that verifies the signature ({@link keyFingerprint}). */
  readonly keyFingerprint: string;
  /**
   * The raw 32-byte Ed25519 public key of the signing key, lowercase hex (informative, like
   * `keyFingerprint`: a host whose board trusts that fingerprint can check the signature before
   * sending anything, {@link checkImageSignature}). Absent in images built before it was added.
   */
  readonly publicKey?: string;
}

/** What the caller supplies to {@link buildImage}; the rest of the manifest is computed. */
export type ImageManifestInput = Pick<
  ImageManifest,
  'name' | 'version' | 'target' | 'entry' | 'runtime' | 'defaultConfig'
>;

/** A parsed image: views into the input bytes. */
export interface ParsedImage {
  readonly manifest: ImageManifest;
  /** The signed bytes: header, manifest and payload. */
  readonly signed: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** SHA-256 of `bytes`, lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of `bytes` as 32 bytes. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function checkPath(path: string): void {
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    path.split('/').some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new FirmwareError('BAD_IMAGE', `bad archive path ${JSON.stringify(path)}`);
  }
  if (Buffer.byteLength(path) > 0xffff) throw new FirmwareError('BAD_IMAGE', 'archive path too long');
}

/** Encodes files as a payload archive. @throws {@link FirmwareError} `BAD_IMAGE` for a bad path or a duplicate. */
export function encodeArchive(files: readonly ImageFile[]): Uint8Array {
  const seen = new Set<string>();
  let total = 0;
  const names = files.map((f) => {
    checkPath(f.path);
    if (seen.has(f.path)) throw new FirmwareError('BAD_IMAGE', `duplicate archive path ${f.path}`);
    seen.add(f.path);
    const name = Buffer.from(f.path, 'utf8');
    total += 2 + name.length + 4 + f.data.length;
    return name;
  });
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  files.forEach((f, i) => {
    const name = names[i]!;
    view.setUint16(off, name.length);
    out.set(name, off + 2);
    off += 2 + name.length;
    view.setUint32(off, f.data.length);
    out.set(f.data, off + 4);
    off += 4 + f.data.length;
  });
  return out;
}

/** Decodes a payload archive; file data are views into `payload`. @throws {@link FirmwareError} `BAD_IMAGE`. */
export function decodeArchive(payload: Uint8Array): ImageFile[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const files: ImageFile[] = [];
  const seen = new Set<string>();
  let off = 0;
  while (off < payload.length) {
    if (files.length >= MAX_ARCHIVE_FILES)
      throw new FirmwareError('BAD_IMAGE', `more than ${MAX_ARCHIVE_FILES} files in the archive`);
    if (payload.length - off < 2) throw new FirmwareError('BAD_IMAGE', 'archive truncated in an entry header');
    const nameLength = view.getUint16(off);
    off += 2;
    if (payload.length - off < nameLength + 4)
      throw new FirmwareError('BAD_IMAGE', 'archive truncated in an entry header');
    const path = Buffer.from(payload.subarray(off, off + nameLength)).toString('utf8');
    off += nameLength;
    const size = view.getUint32(off);
    off += 4;
    if (payload.length - off < size)
      throw new FirmwareError('BAD_IMAGE', `archive truncated in ${JSON.stringify(path)}`);
    checkPath(path);
    if (seen.has(path)) throw new FirmwareError('BAD_IMAGE', `duplicate archive path ${path}`);
    seen.add(path);
    files.push({ path, data: payload.subarray(off, off + size) });
    off += size;
  }
  return files;
}

/**
 * Builds and signs an image from files and the manifest fields the caller chooses.
 * @throws {@link FirmwareError} `BAD_IMAGE` (bad paths, entry not in the archive), `BAD_KEY`.
 */
export function buildImage(
  files: readonly ImageFile[],
  input: ImageManifestInput,
  privateKey: string | KeyObject,
): Uint8Array {
  const key = loadPrivateKey(privateKey);
  if (!files.some((f) => f.path === input.entry))
    throw new FirmwareError('BAD_IMAGE', `the entry ${input.entry} is not in the archive`);
  const payload = encodeArchive(files);
  const sha256 = sha256Hex(payload);
  const manifest: ImageManifest = {
    format: IMAGE_FORMAT_VERSION,
    name: input.name,
    version: input.version,
    buildId: sha256.slice(0, 16),
    target: input.target,
    size: payload.length,
    sha256,
    entry: input.entry,
    runtime: input.runtime,
    defaultConfig: input.defaultConfig,
    files: files.map((f) => ({ path: f.path, size: f.data.length })),
    keyFingerprint: keyFingerprint(loadPublicKey(key)),
    publicKey: Buffer.from(rawPublicKey(key)).toString('hex'),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  if (manifestBytes.length > MAX_MANIFEST_LENGTH)
    throw new FirmwareError('BAD_IMAGE', `manifest of ${manifestBytes.length} bytes exceeds ${MAX_MANIFEST_LENGTH}`);
  const signedLength = IMAGE_HEADER_LENGTH + manifestBytes.length + payload.length;
  const image = new Uint8Array(signedLength + IMAGE_SIGNATURE_LENGTH);
  const view = new DataView(image.buffer);
  view.setUint32(HeaderOffset.MAGIC, IMAGE_MAGIC);
  view.setUint16(HeaderOffset.VERSION, IMAGE_FORMAT_VERSION);
  view.setUint16(HeaderOffset.FLAGS, 0);
  view.setUint32(HeaderOffset.MANIFEST_LENGTH, manifestBytes.length);
  view.setUint32(HeaderOffset.PAYLOAD_LENGTH, payload.length);
  image.set(manifestBytes, IMAGE_HEADER_LENGTH);
  image.set(payload, IMAGE_HEADER_LENGTH + manifestBytes.length);
  image.set(sign(null, image.subarray(0, signedLength), key), signedLength);
  return image;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkManifest(v: unknown): ImageManifest {
  const bad = (what: string): never => {
    throw new FirmwareError('BAD_IMAGE', `manifest: ${what}`);
  };
  if (!isRecord(v)) return bad('not a JSON object');
  if (v['format'] !== IMAGE_FORMAT_VERSION) bad(`format ${JSON.stringify(v['format'])} is not ${IMAGE_FORMAT_VERSION}`);
  for (const f of ['name', 'version', 'buildId', 'target', 'sha256', 'entry', 'runtime', 'keyFingerprint']) {
    if (typeof v[f] !== 'string') bad(`${f} is not a string`);
  }
  if (!Number.isSafeInteger(v['size']) || (v['size'] as number) < 0) bad('size is not a byte count');
  if (!/^[0-9a-f]{64}$/.test(v['sha256'] as string)) bad('sha256 is not 64 hex digits');
  if (v['publicKey'] !== undefined && (typeof v['publicKey'] !== 'string' || !/^[0-9a-f]{64}$/.test(v['publicKey'])))
    bad('publicKey is not 64 hex digits');
  if (!isRecord(v['defaultConfig'])) bad('defaultConfig is not an object');
  const files = v['files'];
  if (
    !Array.isArray(files) ||
    !files.every((f) => isRecord(f) && typeof f['path'] === 'string' && Number.isSafeInteger(f['size']))
  )
    bad('files is not a list of {path, size}');
  return v as unknown as ImageManifest;
}

/**
 * Parses an image and checks its structure and payload digest (not the signature nor the target).
 * @throws {@link FirmwareError} `BAD_IMAGE` (magic, version, lengths, manifest), `DIGEST_MISMATCH`.
 */
export function parseImage(image: Uint8Array): ParsedImage {
  if (image.length < IMAGE_HEADER_LENGTH + IMAGE_SIGNATURE_LENGTH)
    throw new FirmwareError('BAD_IMAGE', `${image.length} bytes is too short for an image`);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint32(HeaderOffset.MAGIC) !== IMAGE_MAGIC)
    throw new FirmwareError('BAD_IMAGE', 'not a firmware image (bad magic)');
  const version = view.getUint16(HeaderOffset.VERSION);
  if (version !== IMAGE_FORMAT_VERSION)
    throw new FirmwareError('BAD_IMAGE', `image format ${version} is not supported (want ${IMAGE_FORMAT_VERSION})`);
  const m = view.getUint32(HeaderOffset.MANIFEST_LENGTH);
  const p = view.getUint32(HeaderOffset.PAYLOAD_LENGTH);
  if (m > MAX_MANIFEST_LENGTH)
    throw new FirmwareError('BAD_IMAGE', `manifest of ${m} bytes exceeds ${MAX_MANIFEST_LENGTH}`);
  const signedLength = IMAGE_HEADER_LENGTH + m + p;
  if (signedLength + IMAGE_SIGNATURE_LENGTH !== image.length) {
    throw new FirmwareError(
      'BAD_IMAGE',
      `image is ${image.length} bytes; its header says ${signedLength + IMAGE_SIGNATURE_LENGTH}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(image.subarray(IMAGE_HEADER_LENGTH, IMAGE_HEADER_LENGTH + m)),
    );
  } catch (err) {
    throw new FirmwareError('BAD_IMAGE', 'manifest is not UTF-8 JSON', { cause: err });
  }
  const manifest = checkManifest(json);
  const payload = image.subarray(IMAGE_HEADER_LENGTH + m, signedLength);
  if (manifest.size !== p)
    throw new FirmwareError('BAD_IMAGE', `manifest size ${manifest.size} differs from the payload's ${p} bytes`);
  if (sha256Hex(payload) !== manifest.sha256)
    throw new FirmwareError('DIGEST_MISMATCH', 'the payload does not match the SHA-256 in the manifest');
  return { manifest, signed: image.subarray(0, signedLength), payload, signature: image.subarray(signedLength) };
}

/**
 * Everything a board checks before it accepts or boots an image: structure and digest
 * ({@link parseImage}), the signature against `trustedKey`, then the target board.
 * @throws {@link FirmwareError} `BAD_IMAGE`, `DIGEST_MISMATCH`, `BAD_SIGNATURE`, `WRONG_BOARD`, `BAD_KEY`.
 */
export function verifyImage(image: Uint8Array, trustedKey: string | KeyObject, boardId: string): ParsedImage {
  const parsed = parseImage(image);
  const key = loadPublicKey(trustedKey);
  if (!verify(null, parsed.signed, key, parsed.signature)) {
    throw new FirmwareError(
      'BAD_SIGNATURE',
      `the image signature does not verify with the trusted key ${keyFingerprint(key).slice(0, 16)}`,
    );
  }
  if (parsed.manifest.target !== boardId) {
    throw new FirmwareError(
      'WRONG_BOARD',
      `the image is for board ${JSON.stringify(parsed.manifest.target)}, this board is ${JSON.stringify(boardId)}`,
    );
  }
  return parsed;
}
