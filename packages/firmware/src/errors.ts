/**
 * The one error class of this package: {@link FirmwareError}, with a stable {@link FirmwareErrorCode}
 * callers branch on (never on the message text).
 */

/** Why an image or a bootloader operation was refused. */
export type FirmwareErrorCode =
  /** The image bytes are not a well-formed image (magic, lengths, manifest, archive). */
  | 'BAD_IMAGE'
  /** The payload's SHA-256 (or the whole image's) differs from the one declared. */
  | 'DIGEST_MISMATCH'
  /** The Ed25519 signature does not verify with the trusted public key. */
  | 'BAD_SIGNATURE'
  /** The image was built for another board. */
  | 'WRONG_BOARD'
  /** The image does not fit in a slot. */
  | 'TOO_LARGE'
  /** A key file or key object is not an Ed25519 key of the expected kind. */
  | 'BAD_KEY'
  /** The flash file is not a bootloader flash file, or is damaged. */
  | 'BAD_FLASH'
  /** An argument is out of range. */
  | 'BAD_ARGUMENT';

/** A refused image or operation. `code` is stable; `message` is one line for a person. */
export class FirmwareError extends Error {
  override readonly name = 'FirmwareError';

  constructor(
    readonly code: FirmwareErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
