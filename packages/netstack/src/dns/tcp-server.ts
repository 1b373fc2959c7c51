/**
 * {@link DnsTcpServer}: DNS queries over TCP port 53 (RFC 7766) for a {@link DnsQueryHandler} (the
 * forwarder). Each message carries a two-byte length prefix; a connection may carry several queries,
 * read as they come (pipelined) and answered as their answers come (any order; the client matches
 * them by id).
 *
 * It listens on the addresses {@link DnsTcpServerOptions.addresses} names, one listener each (never
 * the wildcard), so a SYN to any other local address gets the stack's RST as for a closed port;
 * {@link DnsTcpServer.sync} follows that list when it changes (the forwarder calls it when an
 * address of a listening interface comes or goes).
 *
 * Bounds, each counted: connections ({@link DnsTcpServerOptions.maxConnections}; one beyond is
 * reset, `tcpRefused`); queries of one connection waiting for an answer or for room in the send
 * buffer ({@link DnsTcpServerOptions.maxPendingPerConnection}; a query beyond is dropped unanswered,
 * `tcpDropped`); idle time ({@link DnsTcpServerOptions.idleMs}, RFC 7766 §6.2.3: a connection with
 * nothing received and no query waiting upstream for that long is closed, `tcpIdleClosed`). A
 * connection the `accepts` check refuses (a peer behind another interface that reached a listened
 * address) is reset (`tcpNotListening`). Malformed input (a length prefix below a DNS header, a
 * message with QR set) resets the connection (`tcpMalformed`); a
 * message that is a bad query is the handler's to answer (FORMERR...). A peer's FIN lets the
 * answers still due go out, then the connection closes.
 */
import type { SchedulerApi, Timer } from '@postern/irq';
import type { Ipv4Address } from '@postern/wire';
import type { TcpConnection } from '../tcp/connection.js';
import type { TcpListener } from '../tcp/listener.js';
import type { Tcp } from '../tcp/tcp.js';
import { DNS_TCP_MAX, DnsStreamReader, frameDnsMessage } from './tcp-framing.js';

/** Who asked a query: where its answer goes. */
export interface DnsAsker {
  /** The largest answer it takes, bytes (larger ones go truncated, TC set). */
  readonly max: number;
  /** Takes the answer (its id already the query's). */
  reply(answer: Uint8Array): void;
}

/** What answers queries: the forwarder. */
export interface DnsQueryHandler {
  /**
   * Answers `query` (a whole DNS message, QR clear, at least a header) to `asker`: at once or once
   * upstream answered; `asker.reply` runs exactly once for it unless {@link DnsQueryHandler.cancel}
   * came first.
   */
  handle(query: Uint8Array, asker: DnsAsker): void;
  /** Forgets every query of `asker` still waiting for an answer (its reply never runs). */
  cancel(asker: DnsAsker): void;
}

/** Counter names of a {@link DnsTcpServer} (kept with the forwarder's). */
export type DnsTcpCounterName =
  | 'tcpConnections'
  | 'tcpRefused'
  | 'tcpNotListening'
  | 'tcpMessages'
  | 'tcpMalformed'
  | 'tcpDropped'
  | 'tcpIdleClosed'
  | 'tcpWriteFailed'
  | 'tcpListenFailed';

/** The names of {@link DnsTcpCounterName}, in order. */
export const DNS_TCP_COUNTER_NAMES: readonly DnsTcpCounterName[] = [
  'tcpConnections',
  'tcpRefused',
  'tcpNotListening',
  'tcpMessages',
  'tcpMalformed',
  'tcpDropped',
  'tcpIdleClosed',
  'tcpWriteFailed',
  'tcpListenFailed',
];

/** Options of a {@link DnsTcpServer}. */
export interface DnsTcpServerOptions {
  /** The TCP module to listen on. */
  readonly tcp: Tcp;
  /** The local addresses to listen on now (read again by {@link DnsTcpServer.sync}). */
  readonly addresses: () => readonly Ipv4Address[];
  /** The clock and timers. */
  readonly scheduler: SchedulerApi;
  /** Answers the queries. */
  readonly handler: DnsQueryHandler;
  /** Whether a new connection may ask (else it is reset). */
  readonly accepts: (connection: TcpConnection) => boolean;
  /** Counts what happens. */
  readonly count: (name: DnsTcpCounterName) => void;
  /** Close a connection idle this long, ms. Default 5000. */
  readonly idleMs?: number;
  /** Most connections at once. Default 64. */
  readonly maxConnections?: number;
  /** Most queries of one connection not yet answered (waiting upstream or unsent). Default 16. */
  readonly maxPendingPerConnection?: number;
  /** The port. Default 53. */
  readonly port?: number;
}

/** Receive buffer of each connection: queries are small, and a slow reader should not hold much. */
const RECEIVE_BUFFER = 16 * 1024;

/** The DNS-over-TCP listener. See the module comment. */
export class DnsTcpServer {
  /** @internal */
  readonly options: DnsTcpServerOptions;
  /** @internal */
  readonly idleMs: number;
  /** @internal */
  readonly maxPending: number;
  private readonly maxConnections: number;
  private readonly port: number;
  /** One listener per address listened on. */
  private readonly listeners = new Map<Ipv4Address, TcpListener>();
  private readonly sessions = new Set<DnsTcpSession>();
  private closed = false;

  /**
   * Listens on the port (53) of each address in `options.addresses()`.
   * @throws `TcpError` `EADDRINUSE` when one of them is taken (none is kept then).
   */
  constructor(options: DnsTcpServerOptions) {
    this.options = options;
    this.idleMs = options.idleMs ?? 5000;
    this.maxConnections = options.maxConnections ?? 64;
    this.maxPending = options.maxPendingPerConnection ?? 16;
    this.port = options.port ?? 53;
    try {
      for (const address of options.addresses()) if (!this.listeners.has(address)) this.listenOn(address);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The addresses listened on now, in the order their listeners opened. */
  get addresses(): Ipv4Address[] {
    return [...this.listeners.keys()];
  }

  /** Connections open now. */
  get connections(): number {
    return this.sessions.size;
  }

  /**
   * Follows `options.addresses()`: closes the listener of each address no longer named (connections
   * already open stay) and listens on each new one; one that cannot be listened on (the port taken
   * there) is counted `tcpListenFailed` and tried again at the next sync. Nothing after close.
   */
  sync(): void {
    if (this.closed) return;
    const wanted = new Set(this.options.addresses());
    for (const [address, listener] of this.listeners) {
      if (wanted.has(address)) continue;
      listener.close();
      this.listeners.delete(address);
    }
    for (const address of wanted) {
      if (this.listeners.has(address)) continue;
      try {
        this.listenOn(address);
      } catch {
        this.options.count('tcpListenFailed');
      }
    }
  }

  /** Stops listening and resets every connection (their queries forgotten). Idempotent. */
  close(): void {
    this.closed = true;
    for (const listener of this.listeners.values()) listener.close();
    this.listeners.clear();
    for (const s of [...this.sessions]) s.end(true);
  }

  /** @internal A session ended. */
  forget(session: DnsTcpSession): void {
    this.sessions.delete(session);
  }

  private listenOn(address: Ipv4Address): void {
    const listener = this.options.tcp.listen({ address, port: this.port, receiveBufferSize: RECEIVE_BUFFER });
    listener.onConnection = (connection) => this.accept(connection);
    this.listeners.set(address, listener);
  }

  private accept(connection: TcpConnection): void {
    const count = this.options.count;
    if (this.sessions.size >= this.maxConnections) {
      count('tcpRefused');
      return connection.abort();
    }
    if (!this.options.accepts(connection)) {
      count('tcpNotListening');
      return connection.abort();
    }
    count('tcpConnections');
    this.sessions.add(new DnsTcpSession(this, connection));
  }
}

/** One client connection. @internal */
class DnsTcpSession implements DnsAsker {
  readonly max = DNS_TCP_MAX;
  private readonly server: DnsTcpServer;
  private readonly connection: TcpConnection;
  private readonly reader = new DnsStreamReader();
  /** Answers the send buffer did not take yet, oldest first (the first maybe in part). */
  private readonly outbox: Uint8Array[] = [];
  /** Queries handed to the handler and not answered yet. */
  private waiting = 0;
  private lastActivity: number;
  private timer: Timer;
  private malformed = false;
  private ended = false;

  constructor(server: DnsTcpServer, connection: TcpConnection) {
    this.server = server;
    this.connection = connection;
    this.lastActivity = server.options.scheduler.now;
    this.timer = server.options.scheduler.timerAfter(server.idleMs, () => this.idle());
    connection.setNoDelay(true);
    connection.onReadable = () => this.readable();
    connection.onWritable = () => this.flush();
    connection.onClose = () => this.end(false);
    // Bytes may have come with the handshake's last ACK.
    if (connection.readableLength > 0) this.readable();
  }

  reply(answer: Uint8Array): void {
    if (this.ended) return;
    this.waiting--;
    this.lastActivity = this.server.options.scheduler.now;
    let framed: Uint8Array;
    try {
      framed = frameDnsMessage(answer);
    } catch {
      this.server.options.count('tcpWriteFailed');
      return this.end(true);
    }
    this.outbox.push(framed);
    this.flush();
  }

  /** Ends the session: `reset` aborts the connection, else it closes after what was written. Idempotent. */
  end(reset: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.timer.cancel();
    this.server.options.handler.cancel(this);
    this.server.forget(this);
    this.outbox.length = 0;
    if (reset) this.connection.abort();
    else this.connection.close();
  }

  private readonly onMessage = (message: Uint8Array): void => {
    if (this.ended || this.malformed) return;
    const count = this.server.options.count;
    if ((message[2]! & 0x80) !== 0) {
      this.malformed = true;
      return;
    }
    count('tcpMessages');
    if (this.waiting + this.outbox.length >= this.server.maxPending) return count('tcpDropped');
    this.waiting++;
    this.server.options.handler.handle(message, this);
  };

  private readable(): void {
    const connection = this.connection;
    for (let view = connection.readView(); view !== undefined; view = connection.readView()) {
      this.lastActivity = this.server.options.scheduler.now;
      const ok = this.reader.feed(view, this.onMessage);
      if (this.ended) return;
      if (!ok || this.malformed) {
        this.server.options.count('tcpMalformed');
        return this.end(true);
      }
      connection.consume(view.length);
    }
    this.closeIfDone();
  }

  /** Writes what the send buffer takes, oldest answer first. */
  private flush(): void {
    const outbox = this.outbox;
    while (outbox.length > 0 && !this.ended) {
      const head = outbox[0]!;
      let n: number;
      try {
        n = this.connection.write(head);
      } catch {
        this.server.options.count('tcpWriteFailed');
        return this.end(true);
      }
      if (n < head.length) {
        outbox[0] = head.subarray(n);
        return;
      }
      outbox.shift();
    }
    this.closeIfDone();
  }

  /** After the peer's FIN, closes once every answer due went out. */
  private closeIfDone(): void {
    if (this.ended || !this.connection.readableEnded) return;
    if (this.waiting === 0 && this.outbox.length === 0) this.end(false);
  }

  private idle(): void {
    if (this.ended) return;
    const scheduler = this.server.options.scheduler;
    const due = this.lastActivity + this.server.idleMs;
    if (this.waiting > 0 || scheduler.now < due) {
      // Not idle: a query waits upstream (the forwarder's own timeouts end it), or bytes came since.
      const wait = this.waiting > 0 ? this.server.idleMs : due - scheduler.now;
      this.timer = scheduler.timerAfter(wait, () => this.idle());
      return;
    }
    this.server.options.count('tcpIdleClosed');
    this.end(this.outbox.length > 0);
  }
}
