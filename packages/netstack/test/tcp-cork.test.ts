/**
 * `TcpConnection.setCork`: while corked, writes only queue; the FIN of `shutdownWrite` then rides on
 * the last data segment (an HTTP/1.0 answer and its FIN in one segment, as a C stack sends them);
 * uncorking sends what was held; a write that fills the send buffer sends anyway, so a corked writer
 * waiting for `onWritable` is never stuck.
 */
import { describe, expect, it } from 'vitest';
import { B_ADDR, Sink, patternBytes, tcpPair } from './support/tcp-net.js';

const RESPONSE = new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');

/** An established pair: `server` (accepted on b) and `client` (on a), nothing in flight. */
async function established(sendBufferSize?: number) {
  const { sched, tcpA, tcpB } = await tcpPair({
    latencyMs: 0.1,
    ...(sendBufferSize === undefined ? {} : { tcpB: { sendBufferSize } }),
  });
  const listener = tcpB.listen({ port: 80 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!;
  const sink = new Sink(client);
  sched.advance(50);
  return { sched, server, client, sink };
}

describe('a corked connection', () => {
  it('sends the data and the FIN of shutdownWrite in one segment', async () => {
    const { sched, server, client, sink } = await established();
    const before = server.stats.segmentsOut;
    server.setCork(true);
    expect(server.write(RESPONSE)).toBe(RESPONSE.byteLength);
    expect(server.stats.segmentsOut - before).toBe(0); // held by the cork
    server.shutdownWrite();
    expect(server.stats.segmentsOut - before).toBe(1);
    sched.advance(50);
    expect(sink.received).toBe(RESPONSE.byteLength);
    expect(sink.ended).toBe(true);
    expect(client.state).toBe('CLOSE-WAIT');
    expect(server.state).toBe('FIN-WAIT-2');
    expect(server.stats.segmentsOut - before).toBe(1);
  });

  it('without the cork, the same write and shutdown cost two segments', async () => {
    const { sched, server, sink } = await established();
    const before = server.stats.segmentsOut;
    server.write(RESPONSE);
    server.shutdownWrite();
    sched.advance(50);
    expect(sink.received).toBe(RESPONSE.byteLength);
    expect(sink.ended).toBe(true);
    expect(server.stats.segmentsOut - before).toBe(2);
  });

  it('sends what it held when uncorked, in one segment for several writes', async () => {
    const { sched, server, sink } = await established();
    const before = server.stats.segmentsOut;
    server.setCork(true);
    server.write(RESPONSE.subarray(0, 10));
    server.write(RESPONSE.subarray(10));
    sched.advance(50);
    expect(sink.received).toBe(0);
    server.setCork(false);
    expect(server.stats.segmentsOut - before).toBe(1);
    sched.advance(50);
    expect(sink.received).toBe(RESPONSE.byteLength);
    expect(sink.ended).toBe(false);
  });

  it('still sends when a write fills the send buffer, so the writer gets onWritable', async () => {
    const { sched, server, sink } = await established(4096);
    const data = patternBytes(64 * 1024, 7);
    let offset = 0;
    const pump = (): void => {
      while (offset < data.byteLength) {
        const n = server.write(data.subarray(offset));
        offset += n;
        if (n === 0) return;
      }
    };
    server.onWritable = pump;
    server.setCork(true);
    pump();
    sched.runUntil(() => sink.received === data.byteLength, 10_000);
    expect(offset).toBe(data.byteLength);
    expect(sink.received).toBe(data.byteLength);
  });
});
