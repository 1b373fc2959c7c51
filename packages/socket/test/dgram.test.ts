import { afterEach, describe, expect, it } from 'vitest';
import { AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_RCVBUF, SocketError, createDgram, type RemoteInfo } from '../src/index.js';
import { awaitOnVirtualClock } from '@postern/netlab';
import { A_ADDR, B_ADDR, socketPair } from './support/net.js';
import { nextEvent } from './support/wait.js';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

describe('UDP: BSD calls', () => {
  it('sendto / recvfrom with the sender, truncation, connect filtering and EMSGSIZE', async () => {
    const { sched, sa, sb } = await socketPair();
    const server = sb.socket(AF_INET, SOCK_DGRAM);
    sb.bind(server, { address: 0, port: 5353 });
    const client = sa.socket(AF_INET, SOCK_DGRAM);
    await sa.sendto(client, new TextEncoder().encode('hello world'), { address: B_ADDR, port: 5353 });
    const buf = new Uint8Array(5);
    const r = await awaitOnVirtualClock(sched, sb.recvfrom(server, buf));
    expect(r.bytes).toBe(5);
    expect(r.truncated).toBe(true);
    expect(r.address).toEqual({ address: A_ADDR, port: sa.getsockname(client).port });
    expect(new TextDecoder().decode(buf)).toBe('hello');
    await sb.connect(server, { address: A_ADDR, port: 1 }); // not the client's port: its datagrams are filtered
    await sa.sendto(client, new Uint8Array(3), { address: B_ADDR, port: 5353 });
    sched.advance(5);
    sb.setNonBlocking(server, true);
    await expect(sb.recv(server, buf)).rejects.toMatchObject({ code: 'EAGAIN' });
    await expect(sa.sendto(client, new Uint8Array(70_000), { address: B_ADDR, port: 5353 })).rejects.toMatchObject({
      code: 'EMSGSIZE',
    });
    await expect(sa.send(client, new Uint8Array(1))).rejects.toMatchObject({ code: 'EDESTADDRREQ' });
    const other = sb.socket(AF_INET, SOCK_DGRAM);
    expect(() => sb.bind(other, { address: 0, port: 5353 })).toThrow(SocketError);
  });

  it('the receive queue holds at most SO_RCVBUF bytes; the rest is dropped and counted', async () => {
    const { sched, sa, sb } = await socketPair();
    const server = sb.socket(AF_INET, SOCK_DGRAM);
    sb.setsockopt(server, SOL_SOCKET, SO_RCVBUF, 1000);
    sb.bind(server, { address: 0, port: 5354 });
    const client = sa.socket(AF_INET, SOCK_DGRAM);
    for (let i = 0; i < 5; i++) await sa.sendto(client, new Uint8Array(300), { address: B_ADDR, port: 5354 });
    sched.advance(5);
    const e = sb.entry(server, 'recv') as import('../src/index.js').UdpEntry;
    expect(e.queued).toBe(3);
    expect(e.drops).toBe(2);
  });
});

describe('UDP: the dgram face', () => {
  it('bind, send, message with rinfo, close', async () => {
    const p = await socketPair({ clock: 'real' });
    stops.push(() => p.sched.stop());
    const server = createDgram(p.sb).createSocket('udp4');
    server.on('message', (msg: Buffer, rinfo: RemoteInfo) =>
      server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address),
    );
    server.bind(41234);
    await nextEvent(server, 'listening');
    expect(server.address()).toEqual({ address: '0.0.0.0', family: 'IPv4', port: 41234 });
    const client = createDgram(p.sa).createSocket({ type: 'udp4' });
    const sent = await new Promise<number>((resolve, reject) =>
      client.send('ping', 41234, '198.18.0.2', (err, n) => (err ? reject(err) : resolve(n))),
    );
    expect(sent).toBe(4);
    const [msg, rinfo] = (await nextEvent(client, 'message')) as [Buffer, RemoteInfo];
    expect(msg.toString()).toBe('echo:ping');
    expect(rinfo).toEqual({ address: '198.18.0.2', family: 'IPv4', port: 41234, size: 9 });
    client.close();
    await nextEvent(server.close(), 'close');
    const dup = createDgram(p.sb).createSocket('udp4');
    dup.bind(41235);
    await nextEvent(dup, 'listening');
    const again = createDgram(p.sb).createSocket('udp4');
    again.bind(41235);
    expect(((await nextEvent(again, 'error')) as [SocketError])[0].code).toBe('EADDRINUSE');
  });
});
