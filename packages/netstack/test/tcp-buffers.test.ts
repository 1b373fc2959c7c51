import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkPool, ReceiveBuffer, SendBuffer, TCP_MIN_BUFFER_SIZE, seqGe, seqSub } from '../src/index.js';
import { B_ADDR, Sink, patternBytes, pump, sha256, tcpPair, type TcpPairOptions } from './support/tcp-net.js';

/** Byte `i` of the test stream. */
const streamByte = (i: number): number => (i * 31 + (i >>> 8)) & 0xff;

/** Index of the first byte of `bytes` that is not the stream's byte `from + index`, or -1. */
function firstMismatch(bytes: Uint8Array, from: number): number {
  for (let k = 0; k < bytes.length; k++) if (bytes[k] !== streamByte(from + k)) return k;
  return -1;
}

async function established(
  opts: TcpPairOptions = {},
  listen: { sendBufferSize?: number; receiveBufferSize?: number } = {},
  connect: { sendBufferSize?: number; receiveBufferSize?: number } = {},
) {
  const pair = await tcpPair({ latencyMs: 1, ...opts });
  const listener = pair.tcpB.listen({ port: 80, ...listen });
  const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80, ...connect });
  pair.sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 5000);
  const server = listener.accept()!;
  return { ...pair, listener, client, server };
}

describe('SendBuffer.resize', () => {
  it('keeps every held byte in order across growth (ring relayout), shrinking and wrap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('write' as const), length: fc.integer({ min: 0, max: 300 }) }),
            fc.record({ kind: fc.constant('consume' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
            fc.record({ kind: fc.constant('resize' as const), capacity: fc.integer({ min: 1, max: 1200 }) }),
          ),
          { maxLength: 80 },
        ),
        (initial, ops) => {
          const buf = new SendBuffer(initial, { pool: new ChunkPool(64, 4) });
          let capacity = initial;
          let written = 0;
          let consumed = 0;
          for (const o of ops) {
            const held = written - consumed;
            if (o.kind === 'write') {
              const data = Uint8Array.from({ length: o.length }, (_, k) => streamByte(written + k));
              const n = buf.write(data);
              expect(n).toBe(Math.max(0, Math.min(o.length, capacity - held)));
              written += n;
            } else if (o.kind === 'consume') {
              const n = Math.floor(o.fraction * held);
              buf.consume(n);
              consumed += n;
            } else {
              buf.resize(o.capacity);
              capacity = o.capacity;
              expect(buf.length).toBe(held); // shrinking never drops a byte
            }
            expect(buf.capacity).toBe(capacity);
            expect(buf.free).toBe(Math.max(0, capacity - (written - consumed)));
            const out = new Uint8Array(written - consumed);
            buf.copyOut(0, out.length, out, 0);
            expect(firstMismatch(out, consumed)).toBe(-1);
          }
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  it('rejects a capacity that is not a positive integer and changes nothing', () => {
    const buf = new SendBuffer(100);
    buf.write(new Uint8Array(60));
    expect(() => buf.resize(0)).toThrow(RangeError);
    expect(() => buf.resize(1.5)).toThrow(RangeError);
    expect(buf.capacity).toBe(100);
    expect(buf.free).toBe(40);
  });
});

describe('ReceiveBuffer.resize', () => {
  it('keeps readable and out-of-order bytes across growth and shrinking; never below the held extent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 600 }),
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant('insert' as const),
              offset: fc.integer({ min: 0, max: 700 }),
              length: fc.integer({ min: 1, max: 200 }),
            }),
            fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 0, max: 300 }) }),
            fc.record({ kind: fc.constant('resize' as const), capacity: fc.integer({ min: 1, max: 2000 }) }),
          ),
          { maxLength: 80 },
        ),
        (initial, ops) => {
          const buf = new ReceiveBuffer(initial, { pool: new ChunkPool(64, 4), maxRanges: 4 });
          let rcvNxt = 0; // stream offset of the next expected byte
          let consumed = 0;
          for (const o of ops) {
            if (o.kind === 'insert') {
              const data = Uint8Array.from({ length: o.length }, (_, k) => streamByte(rcvNxt + o.offset + k));
              rcvNxt += buf.insert(o.offset, data);
            } else if (o.kind === 'read') {
              const out = new Uint8Array(o.max);
              const n = buf.read(out);
              expect(firstMismatch(out.subarray(0, n), consumed)).toBe(-1);
              consumed += n;
            } else {
              const before = {
                readable: buf.readable,
                ooo: buf.outOfOrderBytes,
                ranges: buf.outOfOrderRanges,
                extent: buf.heldExtent,
                capacity: buf.capacity,
              };
              if (o.capacity < before.extent) {
                expect(() => buf.resize(o.capacity)).toThrow(RangeError);
                expect(buf.capacity).toBe(before.capacity);
              } else {
                buf.resize(o.capacity);
                expect(buf.capacity).toBe(o.capacity);
                expect(buf.window).toBe(o.capacity - before.readable);
              }
              expect({
                readable: buf.readable,
                ooo: buf.outOfOrderBytes,
                ranges: buf.outOfOrderRanges,
                extent: buf.heldExtent,
              }).toEqual({ readable: before.readable, ooo: before.ooo, ranges: before.ranges, extent: before.extent });
            }
            expect(buf.heldExtent).toBeLessThanOrEqual(buf.capacity);
            expect(rcvNxt - consumed).toBe(buf.readable);
          }
          // Everything held out of order is still there: filling the gaps alone, one byte at a time
          // (never overwriting a held byte), makes it readable, byte-exact.
          for (let guard = 0; buf.outOfOrderRanges > 0 && guard < 5000; guard++)
            rcvNxt += buf.insert(0, Uint8Array.of(streamByte(rcvNxt)));
          expect(buf.outOfOrderRanges).toBe(0);
          const out = new Uint8Array(buf.readable);
          expect(buf.read(out)).toBe(out.length);
          expect(firstMismatch(out, consumed)).toBe(-1);
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });
});

describe('TCP per-connection buffers (virtual clock)', () => {
  it('a small receive buffer set at listen time stalls the sender at the window; it resumes as the app reads', async () => {
    const { sched, client, server } = await established({}, { receiveBufferSize: 4096 });
    expect(server.receiveBufferSize).toBe(4096);
    expect(client.tcb.sndWnd).toBe(4096); // the SYN-ACK offered the listener's size
    const data = patternBytes(60_000, 21);
    pump(client, data);
    sched.advance(2000);
    // Stalled: the receiver holds at most its buffer, the sender has nothing more in flight.
    expect(server.readableLength).toBeLessThanOrEqual(4096);
    expect(server.readableLength).toBeGreaterThan(4096 - 1460);
    expect(client.stats.bytesOut).toBeLessThanOrEqual(4096);
    expect(client.tcb.sndWnd).toBeLessThan(1460);
    expect(server.tcb.recvBuffer.beyondWindowBytes).toBe(0);
    // Each read lets the sender go on by about what was read, never further than the buffer.
    const scratch = new Uint8Array(65_536);
    const got: Uint8Array[] = [];
    let rounds = 0;
    while (!server.readableEnded && rounds < 200) {
      const before = client.stats.bytesOut;
      const n = server.read(scratch);
      got.push(scratch.slice(0, n));
      sched.advance(50);
      rounds++;
      expect(server.readableLength).toBeLessThanOrEqual(4096);
      if (client.stats.bytesOut < data.byteLength) expect(client.stats.bytesOut).toBeGreaterThan(before);
    }
    expect(server.readableEnded).toBe(true);
    expect(rounds).toBeGreaterThan(10); // 60 kB through a 4 KiB window takes many reads
    expect(sha256(Buffer.concat(got))).toBe(sha256(data));
  });

  it('a small send buffer set at connect time: write() accepts at most that many bytes', async () => {
    const { sched, client, server } = await established({}, {}, { sendBufferSize: 2048 });
    expect(client.sendBufferSize).toBe(2048);
    expect(client.write(new Uint8Array(10_000))).toBe(2048);
    expect(client.write(new Uint8Array(1))).toBe(0);
    const sink = new Sink(server);
    let writable = 0;
    client.onWritable = () => writable++;
    sched.advance(50);
    expect(sink.received).toBe(2048);
    expect(writable).toBe(1);
    expect(client.writableLength).toBe(2048);
  });

  it('accepted connections take the listener send buffer; sizes are clamped to TCP_MIN_BUFFER_SIZE..maxBufferSize', async () => {
    const { tcpA, tcpB, server, listener, sched } = await established(
      { tcpB: { maxBufferSize: 512 * 1024 } },
      { sendBufferSize: 3000 },
    );
    expect(server.write(new Uint8Array(5000))).toBe(3000);
    expect(listener.setSendBufferSize(10)).toBe(TCP_MIN_BUFFER_SIZE);
    expect(listener.setReceiveBufferSize(10 * 1024 * 1024)).toBe(512 * 1024);
    expect(() => listener.setReceiveBufferSize(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const tiny = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80, sendBufferSize: 1 });
    sched.runUntil(() => tiny.state === 'ESTABLISHED', 1000);
    expect(tiny.write(new Uint8Array(5000))).toBe(TCP_MIN_BUFFER_SIZE);
    expect(() => tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80, receiveBufferSize: -1 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => tcpB.effectiveBufferSize(Number.NaN)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('growing the receive buffer on an open connection opens the window at once (window scale chosen from maxBufferSize)', async () => {
    const maxBufferSize = 1024 * 1024;
    const { sched, client, server } = await established(
      { tcpA: { maxBufferSize }, tcpB: { maxBufferSize } },
      { receiveBufferSize: 4096 },
    );
    // 1 MiB needs shift 5 (65535 << 4 < 1 MiB <= 65535 << 5), though the buffer was 4 KiB at SYN time.
    expect(server.tcb.rcvWndShift).toBe(5);
    pump(client, patternBytes(500_000, 3), false);
    sched.advance(1000);
    expect(server.readableLength).toBeLessThanOrEqual(4096);
    expect(server.setReceiveBufferSize(maxBufferSize)).toBe(maxBufferSize);
    sched.advance(1000);
    // No read happened: the sender went on because the window grew, beyond what 16 bits could say.
    expect(client.tcb.sndWnd).toBeGreaterThan(65_535);
    expect(server.readableLength).toBe(500_000);
  });

  it('shrinking the receive buffer keeps the advertised right edge and every byte; the window then follows the new size', async () => {
    const { sched, client, server } = await established({}, { receiveBufferSize: 64 * 1024 });
    const data = patternBytes(300_000, 9);
    pump(client, data);
    sched.advance(3); // the first flight is on its way into a 64 KiB window
    expect(server.setReceiveBufferSize(4096)).toBe(4096);
    expect(server.receiveBufferSize).toBe(4096);
    const got: Uint8Array[] = [];
    const scratch = new Uint8Array(8192);
    let right = server.tcb.rcvAdvRight;
    let stalledAtNewSize = false;
    let heldBeyondNewSize = 0;
    for (let t = 0; t < 20_000 && !server.readableEnded; t++) {
      sched.advance(1);
      const tcb = server.tcb;
      expect(seqGe(tcb.rcvAdvRight, right)).toBe(true); // never moves left
      right = tcb.rcvAdvRight;
      // The buffer has room for all the window promised (up to the rounding of the window scale).
      expect(tcb.recvBuffer.window + (1 << tcb.rcvWndShift)).toBeGreaterThan(seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
      if (t % 40 === 39) {
        const n = server.read(scratch);
        got.push(scratch.slice(0, n));
      }
      if (server.tcb.recvBuffer.capacity === 4096 && server.readableLength > 4096 - 1460) stalledAtNewSize = true;
      heldBeyondNewSize = Math.max(heldBeyondNewSize, server.readableLength - 4096);
    }
    expect(server.readableEnded).toBe(true);
    expect(stalledAtNewSize).toBe(true);
    expect(heldBeyondNewSize).toBeGreaterThan(8192); // the flight already promised was taken in, beyond the new size
    expect(server.tcb.recvBuffer.capacity).toBe(4096);
    expect(server.tcb.recvBuffer.beyondWindowBytes).toBe(0); // nothing the window promised was dropped
    expect(client.stats.retransmits).toBe(0);
    expect(sha256(Buffer.concat(got))).toBe(sha256(data));
  });

  it('shrinking the send buffer below what it holds drops nothing; writes wait until it drains under the new size', async () => {
    const { sched, client, server } = await established({}, {}, { sendBufferSize: 16_384 });
    const data = patternBytes(40_000, 5);
    expect(client.write(data.subarray(0, 16_384))).toBe(16_384);
    expect(client.setSendBufferSize(4096)).toBe(4096);
    expect(client.bufferedAmount).toBe(16_384);
    expect(client.writableLength).toBe(0);
    expect(client.write(data.subarray(16_384))).toBe(0);
    const sink = new Sink(server, true);
    sched.advance(100);
    expect(sink.received).toBe(16_384);
    expect(client.writableLength).toBe(4096);
    pump(client, data.subarray(16_384));
    sched.runUntil(() => sink.ended, 10_000);
    expect(sha256(Buffer.concat(sink.chunks))).toBe(sha256(data));
  });
});
