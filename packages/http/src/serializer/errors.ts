/**
 * The error class the response serializer throws for values it will not put on the wire.
 */

/**
 * Stable codes of {@link HttpSerializeError}:
 * - `INVALID_STATUS`: not an integer in 100..999 (or 101 etc. misused is the server's business);
 * - `INVALID_REASON`: a reason phrase with CR, LF or another control byte, or a character above U+00FF;
 * - `INVALID_HEADER_NAME`: a field name that is empty or not a token;
 * - `INVALID_HEADER_VALUE`: a field value with CR, LF, NUL, another control byte, DEL, or a character
 *   above U+00FF (response splitting / header injection);
 * - `INVALID_TIME`: a time that is not a finite number of milliseconds in the `Date` range;
 * - `INVALID_CHUNK`: a trailer or chunk argument the chunked encoder cannot emit.
 */
export type HttpSerializeErrorCode =
  | 'INVALID_STATUS'
  | 'INVALID_REASON'
  | 'INVALID_HEADER_NAME'
  | 'INVALID_HEADER_VALUE'
  | 'INVALID_TIME'
  | 'INVALID_CHUNK';

/** A response part the serializer refuses to emit. Nothing has been written when it is thrown. */
export class HttpSerializeError extends Error {
  /** The stable code to branch on. */
  readonly code: HttpSerializeErrorCode;

  constructor(code: HttpSerializeErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'HttpSerializeError';
    this.code = code;
  }
}
