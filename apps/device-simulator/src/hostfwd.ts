/**
 * Host port forwarding into the virtual segment, as QEMU's user networking does it (`hostfwd`): a
 * `node:net` server on the machine's loopback accepts kernel TCP connections, and for each one a
 * simulated host opens a Postern TCP connection to an address on the segment (the gateway); bytes
 * are relayed both ways.
 *
 * Relay contract ({@link relayConnection}):
 * - Byte-exact and in order both ways.
 * - Backpressure both ways: when the Postern send buffer is full the kernel socket is paused until
 *   `onWritable`; when the kernel socket's buffer is full the relay stops reading the Postern
 *   connection (whose receive window then closes) until `drain`.
 * - Half-close both ways: the kernel client's FIN becomes `shutdownWrite()` after every byte before it
 *   was written; the Postern peer's FIN becomes `socket.end()` after every byte before it was relayed.
 * - Failures: a refused or reset Postern connection resets the kernel socket; a kernel socket error
 *   aborts the Postern connection. Each side is released exactly once.
 * - No added latency: Nagle's algorithm is off on both sides (TCP_NODELAY, as proxies and QEMU's
 *   slirp do). The relay forwards each chunk as the original sender segmented it; the sender already
 *   ran Nagle. With Nagle on here, a response that arrives as head then body leaves the second piece
 *   waiting for the ACK of the first, which the kernel client delays (40 ms on Linux): every
 *   keep-alive request stalls for one delayed-ACK time.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { TcpError } from '@postern/netstack';
import type { TcpConnection, TcpCloseReason } from '@postern/netstack';
import { parseIpv4, ipv4ToString } from '@postern/wire';
import type { Ipv4Address } from '@postern/wire';
import { SimulatorError, listenError } from './errors.js';
import type { SimulatedHost } from './sim-host.js';

/** One forwarding rule: `tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`. */
export interface HostForwardRule {
  /** Loopback address the server listens on (inside 127.0.0.0/8). */
  hostAddress: string;
  /** Port it listens on (0: any free port; the bound port is in {@link HostForwarder.port}). */
  hostPort: number;
  /** Address on the segment connections go to. */
  guestAddress: Ipv4Address;
  /** Port there. */
  guestPort: number;
}

/**
 * Parses `tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` (QEMU's `hostfwd` syntax). HOSTADDR defaults
 * to 127.0.0.1 and must lie in 127.0.0.0/8 (the simulator never listens beyond loopback); GUESTADDR
 * defaults to `defaultGuest` (the gateway).
 * @throws {@link SimulatorError} `BAD_ARGUMENT` with a one-line reason: `--hostfwd SPEC: PROBLEM`.
 */
export function parseHostForward(spec: string, defaultGuest: Ipv4Address): HostForwardRule {
  const rule = checkHostForward(spec, defaultGuest);
  if (typeof rule === 'string') throw new SimulatorError('BAD_ARGUMENT', `--hostfwd ${spec}: ${rule}`);
  return rule;
}

/**
 * {@link parseHostForward} without the throw, for callers that name the flag or field themselves:
 * returns the rule, or what is wrong with `spec` (a phrase without the spec, e.g. `the host address
 * must be in 127.0.0.0/8`). Never throws.
 */
export function checkHostForward(spec: string, defaultGuest: Ipv4Address): HostForwardRule | string {
  const m = /^tcp:([0-9.]*):(\d{1,5})-([0-9.]*):(\d{1,5})$/.exec(spec);
  if (m === null) return 'is not tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT';
  const hostAddress = m[1] === '' ? '127.0.0.1' : m[1]!;
  let host: Ipv4Address;
  let guestAddress: Ipv4Address;
  try {
    host = parseIpv4(hostAddress);
    guestAddress = m[3] === '' ? defaultGuest : parseIpv4(m[3]!);
  } catch {
    return 'an address is not an IPv4 address';
  }
  if (host >>> 24 !== 127) return 'the host address must be in 127.0.0.0/8';
  const hostPort = Number(m[2]);
  const guestPort = Number(m[4]);
  if (hostPort > 65_535) return `the host port ${hostPort} is not in 0..65535`;
  if (guestPort < 1 || guestPort > 65_535) return `the guest port ${guestPort} is not in 1..65535`;
  return { hostAddress, hostPort, guestAddress, guestPort };
}

/** Counters of a {@link HostForwarder}. */
export interface HostForwarderStats {
  /** Kernel connections accepted. */
  accepted: number;
  /** Relays that ended with both sides closed normally. */
  completed: number;
  /** Relays that ended in an error or reset on either side. */
  failed: number;
  /** Bytes relayed kernel -> segment. */
  bytesUp: number;
  /** Bytes relayed segment -> kernel. */
  bytesDown: number;
  /** Relays in progress. */
  active: number;
}

/** Largest chunk read from a Postern connection at a time. */
const READ_CHUNK = 64 * 1024;

/**
 * Relays bytes between a kernel socket and a Postern TCP connection (see the module contract).
 * `conn` may still be connecting; the socket should be paused (it is resumed once `conn` connects).
 * `done` is called once, with true when both sides closed normally.
 */
export function relayConnection(
  socket: Socket,
  conn: TcpConnection,
  stats: HostForwarderStats,
  done?: (ok: boolean) => void,
): void {
  const pendingUp: Uint8Array[] = [];
  let connected = false;
  let socketEnded = false;
  let upShut = false;
  let downEnded = false;
  let downBlocked = false;
  let connClosed = false;
  let finished = false;
  let failed = false;
  socket.pause();
  socket.setNoDelay(true);
  conn.setNoDelay(true);

  const finish = (): void => {
    if (finished) return;
    if (!(connClosed && socket.destroyed)) return;
    finished = true;
    stats.active--;
    if (failed) stats.failed++;
    else stats.completed++;
    done?.(!failed);
  };

  const pumpUp = (): void => {
    if (!connected || connClosed) return;
    while (pendingUp.length > 0) {
      const head = pendingUp[0]!;
      let n: number;
      try {
        n = conn.write(head);
      } catch {
        fail();
        return;
      }
      stats.bytesUp += n;
      if (n < head.byteLength) {
        pendingUp[0] = head.subarray(n);
        socket.pause();
        return;
      }
      pendingUp.shift();
    }
    if (socketEnded) {
      if (!upShut) {
        upShut = true;
        conn.shutdownWrite();
      }
    } else if (socket.isPaused()) socket.resume();
  };

  const pumpDown = (): void => {
    if (downBlocked || downEnded || socket.destroyed) return;
    for (;;) {
      const view = conn.readView(READ_CHUNK);
      if (view === undefined) break;
      const copy = Buffer.from(view);
      conn.consume(view.byteLength);
      stats.bytesDown += copy.byteLength;
      if (!socket.write(copy)) {
        downBlocked = true;
        return;
      }
    }
    if (conn.readableEnded) {
      downEnded = true;
      socket.end();
    }
  };

  function fail(): void {
    failed = true;
    if (!connClosed) conn.abort();
    if (!socket.destroyed) socket.resetAndDestroy();
  }

  socket.on('data', (chunk: Buffer) => {
    pendingUp.push(chunk);
    pumpUp();
  });
  socket.on('end', () => {
    socketEnded = true;
    pumpUp();
  });
  socket.on('drain', () => {
    downBlocked = false;
    pumpDown();
  });
  socket.on('error', () => {
    failed = true;
    if (!connClosed) conn.abort();
  });
  socket.on('close', () => {
    if (!connClosed) {
      if (!(upShut && downEnded)) failed = true;
      // Both directions finished: a normal close; otherwise the client vanished and close() resets.
      conn.close();
    }
    finish();
  });

  conn.onConnect = () => {
    connected = true;
    pumpUp();
    if (!socketEnded) socket.resume();
  };
  conn.onReadable = pumpDown;
  conn.onWritable = pumpUp;
  conn.onError = (_err: TcpError) => {
    failed = true;
  };
  conn.onClose = (reason: TcpCloseReason) => {
    connClosed = true;
    if (failed || reason !== 'normal') {
      failed = true;
      if (!socket.destroyed) socket.resetAndDestroy();
    } else {
      pumpDown();
      if (!downEnded && !socket.destroyed && !downBlocked) {
        downEnded = true;
        socket.end();
      }
    }
    finish();
  };
  if (conn.state === 'ESTABLISHED') conn.onConnect();
}

/** A forwarding server: one {@link HostForwardRule} on one simulated host. */
export class HostForwarder {
  /** Counters. */
  readonly stats: HostForwarderStats = { accepted: 0, completed: 0, failed: 0, bytesUp: 0, bytesDown: 0, active: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    /** The rule. */
    readonly rule: HostForwardRule,
    private readonly host: SimulatedHost,
    server: Server,
  ) {
    this.server = server;
    server.on('connection', (socket) => this.accept(socket));
  }

  /**
   * Listens on `rule.hostAddress:rule.hostPort` and forwards each connection through `host`.
   * @throws {@link SimulatorError} `ADDRESS_IN_USE`, `PERMISSION_DENIED` or `BAD_ARGUMENT`.
   */
  static listen(rule: HostForwardRule, host: SimulatedHost): Promise<HostForwarder> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(listenError(err, `--hostfwd ${rule.hostAddress}:${rule.hostPort}`)));
      server.listen({ host: rule.hostAddress, port: rule.hostPort }, () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        resolve(new HostForwarder(rule, host, server));
      });
    });
  }

  /** The port the server is bound to. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : this.rule.hostPort;
  }

  /** One line describing the rule, e.g. `127.0.0.1:8080 -> 198.18.0.1:80`. */
  describe(): string {
    return `${this.rule.hostAddress}:${this.port} -> ${ipv4ToString(this.rule.guestAddress)}:${this.rule.guestPort}`;
  }

  /** Stops listening and resets relays in progress. */
  close(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.stats.accepted++;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    let conn: TcpConnection;
    try {
      conn = this.host.tcp.connect({ remoteAddress: this.rule.guestAddress, remotePort: this.rule.guestPort });
    } catch (err) {
      this.stats.failed++;
      socket.on('error', () => {});
      socket.resetAndDestroy();
      if (!(err instanceof TcpError)) throw err;
      return;
    }
    this.stats.active++;
    relayConnection(socket, conn, this.stats);
  }
}
