/**
 * The one error class the request parser throws. Callers branch on {@link HttpParseError.code} and
 * answer {@link HttpParseError.status}, never on the message text.
 */
import type { HttpParseErrorCode } from './types.js';

/** The HTTP status a server answers for each {@link HttpParseErrorCode} before closing. */
export const PARSE_ERROR_STATUS: Readonly<Record<HttpParseErrorCode, number>> = Object.freeze({
  REQUEST_LINE_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  TOO_MANY_HEADERS: 431,
  TRAILERS_TOO_LARGE: 431,
  BODY_TOO_LARGE: 413,
  INVALID_REQUEST_LINE: 400,
  INVALID_METHOD: 400,
  INVALID_TARGET: 400,
  INVALID_VERSION: 400,
  UNSUPPORTED_VERSION: 505,
  BARE_CR: 400,
  BARE_LF: 400,
  OBS_FOLD: 400,
  INVALID_HEADER_NAME: 400,
  WHITESPACE_BEFORE_COLON: 400,
  MISSING_COLON: 400,
  INVALID_HEADER_VALUE: 400,
  MISSING_HOST: 400,
  MULTIPLE_HOST: 400,
  INVALID_HOST: 400,
  INVALID_CONTENT_LENGTH: 400,
  CONFLICTING_CONTENT_LENGTH: 400,
  CONTENT_LENGTH_WITH_TRANSFER_ENCODING: 400,
  INVALID_TRANSFER_ENCODING: 400,
  TRANSFER_ENCODING_IN_HTTP10: 400,
  UNSUPPORTED_TRANSFER_CODING: 501,
  INVALID_CHUNK_SIZE: 400,
  CHUNK_SIZE_OVERFLOW: 400,
  INVALID_CHUNK_EXTENSION: 400,
  CHUNK_EXTENSION_TOO_LARGE: 400,
  MISSING_CHUNK_CRLF: 400,
  INCOMPLETE_MESSAGE: 400,
  BUFFER_OVERFLOW: 503,
  INPUT_AFTER_END: 400,
});

/**
 * A request the parser refuses. After one is thrown the parser stays failed and the connection must
 * be closed once `status` has been answered (or at once).
 */
export class HttpParseError extends Error {
  /** The stable code to branch on. */
  readonly code: HttpParseErrorCode;
  /** The HTTP status to answer (400, 413, 414, 431, 501, 503 or 505). */
  readonly status: number;

  constructor(code: HttpParseErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'HttpParseError';
    this.code = code;
    this.status = PARSE_ERROR_STATUS[code];
  }
}
