/**
 * The one-pass fill of a received segment (`Segment.fillCommon`): for the two headers every
 * established connection sends (no options; NOP, NOP, timestamps) it sets exactly the fields the
 * checked path (`TcpPacket.checked` then `Segment.fill`) sets; for any other header it declines, so
 * the checked path (and its malformed-segment counting) still sees SYN options, SACK blocks and
 * broken headers.
 */
import { describe, expect, it } from 'vitest';
import { TcpFlag, TcpPacket, emitTcp, type TcpOption } from '@postern/wire';
import { Segment } from '../src/tcp/segment.js';

const SRC = 0xc612_0001;
const DST = 0xc612_0002;

function segmentBytes(options: TcpOption[], flags: number, payload: Uint8Array): Uint8Array {
  const buffer = new Uint8Array(60 + payload.byteLength);
  const repr = { srcPort: 40_000, dstPort: 80, seq: 0xfffe_0001, ack: 0x8000_0003, flags, window: 501 };
  const length = emitTcp({ ...repr, urgentPointer: 0, options }, buffer, SRC, DST, payload);
  return buffer.subarray(0, length);
}

/** The fields a reader of a Segment uses, as plain data. */
function fields(seg: Segment): Record<string, unknown> {
  const o = seg.options;
  return {
    source: seg.source,
    destination: seg.destination,
    srcPort: seg.srcPort,
    dstPort: seg.dstPort,
    seq: seg.seq,
    ack: seg.ack,
    flags: seg.flags,
    window: seg.window,
    payloadStart: seg.payloadStart,
    payloadLength: seg.payloadLength,
    length: seg.length,
    payload: [...seg.payload],
    options: [o.mss, o.windowScale, o.sackPermitted, o.hasTimestamps, o.tsVal, o.tsEcr, o.sackBlockCount],
  };
}

describe('Segment.fillCommon', () => {
  const payload = new TextEncoder().encode('GET /small HTTP/1.1\r\n\r\n');
  const timestamps: TcpOption[] = [
    { kind: 'nop' },
    { kind: 'nop' },
    { kind: 'timestamps', tsVal: 0xdead_beef, tsEcr: 7 },
  ];

  it.each([
    ['no options, data with PSH', [], TcpFlag.ACK | TcpFlag.PSH, payload],
    ['timestamps, data with FIN', timestamps, TcpFlag.ACK | TcpFlag.FIN, payload],
    ['timestamps, pure ACK', timestamps, TcpFlag.ACK, new Uint8Array(0)],
  ] as const)('%s: the same fields as the checked path', (_name, options, flags, data) => {
    const bytes = segmentBytes([...options], flags, data);
    const checked = new Segment().fill(TcpPacket.checked(bytes), SRC, DST);
    // A segment that held other options before: every field is overwritten.
    const reused = new Segment();
    reused.fill(TcpPacket.checked(segmentBytes([{ kind: 'mss', value: 1460 }], TcpFlag.SYN, new Uint8Array(0))), 1, 2);
    expect(reused.fillCommon(bytes, SRC, DST)).toBe(true);
    expect(fields(reused)).toEqual(fields(checked));
  });

  const declined: [string, TcpOption[], number][] = [
    ['a SYN with MSS', [{ kind: 'mss', value: 1460 }], TcpFlag.SYN],
    [
      'SACK blocks',
      [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [{ left: 10, right: 20 }] }],
      TcpFlag.ACK,
    ],
    [
      'timestamps not after two NOPs',
      [{ kind: 'timestamps', tsVal: 1, tsEcr: 2 }, { kind: 'nop' }, { kind: 'nop' }],
      0,
    ],
  ];
  it.each(declined)('declines %s', (_name, options, flags) => {
    expect(new Segment().fillCommon(segmentBytes(options, flags, payload), SRC, DST)).toBe(false);
  });

  it('declines a segment shorter than its header, and one shorter than 20 bytes', () => {
    const bytes = segmentBytes(timestamps, TcpFlag.ACK, new Uint8Array(0));
    expect(new Segment().fillCommon(bytes.subarray(0, 28), SRC, DST)).toBe(false);
    expect(() => TcpPacket.checked(bytes.subarray(0, 28))).toThrow();
    expect(new Segment().fillCommon(bytes.subarray(0, 19), SRC, DST)).toBe(false);
  });
});
