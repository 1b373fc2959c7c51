/**
 * The strict incremental HTTP/1.x request parser: see {@link RequestParser} and `types.ts`.
 * @module
 */
export { RequestParser } from './request-parser.js';
export { HttpParseError, PARSE_ERROR_STATUS } from './errors.js';
export { HeaderList } from './headers.js';
export { DEFAULT_PARSER_LIMITS } from './types.js';
export type {
  BodyFraming,
  HttpParseErrorCode,
  ParserLimits,
  RequestHead,
  RequestParserHandler,
  TargetForm,
} from './types.js';
