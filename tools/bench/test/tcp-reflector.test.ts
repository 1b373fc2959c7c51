import { describe, expect, it } from 'vitest';
import { internetChecksum, onesComplementSum } from '@postern/wire';
import { SEGMENT_BYTES, TcpReflector, requestAsksToClose } from '../src/tcp-reflector.js';

// The frame logic of the bare Node TAP ceiling, fed hand-built frames (no TAP, no clock).
const OUR_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);
const CLIENT_MAC = [2, 0, 0, 0, 0, 1];
const OURS = 0xc6_12_19_02; // 198.18.25.2
const CLIENT = 0xc6_12_19_01;
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', 'latin1');
const BIG_HEAD = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n', 'latin1');
const CLOSE_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello', 'latin1');

const SYN = 0x02;
const FIN = 0x01;
const ACK = 0x10;
const PSH = 0x08;

function reflector(): TcpReflector {
  return new TcpReflector({
    mac: OUR_MAC,
    address: OURS,
    port: 80,
    response: RESPONSE,
    closeResponse: CLOSE_RESPONSE,
    bigHead: BIG_HEAD,
    bigBytes: 100_000,
  });
}

/** A client frame to port 80: Ethernet + IPv4 (20) + TCP (20 + options) + data. */
function segment(
  flags: number,
  seq: number,
  ack: number,
  data: Uint8Array = new Uint8Array(0),
  options: number[] = [],
  window = 0xffff,
): Uint8Array {
  const tcpLength = 20 + options.length + data.byteLength;
  const f = new Uint8Array(34 + tcpLength);
  const v = new DataView(f.buffer);
  f.set(OUR_MAC, 0);
  f.set(CLIENT_MAC, 6);
  v.setUint16(12, 0x0800);
  f[14] = 0x45;
  v.setUint16(16, 20 + tcpLength);
  f[22] = 64;
  f[23] = 6;
  v.setUint32(26, CLIENT);
  v.setUint32(30, OURS);
  v.setUint16(34, 40000);
  v.setUint16(36, 80);
  v.setUint32(38, seq);
  v.setUint32(42, ack);
  f[46] = ((20 + options.length) / 4) << 4;
  f[47] = flags;
  v.setUint16(48, window);
  f.set(options, 54);
  f.set(data, 54 + options.length);
  return f;
}

interface Parsed {
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly payload: Uint8Array;
  readonly options: Uint8Array;
}

/** Parses an answer, checking its IPv4 and TCP checksums and its addresses. */
function parse(frame: Uint8Array): Parsed {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  expect([...frame.subarray(0, 6)]).toEqual(CLIENT_MAC);
  expect(v.getUint16(12)).toBe(0x0800);
  const ipLength = v.getUint16(16);
  expect(frame.byteLength).toBe(14 + ipLength + 4); // + the FCS bytes a driver frame reserves
  expect(internetChecksum(frame.subarray(14, 34))).toBe(0);
  expect(v.getUint32(26)).toBe(OURS);
  expect(v.getUint32(30)).toBe(CLIENT);
  const tcp = frame.subarray(34, 14 + ipLength);
  const pseudo = (OURS >>> 16) + (OURS & 0xffff) + (CLIENT >>> 16) + (CLIENT & 0xffff) + 6 + tcp.byteLength;
  expect(onesComplementSum(tcp, pseudo)).toBe(0xffff);
  expect(v.getUint16(34)).toBe(80);
  expect(v.getUint16(36)).toBe(40000);
  const dataAt = (frame[46]! >>> 4) * 4;
  return {
    flags: frame[47]!,
    seq: v.getUint32(38),
    ack: v.getUint32(42),
    options: tcp.subarray(20, dataAt),
    payload: tcp.subarray(dataAt),
  };
}

function answers(r: TcpReflector, frame: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  r.input(frame, (f) => out.push(f.slice()));
  return out;
}

describe('TcpReflector', () => {
  it('answers a SYN with a SYN-ACK (MSS 1460, window scale 0 when offered)', () => {
    const [synAck, ...more] = answers(reflector(), segment(SYN, 1000, 0, undefined, [2, 4, 5, 180, 1, 3, 3, 7]));
    expect(more).toHaveLength(0);
    const p = parse(synAck!);
    expect(p.flags).toBe(SYN | ACK);
    expect(p.ack).toBe(1001);
    expect([...p.options]).toEqual([2, 4, 0x05, 0xb4, 1, 3, 3, 0]);
    const [plain] = answers(reflector(), segment(SYN, 5, 0, undefined, [2, 4, 5, 180]));
    expect([...parse(plain!).options]).toEqual([2, 4, 0x05, 0xb4]);
  });

  it('answers each request with the canned answer at the sequence number the client acknowledges', () => {
    const r = reflector();
    const request = Buffer.from('GET /small HTTP/1.1\r\nHost: x\r\n\r\n');
    for (const [seq, ack] of [
      [1001, 7000],
      [0xffff_fff0, 0xffff_ffff],
    ] as const) {
      const [answer, ...more] = answers(r, segment(PSH | ACK, seq, ack, request));
      expect(more).toHaveLength(0);
      const p = parse(answer!);
      expect(p.flags).toBe(PSH | ACK);
      expect(p.seq).toBe(ack);
      expect(p.ack).toBe((seq + request.length) >>> 0);
      expect(Buffer.from(p.payload).equals(RESPONSE)).toBe(true);
    }
    expect(r.counts.answers).toBe(2);
  });

  it('ignores pure ACKs and RSTs, answers a FIN with a FIN-ACK', () => {
    const r = reflector();
    expect(answers(r, segment(ACK, 10, 20))).toHaveLength(0);
    expect(answers(r, segment(0x04, 10, 20))).toHaveLength(0);
    const [finAck] = answers(r, segment(FIN | ACK, 10, 20));
    const p = parse(finAck!);
    expect(p.flags).toBe(FIN | ACK);
    expect([p.seq, p.ack]).toEqual([20, 11]);
  });

  it('answers an ARP request for its address only, and a ping', () => {
    const r = reflector();
    const arp = new Uint8Array(42);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...CLIENT_MAC, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, ...CLIENT_MAC]);
    new DataView(arp.buffer).setUint32(28, CLIENT);
    new DataView(arp.buffer).setUint32(38, OURS);
    const [reply] = answers(r, arp);
    expect(reply![21]).toBe(2);
    expect([...reply!.subarray(22, 28)]).toEqual([...OUR_MAC]);
    expect(new DataView(reply!.buffer).getUint32(38)).toBe(CLIENT);
    new DataView(arp.buffer).setUint32(38, OURS + 1);
    expect(answers(r, arp)).toHaveLength(0);

    const ping = segment(0, 0, 0, new Uint8Array(16));
    ping[23] = 1; // ICMP
    ping.fill(0, 34);
    ping[34] = 8;
    new DataView(ping.buffer).setUint16(36, internetChecksum(ping.subarray(34)));
    const [echo] = answers(r, ping);
    expect(echo![34]).toBe(0);
    expect(internetChecksum(echo!.subarray(34, echo!.byteLength - 4))).toBe(0);
  });

  it('sends GET /big within the client window, byte-exact, and resends from the first unacknowledged byte', () => {
    const r = reflector();
    answers(r, segment(SYN, 99, 0, undefined, [1, 3, 3, 2])); // window scale 2
    const start = 5000;
    const request = Buffer.from('GET /big HTTP/1.1\r\n\r\n');
    const total = BIG_HEAD.length + 100_000;
    const received = new Uint8Array(total);
    let highest = 0;
    const take = (frames: Uint8Array[]) => {
      for (const f of frames) {
        const p = parse(f);
        expect(p.ack).toBe(100 + request.length);
        expect(p.payload.byteLength).toBeLessThanOrEqual(SEGMENT_BYTES);
        received.set(p.payload, p.seq - start);
        highest = Math.max(highest, p.seq - start + p.payload.byteLength);
      }
      return frames.length;
    };
    // 2,000 << 2 = 8,000 bytes of window: 5 full segments fit, a sixth would not.
    expect(take(answers(r, segment(PSH | ACK, 100, start, request, [], 2000)))).toBe(5);
    // Three duplicate ACKs: back to the first unacknowledged byte.
    const ackOf = (offset: number, window: number) =>
      answers(r, segment(ACK, 100 + request.length, start + offset, undefined, [], window));
    expect(take(ackOf(SEGMENT_BYTES, 2000))).toBe(1); // the window moved by one segment
    expect(take(ackOf(SEGMENT_BYTES, 2000))).toBe(0);
    expect(take(ackOf(SEGMENT_BYTES, 2000))).toBe(0);
    expect(take(ackOf(SEGMENT_BYTES, 2000))).toBe(5);
    expect(r.counts.goBackN).toBe(1);
    for (let i = 0; i < 1000 && highest < total; i++) take(ackOf(highest, 16000));
    expect(highest).toBe(total);
    expect(take(ackOf(total, 16000))).toBe(0);
    const expected = Buffer.concat([
      BIG_HEAD,
      Buffer.from(Array.from({ length: 100_000 }, (_, i) => 97 + ((i % 65536) % 26))),
    ]);
    expect(Buffer.from(received).equals(expected)).toBe(true);
  });

  it('answers a request that asks to close with the close answer and FIN in one segment, then ACKs the client FIN', () => {
    const r = reflector();
    const request = Buffer.from('GET /small HTTP/1.0\r\nHost: bench\r\n\r\n');
    const [answer, ...more] = answers(r, segment(PSH | ACK, 1001, 7000, request));
    expect(more).toHaveLength(0);
    const p = parse(answer!);
    expect(p.flags).toBe(FIN | PSH | ACK);
    expect([p.seq, p.ack]).toEqual([7000, 1001 + request.length]);
    expect(Buffer.from(p.payload).equals(CLOSE_RESPONSE)).toBe(true);
    // The client acknowledges the answer and our FIN (a pure ACK: nothing), then sends its own FIN.
    const ourFinAcked = 7000 + CLOSE_RESPONSE.length + 1;
    expect(answers(r, segment(ACK, 1001 + request.length, ourFinAcked))).toHaveLength(0);
    const [last, ...none] = answers(r, segment(FIN | ACK, 1001 + request.length, ourFinAcked));
    expect(none).toHaveLength(0);
    const l = parse(last!);
    expect(l.flags).toBe(ACK); // no second FIN: ours was acknowledged
    expect([l.seq, l.ack]).toEqual([ourFinAcked, 1001 + request.length + 1]);
    expect(r.counts).toMatchObject({ closeAnswers: 1, lastAck: 1, finAck: 0, answers: 0 });
    // A FIN that does not acknowledge our FIN (the client closes first) still gets FIN-ACK.
    answers(r, segment(PSH | ACK, 50, 60, request));
    const [finAck] = answers(r, segment(FIN | ACK, 50 + request.length, 60));
    expect(parse(finAck!).flags).toBe(FIN | ACK);
  });

  it('keeps the connection open for HTTP/1.1 and for HTTP/1.0 with Connection: keep-alive', () => {
    const r = reflector();
    for (const text of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n']) {
      const [answer] = answers(r, segment(PSH | ACK, 1, 2, Buffer.from(text)));
      const p = parse(answer!);
      expect(p.flags).toBe(PSH | ACK);
      expect(Buffer.from(p.payload).equals(RESPONSE)).toBe(true);
    }
  });
});

describe('requestAsksToClose', () => {
  const asks = (text: string) => requestAsksToClose(Buffer.from(text, 'latin1'), 0, text.length);
  it('reads the version of the request line and the Connection header, ignoring case', () => {
    expect(asks('GET /small HTTP/1.0\r\nHost: bench\r\n\r\n')).toBe(true);
    expect(asks('GET /small HTTP/1.0\r\nconnection:  keep-alive\r\n\r\n')).toBe(false);
    expect(asks('GET /small HTTP/1.1\r\nHost: x\r\n\r\n')).toBe(false);
    expect(asks('GET /small HTTP/1.1\r\nHost: x\r\nCONNECTION: Close\r\n\r\n')).toBe(true);
    expect(asks('GET /small HTTP/1.1\r\nX-Connection: close\r\n\r\n')).toBe(false);
    expect(asks('GET /HTTP/1.0?x HTTP/1.1\r\n\r\n')).toBe(false);
    expect(asks('')).toBe(false);
  });
  it('looks only inside the given range', () => {
    const b = Buffer.from('xxGET / HTTP/1.0\r\n\r\nyy', 'latin1');
    expect(requestAsksToClose(b, 2, b.length - 2)).toBe(true);
    expect(requestAsksToClose(b, 2, 10)).toBe(false);
  });
});
