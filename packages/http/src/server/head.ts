/**
 * Date parsing for conditional requests (the serializer formats dates; this reads them back).
 */

/** Parses an HTTP date (IMF-fixdate, or the obsolete forms `Date.parse` reads) to epoch ms; NaN when invalid. */
export function parseHttpDate(text: string): number {
  return Date.parse(text);
}
