/**
 * How a `net` Socket ends: `end(chunk)` and the writes made while corked leave with the FIN in one
 * TCP segment (the socket corks the TCP connection while its stream holds nothing); `uncork` sends
 * what the cork held; a cork taken while the stream buffers is Node's own and `end` still finishes.
 * The peer sees every byte, then the end of the stream, either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket, TcpEntry } from '../src/index.js';
import { waitFor } from '@postern/netlab';
import { connectedNetSockets } from './support/net-face.js';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

/** A connected pair of `net` sockets on a real clock; `segmentsOut()` counts what the server's TCP sent. */
async function connected(port: number) {
  const { client, peer, pair: p } = await connectedNetSockets(port, stops, { allowHalfOpen: true });
  const conn = (p.sb.entry(peer.fd!, 'send') as TcpEntry).conn!;
  // Let the handshake's last ACK and anything owed settle before counting.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { client, peer, segmentsOut: () => conn.stats.segmentsOut };
}

/**
 * Everything `socket` receives until its end, as text; `atEnd` is what `count` said when the end
 * arrived (before the FIN this end sends back is answered, which would add the peer's ACK).
 */
function collect(socket: Socket, count: () => number = () => 0) {
  const chunks: Buffer[] = [];
  let ended = false;
  let atEnd = -1;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => {
    ended = true;
    atEnd = count();
  });
  return { text: () => Buffer.concat(chunks).toString(), ended: () => ended, atEnd: () => atEnd };
}

describe('ending a net Socket', () => {
  it('end(chunk) sends the chunk and the FIN in one segment', async () => {
    const { client, peer, segmentsOut } = await connected(8101);
    const got = collect(client, segmentsOut);
    const before = segmentsOut();
    peer.end(Buffer.from('HTTP/1.0 200 OK\r\n\r\nbye'));
    await waitFor('the end of the stream', got.ended, 5000, 2);
    expect(got.text()).toBe('HTTP/1.0 200 OK\r\n\r\nbye');
    expect(got.atEnd() - before).toBe(1);
  });

  it('writes made while corked leave with the FIN of end() in one segment', async () => {
    const { client, peer, segmentsOut } = await connected(8102);
    const got = collect(client, segmentsOut);
    const before = segmentsOut();
    peer.cork();
    peer.write(Buffer.from('head '));
    peer.write(Buffer.from('body'));
    expect(segmentsOut() - before).toBe(0);
    peer.end();
    peer.uncork(); // after end: a no-op, as on a Node socket
    await waitFor('the end of the stream', got.ended, 5000, 2);
    expect(got.text()).toBe('head body');
    expect(got.atEnd() - before).toBe(1);
  });

  it('uncork sends what the cork held, and writing goes on', async () => {
    const { client, peer, segmentsOut } = await connected(8103);
    const got = collect(client, segmentsOut);
    const before = segmentsOut();
    peer.cork();
    peer.write(Buffer.from('one '));
    peer.write(Buffer.from('two '));
    peer.uncork();
    expect(segmentsOut() - before).toBe(1);
    await waitFor('the corked bytes', () => got.text() === 'one two ', 5000, 2);
    peer.write(Buffer.from('three'));
    await waitFor('the next write', () => got.text() === 'one two three', 5000, 2);
    expect(got.ended()).toBe(false);
  });

  it("a cork taken while the stream buffers is Node's own, and end() still sends everything", async () => {
    const { client, peer } = await connected(8104);
    const got = collect(client);
    peer.write('text goes through the stream ', 'utf8', () => undefined); // a callback: buffered by the Writable
    peer.cork();
    peer.write(Buffer.from('then bytes'));
    peer.end();
    await waitFor('the end of the stream', got.ended, 5000, 2);
    expect(got.text()).toBe('text goes through the stream then bytes');
  });
});
