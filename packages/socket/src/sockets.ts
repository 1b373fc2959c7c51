/**
 * {@link Sockets}: the BSD-style socket API of one stack. Sockets live in a bounded
 * {@link DescriptorTable} keyed by small integers ({@link Fd}); every call takes a descriptor and
 * looks its entry up, so a closed or stale descriptor fails with `EBADF` and never reaches another
 * socket.
 *
 * Blocking: a call that would block returns a promise that settles when it can complete (the entry's
 * watchers re-run it after each change of the connection). In non-blocking mode (`SOCK_NONBLOCK`,
 * {@link Sockets.setNonBlocking}, or `MSG_DONTWAIT` on one call) it rejects at once with `EAGAIN`
 * (`EINPROGRESS` for connect). Timeouts (connect, poll) run on the stack's scheduler timers; nothing
 * here reads a clock.
 *
 * Errors: every failure is a {@link SocketError} with a POSIX-like code and the call's name. A
 * connection error (reset, timeout, refusal) is held as the socket's pending error (`SO_ERROR`) and
 * reported once, by the next call that would block or by `getsockopt(SO_ERROR)`.
 */
import type { SchedulerApi } from '@postern/irq';
import {
  BindError,
  SendError,
  TcpError,
  UDP_MAX_PAYLOAD,
  type Stack,
  type Tcp,
  type TcpConnection,
} from '@postern/netstack';
import { ipv4ToString } from '@postern/wire';
import {
  AF_INET,
  IPPROTO_TCP,
  MSG_DONTWAIT,
  MSG_PEEK,
  POLLERR,
  POLLHUP,
  POLLNVAL,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_TYPE,
  TCP_KEEPIDLE,
  TCP_NODELAY,
  type Linger,
  type OptionLevel,
  type ShutdownHow,
  type SocketOptionName,
} from './constants.js';
import { DEFAULT_MAX_DESCRIPTORS, DescriptorTable, type Fd } from './descriptor-table.js';
import type { SocketAddress, SocketEntry } from './entry.js';
import { SocketError, type SocketErrorCode, type SocketSyscall } from './errors.js';
import { TcpEntry } from './tcp-entry.js';
import { UdpEntry } from './udp-entry.js';

/** Options of {@link Sockets}. */
export interface SocketsOptions {
  /** Most descriptors open at once; one more `socket`/`accept` fails with `EMFILE`. Default 1024. */
  maxDescriptors?: number;
  /** Default `listen` backlog when none is given (and the most one may ask for). Default 128. */
  maxBacklog?: number;
}

/** Options of {@link Sockets.connect}. */
export interface ConnectOptions {
  /** Give up after this many ms with `ETIMEDOUT` (the SYN is abandoned). Default: TCP's own SYN retries decide. */
  timeoutMs?: number;
}

/** What {@link Sockets.accept} resolves with. */
export interface Accepted {
  /** The new connection's descriptor. */
  fd: Fd;
  /** The peer's address. */
  address: SocketAddress;
}

/** What {@link Sockets.recvfrom} resolves with. */
export interface Received {
  /** Bytes copied into the buffer (0 at the end of a stream, or an empty datagram). */
  bytes: number;
  /** The sender. */
  address: SocketAddress;
  /** True when a datagram was longer than the buffer and its tail was discarded (MSG_TRUNC). */
  truncated: boolean;
}

/** One descriptor for {@link Sockets.poll} (`struct pollfd`). */
export interface PollRequest {
  /** The descriptor. */
  fd: Fd;
  /** Events of interest (`POLLIN`, `POLLOUT`, `POLLRDHUP`); `POLLERR`, `POLLHUP`, `POLLNVAL` are always reported. */
  events: number;
}

/** One descriptor's result from {@link Sockets.poll}. */
export interface PollResult extends PollRequest {
  /** The events that hold (0: none). */
  revents: number;
}

const ALWAYS = POLLERR | POLLHUP | POLLNVAL;

function tcpCode(e: unknown): SocketErrorCode | undefined {
  return e instanceof TcpError ? e.code : undefined;
}

/** A boolean option's value (0/1 accepted). @throws {@link SocketError} `EINVAL`. */
function optionBoolean(value: number | boolean | Linger): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value !== 0;
  throw new SocketError('EINVAL', 'setsockopt', 'expected a boolean or a number');
}

/** A positive integer option's value. @throws {@link SocketError} `EINVAL`. */
function optionPositive(value: number | boolean | Linger): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new SocketError('EINVAL', 'setsockopt', `expected a positive integer, got ${String(value)}`);
}

/** @throws {@link SocketError} `ENOPROTOOPT`: `name` at `level` does not apply to the socket. */
function noSuchOption(syscall: 'setsockopt' | 'getsockopt', level: OptionLevel, name: SocketOptionName): never {
  throw new SocketError('ENOPROTOOPT', syscall, `option ${name} at level ${level} does not apply to this socket`);
}

/** The BSD-style socket API of one stack. See the module comment. */
export class Sockets {
  /** The stack the sockets run on. */
  readonly stack: Stack;
  /** The TCP module, when the stack has one (without it `SOCK_STREAM` fails with `EPROTONOSUPPORT`). */
  readonly tcp: Tcp | undefined;
  /** The scheduler (timers for timeouts). */
  readonly scheduler: SchedulerApi;
  /** The descriptor table (read its `stats` and `size`). */
  readonly table: DescriptorTable<SocketEntry>;
  /** Largest `listen` backlog. */
  readonly maxBacklog: number;
  /** TCP ports bound by sockets of this table (port -> sockets), for `EADDRINUSE` at bind time. */
  private readonly tcpPorts = new Map<number, Set<TcpEntry>>();

  /**
   * @param stack The stack; UDP comes from `stack.udp`.
   * @param tcp The stack's TCP module (`attachTcp(stack)`), if stream sockets are wanted.
   */
  constructor(stack: Stack, tcp?: Tcp, options: SocketsOptions = {}) {
    this.stack = stack;
    this.tcp = tcp;
    this.scheduler = stack.scheduler;
    this.table = new DescriptorTable(options.maxDescriptors ?? DEFAULT_MAX_DESCRIPTORS);
    this.maxBacklog = options.maxBacklog ?? 128;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Creates a socket and returns its descriptor (the lowest free slot). `type` may carry
   * `SOCK_NONBLOCK`.
   * @throws {@link SocketError} `EAFNOSUPPORT`, `EPROTONOSUPPORT` (no TCP on this stack, or an unknown
   *   type), `EMFILE` (the table is full).
   */
  socket(domain: number, type: number): Fd {
    if (domain !== AF_INET)
      throw new SocketError('EAFNOSUPPORT', 'socket', `address family ${domain} is not supported (AF_INET only)`);
    const base = type & ~SOCK_NONBLOCK;
    let entry: SocketEntry;
    if (base === SOCK_STREAM) {
      if (this.tcp === undefined) throw new SocketError('EPROTONOSUPPORT', 'socket', 'this stack has no TCP');
      entry = new TcpEntry();
    } else if (base === SOCK_DGRAM) {
      entry = new UdpEntry();
    } else {
      throw new SocketError('EPROTONOSUPPORT', 'socket', `socket type ${type} is not supported`);
    }
    entry.nonBlocking = (type & SOCK_NONBLOCK) !== 0;
    return this.table.allocate(entry, 'socket');
  }

  /** Sets or clears O_NONBLOCK on `fd`. @throws {@link SocketError} `EBADF`. */
  setNonBlocking(fd: Fd, on: boolean): void {
    this.table.get(fd, 'fcntl').nonBlocking = on;
  }

  /** Whether `fd` is in non-blocking mode. @throws {@link SocketError} `EBADF`. */
  isNonBlocking(fd: Fd): boolean {
    return this.table.get(fd, 'fcntl').nonBlocking;
  }

  /** True when `fd` is an open descriptor of this table. */
  isOpen(fd: Fd): boolean {
    return this.table.peek(fd) !== undefined;
  }

  /**
   * Closes `fd` at once (its number goes stale; calls blocked on it fail with `EBADF`). A connection
   * closes gracefully in the background (FIN after the unsent data), or with a RST when unread bytes
   * remain or `SO_LINGER` is `{ onoff: true, linger: 0 }`. A listener stops and resets the
   * connections that were never accepted. (`SO_LINGER` with a positive time does not block: the
   * close is graceful in the background.)
   * @throws {@link SocketError} `EBADF`.
   */
  close(fd: Fd): void {
    const e = this.table.get(fd, 'close');
    this.table.release(fd);
    e.closed = true;
    if (e instanceof TcpEntry) this.closeTcp(e);
    else if (e instanceof UdpEntry) e.binding?.close();
    e.notify();
  }

  private closeTcp(e: TcpEntry): void {
    this.unbindTcp(e);
    e.cancelConnectTimer();
    if (e.listener !== undefined) {
      e.listener.onAcceptable = undefined;
      e.listener.close(); // resets the connections never accepted
    }
    const c = e.conn;
    if (c !== undefined) {
      if (e.options.linger.onoff && e.options.linger.linger === 0) c.abort();
      else {
        if (e.readShut) e.discardReadable();
        c.close();
      }
      e.detach();
    }
  }

  // ---------------------------------------------------------------- addresses

  /**
   * Binds `fd` to a local address (0: any) and port (0: an ephemeral one, chosen at listen or
   * connect for streams, at once for datagrams).
   * @throws {@link SocketError} `EBADF`, `EINVAL` (bound already, bad port), `EADDRNOTAVAIL` (not an
   *   address of this host), `EADDRINUSE`.
   */
  bind(fd: Fd, addr: SocketAddress): void {
    const e = this.table.get(fd, 'bind');
    const { address, port } = addr;
    if (!(Number.isInteger(port) && port >= 0 && port <= 65_535))
      throw new SocketError('EINVAL', 'bind', `port must be 0..65535, got ${port}`);
    if (address !== 0 && !this.stack.isLocalAddress(address))
      throw new SocketError('EADDRNOTAVAIL', 'bind', `${ipv4ToString(address)} is not an address of this host`);
    if (e instanceof UdpEntry) {
      if (e.binding !== undefined) throw new SocketError('EINVAL', 'bind', 'the socket is already bound');
      this.bindUdp(e, address, port, 'bind');
      return;
    }
    const t = e as TcpEntry;
    if (t.bound || t.phase !== 'idle') throw new SocketError('EINVAL', 'bind', 'the socket is already bound');
    if (port !== 0) this.checkTcpPort(t, address, port);
    t.localAddress = address;
    t.localPort = port;
    t.bound = true;
    if (port !== 0) this.reserveTcp(t);
  }

  private checkTcpPort(t: TcpEntry, address: number, port: number): void {
    for (const other of this.tcpPorts.get(port) ?? []) {
      if (other === t) continue;
      const overlap = other.localAddress === 0 || address === 0 || other.localAddress === address;
      if (!overlap) continue;
      const reusable = t.options.reuseAddr && other.options.reuseAddr && other.phase !== 'listening';
      if (!reusable) throw new SocketError('EADDRINUSE', 'bind', `TCP port ${port} is already bound`);
    }
  }

  private reserveTcp(t: TcpEntry): void {
    let set = this.tcpPorts.get(t.localPort);
    if (set === undefined) this.tcpPorts.set(t.localPort, (set = new Set()));
    set.add(t);
  }

  private unbindTcp(t: TcpEntry): void {
    const set = this.tcpPorts.get(t.localPort);
    if (set === undefined) return;
    set.delete(t);
    if (set.size === 0) this.tcpPorts.delete(t.localPort);
  }

  private bindUdp(e: UdpEntry, address: number, port: number, syscall: SocketSyscall): void {
    try {
      e.binding = this.stack.udp.bind(
        port,
        address === 0 ? undefined : address,
        (payload, info) => e.deliver(payload, info.src, info.srcPort),
        (report) => {
          if (e.peer === undefined) return;
          e.error = new SocketError(
            'ECONNREFUSED',
            'recv',
            `ICMP type ${report.type} code ${report.code} from the peer`,
          );
          e.notify();
        },
      );
    } catch (err) {
      if (!(err instanceof BindError)) throw err;
      const code: SocketErrorCode =
        err.code === 'ADDRESS_IN_USE' ? 'EADDRINUSE' : err.code === 'INVALID_ARGUMENT' ? 'EINVAL' : 'EADDRNOTAVAIL';
      throw new SocketError(code, syscall, err.message);
    }
  }

  /**
   * The local address of `fd` (`{0, 0}` before bind).
   * @throws {@link SocketError} `EBADF`.
   */
  getsockname(fd: Fd): SocketAddress {
    const e = this.table.get(fd, 'getsockname');
    if (e instanceof UdpEntry) return { address: e.binding?.address ?? 0, port: e.binding?.port ?? 0 };
    const t = e as TcpEntry;
    if (t.conn !== undefined) return { address: t.conn.localAddress, port: t.conn.localPort };
    if (t.listener !== undefined) return { address: t.listener.localAddress, port: t.listener.localPort };
    return { address: t.localAddress, port: t.localPort };
  }

  /**
   * The peer of a connected `fd`.
   * @throws {@link SocketError} `EBADF`, `ENOTCONN`.
   */
  getpeername(fd: Fd): SocketAddress {
    const e = this.table.get(fd, 'getpeername');
    if (e instanceof UdpEntry) {
      if (e.peer === undefined) throw new SocketError('ENOTCONN', 'getpeername', 'the socket is not connected');
      return { ...e.peer };
    }
    const t = e as TcpEntry;
    if (
      t.conn === undefined ||
      t.phase === 'connecting' ||
      (t.phase === 'closed' && t.conn.state !== 'TIME-WAIT' && t.conn.closeReason !== 'normal')
    ) {
      throw new SocketError('ENOTCONN', 'getpeername', 'the socket is not connected');
    }
    return { address: t.conn.remoteAddress, port: t.conn.remotePort };
  }

  // ---------------------------------------------------------------- passive open

  /**
   * Starts listening on `fd` (bound, or on an ephemeral port of every address). `backlog` bounds
   * the connections waiting for {@link Sockets.accept} (`backlog + 1` of them, see {@link TcpEntry});
   * it is clamped to 1..`maxBacklog`. Listening again only changes the backlog.
   * @throws {@link SocketError} `EBADF`, `EOPNOTSUPP` (a datagram socket), `EINVAL` (connected),
   *   `EADDRINUSE`.
   */
  listen(fd: Fd, backlog = this.maxBacklog): void {
    const e = this.table.get(fd, 'listen');
    if (!(e instanceof TcpEntry)) throw new SocketError('EOPNOTSUPP', 'listen', 'listen needs a stream socket');
    const clamped = Math.max(1, Math.min(this.maxBacklog, Math.floor(backlog) || 1));
    if (e.phase === 'listening') {
      e.backlog = clamped;
      e.listener!.setAcceptBacklog(clamped + 1);
      return;
    }
    if (e.phase !== 'idle') throw new SocketError('EINVAL', 'listen', 'the socket is connected or closed');
    const tcp = this.tcp!;
    const tryPort = (port: number): boolean => {
      try {
        e.listener = tcp.listen({ address: e.localAddress, port, backlog: clamped + 1, ...this.bufferSizes(e) });
        return true;
      } catch (err) {
        if (tcpCode(err) === 'EADDRINUSE' && !e.bound) return false;
        const code = tcpCode(err);
        if (code !== undefined) throw new SocketError(code, 'listen', (err as Error).message);
        throw err;
      }
    };
    if (e.localPort !== 0) {
      if (!tryPort(e.localPort)) throw new SocketError('EADDRINUSE', 'listen', `TCP port ${e.localPort} is in use`);
    } else {
      let found = false;
      for (let i = 0; i < 16_384 && !found; i++) {
        const port = 49_152 + ((this.scheduler.randomUint32() + i) % 16_384);
        if (this.tcpPorts.has(port)) continue;
        if (tryPort(port)) {
          e.localPort = port;
          found = true;
        }
      }
      if (!found) throw new SocketError('EADDRINUSE', 'listen', 'no free ephemeral port');
      e.bound = true;
      this.reserveTcp(e);
    }
    e.phase = 'listening';
    e.backlog = clamped;
    e.listener!.onAcceptable = () => e.notify();
  }

  /** The buffer sizes a socket's options carry into `Tcp.listen` or `Tcp.connect`. */
  private bufferSizes(e: TcpEntry): { sendBufferSize?: number; receiveBufferSize?: number } {
    const { sendBufferSize, receiveBufferSize } = e.options;
    return {
      ...(sendBufferSize !== undefined ? { sendBufferSize } : {}),
      ...(receiveBufferSize !== undefined ? { receiveBufferSize } : {}),
    };
  }

  /**
   * Takes the oldest connection waiting on listening `fd`, as a new descriptor (blocking: waits for
   * one).
   * @throws {@link SocketError} `EBADF`, `EINVAL` (not listening), `EAGAIN` (non-blocking, none
   *   waiting), `EMFILE` (the table is full; the connection stays queued).
   */
  accept(fd: Fd): Promise<Accepted> {
    return this.run(fd, 'accept', undefined, () => this.acceptNow(fd));
  }

  /**
   * The non-blocking core of `accept`, synchronous: the oldest waiting connection, or undefined
   * when none waits (where a non-blocking `accept` rejects with `EAGAIN`).
   * @throws {@link SocketError} `EBADF`, `EINVAL` (not listening), `EMFILE`.
   */
  tryAccept(fd: Fd): Accepted | undefined {
    return this.acceptNow(fd);
  }

  private acceptNow(fd: Fd): Accepted | undefined {
    const newFd = this.acceptDescriptor(fd);
    if (newFd === undefined) return undefined;
    const c = (this.table.get(newFd, 'accept') as TcpEntry).conn!;
    return { fd: newFd, address: { address: c.remoteAddress, port: c.remotePort } };
  }

  /**
   * @internal {@link Sockets.tryAccept} without the peer's address (the Node face reads it from the
   * connection when asked): the new descriptor, or undefined when none waits.
   * @throws {@link SocketError} as `tryAccept`.
   */
  acceptDescriptor(fd: Fd): Fd | undefined {
    const e = this.table.get(fd, 'accept');
    if (!(e instanceof TcpEntry) || e.phase !== 'listening')
      throw new SocketError('EINVAL', 'accept', 'the socket is not listening');
    const l = e.listener!;
    if (l.acceptQueue.length === 0) return undefined;
    if (this.table.size >= this.table.capacity) {
      this.table.stats.full++;
      throw new SocketError('EMFILE', 'accept', `the descriptor table is full (${this.table.capacity} descriptors)`);
    }
    const child = new TcpEntry(e.options);
    child.attach(l.accept()!, 'connected');
    return this.table.allocate(child, 'accept');
  }

  // ---------------------------------------------------------------- active open

  /**
   * Connects `fd` to `addr`. A stream socket opens a connection: blocking, the promise settles when
   * the handshake completes (`ECONNREFUSED`, `ETIMEDOUT`, `ENETUNREACH` on failure); non-blocking,
   * it rejects with `EINPROGRESS` at once and `POLLOUT` (with `SO_ERROR`) tells the outcome. A
   * datagram socket records the default destination (and only accepts datagrams from it).
   * @throws {@link SocketError} `EBADF`, `EISCONN`, `EALREADY`, `EINVAL`, `EADDRINUSE`, `EADDRNOTAVAIL`,
   *   `EMFILE`, and the failures above.
   */
  connect(fd: Fd, addr: SocketAddress, options: ConnectOptions = {}): Promise<void> {
    try {
      const e = this.table.get(fd, 'connect');
      if (!(Number.isInteger(addr.port) && addr.port >= 1 && addr.port <= 65_535))
        throw new SocketError('EINVAL', 'connect', `port must be 1..65535, got ${addr.port}`);
      if (e instanceof UdpEntry) {
        if (e.binding === undefined) this.bindUdp(e, 0, 0, 'connect');
        e.peer = { address: addr.address, port: addr.port };
        return Promise.resolve();
      }
      const t = e as TcpEntry;
      if (t.phase === 'connected') throw new SocketError('EISCONN', 'connect', 'the socket is already connected');
      if (t.phase === 'connecting') {
        if (t.nonBlocking) throw new SocketError('EALREADY', 'connect', 'a connect is in progress');
        return this.run(fd, 'connect', undefined, () => this.connectDone(fd)).then(() => undefined);
      }
      if (t.phase !== 'idle')
        throw new SocketError(
          'EINVAL',
          'connect',
          t.phase === 'listening' ? 'the socket is listening' : 'the socket is closed',
        );
      let conn: TcpConnection;
      try {
        conn = this.tcp!.connect({
          remoteAddress: addr.address,
          remotePort: addr.port,
          ...this.bufferSizes(t),
          ...(t.localAddress !== 0 ? { localAddress: t.localAddress } : {}),
          ...(t.localPort !== 0 ? { localPort: t.localPort } : {}),
        });
      } catch (err) {
        const code = tcpCode(err);
        if (code !== undefined) throw new SocketError(code, 'connect', (err as Error).message.replace(/^[A-Z]+: /, ''));
        throw err;
      }
      t.attach(conn, 'connecting');
      if (options.timeoutMs !== undefined) {
        t.connectTimer = this.scheduler.timerAfter(options.timeoutMs, () => {
          t.connectTimer = undefined;
          if (t.phase !== 'connecting') return;
          t.error = new SocketError('ETIMEDOUT', 'connect', `no connection within ${options.timeoutMs} ms`);
          conn.abort();
        });
      }
      if (t.nonBlocking) throw new SocketError('EINPROGRESS', 'connect', 'the connection is being established');
      return this.run(fd, 'connect', undefined, () => this.connectDone(fd)).then(() => undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private connectDone(fd: Fd): true | undefined {
    const t = this.table.get(fd, 'connect') as TcpEntry;
    if (t.phase === 'connecting') return undefined;
    if (t.phase === 'connected') return true;
    const err = t.takeError();
    throw err ?? new SocketError('ECONNABORTED', 'connect', 'the connection closed before it was established');
  }

  // ---------------------------------------------------------------- data

  /**
   * Sends `data` on a connected socket. A stream socket in blocking mode resolves once every byte
   * is in the send buffer (with the count sent before a failure, if some were); non-blocking, it
   * takes what fits and rejects with `EAGAIN` when nothing fits. A datagram goes to the connected
   * peer.
   * @throws {@link SocketError} `EBADF`, `ENOTCONN`, `EPIPE` (shut down or closed), the pending
   *   error (`ECONNRESET`...), `EAGAIN`, `EDESTADDRREQ`, `EMSGSIZE`.
   */
  send(fd: Fd, data: Uint8Array, flags = 0): Promise<number> {
    let e: SocketEntry;
    try {
      e = this.table.get(fd, 'send');
      if (e instanceof UdpEntry) {
        if (e.peer === undefined)
          throw new SocketError('EDESTADDRREQ', 'send', 'the datagram socket has no peer; use sendto');
        return Promise.resolve(this.sendDatagram(e, data, e.peer, 'send'));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const t = e as TcpEntry;
    let sent = 0;
    return this.run(fd, 'send', flags, () => {
      try {
        const n = this.sendSome(fd, data.subarray(sent));
        sent += n;
      } catch (err) {
        if (sent > 0) return sent;
        throw err;
      }
      if (sent === data.length) return sent;
      if (t.nonBlocking || (flags & MSG_DONTWAIT) !== 0) {
        if (sent > 0) return sent;
        throw new SocketError('EAGAIN', 'send', 'the send buffer is full');
      }
      return undefined;
    });
  }

  /**
   * The non-blocking core of a stream send: queues what fits and returns the count (0 when the
   * buffer is full or the socket is still connecting).
   * @throws {@link SocketError} `EBADF`, `ENOTCONN`, `EPIPE`, the pending error.
   */
  sendSome(fd: Fd, data: Uint8Array): number {
    const t = this.table.get(fd, 'send');
    if (!(t instanceof TcpEntry)) throw new SocketError('EOPNOTSUPP', 'send', 'sendSome needs a stream socket');
    return this.sendSomeOn(t, data);
  }

  /**
   * @internal {@link Sockets.sendSome} on an entry its caller already holds (the Node face keeps its
   * socket's entry, so a write costs no table lookup).
   * @throws {@link SocketError} `EBADF` once the descriptor is closed, and as `sendSome`.
   */
  sendSomeOn(t: TcpEntry, data: Uint8Array): number {
    const trace = this.stack.scheduler.trace;
    if (trace !== undefined && trace.on) trace.mark('socket', `send ${data.length} B`);
    if (t.closed) throw new SocketError('EBADF', 'send', 'the descriptor is closed');
    const pending = t.takeError();
    if (pending !== undefined) throw new SocketError(pending.code, 'send', pending.detail);
    if (t.writeShut) throw new SocketError('EPIPE', 'send', 'the sending side is shut down');
    if (t.phase === 'idle' || t.phase === 'listening')
      throw new SocketError('ENOTCONN', 'send', 'the socket is not connected');
    if (t.phase === 'connecting') return 0;
    if (data.length === 0) return 0;
    try {
      return t.conn!.write(data);
    } catch (err) {
      if (tcpCode(err) !== undefined) throw new SocketError('EPIPE', 'send', 'the connection is closed');
      throw err;
    }
  }

  /**
   * Sends a datagram to `addr` (a datagram socket not bound yet is bound to an ephemeral port
   * first); on a stream socket `addr` is ignored and this is {@link Sockets.send}.
   * @throws {@link SocketError} as `send`, and `EMSGSIZE` (over 65507 bytes, or over the MTU with DF),
   *   `ENETUNREACH`, `EADDRNOTAVAIL`, `EPERM` (filtered).
   */
  sendto(fd: Fd, data: Uint8Array, addr: SocketAddress, flags = 0): Promise<number> {
    try {
      const e = this.table.get(fd, 'sendto');
      if (e instanceof UdpEntry) return Promise.resolve(this.sendDatagram(e, data, addr, 'sendto'));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(fd, data, flags);
  }

  private sendDatagram(e: UdpEntry, data: Uint8Array, to: SocketAddress, syscall: SocketSyscall): number {
    if (e.writeShut) throw new SocketError('EPIPE', syscall, 'the sending side is shut down');
    if (data.length > UDP_MAX_PAYLOAD)
      throw new SocketError('EMSGSIZE', syscall, `a datagram of ${data.length} bytes exceeds ${UDP_MAX_PAYLOAD}`);
    if (!(Number.isInteger(to.port) && to.port >= 1 && to.port <= 65_535))
      throw new SocketError('EINVAL', syscall, `port must be 1..65535, got ${to.port}`);
    if (e.binding === undefined) this.bindUdp(e, 0, 0, syscall);
    try {
      e.binding!.send(to.address, to.port, data);
    } catch (err) {
      if (!(err instanceof SendError)) throw err;
      const map: Record<string, SocketErrorCode> = {
        NO_ROUTE: 'ENETUNREACH',
        NO_SOURCE_ADDRESS: 'EADDRNOTAVAIL',
        ADDRESS_NOT_AVAILABLE: 'EADDRNOTAVAIL',
        MESSAGE_TOO_LONG: 'EMSGSIZE',
        FILTERED: 'EPERM',
      };
      throw new SocketError(map[err.code] ?? 'EINVAL', syscall, err.message);
    }
    return data.length;
  }

  /**
   * Receives into `buffer` and resolves with the count: for a stream, up to `buffer.length` bytes
   * (0 at the end of the stream); for a datagram, one datagram (its tail is discarded when longer;
   * see {@link Sockets.recvfrom} to learn that). Blocking, it waits for data; non-blocking, it
   * rejects with `EAGAIN`. `MSG_PEEK` leaves the data queued.
   * @throws {@link SocketError} `EBADF`, `ENOTCONN`, the pending error (`ECONNRESET`, `ETIMEDOUT`), `EAGAIN`.
   */
  recv(fd: Fd, buffer: Uint8Array, flags = 0): Promise<number> {
    return this.recvfrom(fd, buffer, flags).then((r) => r.bytes);
  }

  /** As {@link Sockets.recv}, with the sender and whether a datagram was truncated. */
  recvfrom(fd: Fd, buffer: Uint8Array, flags = 0): Promise<Received> {
    return this.run(fd, 'recv', flags, () => this.recvNow(fd, buffer, flags));
  }

  /** The non-blocking core of `recvfrom`: undefined when nothing can be read now. */
  private recvNow(fd: Fd, buffer: Uint8Array, flags: number): Received | undefined {
    const e = this.table.get(fd, 'recv');
    const peek = (flags & MSG_PEEK) !== 0;
    if (e instanceof UdpEntry) {
      const d = e.peek();
      if (d === undefined) {
        const err = e.error;
        if (err !== undefined) {
          e.error = undefined;
          throw err;
        }
        if (e.readShut) return { bytes: 0, address: { address: 0, port: 0 }, truncated: false };
        return undefined;
      }
      if (!peek) e.take();
      const n = Math.min(buffer.length, d.data.length);
      buffer.set(d.data.subarray(0, n));
      return { bytes: n, address: { address: d.address, port: d.port }, truncated: n < d.data.length };
    }
    const t = e as TcpEntry;
    if (t.phase === 'idle' || t.phase === 'listening')
      throw new SocketError('ENOTCONN', 'recv', 'the socket is not connected');
    const c = t.conn!;
    const from = { address: c.remoteAddress, port: c.remotePort };
    if (t.readShut) return { bytes: 0, address: from, truncated: false };
    if (c.readableLength > 0) {
      if (buffer.length === 0) return { bytes: 0, address: from, truncated: false };
      let n: number;
      if (peek) {
        const view = c.readView(buffer.length)!;
        buffer.set(view);
        n = view.length;
      } else {
        n = c.read(buffer);
      }
      return { bytes: n, address: from, truncated: false };
    }
    const err = t.takeError();
    if (err !== undefined) throw new SocketError(err.code, 'recv', err.detail);
    if (c.readableEnded || t.phase === 'closed') return { bytes: 0, address: from, truncated: false };
    return undefined;
  }

  /**
   * Shuts down reading (`SHUT_RD`: what arrives is discarded, reads see the end), writing
   * (`SHUT_WR`: a FIN follows the queued data) or both.
   * @throws {@link SocketError} `EBADF`, `EINVAL` (bad `how`), `ENOTCONN`.
   */
  shutdown(fd: Fd, how: ShutdownHow): void {
    const e = this.table.get(fd, 'shutdown');
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR)
      throw new SocketError('EINVAL', 'shutdown', `how must be SHUT_RD, SHUT_WR or SHUT_RDWR, got ${how}`);
    const rd = how === SHUT_RD || how === SHUT_RDWR;
    const wr = how === SHUT_WR || how === SHUT_RDWR;
    if (e instanceof UdpEntry) {
      if (e.peer === undefined) throw new SocketError('ENOTCONN', 'shutdown', 'the socket is not connected');
      if (rd) e.readShut = true;
      if (wr) e.writeShut = true;
      e.notify();
      return;
    }
    const t = e as TcpEntry;
    if (t.phase !== 'connected' && t.phase !== 'closed')
      throw new SocketError('ENOTCONN', 'shutdown', 'the socket is not connected');
    if (rd) {
      t.readShut = true;
      t.discardReadable();
    }
    if (wr && !t.writeShut) {
      t.writeShut = true;
      t.conn!.shutdownWrite();
    }
    t.notify();
  }

  // ---------------------------------------------------------------- options

  /**
   * Sets a socket option. Booleans may be given as 0/1. `SO_LINGER` takes a {@link Linger}.
   * `SO_RCVBUF` bounds a datagram socket's receive queue. On a stream socket `SO_SNDBUF` and
   * `SO_RCVBUF` set the connection's TCP send and receive buffers (the receive buffer is the
   * largest window): before `connect` or `listen` they are carried into the connection or the
   * listener (accepted connections inherit them), on a listener they apply to connections to come,
   * on a connection they take effect at once (a shrink keeps every byte held and the window already
   * advertised). The value is clamped to `TCP_MIN_BUFFER_SIZE..Tcp.maxBufferSize` and not doubled
   * (Linux doubles it); `getsockopt` returns the size in effect.
   * @throws {@link SocketError} `EBADF`, `EINVAL` (bad value), `ENOPROTOOPT` (unknown option, or one
   *   of the wrong level or socket type).
   */
  setsockopt(fd: Fd, level: OptionLevel, name: SocketOptionName, value: number | boolean | Linger): void {
    const e = this.table.get(fd, 'setsockopt');
    if (e instanceof UdpEntry) {
      if (level !== SOL_SOCKET) noSuchOption('setsockopt', level, name);
      if (name === SO_RCVBUF) e.rcvbuf = optionPositive(value);
      else if (name === SO_SNDBUF) e.sndbuf = optionPositive(value);
      else if (name === SO_REUSEADDR) e.reuseAddr = optionBoolean(value);
      else noSuchOption('setsockopt', level, name);
      return;
    }
    const t = e as TcpEntry;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          t.ownOptions().reuseAddr = optionBoolean(value);
          return;
        case SO_KEEPALIVE: {
          const o = t.ownOptions();
          o.keepAlive = optionBoolean(value);
          t.conn?.setKeepAlive(o.keepAlive, o.keepIdleMs);
          return;
        }
        case SO_LINGER: {
          if (typeof value !== 'object' || !(Number.isInteger(value.linger) && value.linger >= 0))
            throw new SocketError('EINVAL', 'setsockopt', 'SO_LINGER takes { onoff, linger >= 0 }');
          t.ownOptions().linger = { onoff: Boolean(value.onoff), linger: value.linger };
          return;
        }
        case SO_RCVBUF:
        case SO_SNDBUF:
          this.setTcpBufferSize(t, name, optionPositive(value));
          return;
        default:
          return noSuchOption('setsockopt', level, name);
      }
    }
    if (level !== IPPROTO_TCP) noSuchOption('setsockopt', level, name);
    if (name === TCP_NODELAY) {
      // The socket's own flag (servers set it on every connection: no options copy for it); the
      // options carry it into a connection or listener to come.
      const on = optionBoolean(value);
      t.noDelay = on;
      if (t.conn !== undefined) t.conn.setNoDelay(on);
      else if (t.options.noDelay !== on) t.ownOptions().noDelay = on;
    } else if (name === TCP_KEEPIDLE) {
      const o = t.ownOptions();
      o.keepIdleMs = optionPositive(value) * 1000;
      if (o.keepAlive) t.conn?.setKeepAlive(true, o.keepIdleMs);
    } else noSuchOption('setsockopt', level, name);
  }

  private setTcpBufferSize(t: TcpEntry, name: typeof SO_RCVBUF | typeof SO_SNDBUF, bytes: number): void {
    const tcp = this.tcp!;
    const size = tcp.effectiveBufferSize(bytes);
    if (name === SO_RCVBUF) {
      t.ownOptions().receiveBufferSize = size;
      t.conn?.setReceiveBufferSize(size);
      t.listener?.setReceiveBufferSize(size);
    } else {
      t.ownOptions().sendBufferSize = size;
      t.conn?.setSendBufferSize(size);
      t.listener?.setSendBufferSize(size);
    }
    t.notify(); // a larger send buffer may unblock a writer
  }

  /**
   * Reads a socket option: booleans as 0/1, `SO_LINGER` as a {@link Linger}, `SO_ERROR` as the
   * pending error's errno (then cleared; 0 for none), `SO_TYPE` as `SOCK_STREAM`/`SOCK_DGRAM`.
   * `SO_RCVBUF`/`SO_SNDBUF` of a stream socket are the buffer sizes in effect (the TCP module's
   * defaults until set).
   * @throws {@link SocketError} `EBADF`, `ENOPROTOOPT`.
   */
  getsockopt(fd: Fd, level: OptionLevel, name: typeof SO_LINGER): Linger;
  getsockopt(fd: Fd, level: OptionLevel, name: SocketOptionName): number;
  getsockopt(fd: Fd, level: OptionLevel, name: SocketOptionName): number | Linger {
    const e = this.table.get(fd, 'getsockopt');
    if (level === SOL_SOCKET && name === SO_ERROR) {
      const err = e instanceof TcpEntry ? e.takeError() : (e as UdpEntry).error;
      if (e instanceof UdpEntry) e.error = undefined;
      return err === undefined ? 0 : -(err.errno ?? 0);
    }
    if (level === SOL_SOCKET && name === SO_TYPE) return e instanceof TcpEntry ? SOCK_STREAM : SOCK_DGRAM;
    if (e instanceof UdpEntry) {
      if (level !== SOL_SOCKET) noSuchOption('getsockopt', level, name);
      if (name === SO_RCVBUF) return e.rcvbuf;
      if (name === SO_SNDBUF) return e.sndbuf;
      if (name === SO_REUSEADDR) return e.reuseAddr ? 1 : 0;
      return noSuchOption('getsockopt', level, name);
    }
    const t = e as TcpEntry;
    const o = t.options;
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          return o.reuseAddr ? 1 : 0;
        case SO_KEEPALIVE:
          return o.keepAlive ? 1 : 0;
        case SO_LINGER:
          return { ...o.linger };
        case SO_RCVBUF:
          return (
            t.conn?.receiveBufferSize ??
            t.listener?.receiveBufferSize ??
            o.receiveBufferSize ??
            this.tcp!.receiveBufferSize
          );
        case SO_SNDBUF:
          return t.conn?.sendBufferSize ?? t.listener?.sendBufferSize ?? o.sendBufferSize ?? this.tcp!.sendBufferSize;
        default:
          return noSuchOption('getsockopt', level, name);
      }
    }
    if (level !== IPPROTO_TCP) noSuchOption('getsockopt', level, name);
    if (name === TCP_NODELAY) return t.noDelay ? 1 : 0;
    if (name === TCP_KEEPIDLE) return Math.round((o.keepIdleMs ?? 7_200_000) / 1000);
    return noSuchOption('getsockopt', level, name);
  }

  // ---------------------------------------------------------------- readiness

  /** The poll events that hold for `fd` now (`POLLNVAL` when it is not open). */
  readiness(fd: Fd): number {
    const e = this.table.peek(fd);
    return e === undefined ? POLLNVAL : e.readiness();
  }

  /**
   * Waits until at least one of `fds` is ready (an event of interest, or `POLLERR`/`POLLHUP`/
   * `POLLNVAL`), or `timeoutMs` passes (0: check and return; negative: no limit), and resolves with
   * every descriptor's `revents` in the order given.
   */
  poll(fds: readonly PollRequest[], timeoutMs = -1): Promise<PollResult[]> {
    const check = (): PollResult[] | undefined => {
      let any = false;
      const out = fds.map((p) => {
        const revents = this.readiness(p.fd) & (p.events | ALWAYS);
        if (revents !== 0) any = true;
        return { fd: p.fd, events: p.events, revents };
      });
      return any ? out : undefined;
    };
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    if (timeoutMs === 0) return Promise.resolve(fds.map((p) => ({ fd: p.fd, events: p.events, revents: 0 })));
    return new Promise((resolve) => {
      const stops: Array<() => void> = [];
      let timer: { cancel(): void } | undefined;
      const finish = (result: PollResult[]): void => {
        for (const s of stops) s();
        timer?.cancel();
        resolve(result);
      };
      const wake = (): void => {
        const r = check();
        if (r !== undefined) finish(r);
      };
      for (const p of fds) {
        const e = this.table.peek(p.fd);
        if (e !== undefined) stops.push(e.watch(wake));
      }
      if (timeoutMs > 0)
        timer = this.scheduler.timerAfter(timeoutMs, () =>
          finish(fds.map((p) => ({ fd: p.fd, events: p.events, revents: 0 }))),
        );
    });
  }

  /** @internal The entry of `fd` (the Node face and `EventPoll` use it). @throws {@link SocketError} `EBADF`. */
  entry(fd: Fd, syscall: SocketSyscall): SocketEntry {
    return this.table.get(fd, syscall);
  }

  /**
   * Runs `attempt` now; when it returns undefined (would block), either rejects with `EAGAIN`
   * (non-blocking, or `MSG_DONTWAIT` in `flags`) or re-runs it after each change of the entry until
   * it returns a value or throws. Closing `fd` makes the attempt throw `EBADF`.
   */
  private run<T>(fd: Fd, syscall: SocketSyscall, flags: number | undefined, attempt: () => T | undefined): Promise<T> {
    let entry: SocketEntry;
    try {
      entry = this.table.get(fd, syscall);
      const v = attempt();
      if (v !== undefined) return Promise.resolve(v);
      if (entry.nonBlocking || ((flags ?? 0) & MSG_DONTWAIT) !== 0) {
        throw new SocketError('EAGAIN', syscall, 'the call would block');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const stop = entry.watch(() => {
        try {
          const v = attempt();
          if (v === undefined) return;
          stop();
          resolve(v);
        } catch (err) {
          stop();
          reject(err);
        }
      });
    });
  }
}
