/**
 * The `Date` header format, IMF-fixdate (RFC 9110 §5.6.7). Nothing here reads a clock: the time is
 * always passed in.
 */
import { HttpSerializeError } from './errors.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Formats `epochMs` (milliseconds since the Unix epoch, UTC) as IMF-fixdate, e.g.
 * `Sun, 06 Nov 1994 08:49:37 GMT`. Sub-second parts are truncated.
 *
 * @throws HttpSerializeError `INVALID_TIME` for a non-finite time, or one outside years 0000..9999
 */
export function formatHttpDate(epochMs: number): string {
  const d = new Date(Number.isFinite(epochMs) ? Math.floor(epochMs / 1000) * 1000 : NaN);
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 0 || year > 9999) {
    throw new HttpSerializeError('INVALID_TIME', `cannot format ${String(epochMs)} as an HTTP date`);
  }
  return (
    `${DAYS[d.getUTCDay()]!}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]!} ${String(year).padStart(4, '0')} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`
  );
}

/**
 * Formats the `Date` value at most once per second: a server asks it for every response with the
 * current wall time, and it re-formats only when the second changed.
 */
export class HttpDateCache {
  private second = Number.NaN;
  private value = '';

  /** The IMF-fixdate of `epochMs`; see {@link formatHttpDate}. */
  get(epochMs: number): string {
    const second = Math.floor(epochMs / 1000);
    if (second !== this.second) {
      this.value = formatHttpDate(epochMs);
      this.second = second;
    }
    return this.value;
  }
}
