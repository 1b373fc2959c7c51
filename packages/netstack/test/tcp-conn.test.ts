import { describe, expect, it } from 'vitest';
import { A_ADDR, B_ADDR, Sink, patternBytes, pump, sha256, tcpPair } from './support/tcp-net.js';

describe('Tcp over two Stacks: handshake, data, close', () => {
  it('connects, moves bytes both ways byte-exact, and closes (client first)', async () => {
    const { sched, tcpA, tcpB } = await tcpPair();
    const listener = tcpB.listen({ port: 80 });
    const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
    let connected = false;
    client.onConnect = () => {
      connected = true;
    };
    sched.runUntil(() => listener.acceptQueue.length > 0, 1000);
    expect(connected).toBe(true);
    expect(client.state).toBe('ESTABLISHED');
    const server = listener.accept()!;
    expect(server.state).toBe('ESTABLISHED');
    expect(server.remoteAddress).toBe(A_ADDR);
    expect(server.remotePort).toBe(client.localPort);

    const up = patternBytes(300_000, 1);
    const down = patternBytes(200_000, 2);
    const serverSink = new Sink(server);
    const clientSink = new Sink(client);
    pump(client, up);
    pump(server, down, false);
    sched.runUntil(() => serverSink.ended && clientSink.received === down.byteLength, 60_000);
    expect(serverSink.received).toBe(up.byteLength);
    expect(serverSink.digest()).toBe(sha256(up));
    expect(clientSink.digest()).toBe(sha256(down));
    expect(server.state).toBe('CLOSE-WAIT');
    expect(client.state).toBe('FIN-WAIT-2');
    const closes: string[] = [];
    client.onClose = (r) => closes.push(`client:${r}`);
    server.onClose = (r) => closes.push(`server:${r}`);
    server.close();
    sched.advance(100);
    expect(client.state).toBe('TIME-WAIT');
    expect(server.state).toBe('CLOSED');
    expect(closes.sort()).toEqual(['client:normal', 'server:normal']);
    expect(tcpA.timeWaitCount).toBe(1);
    sched.advance(60_000);
    expect(client.state).toBe('CLOSED');
    expect(tcpA.connectionCount).toBe(0);
    expect(tcpB.connectionCount).toBe(0);
  });
});
