/**
 * Reason phrases (RFC 9110 §15) and which responses carry no body.
 */

/** The reason phrase of every status RFC 9110 defines, plus 429 and 431 (RFC 6585). */
export const REASON_PHRASES: ReadonlyMap<number, string> = new Map<number, string>([
  [100, 'Continue'],
  [101, 'Switching Protocols'],
  [200, 'OK'],
  [201, 'Created'],
  [202, 'Accepted'],
  [203, 'Non-Authoritative Information'],
  [204, 'No Content'],
  [205, 'Reset Content'],
  [206, 'Partial Content'],
  [300, 'Multiple Choices'],
  [301, 'Moved Permanently'],
  [302, 'Found'],
  [303, 'See Other'],
  [304, 'Not Modified'],
  [307, 'Temporary Redirect'],
  [308, 'Permanent Redirect'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [402, 'Payment Required'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [406, 'Not Acceptable'],
  [407, 'Proxy Authentication Required'],
  [408, 'Request Timeout'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [411, 'Length Required'],
  [412, 'Precondition Failed'],
  [413, 'Content Too Large'],
  [414, 'URI Too Long'],
  [415, 'Unsupported Media Type'],
  [416, 'Range Not Satisfiable'],
  [417, 'Expectation Failed'],
  [421, 'Misdirected Request'],
  [422, 'Unprocessable Content'],
  [426, 'Upgrade Required'],
  [428, 'Precondition Required'],
  [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'],
  [500, 'Internal Server Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Gateway Timeout'],
  [505, 'HTTP Version Not Supported'],
]);

/** The reason phrase for `status`, or `''` for a status without one (an empty reason is valid HTTP). */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES.get(status) ?? '';
}

/**
 * Whether a response has no body whatever its headers say (RFC 9110 §6.4.1, RFC 9112 §6.3): every
 * 1xx, 204, 304, any answer to HEAD, and a 2xx answer to CONNECT (the connection becomes a tunnel).
 * The server must then send no body bytes and no chunked framing.
 *
 * @param method the request method (case-sensitive), or `undefined` when unknown (e.g. answering a
 *   request that failed to parse)
 */
export function responseHasNoBody(status: number, method?: string): boolean {
  if (status < 200 || status === 204 || status === 304) return true;
  if (method === 'HEAD') return true;
  return method === 'CONNECT' && status < 300;
}

/**
 * Whether a response may carry a `Content-Length` field: not for 1xx and 204 (RFC 9110 §8.6), nor
 * for a 2xx answer to CONNECT. (304 and HEAD answers may, stating the length a GET would get.)
 */
export function mayHaveContentLength(status: number, method?: string): boolean {
  if (status < 200 || status === 204) return false;
  return !(method === 'CONNECT' && status < 300);
}
