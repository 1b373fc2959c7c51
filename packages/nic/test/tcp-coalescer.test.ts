/**
 * The TAP driver's TCP coalescing decision and the super-frames it builds, on plain bytes: which
 * frames merge (one flow, contiguous sequence numbers, the same headers, ACK with PSH only on the
 * last) and which do not (another flow, a gap, SYN/FIN/RST, other options, IP options, fragments,
 * not TCP, a damaged IP header), and that a merged frame's headers and checksums are those of the
 * one segment it stands for, checked here independently of the code under test. The kernel's
 * acceptance of these frames is in `tap-tso.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { internetChecksum } from '@postern/wire';
import { TcpSegmentCoalescer } from '../src/tap/tcp-coalescer.js';
import { readVnetHeader, VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_HDR_LEN } from '../src/tap/vnet-header.js';

const ACK = 0x10;
const PSH = 0x08;
const SYN = 0x02;
const FIN = 0x01;
const RST = 0x04;

interface SegmentSpec {
  seq: number;
  payload: number;
  flags?: number;
  srcPort?: number;
  options?: number[];
  ipOptions?: number[];
  fragment?: number;
  protocol?: number;
  window?: number;
  ack?: number;
  ipId?: number;
}

/** The pseudo-header sum + TCP segment checksum of `tcp` (header and payload) between two addresses. */
function tcpChecksum(src: Uint8Array, dst: Uint8Array, tcp: Uint8Array): number {
  const pseudo = new Uint8Array(12 + tcp.length);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  pseudo[9] = 6;
  pseudo[10] = tcp.length >>> 8;
  pseudo[11] = tcp.length & 0xff;
  pseudo.set(tcp, 12);
  return internetChecksum(pseudo);
}

const SRC = Uint8Array.of(198, 18, 0, 2);
const DST = Uint8Array.of(198, 18, 0, 1);

/** One Ethernet + IPv4 + TCP frame with correct checksums (no FCS); payload byte i of a segment = (seq + i) & 0xff. */
function segment(spec: SegmentSpec): Uint8Array {
  const ipOptions = spec.ipOptions ?? [];
  const options = spec.options ?? [];
  const ipHeader = 20 + ipOptions.length;
  const tcpHeader = 20 + options.length;
  const length = 14 + ipHeader + tcpHeader + spec.payload;
  const f = new Uint8Array(length);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0x50, 0x53, 0x54, 0, 2, 0x08, 0x00]);
  const ip = 14;
  f[ip] = 0x40 | (ipHeader / 4);
  f[ip + 2] = (length - 14) >>> 8;
  f[ip + 3] = (length - 14) & 0xff;
  f[ip + 4] = (spec.ipId ?? 7) >>> 8;
  f[ip + 5] = (spec.ipId ?? 7) & 0xff;
  const fragment = spec.fragment ?? 0x4000; // DF
  f[ip + 6] = fragment >>> 8;
  f[ip + 7] = fragment & 0xff;
  f[ip + 8] = 64;
  f[ip + 9] = spec.protocol ?? 6;
  f.set(SRC, ip + 12);
  f.set(DST, ip + 16);
  f.set(ipOptions, ip + 20);
  const ipSum = internetChecksum(f.subarray(ip, ip + ipHeader));
  f[ip + 10] = ipSum >>> 8;
  f[ip + 11] = ipSum & 0xff;
  const t = ip + ipHeader;
  const port = spec.srcPort ?? 80;
  f.set([port >>> 8, port & 0xff, 0xc3, 0x50], t);
  new DataView(f.buffer).setUint32(t + 4, spec.seq >>> 0);
  new DataView(f.buffer).setUint32(t + 8, spec.ack ?? 0x1234_5678);
  f[t + 12] = (tcpHeader / 4) << 4;
  f[t + 13] = spec.flags ?? ACK;
  const window = spec.window ?? 502;
  f[t + 14] = window >>> 8;
  f[t + 15] = window & 0xff;
  f.set(options, t + 20);
  for (let i = 0; i < spec.payload; i++) f[t + tcpHeader + i] = (spec.seq + i) & 0xff;
  const sum = tcpChecksum(SRC, DST, f.subarray(t));
  f[t + 16] = sum >>> 8;
  f[t + 17] = sum & 0xff;
  return f;
}

/** Feeds frames in order as the driver does; returns the frames written, each with its virtio-net header. */
function coalesce(frames: readonly Uint8Array[]): Uint8Array[] {
  const c = new TcpSegmentCoalescer(1518);
  const out: Uint8Array[] = [];
  const flush = () => out.push(c.buffer.slice(0, c.finish()));
  for (const f of frames) {
    if (c.segments > 0 && c.append(f, f.length)) continue;
    if (c.segments > 0) flush();
    c.start(f, f.length);
  }
  if (c.segments > 0) flush();
  return out;
}

/** The segments' count in each written frame: 1 for a frame written as it came. */
function shape(frames: readonly Uint8Array[]): number[] {
  return coalesce(frames).map((w) => {
    const h = readVnetHeader(w);
    if (h.gsoType === VNET_GSO_NONE) return 1;
    const payload = w.length - VNET_HDR_LEN - h.hdrLen;
    return Math.ceil(payload / h.gsoSize);
  });
}

const TS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]; // NOP NOP timestamps

describe('TcpSegmentCoalescer: which frames merge', () => {
  it('merges a run of one flow: full segments, then a shorter last one with PSH', () => {
    const frames = [
      segment({ seq: 1000, payload: 1448, options: TS }),
      segment({ seq: 2448, payload: 1448, options: TS, ipId: 8 }),
      segment({ seq: 3896, payload: 1448, options: TS, ipId: 9 }),
      segment({ seq: 5344, payload: 300, options: TS, flags: ACK | PSH, ipId: 10 }),
    ];
    expect(shape(frames)).toEqual([4]);
  });

  it('a frame alone goes out as it came, behind a header of zeros', () => {
    const f = segment({ seq: 1, payload: 100 });
    const [w] = coalesce([f]);
    expect(w!.subarray(0, VNET_HDR_LEN)).toEqual(new Uint8Array(VNET_HDR_LEN));
    expect(w!.subarray(VNET_HDR_LEN)).toEqual(f);
  });

  it('does not merge across flows, gaps, or changed acknowledgment, window or options, and keeps the order', () => {
    const a = (seq: number, more: Partial<SegmentSpec> = {}) => segment({ seq, payload: 1000, ...more });
    expect(shape([a(0), a(1000, { srcPort: 81 })])).toEqual([1, 1]);
    expect(shape([a(0), a(1001)])).toEqual([1, 1]);
    expect(shape([a(0), a(999)])).toEqual([1, 1]);
    expect(shape([a(0), a(1000, { ack: 1 })])).toEqual([1, 1]);
    expect(shape([a(0), a(1000, { window: 501 })])).toEqual([1, 1]);
    expect(shape([a(0, { options: TS }), a(1000, { options: [1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 2] })])).toEqual([1, 1]);
    expect(shape([a(0, { options: TS }), a(1000)])).toEqual([1, 1]);
    // A frame that does not merge ends the run; the run after it starts afresh.
    expect(shape([a(0), a(1000), a(5, { srcPort: 81 }), a(2000), a(3000)])).toEqual([2, 1, 2]);
  });

  it('SYN, FIN, RST, URG and ECN flags neither head nor join a run; PSH ends it', () => {
    const a = (seq: number, flags: number) => segment({ seq, payload: 1000, flags });
    for (const flags of [SYN | ACK, FIN | ACK, RST | ACK, 0x20 | ACK, 0x40 | ACK, 0x80 | ACK, 0]) {
      expect(shape([a(0, flags), a(1000, ACK)])).toEqual([1, 1]);
      expect(shape([a(0, ACK), a(1000, flags)])).toEqual([1, 1]);
    }
    expect(shape([a(0, ACK | PSH), a(1000, ACK)])).toEqual([1, 1]);
    expect(shape([a(0, ACK), a(1000, ACK | PSH), a(2000, ACK)])).toEqual([2, 1]);
  });

  it('a shorter segment ends the run; a longer one or an empty one does not join', () => {
    const a = (seq: number, payload: number) => segment({ seq, payload });
    expect(shape([a(0, 1000), a(1000, 500), a(1500, 1000)])).toEqual([2, 1]);
    expect(shape([a(0, 1000), a(1000, 1200)])).toEqual([1, 1]);
    expect(shape([a(0, 1000), a(1000, 0)])).toEqual([1, 1]);
    expect(shape([a(0, 0), a(0, 0)])).toEqual([1, 1]);
    expect(shape([a(0, 999), a(999, 999)])).toEqual([1, 1]); // an odd size would shift the next payload's words
  });

  it('IP options, fragments, other protocols, other Ethertypes and a damaged IP header are left alone', () => {
    const a = (seq: number, more: Partial<SegmentSpec> = {}) => segment({ seq, payload: 1000, ...more });
    expect(shape([a(0, { ipOptions: [1, 1, 1, 0] }), a(1000, { ipOptions: [1, 1, 1, 0] })])).toEqual([1, 1]);
    expect(shape([a(0, { fragment: 0x2000 }), a(1000, { fragment: 0x2000 })])).toEqual([1, 1]);
    expect(shape([a(0, { fragment: 0x0001 }), a(1000)])).toEqual([1, 1]);
    expect(shape([a(0), a(1000, { fragment: 0 })])).toEqual([1, 1]); // DF differs
    expect(shape([a(0, { protocol: 17 }), a(1000, { protocol: 17 })])).toEqual([1, 1]);
    const vlan = a(0);
    vlan[12] = 0x81;
    vlan[13] = 0x00;
    expect(shape([vlan, a(1000)])).toEqual([1, 1]);
    const damaged = a(1000);
    damaged[14 + 4]! ^= 1; // the IP ID (which may differ) changed, the header checksum not
    expect(shape([a(0), damaged])).toEqual([1, 1]);
    const padded = new Uint8Array(a(1000).length + 2); // Ethernet padding after the IP packet
    padded.set(a(1000));
    expect(shape([a(0), padded])).toEqual([1, 1]);
  });

  it('after stopMerging every frame goes out alone, as it came', () => {
    const c = new TcpSegmentCoalescer(1518);
    expect(c.mergingEnabled).toBe(true);
    c.stopMerging();
    expect(c.mergingEnabled).toBe(false);
    const a = segment({ seq: 0, payload: 1000 });
    c.start(a, a.length);
    expect(c.append(segment({ seq: 1000, payload: 1000 }), a.length)).toBe(false);
    expect(c.finish()).toBe(VNET_HDR_LEN + a.length);
    expect(c.buffer.subarray(0, VNET_HDR_LEN)).toEqual(new Uint8Array(VNET_HDR_LEN));
  });

  it('replaceBuffer leaves the finished frame in the old buffer and builds the next in a fresh one', () => {
    const c = new TcpSegmentCoalescer(1518);
    const a = segment({ seq: 0, payload: 100 });
    c.start(a, a.length);
    const held = c.buffer;
    const length = c.finish();
    const before = held.slice(0, length);
    c.replaceBuffer();
    expect(c.buffer).not.toBe(held);
    expect(c.buffer.byteLength).toBe(held.byteLength);
    const b = segment({ seq: 100, payload: 200, srcPort: 81 });
    c.start(b, b.length);
    expect(c.buffer.subarray(VNET_HDR_LEN, c.finish())).toEqual(b);
    expect(held.subarray(0, length)).toEqual(before);
  });

  it('stops before the merged IP packet would exceed 65,535 bytes', () => {
    const frames = Array.from({ length: 50 }, (_, i) => segment({ seq: i * 1448, payload: 1448 }));
    // 40 + 45 * 1448 = 65,200 fits; a 46th would not.
    expect(shape(frames)).toEqual([45, 5]);
  });
});

describe('TcpSegmentCoalescer: the super-frame', () => {
  it('is the one segment the run stands for: GSO header, lengths, flags, both checksums, payloads in order', () => {
    const frames = [
      segment({ seq: 0xffff_f000, payload: 1448, options: TS }), // the sequence number wraps inside the run
      segment({ seq: 0xffff_f5a8, payload: 1448, options: TS, ipId: 8 }),
      segment({ seq: 0xffff_fb50, payload: 1448, options: TS, ipId: 9 }),
      segment({ seq: 0x0000_00f8, payload: 301, options: TS, flags: ACK | PSH, ipId: 10 }),
    ];
    const [w] = coalesce(frames);
    const h = readVnetHeader(w!);
    const headers = 14 + 20 + 32;
    expect(h).toEqual({
      flags: 0,
      gsoType: VNET_GSO_TCPV4,
      hdrLen: headers,
      gsoSize: 1448,
      csumStart: 0,
      csumOffset: 0,
    });
    const f = w!.subarray(VNET_HDR_LEN);
    const payload = 3 * 1448 + 301;
    expect(f.length).toBe(headers + payload);
    expect(f.subarray(0, 14)).toEqual(frames[0]!.subarray(0, 14));
    expect((f[16]! << 8) | f[17]!).toBe(20 + 32 + payload);
    expect((f[18]! << 8) | f[19]!).toBe(7); // the first frame's IP ID
    expect(internetChecksum(f.subarray(14, 34))).toBe(0);
    expect(new DataView(f.buffer, f.byteOffset).getUint32(38)).toBe(0xffff_f000);
    expect(f[47]).toBe(ACK | PSH);
    expect(f.subarray(54, 66)).toEqual(Uint8Array.from(TS));
    expect(tcpChecksum(SRC, DST, f.subarray(34))).toBe(0);
    const expected = frames.flatMap((s) => [...s.subarray(headers)]);
    expect([...f.subarray(headers)]).toEqual(expected);
  });

  it('carries a damaged payload into a checksum the kernel will refuse, never a valid one', () => {
    const frames = [segment({ seq: 0, payload: 1000 }), segment({ seq: 1000, payload: 1000 })];
    frames[1]![14 + 20 + 20 + 500]! ^= 0x40; // damaged after its checksum was computed
    const [w] = coalesce(frames);
    expect(readVnetHeader(w!).gsoType).toBe(VNET_GSO_TCPV4);
    expect(tcpChecksum(SRC, DST, w!.subarray(VNET_HDR_LEN + 34))).not.toBe(0);
  });

  it('reuses one buffer: each finish returns the length of what to write, the next start begins afresh', () => {
    const c = new TcpSegmentCoalescer(1518);
    const a = segment({ seq: 0, payload: 1000 });
    c.start(a, a.length);
    expect(c.append(segment({ seq: 1000, payload: 1000 }), a.length)).toBe(true);
    expect(c.segments).toBe(2);
    expect(c.finish()).toBe(VNET_HDR_LEN + a.length + 1000);
    expect(c.segments).toBe(0);
    const b = segment({ seq: 5, payload: 10 });
    c.start(b, b.length);
    expect(c.finish()).toBe(VNET_HDR_LEN + b.length);
    expect(c.buffer.subarray(VNET_HDR_LEN, VNET_HDR_LEN + b.length)).toEqual(b);
  });
});
