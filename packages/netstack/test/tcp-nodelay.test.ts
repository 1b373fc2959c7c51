/**
 * `setNoDelay(true)` runs the connection's output only when Nagle's algorithm held something back:
 * on an idle connection (what a server that sets TCP_NODELAY on every accepted connection does) it
 * runs none; with a small write held behind unacknowledged data, it sends that write at once.
 * Counted on the `Tcp` context's output entry point. Virtual clock.
 */
import { describe, expect, it } from 'vitest';
import type { Tcp } from '../src/index.js';
import type { TcpContext } from '../src/tcp/context.js';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

/** Counts the calls of the context's `output` (the connection's output after an application call). */
function countOutputs(tcp: Tcp): { calls: () => number } {
  const ctx = (tcp as unknown as { ctx: TcpContext }).ctx;
  const original = ctx.output.bind(ctx);
  let calls = 0;
  (ctx as { output: TcpContext['output'] }).output = (tcb) => {
    calls++;
    original(tcb);
  };
  return { calls: () => calls };
}

describe('setNoDelay', () => {
  it('on an idle connection runs no output; turning Nagle off with a write held back sends it at once', async () => {
    const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 5 });
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
    const server = listener.accept()!;
    const outputs = countOutputs(tcpB);
    server.setNoDelay(true);
    server.setNoDelay(true);
    expect(outputs.calls()).toBe(0);
    server.setNoDelay(false);
    // One small write goes (nothing in flight), the next is held by Nagle until the first is acknowledged.
    server.write(new Uint8Array(10));
    const sentBefore = server.stats.segmentsOut;
    server.write(new Uint8Array(10));
    expect(server.stats.segmentsOut).toBe(sentBefore);
    const calls = outputs.calls();
    server.setNoDelay(true);
    expect(outputs.calls()).toBe(calls + 1);
    expect(server.stats.segmentsOut).toBe(sentBefore + 1);
    let received = 0;
    const scratch = new Uint8Array(100);
    client.onReadable = () => {
      for (let n = client.read(scratch); n > 0; n = client.read(scratch)) received += n;
    };
    sched.runUntil(() => received === 20, 1000);
    expect(received).toBe(20);
  });
});
