/**
 * {@link PreparedResponse} and `HttpResponse.endPrepared`: the prepared bytes are the same head the
 * general path writes, the `Date` changes per call without touching bytes already handed out, and
 * every case where the head would differ falls back without sending anything.
 */
import { describe, expect, it } from 'vitest';
import { HttpResponse, PreparedResponse, type ResponseContext } from '../src/index.js';
import type { ResponseChannel } from '../src/server/response.js';

const DATE_1 = 'Sat, 05 Dec 2026 04:00:00 GMT';
const DATE_2 = 'Sat, 05 Dec 2026 04:00:01 GMT';
const KEEP_ALIVE: ResponseContext = { isHead: false, http10: false, keepAlive: true };

function channel(out: Uint8Array[], date: () => string | undefined, closes = false): ResponseChannel {
  return {
    transmit: (data) => (out.push(data), true),
    writable: true,
    waitDrain: () => Promise.resolve(),
    responseDone: () => {},
    closesAfter: () => closes,
    dateValue: date,
  };
}

const FIELDS = [
  ['ETag', '"3-1"'],
  ['Content-Type', 'text/plain; charset=utf-8'],
] as const;

describe('PreparedResponse', () => {
  it('sends the same bytes as the general path, in one write, with the Date of each call', () => {
    let date = DATE_1;
    const general: Uint8Array[] = [];
    const res = new HttpResponse(
      channel(general, () => date),
      KEEP_ALIVE,
    );
    for (const [name, value] of FIELDS) res.setHeader(name, value);
    res.activate();
    res.end(Buffer.from('abc'));

    const prepared = new PreparedResponse(200, FIELDS, Buffer.from('abc'));
    const out: Uint8Array[] = [];
    const first = new HttpResponse(
      channel(out, () => date),
      KEEP_ALIVE,
    );
    first.activate();
    expect(first.endPrepared(prepared)).toBe(true);
    expect(out).toHaveLength(1);
    expect(Buffer.from(out[0]!).toString('latin1')).toBe(Buffer.concat(general).toString('latin1'));
    expect([first.finished, first.headersSent, first.bodyBytes]).toEqual([true, true, 3]);

    date = DATE_2;
    const second = new HttpResponse(
      channel(out, () => date),
      KEEP_ALIVE,
    );
    second.activate();
    expect(second.endPrepared(prepared)).toBe(true);
    expect(Buffer.from(out[1]!).toString('latin1')).toContain(`\r\nDate: ${DATE_2}\r\n\r\nabc`);
    // The bytes handed out before are a copy: the patch for the new second did not reach them.
    expect(Buffer.from(out[0]!).toString('latin1')).toContain(`\r\nDate: ${DATE_1}\r\n\r\nabc`);
  });

  it('hands every response of one Date the same bytes, and a later Date bytes of its own', () => {
    const prepared = new PreparedResponse(200, FIELDS, Buffer.from('abc'));
    const first = prepared.bytesWith(DATE_1);
    const again = prepared.bytesWith(DATE_1);
    expect(again).toBe(first);
    const later = prepared.bytesWith(DATE_2);
    expect(later).not.toBe(first);
    expect(later.toString('latin1')).toContain(`\r\nDate: ${DATE_2}\r\n\r\nabc`);
    expect(first.toString('latin1')).toContain(`\r\nDate: ${DATE_1}\r\n\r\nabc`);
    expect(() => prepared.bytesWith('yesterday')).toThrow(RangeError);
  });

  it('sends a body larger than the inline limit as a second write, by reference', () => {
    const body = Buffer.alloc(20_000, 7);
    const out: Uint8Array[] = [];
    const res = new HttpResponse(
      channel(out, () => DATE_1),
      KEEP_ALIVE,
    );
    res.activate();
    expect(res.endPrepared(new PreparedResponse(200, [], body))).toBe(true);
    expect(Buffer.from(out[0]!).toString('latin1')).toBe(
      `HTTP/1.1 200 OK\r\nContent-Length: 20000\r\nDate: ${DATE_1}\r\n\r\n`,
    );
    expect(out[1]).toBe(body);
  });

  it('falls back, sending nothing, whenever the head would differ', () => {
    const prepared = new PreparedResponse(200, FIELDS, Buffer.from('abc'));
    const cases: Array<[string, (res: HttpResponse) => void, ResponseContext, () => string | undefined, boolean]> = [
      ['a header set', (r) => r.setHeader('Cache-Control', 'no-cache'), KEEP_ALIVE, () => DATE_1, false],
      ['another status', (r) => r.status(404), KEEP_ALIVE, () => DATE_1, false],
      ['HEAD', () => {}, { ...KEEP_ALIVE, isHead: true }, () => DATE_1, false],
      ['no wall clock', () => {}, KEEP_ALIVE, () => undefined, false],
    ];
    for (const [why, setUp, context, date, closes] of cases) {
      const out: Uint8Array[] = [];
      const res = new HttpResponse(channel(out, date, closes), context);
      res.activate();
      setUp(res);
      expect(res.endPrepared(prepared), why).toBe(false);
      expect([out.length, res.headersSent, res.finished], why).toEqual([0, false, false]);
    }
  });

  it("sends the general path's Connection line for HTTP/1.0 and closing exchanges, each form with its own bytes", () => {
    const prepared = new PreparedResponse(200, FIELDS, Buffer.from('abc'));
    const cases: Array<[string, ResponseContext, boolean, string]> = [
      ['HTTP/1.0 keep-alive', { ...KEEP_ALIVE, http10: true }, false, 'Connection: keep-alive\r\n'],
      ['HTTP/1.0', { ...KEEP_ALIVE, http10: true, keepAlive: false }, true, 'Connection: close\r\n'],
      ['HTTP/1.1 Connection: close', { ...KEEP_ALIVE, keepAlive: false }, true, 'Connection: close\r\n'],
      ['the connection closes after it', KEEP_ALIVE, true, 'Connection: close\r\n'],
      ['persistent HTTP/1.1', KEEP_ALIVE, false, ''],
    ];
    const sent = new Set<Uint8Array>();
    for (const [why, context, closes, line] of cases) {
      const general: Uint8Array[] = [];
      const res = new HttpResponse(
        channel(general, () => DATE_1, closes),
        context,
      );
      for (const [name, value] of FIELDS) res.setHeader(name, value);
      res.activate();
      res.end(Buffer.from('abc'));
      const out: Uint8Array[] = [];
      const fast = new HttpResponse(
        channel(out, () => DATE_1, closes),
        context,
      );
      fast.activate();
      expect(fast.endPrepared(prepared), why).toBe(true);
      expect(out, why).toHaveLength(1);
      const text = Buffer.from(out[0]!).toString('latin1');
      expect(text, why).toBe(Buffer.concat(general).toString('latin1'));
      expect(text, why).toContain(`\r\nDate: ${DATE_1}\r\n${line}\r\nabc`);
      sent.add(out[0]!);
    }
    // Three forms (none, close, keep-alive): the two closing cases share the close bytes.
    expect(sent.size).toBe(3);
    expect(prepared.bytesWith(DATE_2, 'close').toString('latin1')).toContain(
      `\r\nDate: ${DATE_2}\r\nConnection: close\r\n\r\nabc`,
    );
  });

  it('refuses a status without a body and the fields it writes itself', () => {
    expect(() => new PreparedResponse(304, [], Buffer.alloc(0))).toThrow(RangeError);
    expect(() => new PreparedResponse(200, [['content-length', '3']], Buffer.from('abc'))).toThrow(TypeError);
    expect(() => new PreparedResponse(200, [['X-Bad', 'a\r\nb']], Buffer.from('abc'))).toThrow(/invalid value/);
  });
});
