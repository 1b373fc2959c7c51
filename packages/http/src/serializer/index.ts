/**
 * Response serialization: status line, validated fields, `Date`, the chunked coding, no-body rules.
 * @module
 */
export { HttpSerializeError } from './errors.js';
export type { HttpSerializeErrorCode } from './errors.js';
export { REASON_PHRASES, reasonPhrase, responseHasNoBody, mayHaveContentLength } from './status.js';
export { formatHttpDate, HttpDateCache } from './date.js';
export { isToken, isValidFieldValue, assertFieldName, assertFieldValue } from './fields.js';
export { serializeResponseHead } from './response-head.js';
export type { ResponseHead, ResponseFields } from './response-head.js';
export { encodeChunk, encodeLastChunk } from './chunked.js';
