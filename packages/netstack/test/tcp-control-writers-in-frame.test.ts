/**
 * The control writers (a bare RST, a cookie SYN-ACK, a TIME-WAIT record's ACK) write in place in the
 * outgoing frame (`writeSegmentAt`, which the stack's port prefers) the same bytes they write into a
 * segment of their own (`writeSegment`), for every option layout, and touch nothing else of the frame.
 * A segment of their own is checked against a parse of it: ports, sequence numbers, flags, options
 * and a valid checksum. Seeded field values.
 */
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@postern/irq';
import { TcpFlag, TcpPacket, parseIpv4, parseTcp } from '@postern/wire';
import { CookieSynAckWriter, ResetWriter } from '../src/tcp/control-writers.js';
import type { TcpSegmentWriter } from '../src/tcp/ip-port.js';
import { TimeWaitAckWriter } from '../src/tcp/time-wait-ack.js';

const SRC = parseIpv4('198.18.0.2');
const DST = parseIpv4('198.18.0.1');
/** Where the segment starts in the frame (Ethernet and IPv4 headers before it). */
const AT = 34;
const JUNK = 0xa5;

/** The segment written alone, and written at {@link AT} in a junk-filled frame with room after it. */
function bothWays(writer: TcpSegmentWriter, length: number) {
  const alone = new Uint8Array(length);
  writer.writeSegment(alone, SRC, DST);
  const frame = new Uint8Array(AT + length + 16).fill(JUNK);
  writer.writeSegmentAt!(frame, AT, length, SRC, DST);
  return { alone, frame };
}

function expectSame(writer: TcpSegmentWriter, length: number) {
  const { alone, frame } = bothWays(writer, length);
  expect(Array.from(frame.subarray(AT, AT + length))).toEqual(Array.from(alone));
  expect(frame.subarray(0, AT).every((b) => b === JUNK)).toBe(true);
  expect(frame.subarray(AT + length).every((b) => b === JUNK)).toBe(true);
  const packet = TcpPacket.checked(alone);
  expect(packet.verifyChecksum(SRC, DST)).toBe(true);
  return parseTcp(packet);
}

describe('TCP control writers in the frame', () => {
  const random = new SeededRandom(2026);
  const u32 = (): number => Math.floor(random.random() * 2 ** 32) >>> 0;

  it('a RST and a RST+ACK: the same bytes in the frame as alone', () => {
    const w = new ResetWriter();
    for (const flags of [TcpFlag.RST, TcpFlag.RST | TcpFlag.ACK]) {
      for (let i = 0; i < 20; i++) {
        w.srcPort = 1 + (u32() % 65_535);
        w.dstPort = 1 + (u32() % 65_535);
        w.seq = u32();
        w.ack = u32();
        w.flags = flags;
        const seg = expectSame(w, 20);
        expect([seg.srcPort, seg.dstPort, seg.seq, seg.ack, seg.flags]).toEqual([
          w.srcPort,
          w.dstPort,
          w.seq,
          w.ack,
          flags,
        ]);
      }
    }
  });

  it('a cookie SYN-ACK with each option layout: the same bytes in the frame as alone', () => {
    const w = new CookieSynAckWriter();
    const layouts: Array<[boolean, boolean, number, number]> = [
      [false, false, -1, 4],
      [true, false, -1, 16],
      [true, true, -1, 16],
      [true, false, 7, 20],
      [true, true, 14, 20],
    ];
    for (const [timestamps, sackPermitted, windowShift, optionBytes] of layouts) {
      for (let i = 0; i < 10; i++) {
        Object.assign(w, { timestamps, sackPermitted, windowShift, optionBytes });
        w.srcPort = 80;
        w.dstPort = 1024 + (u32() % 60_000);
        w.seq = u32();
        w.ack = u32();
        w.window = u32() & 0xffff;
        w.mss = 536 + (u32() % 1000);
        w.tsVal = u32();
        w.tsEcr = u32();
        const seg = expectSame(w, 20 + optionBytes);
        expect(seg.flags).toBe(TcpFlag.SYN | TcpFlag.ACK);
        expect([seg.seq, seg.ack, seg.window]).toEqual([w.seq, w.ack, w.window]);
        expect(seg.options).toContainEqual({ kind: 'mss', value: w.mss });
        if (timestamps) expect(seg.options).toContainEqual({ kind: 'timestamps', tsVal: w.tsVal, tsEcr: w.tsEcr });
      }
    }
  });

  it('a TIME-WAIT ACK with and without timestamps and a D-SACK block: the same bytes in the frame as alone', () => {
    const w = new TimeWaitAckWriter();
    for (const [timestamps, dsack] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      for (let i = 0; i < 10; i++) {
        w.timestamps = timestamps;
        w.dsack = dsack;
        w.srcPort = 80;
        w.dstPort = 1024 + (u32() % 60_000);
        w.seq = u32();
        w.ack = u32();
        w.window = u32() & 0xffff;
        w.tsVal = u32();
        w.tsEcr = u32();
        w.dsackEdges[0] = u32();
        w.dsackEdges[1] = (w.dsackEdges[0]! + 1 + (u32() % 1000)) >>> 0;
        const seg = expectSame(w, w.length);
        expect([seg.flags, seg.seq, seg.ack, seg.window]).toEqual([TcpFlag.ACK, w.seq, w.ack, w.window]);
        if (dsack)
          expect(seg.options).toContainEqual({
            kind: 'sack',
            blocks: [{ left: w.dsackEdges[0], right: w.dsackEdges[1] }],
          });
      }
    }
  });
});
