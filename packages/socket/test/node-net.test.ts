import { afterEach, describe, expect, it } from 'vitest';
import { createNet, type Socket, type SocketError, type TcpEntry } from '../src/index.js';
import { patternBytes, sha256Hex, waitFor } from '@postern/netlab';
import { socketPair } from './support/net.js';
import { nextEvent } from './support/wait.js';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

async function pair(options: Parameters<typeof socketPair>[0] = {}) {
  const p = await socketPair({ ...options, clock: 'real' });
  stops.push(() => p.sched.stop());
  return { ...p, netA: createNet(p.sa), netB: createNet(p.sb) };
}

describe('the net face: Socket and Server', () => {
  it('connects, reports addresses and counters, echoes byte-exact, and closes both ends', async () => {
    const { netA, netB } = await pair();
    const server = netB.createServer((s) => s.pipe(s));
    await nextEvent(server.listen(4000, '198.18.0.2'), 'listening');
    expect(server.address()).toEqual({ address: '198.18.0.2', family: 'IPv4', port: 4000 });
    const client = netA.connect({ port: 4000, host: '198.18.0.2' });
    await nextEvent(client, 'connect');
    expect(client.remoteAddress).toBe('198.18.0.2');
    expect(client.remotePort).toBe(4000);
    expect(client.remoteFamily).toBe('IPv4');
    expect(client.localAddress).toBe('198.18.0.1');
    expect(client.localPort).toBeGreaterThanOrEqual(49152);
    expect(client.readyState).toBe('open');
    const data = patternBytes(500_000, 9);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    client.end(data);
    await nextEvent(client, 'close');
    expect(sha256Hex(Buffer.concat(chunks))).toBe(sha256Hex(data));
    expect(client.bytesRead).toBe(data.byteLength);
    expect(client.bytesWritten).toBe(data.byteLength);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('backpressure: write() returns false, the peer window closes while it is paused, drain follows resume', async () => {
    const { netA, netB, tcpB } = await pair({ tcp: { receiveBufferSize: 64 * 1024, sendBufferSize: 64 * 1024 } });
    let serverSocket: Socket | undefined;
    const server = netB.createServer({ pauseOnConnect: true }, (s) => {
      serverSocket = s;
    });
    await nextEvent(server.listen(4001), 'listening');
    const client = netA.connect(4001, '198.18.0.2');
    await nextEvent(client, 'connect');
    await waitFor('the accepted socket', () => serverSocket !== undefined, 5000, 2);
    const chunk = Buffer.alloc(16 * 1024, 1);
    let writes = 0;
    while (client.write(chunk)) writes++;
    expect(writes).toBeLessThan(100);
    // Keep offering past the high-water mark so that TCP's buffers on both sides fill.
    for (let i = 0; i < 20; i++) client.write(chunk);
    const total = (writes + 21) * chunk.byteLength;
    const entry = serverSocket!.sockets.entry(serverSocket!.fd!, 'recv') as TcpEntry;
    await waitFor('receive buffer full', () => entry.conn!.readableLength >= tcpB.receiveBufferSize, 5000, 2);
    let drained = false;
    client.once('drain', () => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toBe(false);
    expect(client.writableLength).toBeGreaterThan(0);
    let received = 0;
    serverSocket!.on('data', (c: Buffer) => {
      received += c.byteLength;
    });
    serverSocket!.resume();
    await waitFor('drain and all bytes', () => drained && received === total, 10_000, 2);
    client.destroy();
    server.close();
  });

  it('writes straight to TCP and through the stream (callbacks, a full send buffer) arrive in order; a write after end fails as in Node', async () => {
    const { netA, netB } = await pair({ tcp: { sendBufferSize: 16 * 1024 } });
    const chunks: Buffer[] = [];
    let serverEnded = false;
    const server = netB.createServer((s) => {
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        serverEnded = true;
        s.end();
      });
    });
    await nextEvent(server.listen(4005), 'listening');
    const client = netA.connect(4005, '198.18.0.2');
    await nextEvent(client, 'connect');
    const data = patternBytes(200_000, 3);
    let callbacks = 0;
    for (let at = 0, i = 0; at < data.byteLength; i++) {
      const size = 1 + ((i * 7919) % 6000);
      const piece = Buffer.from(data.subarray(at, at + size));
      at += size;
      // Every third write asks for a callback (the stream's path); the others may go straight to TCP.
      if (i % 3 === 0) client.write(piece, () => void callbacks++);
      else client.write(piece);
    }
    client.end();
    await waitFor('all bytes', () => serverEnded, 10_000, 2);
    expect(sha256Hex(Buffer.concat(chunks))).toBe(sha256Hex(data));
    expect(callbacks).toBeGreaterThan(0);
    expect(client.bytesWritten).toBe(data.byteLength);
    // The late write's callback always gets the error; 'error' is emitted too unless the socket was
    // already destroyed (the server's FIN may have closed it by now), as in Node.
    client.on('error', () => {});
    const late = await new Promise<(Error & { code?: string }) | null | undefined>((resolve) => {
      expect(client.write(Buffer.from('late'), resolve)).toBe(false);
    });
    expect(late?.code).toBe('ERR_STREAM_WRITE_AFTER_END');
    await nextEvent(server.close(), 'close');
  });

  it('half-open: with allowHalfOpen the server answers after the client ended', async () => {
    const { netA, netB } = await pair();
    const server = netB.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('end', () => {
        expect(s.writable).toBe(true);
        s.end(`got ${Buffer.concat(parts).toString()}`);
      });
    });
    await nextEvent(server.listen(4002), 'listening');
    const client = netA.connect(4002, '198.18.0.2');
    client.end('question');
    const parts: Buffer[] = [];
    client.on('data', (c: Buffer) => parts.push(c));
    const [hadError] = await nextEvent(client, 'close');
    expect(hadError).toBe(false);
    expect(Buffer.concat(parts).toString()).toBe('got question');
    server.close();
  });

  it('errors: ECONNREFUSED with address and port, ECONNRESET from a peer reset, ETIMEDOUT with the link down', async () => {
    const { netA, netB, link } = await pair();
    const refused = netA.connect(4999, '198.18.0.2');
    const [err] = (await nextEvent(refused, 'error')) as [SocketError];
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.syscall).toBe('connect');
    expect(err.address).toBe('198.18.0.2');
    expect(err.port).toBe(4999);
    expect(err.errno).toBe(-111);
    expect([refused.remoteAddress, refused.localPort]).toEqual([undefined, undefined]); // never connected

    const server = netB.createServer((s) => s.once('data', () => s.resetAndDestroy()));
    await nextEvent(server.listen(4003), 'listening');
    const client = netA.connect(4003, '198.18.0.2');
    await nextEvent(client, 'connect');
    client.write('x');
    const [reset] = (await nextEvent(client, 'error')) as [SocketError];
    expect(reset.code).toBe('ECONNRESET');
    expect(client.destroyed).toBe(true);

    link.setLink('down');
    const slow = netA.connect({ port: 4003, host: '198.18.0.2', connectTimeoutMs: 100 });
    const [timedOut] = (await nextEvent(slow, 'error')) as [SocketError];
    expect(timedOut.code).toBe('ETIMEDOUT');
    const unknown = netA.connect(80, 'no.such.host');
    expect(((await nextEvent(unknown, 'error')) as [SocketError])[0].code).toBe('ENOTFOUND');
    server.close();
  });

  it('setTimeout emits timeout after idleness on the scheduler; setNoDelay and setKeepAlive reach TCP', async () => {
    const { netA, netB } = await pair();
    const server = netB.createServer(() => undefined);
    await nextEvent(server.listen(4004), 'listening');
    const client = netA.connect(4004, '198.18.0.2');
    await nextEvent(client, 'connect');
    client.setNoDelay(true).setKeepAlive(true, 30_000);
    const t0 = performance.now();
    client.setTimeout(60);
    await nextEvent(client, 'timeout', 2000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
    expect(client.destroyed).toBe(false);
    const e = client.sockets.entry(client.fd!, 'getsockopt') as TcpEntry;
    expect(e.noDelay).toBe(true);
    expect(e.options.keepAlive).toBe(true);
    expect(e.options.keepIdleMs).toBe(30_000);
    client.destroy();
    server.close();
  });

  it('Server: EADDRINUSE, maxConnections drops extra connections, close waits for open connections', async () => {
    const { netA, netB } = await pair();
    const held: Socket[] = [];
    const server = netB.createServer((s) => held.push(s));
    server.maxConnections = 1;
    await nextEvent(server.listen(4005), 'listening');
    const second = netB.createServer();
    const [inUse] = (await nextEvent(second.listen(4005), 'error')) as [SocketError];
    expect(inUse.code).toBe('EADDRINUSE');
    const c1 = netA.connect(4005, '198.18.0.2');
    await nextEvent(c1, 'connect');
    await waitFor('the held connection', () => held.length === 1, 5000, 2);
    const dropped = nextEvent(server, 'drop');
    const c2 = netA.connect(4005, '198.18.0.2');
    await dropped;
    await nextEvent(c2, 'close');
    let closed = false;
    server.close(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(closed).toBe(false);
    c1.end();
    await waitFor('server close', () => closed, 5000, 2);
    expect(server.address()).toBeNull();
  });

  it('an accepted socket: addresses read from its connection (kept once read), counted by the server until its close', async () => {
    const { netA, netB } = await pair();
    const accepted: Socket[] = [];
    const server = netB.createServer((s) => accepted.push(s));
    await nextEvent(server.listen(4006), 'listening');
    const client = netA.connect(4006, '198.18.0.2');
    await nextEvent(client, 'connect');
    await waitFor('the accepted socket', () => accepted.length === 1, 5000, 2);
    const peer = accepted[0]!;
    expect([peer.remoteAddress, peer.remotePort, peer.remoteFamily]).toEqual(['198.18.0.1', client.localPort, 'IPv4']);
    expect([peer.localAddress, peer.localPort, peer.localFamily]).toEqual(['198.18.0.2', 4006, 'IPv4']);
    expect(peer.address()).toEqual({ address: '198.18.0.2', family: 'IPv4', port: 4006 });
    const count = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    expect(await count()).toBe(1);
    let countAtClose = -1;
    peer.on('close', () => {
      server.getConnections((_e, n) => (countAtClose = n));
    });
    const closed = nextEvent(peer, 'close');
    client.end();
    peer.end();
    const [hadError] = (await closed) as [boolean];
    expect(hadError).toBe(false);
    await waitFor('getConnections', () => countAtClose !== -1, 5000, 2);
    expect(countAtClose).toBe(0);
    // Still known after the close (Node keeps a peer name it has read).
    expect(peer.remoteAddress).toBe('198.18.0.1');
    expect(peer.localPort).toBe(4006);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('destroySoon ends after the buffered data is out', async () => {
    const { netA, netB } = await pair();
    const got: Buffer[] = [];
    const server = netB.createServer((s) => s.on('data', (c: Buffer) => got.push(c)));
    await nextEvent(server.listen(4006), 'listening');
    const client = netA.connect(4006, '198.18.0.2');
    client.write(Buffer.alloc(200_000, 3));
    client.destroySoon();
    await nextEvent(client, 'close');
    await waitFor('all 200 000 bytes', () => Buffer.concat(got).byteLength === 200_000, 5000, 2);
    server.close();
  });
});
