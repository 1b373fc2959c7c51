/**
 * `Tcp.connections()`: a snapshot of the whole connection table, followed through a connection's
 * life on two real stacks (virtual clock): SYN-SENT, SYN-RECEIVED, ESTABLISHED, the closing states,
 * TIME-WAIT, and gone once 2*MSL has passed.
 */
import { describe, expect, it } from 'vitest';
import type { TcpConnectionEntry } from '../src/index.js';
import { A_ADDR, B_ADDR, tcpPair } from './support/tcp-net.js';

const TIME_WAIT_MS = 1_000;

/** Two hosts, a listener on B:80, and 1 ms of latency so each step of a handshake can be seen. */
async function setup() {
  const pair = await tcpPair({ latencyMs: 1, tcpA: { timeWaitMs: TIME_WAIT_MS }, tcpB: { timeWaitMs: TIME_WAIT_MS } });
  const listener = pair.tcpB.listen({ port: 80 });
  return { ...pair, listener };
}

/** The entry for one 4-tuple, or undefined. */
function find(
  list: readonly TcpConnectionEntry[],
  localPort: number,
  remotePort: number,
): TcpConnectionEntry | undefined {
  return list.find((e) => e.localPort === localPort && e.remotePort === remotePort);
}

describe('Tcp.connections()', () => {
  it('is empty for a fresh module; listeners are not connections', async () => {
    const { tcpA, tcpB } = await setup();
    expect(tcpA.connections()).toEqual([]);
    expect(tcpB.connections()).toEqual([]);
  });

  it("lists the active side in SYN-SENT and the listener's copy in SYN-RECEIVED, each with its 4-tuple", async () => {
    const { sched, tcpA, tcpB, listener } = await setup();
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    expect(tcpA.connections()).toEqual([
      {
        localAddress: A_ADDR,
        localPort: client.localPort,
        remoteAddress: B_ADDR,
        remotePort: 80,
        state: 'SYN-SENT',
        passive: false,
        sendQueue: 0,
        receiveQueue: 0,
      },
    ]);
    sched.runUntil(() => listener.pendingHandshakes === 1, 100);
    expect(listener.acceptQueue).toHaveLength(0);
    expect(tcpB.connections()).toEqual([
      {
        localAddress: B_ADDR,
        localPort: 80,
        remoteAddress: A_ADDR,
        remotePort: client.localPort,
        state: 'SYN-RECEIVED',
        passive: true,
        sendQueue: 0,
        receiveQueue: 0,
      },
    ]);
    sched.runUntil(() => listener.acceptQueue.length === 1, 100);
    expect(tcpB.connections()).toEqual([
      expect.objectContaining({ remotePort: client.localPort, state: 'ESTABLISHED', passive: true }),
    ]);
    expect(tcpA.connections()).toEqual([
      expect.objectContaining({ remotePort: 80, state: 'ESTABLISHED', passive: false }),
    ]);
  });

  it('shows unacknowledged and unread bytes as the send and receive queues', async () => {
    const { sched, tcpA, tcpB, listener } = await setup();
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length === 1 && client.state === 'ESTABLISHED', 100);
    expect(client.write(new Uint8Array(1_000))).toBe(1_000);
    expect(find(tcpA.connections(), client.localPort, 80)?.sendQueue).toBe(1_000); // sent, not yet acknowledged
    sched.advance(100);
    expect(find(tcpA.connections(), client.localPort, 80)?.sendQueue).toBe(0);
    expect(find(tcpB.connections(), 80, client.localPort)?.receiveQueue).toBe(1_000); // nobody read it
    listener.accept()!.read(new Uint8Array(400));
    expect(find(tcpB.connections(), 80, client.localPort)?.receiveQueue).toBe(600);
  });

  it('follows the close: FIN-WAIT-2 / CLOSE-WAIT, then TIME-WAIT on the side that closed first, then nothing', async () => {
    const { sched, tcpA, tcpB, listener } = await setup();
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    sched.runUntil(() => listener.acceptQueue.length === 1 && client.state === 'ESTABLISHED', 100);
    const server = listener.accept()!;
    const established = tcpA.connections();

    client.close();
    expect(find(tcpA.connections(), client.localPort, 80)?.state).toBe('FIN-WAIT-1');
    sched.runUntil(() => server.state === 'CLOSE-WAIT', 100);
    sched.advance(5);
    expect(find(tcpA.connections(), client.localPort, 80)?.state).toBe('FIN-WAIT-2');
    expect(find(tcpB.connections(), 80, client.localPort)?.state).toBe('CLOSE-WAIT');

    server.close();
    expect(find(tcpB.connections(), 80, client.localPort)?.state).toBe('LAST-ACK');
    sched.advance(10);
    // The passive closer is gone from its table; the active closer holds TIME-WAIT with the same 4-tuple.
    expect(tcpB.connections()).toEqual([]);
    expect(tcpA.connections()).toEqual([
      {
        localAddress: A_ADDR,
        localPort: client.localPort,
        remoteAddress: B_ADDR,
        remotePort: 80,
        state: 'TIME-WAIT',
        passive: false,
        sendQueue: 0,
        receiveQueue: 0,
      },
    ]);
    expect(tcpA.timeWaitCount).toBe(1);

    // An earlier snapshot did not change with the connection.
    expect(established).toEqual([expect.objectContaining({ state: 'ESTABLISHED' })]);
    expect(Object.isFrozen(established[0])).toBe(true);

    sched.advance(TIME_WAIT_MS + 10);
    expect(tcpA.connections()).toEqual([]);
    expect(tcpA.connectionCount).toBe(0);
  });

  it('lists every connection when many share one remote endpoint, each once, as many as connectionCount', async () => {
    const { sched, tcpA, tcpB, listener } = await setup();
    const clients = Array.from({ length: 20 }, () => tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 }));
    sched.runUntil(() => listener.acceptQueue.length === clients.length, 500);
    // Close half from the client side so the table mixes ESTABLISHED and TIME-WAIT.
    const servers = listener.acceptQueue.splice(0);
    for (let i = 0; i < 10; i++) clients[i]!.close();
    sched.runUntil(() => servers.filter((s) => s.state === 'CLOSE-WAIT').length === 10, 500);
    for (const s of servers) if (s.state === 'CLOSE-WAIT') s.close();
    sched.advance(20);

    const onA = tcpA.connections();
    expect(onA).toHaveLength(tcpA.connectionCount);
    expect(onA).toHaveLength(20);
    expect(new Set(onA.map((e) => e.localPort)).size).toBe(20);
    expect(
      onA
        .filter((e) => e.state === 'TIME-WAIT')
        .map((e) => e.localPort)
        .sort(),
    ).toEqual(
      clients
        .slice(0, 10)
        .map((c) => c.localPort)
        .sort(),
    );
    expect(
      onA
        .filter((e) => e.state === 'ESTABLISHED')
        .map((e) => e.localPort)
        .sort(),
    ).toEqual(
      clients
        .slice(10)
        .map((c) => c.localPort)
        .sort(),
    );

    const onB = tcpB.connections();
    expect(onB).toHaveLength(tcpB.connectionCount);
    expect(onB.map((e) => e.remotePort).sort()).toEqual(
      clients
        .slice(10)
        .map((c) => c.localPort)
        .sort(),
    );
    expect(onB.every((e) => e.state === 'ESTABLISHED' && e.localPort === 80 && e.passive)).toBe(true);
  });
});
