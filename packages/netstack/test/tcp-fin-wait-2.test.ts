/**
 * The FIN-WAIT-2 timeout (the idle timer, armed when the segment or the `close()` that reached
 * FIN-WAIT-2 is processed): a connection its application closed, whose FIN the peer acknowledged but
 * whose peer never sends its own FIN, ends `finWait2TimeoutMs` later, and not before. Virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const TIMEOUT_MS = 5_000;

async function established() {
  const pair = await tcpPair({ latencyMs: 0.2, tcpA: { finWait2TimeoutMs: TIMEOUT_MS } });
  const listener = pair.tcpB.listen({ port: 80 });
  const client = pair.tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  pair.sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!; // never closes its side
  let closedAt = -1;
  client.onClose = () => {
    closedAt = pair.sched.now;
  };
  return { ...pair, client, server, closedAt: () => closedAt };
}

describe('FIN-WAIT-2 timeout', () => {
  it('after close(), the ACK of our FIN arms it: the connection ends TIMEOUT_MS after that ACK', async () => {
    const { sched, client, closedAt } = await established();
    client.close();
    sched.runUntil(() => client.state === 'FIN-WAIT-2', 1000);
    const reached = sched.now;
    sched.advance(TIMEOUT_MS - 10);
    expect(client.state).toBe('FIN-WAIT-2');
    sched.advance(20);
    expect(client.state).toBe('CLOSED');
    expect(closedAt() - reached).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    expect(closedAt() - reached).toBeLessThanOrEqual(TIMEOUT_MS + 10);
  });

  it('close() in FIN-WAIT-2 (after shutdownWrite) arms it from the close()', async () => {
    const { sched, client, closedAt } = await established();
    client.shutdownWrite();
    sched.runUntil(() => client.state === 'FIN-WAIT-2', 1000);
    // Half-closed without close(): no timeout, the peer may still send.
    sched.advance(3 * TIMEOUT_MS);
    expect(client.state).toBe('FIN-WAIT-2');
    const closing = sched.now;
    client.close();
    sched.advance(TIMEOUT_MS - 10);
    expect(client.state).toBe('FIN-WAIT-2');
    sched.advance(20);
    expect(client.state).toBe('CLOSED');
    expect(closedAt() - closing).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(closedAt() - closing).toBeLessThanOrEqual(TIMEOUT_MS + 10);
  });
});
