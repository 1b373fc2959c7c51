import { describe, expect, it } from 'vitest';
import {
  DNS_TYPE,
  DecodeError,
  emitDnsErrorResponse,
  emitDnsQuery,
  encodeDnsName,
  parseDns,
  readDnsName,
} from '../src/index.js';

describe('DNS codec', () => {
  it('round-trips a query', () => {
    const q = parseDns(emitDnsQuery({ id: 0x1234, name: 'www.Example.test.', type: DNS_TYPE.A }));
    expect(q.header).toMatchObject({ id: 0x1234, flags: 0x0100, qdcount: 1 });
    expect(q.questions).toEqual([{ name: 'www.Example.test', type: 1, class: 1 }]);
  });

  it('follows compression pointers backwards', () => {
    const msg = Uint8Array.from([
      ...new Array<number>(12).fill(0),
      3,
      0x63,
      0x6f,
      0x6d,
      0,
      3,
      0x77,
      0x77,
      0x77,
      0xc0,
      12,
    ]);
    expect(readDnsName(msg, 17)).toEqual({ name: 'www.com', next: 23 });
  });

  it('throws DecodeError for a compression loop, a pointer past the end, a long label, a long name, a cut label, reserved label types', () => {
    const h = new Array<number>(12).fill(0);
    const cases = [
      [...h, 0xc0, 12], // a pointer to itself
      [...h, 3, 0x61, 0x62, 0x63, 0xc0, 16], // a pointer forwards to itself
      [...h, 0xc0, 0xff], // past the end
      [...h, 0xc0], // cut pointer
      [...h, 64, ...new Array<number>(64).fill(0x61), 0], // label too long
      [...h, ...Array.from({ length: 5 }, () => [63, ...new Array<number>(63).fill(0x61)]).flat(), 0], // name over 255
      [...h, 10, 0x61], // label past the end
      [...h, 0x40, 0], // reserved label type
    ];
    for (const c of cases) expect(() => readDnsName(Uint8Array.from(c), 12)).toThrow(DecodeError);
    const counted = emitDnsQuery({ id: 1, name: 'a.test', type: 1 });
    counted[7] = 1; // claims an answer that is not there
    expect(() => parseDns(counted)).toThrow(DecodeError);
  });

  it('refuses to encode bad names', () => {
    expect(() => encodeDnsName(`${'a'.repeat(64)}.test`)).toThrow(RangeError);
    expect(() => encodeDnsName('a..test')).toThrow(RangeError);
    expect(() => encodeDnsName(Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.'))).toThrow(RangeError);
  });

  it('builds an error response with the question kept', () => {
    const q = emitDnsQuery({ id: 9, name: 'a.test', type: 1 });
    const r = parseDns(emitDnsErrorResponse(q, 5, q.byteLength));
    expect(r.header).toMatchObject({ id: 9, flags: 0x8185, qdcount: 1, ancount: 0 });
    expect(r.questions[0]!.name).toBe('a.test');
  });
});
