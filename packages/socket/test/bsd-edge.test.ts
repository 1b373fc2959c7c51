import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  EventPoll,
  IPPROTO_TCP,
  MSG_DONTWAIT,
  MSG_PEEK,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLRDHUP,
  SHUT_RD,
  SHUT_WR,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_SNDBUF,
  SO_TYPE,
  SocketError,
  TCP_NODELAY,
  type Sockets,
  type TcpEntry,
} from '../src/index.js';
import { TCP_MIN_BUFFER_SIZE } from '@postern/netstack';
import { awaitOnVirtualClock, flushMicrotasks, patternBytes } from '@postern/netlab';
import { A_ADDR, B_ADDR, socketPair } from './support/net.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    if (!(e instanceof SocketError)) throw e;
    return e.code;
  }
}

function syncCodeOf(f: () => unknown): string {
  try {
    f();
    return 'returned';
  } catch (e) {
    if (!(e instanceof SocketError)) throw e;
    return e.code;
  }
}

/** A connected pair: client fd on `sa`, server fd on `sb`, listener on port 7000. */
async function connected() {
  const net = await socketPair();
  const { sched, sa, sb } = net;
  const lfd = sb.socket(AF_INET, SOCK_STREAM);
  sb.bind(lfd, { address: 0, port: 7000 });
  sb.listen(lfd, 4);
  const cfd = sa.socket(AF_INET, SOCK_STREAM);
  const accepting = sb.accept(lfd);
  await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7000 }));
  const { fd: sfd } = await awaitOnVirtualClock(sched, accepting);
  return { ...net, lfd, cfd, sfd };
}

describe('descriptors', () => {
  it('reuses the lowest free slot and makes the old handle stale (EBADF), never reaching the new socket', async () => {
    const { sa } = await socketPair();
    const fds = [sa.socket(AF_INET, SOCK_DGRAM), sa.socket(AF_INET, SOCK_DGRAM), sa.socket(AF_INET, SOCK_DGRAM)];
    expect(fds).toEqual([0, 1, 2]);
    sa.close(fds[1]!);
    sa.close(fds[0]!);
    const again = sa.socket(AF_INET, SOCK_STREAM);
    expect(sa.table.slotOf(again)).toBe(0);
    expect(again).not.toBe(fds[0]);
    expect(syncCodeOf(() => sa.getsockopt(fds[0]!, SOL_SOCKET, SO_TYPE))).toBe('EBADF');
    expect(sa.getsockopt(again, SOL_SOCKET, SO_TYPE)).toBe(SOCK_STREAM);
    expect(syncCodeOf(() => sa.close(fds[0]!))).toBe('EBADF');
    expect(await codeOf(sa.recv(fds[1]!, new Uint8Array(4)))).toBe('EBADF');
    expect(sa.table.slotOf(sa.socket(AF_INET, SOCK_DGRAM))).toBe(1);
    expect(syncCodeOf(() => sa.bind(12345, { address: 0, port: 1 }))).toBe('EBADF');
    expect(syncCodeOf(() => sa.getsockname(-1))).toBe('EBADF');
  });

  it('fails with EMFILE when the table is full, and recovers after a close', async () => {
    const { sa } = await socketPair({ sockets: { maxDescriptors: 3 } });
    const fds = [0, 1, 2].map(() => sa.socket(AF_INET, SOCK_DGRAM));
    expect(syncCodeOf(() => sa.socket(AF_INET, SOCK_DGRAM))).toBe('EMFILE');
    expect(sa.table.stats.full).toBe(1);
    sa.close(fds[2]!);
    expect(sa.table.slotOf(sa.socket(AF_INET, SOCK_DGRAM))).toBe(2);
  });

  it('a call blocked on a descriptor fails with EBADF when the descriptor is closed', async () => {
    const { sched, cfd, sa } = await connected();
    const reading = sa.recv(cfd, new Uint8Array(10));
    await flushMicrotasks();
    sa.close(cfd);
    expect(await codeOf(awaitOnVirtualClock(sched, reading))).toBe('EBADF');
  });
});

describe('TCP edge cases', () => {
  it('peer reset during a blocked read: ECONNRESET, then end of stream', async () => {
    const { sched, sa, sb, cfd, sfd } = await connected();
    const reading = sa.recv(cfd, new Uint8Array(100));
    sb.setsockopt(sfd, SOL_SOCKET, SO_LINGER, { onoff: true, linger: 0 });
    sb.close(sfd);
    expect(await codeOf(awaitOnVirtualClock(sched, reading))).toBe('ECONNRESET');
    expect(await awaitOnVirtualClock(sched, sa.recv(cfd, new Uint8Array(100)))).toBe(0);
  });

  it('close with unread data resets the peer (RFC 2525), the peer sees ECONNRESET on send', async () => {
    const { sched, sa, sb, cfd, sfd } = await connected();
    await awaitOnVirtualClock(sched, sa.send(cfd, new Uint8Array(100)));
    sched.advance(5);
    sb.close(sfd);
    sched.advance(5);
    expect(await codeOf(sa.send(cfd, new Uint8Array(10)))).toBe('ECONNRESET');
    expect(await codeOf(sa.send(cfd, new Uint8Array(10)))).toBe('EPIPE');
  });

  it('write after the peer closed and reset: EPIPE; after our own SHUT_WR: EPIPE', async () => {
    const { sched, sa, sb, cfd, sfd } = await connected();
    sa.shutdown(cfd, SHUT_WR);
    expect(await codeOf(sa.send(cfd, new Uint8Array(1)))).toBe('EPIPE');
    sb.close(sfd);
    sched.advance(10);
    expect(await codeOf(sb.send(sfd, new Uint8Array(1)))).toBe('EBADF');
  });

  it('half-close: after SHUT_WR the peer reads to the end and can still send back', async () => {
    const { sched, sa, sb, cfd, sfd } = await connected();
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('request')));
    sa.shutdown(cfd, SHUT_WR);
    const buf = new Uint8Array(64);
    const n = await awaitOnVirtualClock(sched, sb.recv(sfd, buf));
    expect(new TextDecoder().decode(buf.subarray(0, n))).toBe('request');
    expect(await awaitOnVirtualClock(sched, sb.recv(sfd, buf))).toBe(0);
    expect(sb.readiness(sfd) & POLLRDHUP).toBe(POLLRDHUP);
    await awaitOnVirtualClock(sched, sb.send(sfd, new TextEncoder().encode('response')));
    sb.shutdown(sfd, SHUT_WR);
    const m = await awaitOnVirtualClock(sched, sa.recv(cfd, buf));
    expect(new TextDecoder().decode(buf.subarray(0, m))).toBe('response');
    expect(await awaitOnVirtualClock(sched, sa.recv(cfd, buf))).toBe(0);
    sched.advance(10);
    expect(sa.readiness(cfd) & POLLHUP).toBe(POLLHUP);
  });

  it('SHUT_RD: reads see the end of stream at once', async () => {
    const { sched, sa, cfd, sb, sfd } = await connected();
    sa.shutdown(cfd, SHUT_RD);
    await awaitOnVirtualClock(sched, sb.send(sfd, new Uint8Array(50)));
    sched.advance(5);
    expect(await awaitOnVirtualClock(sched, sa.recv(cfd, new Uint8Array(100)))).toBe(0);
  });

  it('connect to a port nobody listens on: ECONNREFUSED, also as SO_ERROR of a non-blocking connect', async () => {
    const { sched, sa } = await socketPair();
    const fd = sa.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    expect(await codeOf(sa.connect(fd, { address: B_ADDR, port: 4444 }))).toBe('EINPROGRESS');
    expect(await codeOf(sa.connect(fd, { address: B_ADDR, port: 4444 }))).toBe('EALREADY');
    const [r] = await awaitOnVirtualClock(sched, sa.poll([{ fd, events: POLLOUT }], 1000));
    expect(r!.revents & POLLOUT).toBe(POLLOUT);
    expect(sa.getsockopt(fd, SOL_SOCKET, SO_ERROR)).toBe(111);
    expect(sa.getsockopt(fd, SOL_SOCKET, SO_ERROR)).toBe(0);
  });

  it('connect timeout: the link is down, the connect fails with ETIMEDOUT after the timeout', async () => {
    const { sched, sa, link } = await socketPair();
    link.setLink('down');
    const fd = sa.socket(AF_INET, SOCK_STREAM);
    const t0 = sched.now;
    const err = await awaitOnVirtualClock(
      sched,
      sa.connect(fd, { address: B_ADDR, port: 80 }, { timeoutMs: 3000 }),
    ).catch((e: unknown) => e);
    expect((err as SocketError).code).toBe('ETIMEDOUT');
    expect(sched.now - t0).toBeGreaterThanOrEqual(3000);
    expect(sched.now - t0).toBeLessThan(3100);
  });

  it('without a timeout, TCP gives up after its SYN retries: ETIMEDOUT', async () => {
    const { sched, sa, link } = await socketPair({ tcp: { synRetries: 2 } });
    link.setLink('down');
    const fd = sa.socket(AF_INET, SOCK_STREAM);
    const err = await awaitOnVirtualClock(sched, sa.connect(fd, { address: B_ADDR, port: 80 }), 120_000, 100).catch(
      (e: unknown) => e,
    );
    expect((err as SocketError).code).toBe('ETIMEDOUT');
  });

  it('accept queue full: at most backlog + 1 connections wait (as Linux), the rest complete once accept makes room', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    sb.bind(lfd, { address: 0, port: 7001 });
    sb.listen(lfd, 2);
    const listener = (sb.entry(lfd, 'accept') as TcpEntry).listener!;
    const fds = [0, 1, 2, 3, 4].map(() => sa.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK));
    for (const fd of fds) expect(await codeOf(sa.connect(fd, { address: B_ADDR, port: 7001 }))).toBe('EINPROGRESS');
    sched.advance(200);
    const accepted: number[] = [];
    const acceptAll = (): void => {
      for (let a = sb.tryAccept(lfd); a !== undefined; a = sb.tryAccept(lfd)) accepted.push(a.fd);
    };
    expect(sb.readiness(lfd) & POLLIN).toBe(POLLIN);
    expect(listener.acceptQueue.length).toBe(3); // TCP holds the queue: backlog + 1
    expect(listener.stats.acceptQueueDrops).toBeGreaterThan(0);
    acceptAll();
    expect(accepted.length).toBe(3);
    expect(await codeOf(sb.accept(lfd))).toBe('EAGAIN');
    sched.advance(10_000); // the dropped handshakes complete on SYN-ACK retransmission
    acceptAll();
    expect(accepted.length).toBe(5);
    expect(new Set(accepted.map((fd) => sb.getpeername(fd).port))).toEqual(
      new Set(fds.map((fd) => sa.getsockname(fd).port)),
    );
  });

  it('bind conflicts: EADDRINUSE; SO_REUSEADDR on both lets a second non-listening socket bind', async () => {
    const { sb } = await socketPair();
    const a = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(a, { address: 0, port: 5000 });
    const b = sb.socket(AF_INET, SOCK_STREAM);
    expect(syncCodeOf(() => sb.bind(b, { address: B_ADDR, port: 5000 }))).toBe('EADDRINUSE');
    expect(syncCodeOf(() => sb.bind(b, { address: A_ADDR, port: 5001 }))).toBe('EADDRNOTAVAIL');
    sb.close(a);
    sb.bind(b, { address: 0, port: 5000 });
    const c = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(b, SOL_SOCKET, 2, true);
    sb.setsockopt(c, SOL_SOCKET, 2, true);
    sb.bind(c, { address: 0, port: 5000 });
    sb.listen(b);
    const d = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(d, SOL_SOCKET, 2, true);
    expect(syncCodeOf(() => sb.bind(d, { address: 0, port: 5000 }))).toBe('EADDRINUSE');
  });

  it('calls in the wrong state: ENOTCONN, EISCONN, EINVAL, EOPNOTSUPP', async () => {
    const { sa, cfd, lfd, sb } = await connected();
    const fresh = sa.socket(AF_INET, SOCK_STREAM);
    expect(await codeOf(sa.send(fresh, new Uint8Array(1)))).toBe('ENOTCONN');
    expect(await codeOf(sa.recv(fresh, new Uint8Array(1)))).toBe('ENOTCONN');
    expect(syncCodeOf(() => sa.getpeername(fresh))).toBe('ENOTCONN');
    expect(syncCodeOf(() => sa.shutdown(fresh, SHUT_WR))).toBe('ENOTCONN');
    expect(await codeOf(sa.connect(cfd, { address: B_ADDR, port: 7000 }))).toBe('EISCONN');
    expect(syncCodeOf(() => sa.listen(cfd))).toBe('EINVAL');
    expect(await codeOf(sb.accept(sb.socket(AF_INET, SOCK_STREAM)))).toBe('EINVAL');
    expect(syncCodeOf(() => sb.listen(sb.socket(AF_INET, SOCK_DGRAM)))).toBe('EOPNOTSUPP');
    expect(syncCodeOf(() => sb.socket(10, SOCK_STREAM))).toBe('EAFNOSUPPORT');
    expect(syncCodeOf(() => sa.setsockopt(cfd, SOL_SOCKET, SO_LINGER, 5))).toBe('EINVAL');
    expect(syncCodeOf(() => sa.setsockopt(cfd, IPPROTO_TCP, SO_KEEPALIVE, 1))).toBe('ENOPROTOOPT');
    void lfd;
  });

  it('options: TCP_NODELAY, SO_KEEPALIVE and SO_LINGER read back; accepted sockets inherit them', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, 1);
    sb.setsockopt(lfd, SOL_SOCKET, SO_KEEPALIVE, true);
    sb.bind(lfd, { address: 0, port: 7002 });
    sb.listen(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    const accepting = sb.accept(lfd);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7002 }));
    const { fd } = await awaitOnVirtualClock(sched, accepting);
    expect(sb.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE)).toBe(1);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_LINGER)).toEqual({ onoff: false, linger: 0 });
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_RCVBUF)).toBe(sb.tcp!.receiveBufferSize);
  });

  it('accepted sockets share the options they inherit until one changes: a change reaches only its own socket', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, 1);
    sb.bind(lfd, { address: 0, port: 7004 });
    sb.listen(lfd);
    const accepted: number[] = [];
    for (let i = 0; i < 2; i++) {
      const accepting = sb.accept(lfd);
      await awaitOnVirtualClock(sched, sa.connect(sa.socket(AF_INET, SOCK_STREAM), { address: B_ADDR, port: 7004 }));
      accepted.push((await awaitOnVirtualClock(sched, accepting)).fd);
    }
    const [one, two] = accepted as [number, number];
    sb.setsockopt(one, IPPROTO_TCP, TCP_NODELAY, 0);
    sb.setsockopt(one, SOL_SOCKET, SO_LINGER, { onoff: true, linger: 0 });
    expect(sb.getsockopt(one, IPPROTO_TCP, TCP_NODELAY)).toBe(0);
    expect(sb.getsockopt(two, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(sb.getsockopt(lfd, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(sb.getsockopt(two, SOL_SOCKET, SO_LINGER)).toEqual({ onoff: false, linger: 0 });
    // A change on the listener reaches connections accepted later, not the ones it already has.
    sb.setsockopt(lfd, SOL_SOCKET, SO_KEEPALIVE, 1);
    expect(sb.getsockopt(two, SOL_SOCKET, SO_KEEPALIVE)).toBe(0);
    const accepting = sb.accept(lfd);
    await awaitOnVirtualClock(sched, sa.connect(sa.socket(AF_INET, SOCK_STREAM), { address: B_ADDR, port: 7004 }));
    const three = (await awaitOnVirtualClock(sched, accepting)).fd;
    expect(sb.getsockopt(three, SOL_SOCKET, SO_KEEPALIVE)).toBe(1);
    expect(sb.getsockopt(three, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
  });

  it('close lets go of the connection: its callbacks are cleared while it finishes closing in the background', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(lfd, { address: 0, port: 7005 });
    sb.listen(lfd);
    const accepting = sb.accept(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7005 }));
    const { fd } = await awaitOnVirtualClock(sched, accepting);
    const conn = (sb.entry(fd, 'close') as TcpEntry).conn!;
    expect(conn.onReadable).toBeTypeOf('function');
    sb.close(fd);
    expect(conn.state).not.toBe('CLOSED'); // the FIN is on its way: the connection lives on
    expect([conn.onConnect, conn.onReadable, conn.onWritable, conn.onError, conn.onClose]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    // The peer still sees an orderly end of stream.
    expect(await awaitOnVirtualClock(sched, sa.recv(cfd, new Uint8Array(8)))).toBe(0);
  });

  it('a blocked accept wakes when TCP queues a connection (onAcceptable), and listen again changes the bound', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(lfd, { address: 0, port: 7003 });
    sb.listen(lfd, 1);
    const listener = (sb.entry(lfd, 'accept') as TcpEntry).listener!;
    expect(listener.acceptBacklog).toBe(2);
    sb.listen(lfd, 5);
    expect(listener.acceptBacklog).toBe(6);
    let woke = false;
    const accepting = sb.accept(lfd).then((a) => {
      woke = true;
      return a;
    });
    sched.advance(50);
    await flushMicrotasks();
    expect(woke).toBe(false);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7003 }));
    const { address } = await awaitOnVirtualClock(sched, accepting);
    expect(address.port).toBe(sa.getsockname(cfd).port);
    expect(listener.acceptQueue).toHaveLength(0);
  });
});

describe('SO_RCVBUF and SO_SNDBUF on stream sockets', () => {
  it('read back the size in effect: set before listen, inherited on accept, clamped, not doubled', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, 8192);
    sb.setsockopt(lfd, SOL_SOCKET, SO_SNDBUF, 6000);
    expect(sb.getsockopt(lfd, SOL_SOCKET, SO_RCVBUF)).toBe(8192);
    sb.bind(lfd, { address: 0, port: 7004 });
    sb.listen(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    sa.setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, 1); // below the minimum: clamped up
    expect(sa.getsockopt(cfd, SOL_SOCKET, SO_SNDBUF)).toBe(TCP_MIN_BUFFER_SIZE);
    expect(sa.getsockopt(cfd, SOL_SOCKET, SO_RCVBUF)).toBe(sa.tcp!.receiveBufferSize);
    const accepting = sb.accept(lfd);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7004 }));
    const { fd } = await awaitOnVirtualClock(sched, accepting);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_RCVBUF)).toBe(8192);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_SNDBUF)).toBe(6000);
    const conn = (sb.entry(fd, 'recv') as TcpEntry).conn!;
    expect(conn.receiveBufferSize).toBe(8192);
    expect(conn.writableLength).toBe(6000);
    expect(await sa.send(cfd, new Uint8Array(5000), MSG_DONTWAIT)).toBe(TCP_MIN_BUFFER_SIZE);
    sb.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 100 * 1024 * 1024);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_RCVBUF)).toBe(sb.tcp!.maxBufferSize);
    expect(syncCodeOf(() => sb.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 0))).toBe('EINVAL');
  });

  it('a small SO_RCVBUF on the receiver bounds how far the sender gets ahead before the receiver reads', async () => {
    const { sched, sa, sb } = await socketPair({ latencyMs: 1 });
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, 4096);
    sb.bind(lfd, { address: 0, port: 7005 });
    sb.listen(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    sa.setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, 8192);
    const accepting = sb.accept(lfd);
    expect(await codeOf(sa.connect(cfd, { address: B_ADDR, port: 7005 }))).toBe('EINPROGRESS');
    const { fd } = await awaitOnVirtualClock(sched, accepting);
    const data = patternBytes(64 * 1024, 17);
    let sent = 0;
    const sendWhatFits = (): void => {
      for (;;) {
        const n = sa.sendSome(cfd, data.subarray(sent));
        if (n === 0) return;
        sent += n;
      }
    };
    sendWhatFits();
    sched.advance(2000);
    sendWhatFits();
    // No read yet: the receiver holds at most its 4 KiB, the sender at most its 8 KiB.
    const serverConn = (sb.entry(fd, 'recv') as TcpEntry).conn!;
    expect(serverConn.readableLength).toBeLessThanOrEqual(4096);
    expect(sent).toBeLessThanOrEqual(4096 + 8192);
    expect(sent).toBeGreaterThan(4096);
    const got: Uint8Array[] = [];
    const buf = new Uint8Array(65_536);
    while (got.reduce((n, c) => n + c.byteLength, 0) < data.byteLength) {
      const n = await awaitOnVirtualClock(sched, sb.recv(fd, buf));
      got.push(buf.slice(0, n));
      sendWhatFits();
      sched.advance(5);
    }
    expect(Buffer.compare(Buffer.concat(got), Buffer.from(data))).toBe(0);
  });

  it('SO_RCVBUF grows an open connection: the stalled sender goes on without a read', async () => {
    const { sched, sa, sb } = await socketPair({ latencyMs: 1 });
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, 4096);
    sb.bind(lfd, { address: 0, port: 7006 });
    sb.listen(lfd);
    const cfd = sa.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
    const accepting = sb.accept(lfd);
    void codeOf(sa.connect(cfd, { address: B_ADDR, port: 7006 }));
    const { fd } = await awaitOnVirtualClock(sched, accepting);
    expect(sa.sendSome(cfd, new Uint8Array(100_000))).toBe(100_000);
    sched.advance(1000);
    const serverConn = (sb.entry(fd, 'recv') as TcpEntry).conn!;
    expect(serverConn.readableLength).toBeLessThanOrEqual(4096);
    sb.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, 128 * 1024);
    expect(sb.getsockopt(fd, SOL_SOCKET, SO_RCVBUF)).toBe(128 * 1024);
    sched.advance(1000);
    expect(serverConn.readableLength).toBe(100_000);
  });
});

describe('non-blocking mode', () => {
  it('recv and accept fail with EAGAIN when nothing is there; send takes what fits, then EAGAIN', async () => {
    const { sched, sa, sb, cfd, sfd, lfd } = await connected();
    sa.setNonBlocking(cfd, true);
    sb.setNonBlocking(lfd, true);
    expect(await codeOf(sa.recv(cfd, new Uint8Array(10)))).toBe('EAGAIN');
    expect(await codeOf(sb.recv(sfd, new Uint8Array(10), MSG_DONTWAIT))).toBe('EAGAIN');
    expect(await codeOf(sb.accept(lfd))).toBe('EAGAIN');
    const big = patternBytes(4 * 1024 * 1024, 5);
    let total = 0;
    let code = '';
    for (let i = 0; i < 100; i++) {
      try {
        total += await sa.send(cfd, big.subarray(total));
      } catch (e) {
        code = (e as SocketError).code;
        break;
      }
    }
    expect(code).toBe('EAGAIN');
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(big.byteLength);
    expect(sa.readiness(cfd) & POLLOUT).toBe(0);
    // The reader drains; POLLOUT comes back.
    const buf = new Uint8Array(65_536);
    sb.setNonBlocking(sfd, true);
    const wait = sa.poll([{ fd: cfd, events: POLLOUT }], 5000);
    let got = 0;
    for (let i = 0; i < 2000 && got < total; i++) {
      try {
        got += await sb.recv(sfd, buf);
      } catch {
        sched.advance(1);
      }
    }
    const [r] = await awaitOnVirtualClock(sched, wait);
    expect(r!.revents & POLLOUT).toBe(POLLOUT);
    expect(got).toBe(total);
  });

  it('MSG_PEEK leaves the bytes queued', async () => {
    const { sched, sa, sb, cfd, sfd } = await connected();
    await awaitOnVirtualClock(sched, sa.send(cfd, new TextEncoder().encode('abc')));
    sched.advance(2);
    const buf = new Uint8Array(8);
    expect(await sb.recv(sfd, buf, MSG_PEEK)).toBe(3);
    expect(await sb.recv(sfd, buf)).toBe(3);
    expect(new TextDecoder().decode(buf.subarray(0, 3))).toBe('abc');
  });
});

describe('readiness', () => {
  async function echoReady(s: Sockets, fd: number, events: number): Promise<number> {
    const [r] = await s.poll([{ fd, events }], 0);
    return r!.revents;
  }

  it('poll: POLLIN on a listener with a waiting connection and on a socket with data; POLLNVAL for a stale fd; timeout', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(lfd, { address: 0, port: 7003 });
    sb.listen(lfd);
    const waiting = sb.poll([{ fd: lfd, events: POLLIN }], -1);
    const cfd = sa.socket(AF_INET, SOCK_STREAM);
    await awaitOnVirtualClock(sched, sa.connect(cfd, { address: B_ADDR, port: 7003 }));
    const [r] = await awaitOnVirtualClock(sched, waiting);
    expect(r!.revents).toBe(POLLIN);
    const { fd } = await sb.accept(lfd);
    expect(await echoReady(sb, fd, POLLIN)).toBe(0);
    const t0 = sched.now;
    const timedOut = await awaitOnVirtualClock(sched, sb.poll([{ fd, events: POLLIN }], 250));
    expect(timedOut[0]!.revents).toBe(0);
    expect(sched.now - t0).toBeGreaterThanOrEqual(250);
    const dataWait = sb.poll(
      [
        { fd, events: POLLIN },
        { fd: lfd, events: POLLIN },
      ],
      1000,
    );
    await awaitOnVirtualClock(sched, sa.send(cfd, new Uint8Array(3)));
    const res = await awaitOnVirtualClock(sched, dataWait);
    expect(res.map((x) => x.revents)).toEqual([POLLIN, 0]);
    sb.close(lfd);
    expect(await echoReady(sb, lfd, POLLIN)).toBe(POLLNVAL);
  });

  it('EventPoll: many descriptors, level-triggered, closed ones leave the set', async () => {
    const { sched, sa, sb } = await socketPair();
    const lfd = sb.socket(AF_INET, SOCK_STREAM);
    sb.bind(lfd, { address: 0, port: 7004 });
    sb.listen(lfd, 16);
    const ep = new EventPoll<string>(sb);
    ep.add(lfd, POLLIN, 'listener');
    const clients = [] as number[];
    for (let i = 0; i < 8; i++) {
      const c = sa.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
      await codeOf(sa.connect(c, { address: B_ADDR, port: 7004 }));
      clients.push(c);
    }
    const first = await awaitOnVirtualClock(sched, ep.wait(10, -1));
    expect(first).toEqual([{ fd: lfd, events: POLLIN, data: 'listener' }]);
    sb.setNonBlocking(lfd, true);
    sched.advance(10);
    const servers: number[] = [];
    for (;;) {
      const a = sb.tryAccept(lfd);
      if (a === undefined) break;
      servers.push(a.fd);
      ep.add(a.fd, POLLIN, `conn${servers.length}`);
    }
    expect(servers.length).toBe(8);
    expect(await ep.wait(10, 0)).toEqual([]);
    // Three clients send; exactly those three are reported, and again until read (level-triggered).
    for (const i of [1, 4, 6]) await awaitOnVirtualClock(sched, sa.send(clients[i]!, new Uint8Array([i])));
    sched.advance(5);
    const ready = await ep.wait(10, 0);
    expect(ready.map((r) => r.data).sort()).toEqual(['conn2', 'conn5', 'conn7']);
    expect((await ep.wait(2, 0)).length).toBe(2);
    const buf = new Uint8Array(4);
    for (const r of ready) await sb.recv(r.fd, buf);
    expect(await ep.wait(10, 0)).toEqual([]);
    sb.close(servers[0]!);
    expect(await ep.wait(10, 0)).toEqual([]);
    expect(ep.size).toBe(8);
    ep.modify(lfd, POLLIN | POLLOUT, 'l2');
    ep.delete(lfd);
    expect(syncCodeOf(() => ep.delete(lfd))).toBe('EINVAL');
  });
});
