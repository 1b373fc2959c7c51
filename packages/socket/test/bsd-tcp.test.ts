import { describe, expect, it } from 'vitest';
import { AF_INET, SOCK_STREAM, SocketError } from '../src/index.js';
import { awaitOnVirtualClock, patternBytes } from '@postern/netlab';
import { A_ADDR, B_ADDR, socketPair } from './support/net.js';

describe('BSD calls over TCP', () => {
  it('socket, bind, listen, accept on one side; connect, send, recv on the other; byte-exact both ways', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(lfd, { address: 0, port: 8080 });
    sb.listen(lfd, 8);
    expect(sb.getsockname(lfd)).toEqual({ address: 0, port: 8080 });
    const accepting = sb.accept(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 8080 }));
    const { fd: sfd, address } = await awaitOnVirtualClock(sched, accepting);
    expect(address.address).toBe(A_ADDR);
    expect(address.port).toBe(sa.getsockname(cfd).port);
    expect(sa.getpeername(cfd)).toEqual({ address: B_ADDR, port: 8080 });
    expect(sb.getpeername(sfd)).toEqual(address);

    const up = patternBytes(700_000, 3);
    const sending = sa.send(cfd, up);
    const got = new Uint8Array(up.byteLength);
    let off = 0;
    const buf = new Uint8Array(50_000);
    while (off < up.byteLength) {
      const n = await awaitOnVirtualClock(sched, sb.recv(sfd, buf));
      got.set(buf.subarray(0, n), off);
      off += n;
    }
    expect(await awaitOnVirtualClock(sched, sending)).toBe(up.byteLength);
    expect(Buffer.compare(got, up)).toBe(0);

    await awaitOnVirtualClock(sched, sb.send(sfd, new TextEncoder().encode('pong')));
    const small = new Uint8Array(16);
    const n = await awaitOnVirtualClock(sched, sa.recv(cfd, small));
    expect(new TextDecoder().decode(small.subarray(0, n))).toBe('pong');
    sa.close(cfd);
    expect(await awaitOnVirtualClock(sched, sb.recv(sfd, small))).toBe(0);
    sb.close(sfd);
    sb.close(lfd);
    expect(sb.table.size).toBe(0);
  });

  it('connect to a closed port fails with ECONNREFUSED', async () => {
    const { sched, sa } = await socketPair();
    const fd = sa.socket(AF_INET, SOCK_STREAM);
    const err = await awaitOnVirtualClock(sched, sa.connect(fd, { address: B_ADDR, port: 9 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SocketError);
    expect((err as SocketError).code).toBe('ECONNREFUSED');
    expect((err as SocketError).syscall).toBe('connect');
  });
});
