/**
 * {@link Tcp}: the TCP protocol module. It owns the connection and listener tables and every limit,
 * receives segments from the IP layer (protocol 6), and runs each connection's input, output and
 * timers. One instance per stack; see {@link attachTcp} to plug it into a `Stack`.
 *
 * Execution model: everything runs on the scheduler's one thread. A segment is processed fully
 * (state, buffers), then the connection's application callbacks run, then its output (data that
 * may now go, and the ACK owed). ACKs owed "soon" (a pushed segment) go out at the end of the
 * receive batch, from a bottom half, so a reply written synchronously by `onReadable` carries them
 * instead (no delayed-ACK/Nagle stall in request/response exchanges).
 */
import type { BottomHalf, SchedulerApi } from '@postern/irq';
import { TcpFlag, TcpPacket, ipv4ToString, type Ipv4Address } from '@postern/wire';
import { Counters } from '../counters.js';
import { Cubic, NewReno, type CongestionControl } from './congestion.js';
import { TcpConnection, type ConnectionHost } from './connection.js';
import { connectionEntry, type TcpConnectionEntry } from './connection-entry.js';
import { ConnectionTable, ListenerTable } from './demux.js';
import { TcpError } from './errors.js';
import { segmentArrives, negotiateOptions, type TcpInputContext } from './input.js';
import type { TcpIpPort } from './ip-port.js';
import { classifyIcmpForTcp, pmtuFromIcmp, TCP_IP_HEADERS, TCP_MIN_PMTU, type TcpIcmpError } from './icmp-error.js';
import { IsnGenerator } from './isn.js';
import { TcpListener, type ListenerHost } from './listener.js';
import {
  SegmentBuilder, TCP_HEADER, TCP_MAX_WINDOW_SHIFT, TCP_TIMESTAMP_OPTION_SPACE, finishChecksum, flightSize, retransmitRange, segmentPayloadLimit, tcpOutput, unsentBytes, windowOpening, writeHeader,
  tsClock, type TcpLossEventName,
} from './output.js';
import { armUndo, rackDetect, rackOnTimeout, type TcpRecoveryContext } from './recovery.js';
import { ReceiveBuffer } from './recv-buffer.js';
import { RtoEstimator, type RtoOptions } from './rto.js';
import { SackScoreboard } from './sack-scoreboard.js';
import { Segment } from './segment.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqGt, seqLt, seqMax, seqSub } from './seq.js';
import { canSendData } from './state.js';
import { SynCookies, cookieTimestamp, decodeCookieTimestamp } from './syn-cookies.js';
import { AckUrgency, Tcb, TcbEvent, type TcpCloseReason } from './tcb.js';
import {
  armDelayedAck, armIdle, armPersist, armReorder, armRetransmit, cancelAllTimers, cancelDelayedAck, cancelRetransmit, restartRetransmit, type TcpTimerHost,
} from './timers.js';

function putUint32(b: Uint8Array, at: number, v: number): number {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
  return at + 4;
}

/** Default {@link TcpOptions.maxConnections}. */
export const TCP_DEFAULT_MAX_CONNECTIONS = 4096;
/** Default {@link TcpOptions.sendBufferSize} and {@link TcpOptions.receiveBufferSize}, bytes. */
export const TCP_DEFAULT_BUFFER_SIZE = 256 * 1024;
/** Smallest send or receive buffer an application can set on a connection or listener, bytes. */
export const TCP_MIN_BUFFER_SIZE = 1024;
/** Default SYN backlog and accept queue of a listener. */
export const TCP_DEFAULT_BACKLOG = 128;
/** Default 2*MSL (TIME-WAIT duration), ms. */
export const TCP_DEFAULT_TIME_WAIT_MS = 60_000;
/** Default {@link TcpOptions.delayedAckMs}. */
export const TCP_DEFAULT_DELAYED_ACK_MS = 40;

/** Limits, timers and algorithms of a {@link Tcp}. */
export interface TcpOptions {
  /** Most TCBs at once, TIME-WAIT and SYN-RECEIVED included. Default 4096. */
  maxConnections?: number;
  /** Send buffer of a connection unless its connect or listen options set one, bytes. Default 256 KiB. */
  sendBufferSize?: number;
  /** Receive buffer of a connection (its largest window) unless its connect or listen options set one, bytes. Default 256 KiB. */
  receiveBufferSize?: number;
  /**
   * Largest send or receive buffer one connection may have: sizes set at connect or listen time
   * and later ({@link TcpConnection.setReceiveBufferSize}, {@link TcpConnection.setSendBufferSize})
   * are clamped to `TCP_MIN_BUFFER_SIZE..maxBufferSize`. Because a receive buffer may grow up to it
   * after the handshake, every connection chooses the window scale of its SYN from this maximum
   * (the smallest shift that lets the 16-bit window field reach it, at most 14), not from its
   * buffer at SYN time; windows are then advertised in units of `2^shift` bytes, so a larger
   * maximum costs window precision. Default: the larger of `sendBufferSize` and
   * `receiveBufferSize` (256 KiB, shift 3, with the defaults; like Linux's `rmem_max`, raise it to
   * let applications grow buffers further); smaller than either is `EINVAL`.
   */
  maxBufferSize?: number;
  /** Default SYN backlog of a listener. Default 128. */
  synBacklog?: number;
  /** Default accept queue of a listener. Default 128. */
  acceptBacklog?: number;
  /** Answer SYNs with cookies when a SYN backlog is full. Default true. */
  synCookies?: boolean;
  /** TIME-WAIT duration (2*MSL), ms. Default 60000. */
  timeWaitMs?: number;
  /** Most connections in TIME-WAIT; the oldest is recycled beyond it. Default `maxConnections / 2`. */
  maxTimeWait?: number;
  /** Longest an ACK is delayed, ms (<= 200). Default 40. */
  delayedAckMs?: number;
  /** FIN-WAIT-2 timeout after `close()`, ms. Default 60000. */
  finWait2TimeoutMs?: number;
  /** Retransmissions of data before ETIMEDOUT. Default 12. */
  maxRetransmits?: number;
  /** SYN (and SYN-ACK) retransmissions before giving up. Default 5. */
  synRetries?: number;
  /** RTO bounds. */
  rto?: RtoOptions;
  /** Congestion control. Default `'cubic'` (RFC 9438; faster than NewReno through random loss: measured in tools/bench tcp-loss and on the virtual clock). */
  congestion?: 'newreno' | 'cubic';
  /** Keep-alive: idle before the first probe, ms. Default 7200000. */
  keepAliveIdleMs?: number;
  /** Keep-alive: between probes, ms. Default 75000. */
  keepAliveIntervalMs?: number;
  /** Keep-alive: unanswered probes before ETIMEDOUT. Default 9. */
  keepAliveProbes?: number;
  /** Ephemeral port range (inclusive). Default 49152..65535. */
  ephemeralPorts?: readonly [number, number];
  /** Verify checksums of received segments. Default true. */
  verifyChecksums?: boolean;
}

/** Counters of the TCP module (per-connection ones live in `TcpConnection.stats`). */
export type TcpCounterName =
  /** Segments handed to TCP by the IP layer. */
  | 'segmentsReceived'
  /** Drop: too short, bad data offset or malformed options. */
  | 'malformed'
  /** Drop: checksum mismatch. */
  | 'badChecksum'
  /** Drop: sent to a broadcast or multicast address. */
  | 'notUnicast'
  /** Segments for no connection and no listener (answered with RST unless a RST). */
  | 'noSocket'
  /** RSTs sent without a connection (closed port, bad ACK to a listener, bad cookie). */
  | 'resetsSent'
  /** Segments the IP layer refused to send. */
  | 'sendFailures'
  /** Active opens (connect). */
  | 'activeOpens'
  /** Passive opens (SYN-RECEIVED copies and cookie connections). */
  | 'passiveOpens'
  /** Connections refused at the connection limit (SYN dropped or connect failed). */
  | 'connectionLimit'
  /** TIME-WAIT connections recycled early under pressure. */
  | 'timeWaitRecycled'
  /** TIME-WAIT connections ended by an acceptable new SYN (RFC 6191). */
  | 'timeWaitReused'
  /** Connections reset by the peer. */
  | 'resetsReceived'
  /** Connections that timed out. */
  | 'timeouts'
  /** Connections aborted locally. */
  | 'aborts'
  /** ICMP errors about TCP segments handed to TCP. */
  | 'icmpReceived'
  /** ICMP errors dropped: the quoted segment was too short to name a connection. */
  | 'icmpMalformed'
  /** ICMP errors dropped: no connection matches the quoted segment. */
  | 'icmpNoConnection'
  /** ICMP errors dropped: the quoted sequence number is outside SND.UNA..SND.NXT (RFC 5927 §4.1). */
  | 'icmpOutOfWindow'
  /** ICMP errors ignored (source quench, unknown codes, an MTU no smaller than the current one). */
  | 'icmpIgnored'
  /** Soft errors recorded (reported only if the connection then times out). */
  | 'icmpSoftErrors'
  /** Connections aborted by a hard ICMP error during the handshake. */
  | 'icmpHardAborts'
  /** Path MTU decreases (fragmentation needed, RFC 1191). */
  | 'pmtuDecreases'
  /** Delayed-ACK timer expiries that sent a segment, all connections (see `TcpConnectionStats.delayedAckTimeouts`). */
  | 'delayedAckTimeouts'
  /** Nagle holds started, all connections (see `TcpConnectionStats.nagleHeld`). */
  | 'nagleHeld'
  /** Retransmission timeouts, all connections (see `TcpConnectionStats.timeouts`). */
  | 'rtoExpiries'
  /** Loss recovery episodes entered, all connections (`TcpConnectionStats.fastRetransmits`). */
  | 'fastRecoveries'
  /** Segments RACK marked lost (`TcpConnectionStats.rackLossMarks`). */
  | 'rackLossMarks'
  /** RACK reordering timer expiries (`TcpConnectionStats.rackReorderTimeouts`). */
  | 'rackReorderTimeouts'
  /** Tail loss probes sent (`TcpConnectionStats.tailLossProbes`). */
  | 'tailLossProbes'
  /** Loss responses undone as spurious (`TcpConnectionStats.spuriousUndos`). */
  | 'spuriousUndos'
  /** Recoveries paced by PRR (`TcpConnectionStats.prrRecoveries`). */
  | 'prrRecoveries'
  /** D-SACK blocks received (`TcpConnectionStats.dsacksReceived`). */
  | 'dsacksReceived'
  /** D-SACK blocks sent (`TcpConnectionStats.dsacksSent`). */
  | 'dsacksSent';

const COUNTER_NAMES: readonly TcpCounterName[] = [
  'segmentsReceived', 'malformed', 'badChecksum', 'notUnicast', 'noSocket', 'resetsSent', 'sendFailures', 'activeOpens',
  'passiveOpens', 'connectionLimit', 'timeWaitRecycled', 'timeWaitReused', 'resetsReceived', 'timeouts', 'aborts',
  'icmpReceived', 'icmpMalformed', 'icmpNoConnection', 'icmpOutOfWindow', 'icmpIgnored', 'icmpSoftErrors', 'icmpHardAborts', 'pmtuDecreases',
  'delayedAckTimeouts', 'nagleHeld', 'rtoExpiries', 'fastRecoveries', 'rackLossMarks', 'rackReorderTimeouts', 'tailLossProbes',
  'spuriousUndos', 'prrRecoveries', 'dsacksReceived', 'dsacksSent',
];

/** Options of {@link Tcp.listen}. */
export interface TcpListenOptions {
  /** Local address, default 0 (every address). */
  address?: Ipv4Address;
  /** Local port, 1..65535. */
  port: number;
  /** Accept queue length. Default the module's `acceptBacklog`. */
  backlog?: number;
  /** SYN backlog. Default the module's `synBacklog`. */
  synBacklog?: number;
  /** Send buffer of each accepted connection, bytes (clamped, see {@link TcpOptions.maxBufferSize}). Default the module's `sendBufferSize`. */
  sendBufferSize?: number;
  /** Receive buffer of each accepted connection, bytes (clamped). Default the module's `receiveBufferSize`. */
  receiveBufferSize?: number;
}

/** Options of {@link Tcp.connect}. */
export interface TcpConnectOptions {
  remoteAddress: Ipv4Address;
  remotePort: number;
  /** Local address; default chosen by the route. */
  localAddress?: Ipv4Address;
  /** Local port; default an ephemeral port. */
  localPort?: number;
  /** Send buffer, bytes (clamped, see {@link TcpOptions.maxBufferSize}). Default the module's `sendBufferSize`. */
  sendBufferSize?: number;
  /** Receive buffer, bytes (clamped). Default the module's `receiveBufferSize`. */
  receiveBufferSize?: number;
}

/** The TCP protocol module. See the module comment. */
export class Tcp implements TcpInputContext, TcpRecoveryContext, TcpTimerHost, ConnectionHost, ListenerHost {
  readonly port: TcpIpPort;
  readonly scheduler: SchedulerApi;
  /** @internal Writes every segment this module sends. */
  readonly builder = new SegmentBuilder();
  readonly counters = new Counters<TcpCounterName>('tcp', COUNTER_NAMES);
  readonly delayedAckMs: number;
  /** Most TCBs at once. */
  readonly maxConnections: number;
  /** Most TCBs in TIME-WAIT. */
  readonly maxTimeWait: number;
  /** Default send buffer of a connection, bytes. */
  readonly sendBufferSize: number;
  /** Default receive buffer of a connection, bytes. */
  readonly receiveBufferSize: number;
  /** Largest buffer a connection may have, and what window scales are chosen from ({@link TcpOptions.maxBufferSize}). */
  readonly maxBufferSize: number;
  private readonly opts: Required<Omit<TcpOptions, 'rto' | 'maxTimeWait' | 'maxBufferSize'>> & { rto: RtoOptions };
  /** Every TCB by 4-tuple, TIME-WAIT and SYN-RECEIVED included. */
  private readonly table = new ConnectionTable();
  private readonly listeners = new ListenerTable<TcpListener>();
  /** TIME-WAIT TCBs, oldest first (insertion order). */
  private readonly timeWait = new Set<Tcb>();
  private readonly segment = new Segment();
  private readonly isn: IsnGenerator;
  /** Keyed hash of the 4-tuple for the timestamp offset (RFC 7323 §7.1: per 4-tuple, so RFC 6191 works across incarnations). */
  private readonly tsOffsets: IsnGenerator;
  private readonly cookies: SynCookies;
  private readonly flushList: Tcb[] = [];
  private readonly flushHalf: BottomHalf;
  private nextEphemeral: number;
  private readonly rstScratch = {
    srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, mss: 0,
    /** Cookie SYN-ACK options: timestamps (when the client sent them), SACK-permitted, our window shift (-1: none). */
    timestamps: false, tsVal: 0, tsEcr: 0, sackPermitted: false, windowShift: -1, optionBytes: 4,
  };
  /** Writes a cookie SYN-ACK (MSS; with timestamps also SACK-permitted and window scale) from {@link Tcp.rstScratch}. */
  private readonly cookieWriter = {
    writeSegment: (segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void => {
      const r = this.rstScratch;
      writeHeader(segment, r.srcPort, r.dstPort, r.seq, r.ack, TCP_HEADER + r.optionBytes, r.flags, r.window);
      let at = 20;
      segment[at++] = 2;
      segment[at++] = 4;
      segment[at++] = r.mss >>> 8;
      segment[at++] = r.mss & 0xff;
      if (r.timestamps) {
        segment[at++] = r.sackPermitted ? 4 : 1;
        segment[at++] = r.sackPermitted ? 2 : 1;
        segment[at++] = 8;
        segment[at++] = 10;
        at = putUint32(segment, at, r.tsVal);
        at = putUint32(segment, at, r.tsEcr);
        if (r.windowShift >= 0) {
          segment[at++] = 1;
          segment[at++] = 3;
          segment[at++] = 3;
          segment[at++] = r.windowShift;
        }
      }
      finishChecksum(segment, source, destination);
    },
  };
  private readonly rstWriter = {
    writeSegment: (segment: Uint8Array, source: Ipv4Address, destination: Ipv4Address): void => {
      const r = this.rstScratch;
      writeHeader(segment, r.srcPort, r.dstPort, r.seq, r.ack, TCP_HEADER, r.flags, 0);
      finishChecksum(segment, source, destination);
    },
  };

  constructor(port: TcpIpPort, options: TcpOptions = {}) {
    this.port = port;
    this.scheduler = port.scheduler;
    this.opts = {
      maxConnections: options.maxConnections ?? TCP_DEFAULT_MAX_CONNECTIONS,
      sendBufferSize: options.sendBufferSize ?? TCP_DEFAULT_BUFFER_SIZE,
      receiveBufferSize: options.receiveBufferSize ?? TCP_DEFAULT_BUFFER_SIZE,
      synBacklog: options.synBacklog ?? TCP_DEFAULT_BACKLOG,
      acceptBacklog: options.acceptBacklog ?? TCP_DEFAULT_BACKLOG,
      synCookies: options.synCookies ?? true,
      timeWaitMs: options.timeWaitMs ?? TCP_DEFAULT_TIME_WAIT_MS,
      delayedAckMs: Math.min(200, options.delayedAckMs ?? TCP_DEFAULT_DELAYED_ACK_MS),
      finWait2TimeoutMs: options.finWait2TimeoutMs ?? 60_000,
      maxRetransmits: options.maxRetransmits ?? 12,
      synRetries: options.synRetries ?? 5,
      rto: options.rto ?? {},
      congestion: options.congestion ?? 'cubic',
      keepAliveIdleMs: options.keepAliveIdleMs ?? 7_200_000,
      keepAliveIntervalMs: options.keepAliveIntervalMs ?? 75_000,
      keepAliveProbes: options.keepAliveProbes ?? 9,
      ephemeralPorts: options.ephemeralPorts ?? [49_152, 65_535],
      verifyChecksums: options.verifyChecksums ?? true,
    };
    for (const [name, v] of [['maxConnections', this.opts.maxConnections], ['sendBufferSize', this.opts.sendBufferSize],
      ['receiveBufferSize', this.opts.receiveBufferSize], ['synBacklog', this.opts.synBacklog], ['acceptBacklog', this.opts.acceptBacklog]] as const) {
      if (!(Number.isInteger(v) && v > 0)) throw new TcpError('EINVAL', `${name} must be a positive integer, got ${v}`);
    }
    this.maxConnections = this.opts.maxConnections;
    this.maxTimeWait = options.maxTimeWait ?? Math.max(1, this.maxConnections >>> 1);
    this.sendBufferSize = this.opts.sendBufferSize;
    this.receiveBufferSize = this.opts.receiveBufferSize;
    const largestDefault = Math.max(this.sendBufferSize, this.receiveBufferSize);
    this.maxBufferSize = options.maxBufferSize ?? largestDefault;
    if (!(Number.isInteger(this.maxBufferSize) && this.maxBufferSize >= largestDefault)) {
      throw new TcpError('EINVAL', `maxBufferSize must be an integer no smaller than the buffer sizes (${largestDefault}), got ${this.maxBufferSize}`);
    }
    this.delayedAckMs = this.opts.delayedAckMs;
    this.isn = new IsnGenerator(this.secret());
    this.tsOffsets = new IsnGenerator(this.secret());
    this.cookies = new SynCookies(this.secret());
    const [lo, hi] = this.opts.ephemeralPorts;
    this.nextEphemeral = lo + Math.floor(this.scheduler.random() * (hi - lo + 1));
    this.flushHalf = { name: 'tcp:flush', poll: (budget) => this.flush(budget) };
  }

  private secret(): Uint8Array {
    const s = new Uint8Array(16);
    const v = new DataView(s.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, this.scheduler.randomUint32());
    return s;
  }

  /** Current scheduler time, ms. */
  now(): number {
    return this.scheduler.now;
  }

  /** TCBs in the table (every state). */
  get connectionCount(): number {
    return this.table.size;
  }

  /** TCBs in TIME-WAIT. */
  get timeWaitCount(): number {
    return this.timeWait.size;
  }

  /**
   * A snapshot of the connection table: one frozen {@link TcpConnectionEntry} per TCB, in every
   * state the table holds (SYN-SENT, SYN-RECEIVED copies not yet accepted, ESTABLISHED, the
   * closing states and TIME-WAIT); listeners are not connections and are not listed. The array
   * is new on each call and the caller may keep or change it; its length is
   * {@link Tcp.connectionCount} at the moment of the call. Order: unspecified (stable while the
   * table does not change); sort if an order matters. Entries rather than `TcpConnection`
   * handles, so listing never hands out a handle the application was not given (a SYN-RECEIVED
   * copy has none until the listener delivers it) and never goes stale while iterated.
   * Allocates one object per connection: for inspection (an admin page, a test), not per packet.
   */
  connections(): TcpConnectionEntry[] {
    return this.table.all().map(connectionEntry);
  }

  // ---------------------------------------------------------------- application API

  /**
   * Opens a listener on `address:port` (0.0.0.0 by default).
   * @throws {@link TcpError} `EINVAL` for a bad port, backlog or buffer size, `EADDRINUSE` when a listener holds
   *   the port on an overlapping address, `EADDRNOTAVAIL` for an address that is not ours.
   */
  listen(options: TcpListenOptions): TcpListener {
    const address = options.address ?? 0;
    const { port } = options;
    if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) throw new TcpError('EINVAL', `port must be 1..65535, got ${port}`);
    const backlog = options.backlog ?? this.opts.acceptBacklog;
    const synBacklog = options.synBacklog ?? this.opts.synBacklog;
    if (!(Number.isInteger(backlog) && backlog >= 1) || !(Number.isInteger(synBacklog) && synBacklog >= 1)) {
      throw new TcpError('EINVAL', `backlogs must be positive integers, got ${backlog} and ${synBacklog}`);
    }
    if (address !== 0 && !this.port.isLocalAddress(address)) throw new TcpError('EADDRNOTAVAIL', `${ipv4ToString(address)} is not a local address`);
    if (this.listeners.conflicts(address, port)) throw new TcpError('EADDRINUSE', `port ${port} is already listening`);
    const sendSize = options.sendBufferSize === undefined ? this.sendBufferSize : this.effectiveBufferSize(options.sendBufferSize);
    const receiveSize = options.receiveBufferSize === undefined ? this.receiveBufferSize : this.effectiveBufferSize(options.receiveBufferSize);
    const listener = new TcpListener(this, address, port, synBacklog, backlog, sendSize, receiveSize);
    this.listeners.add(listener);
    return listener;
  }

  /**
   * Starts an active open (SYN sent at once). Completion arrives as `onConnect`, failure as
   * `onError` + `onClose`.
   * @throws {@link TcpError} `EINVAL` (bad port or buffer size), `ENETUNREACH` (no route), `EADDRINUSE` (4-tuple
   *   taken), `EADDRNOTAVAIL` (no ephemeral port), `EMFILE` (connection limit).
   */
  connect(options: TcpConnectOptions): TcpConnection {
    const { remoteAddress, remotePort } = options;
    if (!(Number.isInteger(remotePort) && remotePort >= 1 && remotePort <= 65_535)) throw new TcpError('EINVAL', `remote port must be 1..65535, got ${remotePort}`);
    const sendSize = options.sendBufferSize === undefined ? this.sendBufferSize : this.effectiveBufferSize(options.sendBufferSize);
    const receiveSize = options.receiveBufferSize === undefined ? this.receiveBufferSize : this.effectiveBufferSize(options.receiveBufferSize);
    const route = this.port.route(remoteAddress, options.localAddress ?? 0);
    if (route === undefined) throw new TcpError('ENETUNREACH', `no route to ${ipv4ToString(remoteAddress)}`);
    const local = options.localAddress !== undefined && options.localAddress !== 0 ? options.localAddress : route.source;
    let localPort = options.localPort ?? 0;
    if (localPort !== 0) {
      if (!(Number.isInteger(localPort) && localPort >= 1 && localPort <= 65_535)) throw new TcpError('EINVAL', `local port must be 1..65535, got ${localPort}`);
      const existing = this.table.find(local, localPort, remoteAddress, remotePort);
      if (existing !== undefined) {
        if (existing.state !== 'TIME-WAIT') throw new TcpError('EADDRINUSE', `${ipv4ToString(local)}:${localPort} -> ${ipv4ToString(remoteAddress)}:${remotePort} is in use`);
        this.release(existing, 'normal');
        this.counters.inc('timeWaitRecycled');
      }
    } else {
      localPort = this.ephemeralPort(local, remoteAddress, remotePort);
    }
    if (!this.makeRoom()) {
      this.counters.inc('connectionLimit');
      throw new TcpError('EMFILE', `connection limit ${this.maxConnections} reached`);
    }
    const tcb = this.newTcb(local, localPort, remoteAddress, remotePort, false, route.mtu, sendSize, receiveSize);
    const conn = new TcpConnection(tcb, this);
    this.conns.set(tcb, conn);
    tcb.iss = this.isn.isn(this.now(), local, localPort, remoteAddress, remotePort);
    tcb.sndUna = tcb.iss;
    tcb.sndNxt = seqAdd(tcb.iss, 1);
    tcb.sndMax = tcb.sndNxt;
    tcb.recover = tcb.iss;
    tcb.scoreboard.reset(tcb.sndUna); // offsets count from SND.UNA: never from a stale 0
    tcb.rack.reset(tcb.sndNxt);
    tcb.state = 'SYN-SENT';
    this.table.add(tcb);
    this.counters.inc('activeOpens');
    tcb.rttSeq = tcb.iss;
    tcb.rttSentAt = this.now();
    this.builder.send(this, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
    restartRetransmit(this, tcb);
    return conn;
  }

  private readonly conns = new WeakMap<Tcb, TcpConnection>();

  /** The application handle of a TCB. */
  private connOf(tcb: Tcb): TcpConnection {
    let c = this.conns.get(tcb);
    if (c === undefined) {
      c = new TcpConnection(tcb, this);
      this.conns.set(tcb, c);
    }
    return c;
  }

  private ephemeralPort(local: Ipv4Address, remote: Ipv4Address, remotePort: number): number {
    const [lo, hi] = this.opts.ephemeralPorts;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      const p = lo + ((this.nextEphemeral - lo + i) % span);
      if (this.listeners.usesPort(p)) continue;
      const existing = this.table.find(local, p, remote, remotePort);
      if (existing !== undefined) continue;
      this.nextEphemeral = p + 1 > hi ? lo : p + 1;
      return p;
    }
    throw new TcpError('EADDRNOTAVAIL', 'no free ephemeral port');
  }

  /** True when one more TCB fits (recycling the oldest TIME-WAIT if needed). */
  private makeRoom(): boolean {
    if (this.table.size < this.maxConnections) return true;
    const oldest = this.timeWait.values().next();
    if (oldest.done === true) return false;
    this.release(oldest.value, 'normal');
    this.counters.inc('timeWaitRecycled');
    return true;
  }

  /**
   * A buffer size an application asked for, as it takes effect: clamped to
   * `TCP_MIN_BUFFER_SIZE..maxBufferSize`. Not doubled (Linux doubles `SO_RCVBUF` to cover its
   * bookkeeping; here the size is exactly the bytes the buffer holds).
   * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
   */
  effectiveBufferSize(bytes: number): number {
    if (!(Number.isInteger(bytes) && bytes > 0)) throw new TcpError('EINVAL', `a buffer size must be a positive integer, got ${bytes}`);
    return Math.min(this.maxBufferSize, Math.max(TCP_MIN_BUFFER_SIZE, bytes));
  }

  /** The window scale our SYNs offer: the smallest shift that lets the window reach `maxBufferSize`. */
  private windowShift(): number {
    let shift = 0;
    while (shift < TCP_MAX_WINDOW_SHIFT && this.maxBufferSize >>> shift > 0xffff) shift++;
    return shift;
  }

  private newTcb(local: Ipv4Address, localPort: number, remote: Ipv4Address, remotePort: number, passive: boolean, mtu: number, sendSize: number, receiveSize: number): Tcb {
    const advMss = Math.max(64, Math.min(65_535, mtu - 40));
    const cc: CongestionControl = this.opts.congestion === 'cubic' ? new Cubic({ mss: advMss }) : new NewReno({ mss: advMss });
    const tcb = new Tcb(
      local, localPort, remote, remotePort, passive,
      new SendBuffer(sendSize),
      new ReceiveBuffer(receiveSize),
      new RtoEstimator(this.opts.rto),
      cc,
      new SackScoreboard({ mss: advMss }),
    );
    tcb.advertisedMss = advMss;
    tcb.sendMss = advMss;
    tcb.pathMtu = mtu;
    tcb.stats.pathMtu = mtu;
    tcb.rcvBufSize = receiveSize;
    // The window scale is fixed by the SYN, but the receive buffer may grow up to maxBufferSize
    // later: choose the shift that lets the window reach that maximum.
    tcb.rcvWndShift = this.windowShift();
    tcb.tsOffset = this.tsOffsets.isn(0, local, localPort, remote, remotePort);
    tcb.keepAliveIdleMs = this.opts.keepAliveIdleMs;
    return tcb;
  }

  // ---------------------------------------------------------------- ConnectionHost

  /** @internal */
  write(tcb: Tcb, data: Uint8Array): number {
    const conn = this.connOf(tcb);
    if (tcb.finQueued || tcb.released || !canSendData(tcb.state)) throw new TcpError('EPIPE', 'the sending side is shut down');
    const n = tcb.sendBuffer.write(data);
    if (n < data.byteLength) conn.writeBlocked = true;
    if (n > 0 && tcb.state !== 'SYN-SENT' && tcb.state !== 'SYN-RECEIVED') this.output(tcb);
    return n;
  }

  /** @internal */
  setBufferSize(tcb: Tcb, direction: 'send' | 'receive', bytes: number): number {
    const size = this.effectiveBufferSize(bytes);
    if (direction === 'send') {
      tcb.sendBuffer.resize(size);
      return size;
    }
    tcb.rcvBufSize = size;
    this.fitReceiveBuffer(tcb);
    this.afterRead(tcb); // a window update if the window opened enough
    return size;
  }

  /**
   * Brings the receive buffer's capacity to the size set, except that it never goes below the bytes
   * held plus the window already advertised (RFC 9293 §3.8.6.2.2: the right edge does not move
   * left). After a shrink the window stays closed until reads bring the capacity down.
   */
  private fitReceiveBuffer(tcb: Tcb): void {
    const b = tcb.recvBuffer;
    const promised = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
    b.resize(Math.max(tcb.rcvBufSize, b.readable + promised, b.heldExtent));
  }

  /** @internal */
  afterRead(tcb: Tcb): void {
    if (tcb.released) return;
    if (tcb.recvBuffer.capacity > tcb.rcvBufSize) this.fitReceiveBuffer(tcb);
    if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'FIN-WAIT-1' && tcb.state !== 'FIN-WAIT-2') return;
    // Window update when the window opened enough to matter (receiver SWS avoidance).
    const current = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
    const opening = windowOpening(tcb);
    const step = Math.min(tcb.recvBuffer.capacity >>> 1, 2 * tcb.advertisedMss);
    if (opening >= step || (current < tcb.advertisedMss && opening >= tcb.advertisedMss)) {
      tcb.owe(AckUrgency.NOW);
      this.output(tcb);
    }
  }

  /** @internal */
  shutdownWrite(tcb: Tcb): void {
    if (tcb.finQueued || tcb.released) return;
    switch (tcb.state) {
      case 'SYN-SENT':
        this.release(tcb, 'normal');
        return;
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        tcb.finQueued = true;
        if (tcb.state === 'ESTABLISHED') {
          tcb.state = 'FIN-WAIT-1';
          this.output(tcb);
        }
        return;
      case 'CLOSE-WAIT':
        tcb.finQueued = true;
        tcb.state = 'LAST-ACK';
        this.output(tcb);
        return;
      default:
        return;
    }
  }

  /** @internal */
  close(tcb: Tcb): void {
    if (tcb.released) return;
    tcb.appClosed = true;
    if (tcb.recvBuffer.readable > 0 && tcb.state !== 'TIME-WAIT') {
      this.abort(tcb);
      return;
    }
    this.shutdownWrite(tcb);
    if (tcb.state === 'FIN-WAIT-2') this.armFinWait2(tcb);
  }

  /** @internal */
  abort(tcb: Tcb): void {
    if (tcb.released) return;
    if (tcb.state !== 'SYN-SENT' && tcb.state !== 'TIME-WAIT' && tcb.state !== 'CLOSED') {
      this.builder.send(this, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
    }
    tcb.recvBuffer.clear();
    this.counters.inc('aborts');
    this.closeTcb(tcb, 'aborted');
  }

  /** @internal */
  setNoDelay(tcb: Tcb, on: boolean): void {
    tcb.noDelay = on;
    if (on && !tcb.released) this.output(tcb);
  }

  /** @internal */
  setKeepAlive(tcb: Tcb, on: boolean, idleMs: number | undefined): void {
    tcb.keepAlive = on;
    if (idleMs !== undefined && idleMs > 0) tcb.keepAliveIdleMs = idleMs;
    if (on) this.touchKeepAlive(tcb);
    else if (tcb.state === 'ESTABLISHED' || tcb.state === 'CLOSE-WAIT') tcb.idleTimer?.cancel();
  }

  // ---------------------------------------------------------------- ListenerHost

  /** @internal */
  closeListener(listener: TcpListener): void {
    if (listener.closed) return;
    listener.closed = true;
    this.listeners.remove(listener);
    for (const tcb of [...listener.embryos]) this.abort(tcb);
    for (const conn of listener.acceptQueue.splice(0)) conn.abort();
  }

  // ---------------------------------------------------------------- input

  /**
   * Receives one TCP segment (the IPv4 payload) from `source` to `destination`. Bad segments are
   * counted and dropped; nothing throws.
   */
  input(source: Ipv4Address, destination: Ipv4Address, bytes: Uint8Array): void {
    this.counters.inc('segmentsReceived');
    let packet: TcpPacket;
    try {
      packet = TcpPacket.checked(bytes);
    } catch {
      this.counters.inc('malformed');
      return;
    }
    if (this.opts.verifyChecksums && !packet.verifyChecksum(source, destination)) {
      this.counters.inc('badChecksum');
      return;
    }
    const seg = this.segment.fill(packet, source, destination);
    let tcb = this.table.find(destination, seg.dstPort, source, seg.srcPort);
    if (tcb !== undefined && tcb.state === 'TIME-WAIT' && seg.syn && !seg.hasAck && !seg.rst && this.synMayReuse(tcb, seg)) {
      // RFC 6191: a new incarnation may take over a TIME-WAIT 4-tuple.
      this.release(tcb, 'normal');
      this.counters.inc('timeWaitReused');
      tcb = undefined;
    }
    if (tcb !== undefined) {
      segmentArrives(this, tcb, seg);
      this.afterSegment(tcb);
      return;
    }
    const listener = this.listeners.find(destination, seg.dstPort);
    if (listener !== undefined) {
      this.listenerInput(listener, seg);
      return;
    }
    this.counters.inc('noSocket');
    if (!seg.rst) this.sendResetFor(seg);
  }

  /** RFC 6191 §2: with timestamps, the SYN's TSval must be newer; without, its sequence number must be above RCV.NXT. */
  private synMayReuse(tcb: Tcb, seg: Segment): boolean {
    if (tcb.tsEnabled && seg.options.hasTimestamps) return seqGt(seg.options.tsVal, tcb.tsRecent);
    return seqGt(seg.seq, tcb.rcvNxt);
  }

  /** Events, then output, after a segment or timer changed `tcb`. */
  private afterSegment(tcb: Tcb): void {
    if (tcb.events !== 0) this.deliverEvents(tcb);
    if (tcb.released) return;
    tcpOutput(this, tcb, AckUrgency.NOW);
    if (tcb.ackUrgency === AckUrgency.SOON) this.queueFlush(tcb);
  }

  /** Runs output for `tcb` and delivers nothing (application calls). */
  private output(tcb: Tcb): void {
    tcpOutput(this, tcb, AckUrgency.NOW);
    if (tcb.ackUrgency === AckUrgency.SOON) this.queueFlush(tcb);
  }

  private queueFlush(tcb: Tcb): void {
    if (tcb.flushQueued) return;
    tcb.flushQueued = true;
    this.flushList.push(tcb);
    // After the application had its turn (a reply written from a promise continuation carries the ACK).
    if (this.scheduler.scheduleNextTurn !== undefined) this.scheduler.scheduleNextTurn(this.flushHalf);
    else this.scheduler.schedule(this.flushHalf);
  }

  private flush(budget: number): number {
    let n = 0;
    while (n < budget && this.flushList.length > 0) {
      const tcb = this.flushList.shift()!;
      tcb.flushQueued = false;
      n++;
      if (tcb.released) continue;
      if (tcb.ackUrgency >= AckUrgency.SOON) tcpOutput(this, tcb, AckUrgency.SOON);
    }
    return this.flushList.length > 0 ? budget : n;
  }

  private deliverEvents(tcb: Tcb): void {
    const conn = this.conns.get(tcb);
    if (conn === undefined) {
      tcb.events = 0;
      return;
    }
    // Loop: a callback may raise more events (e.g. a write that completes at once is not one, but
    // a close() from onReadable raises CLOSED).
    for (let guard = 0; tcb.events !== 0 && guard < 8; guard++) {
      const ev = tcb.events;
      tcb.events = 0;
      if ((ev & TcbEvent.CONNECTED) !== 0) conn.onConnect?.();
      if ((ev & TcbEvent.READABLE) !== 0) conn.onReadable?.();
      if ((ev & TcbEvent.WRITABLE) !== 0 && conn.writeBlocked && tcb.sendBuffer.free > 0) {
        conn.writeBlocked = false;
        conn.onWritable?.();
      }
      if ((ev & TcbEvent.CLOSED) !== 0 && !conn.closeNotified) {
        conn.closeNotified = true;
        conn.onClose?.(tcb.closeReason);
      }
    }
  }

  private listenerInput(listener: TcpListener, seg: Segment): void {
    if (seg.rst) return;
    if (seg.hasAck) {
      if (!seg.syn && this.opts.synCookies && this.acceptCookie(listener, seg)) return;
      this.sendResetFor(seg);
      return;
    }
    if (!seg.syn) return;
    if (!listener.hasAcceptRoom()) {
      listener.stats.acceptQueueDrops++;
      return;
    }
    if (!listener.hasSynRoom()) {
      if (!this.opts.synCookies) {
        listener.stats.synBacklogDrops++;
        return;
      }
      this.sendCookie(listener, seg);
      return;
    }
    if (!this.makeRoom()) {
      listener.stats.connectionLimitDrops++;
      this.counters.inc('connectionLimit');
      return;
    }
    const route = this.port.route(seg.source, seg.destination);
    if (route === undefined) return;
    const now = this.now();
    const tcb = this.newTcb(seg.destination, seg.dstPort, seg.source, seg.srcPort, true, route.mtu, listener.sendBufferSize, listener.receiveBufferSize);
    tcb.listener = listener;
    tcb.irs = seg.seq;
    tcb.rcvNxt = seqAdd(seg.seq, 1);
    tcb.rcvAdvRight = tcb.rcvNxt;
    tcb.iss = this.isn.isn(now, seg.destination, seg.dstPort, seg.source, seg.srcPort);
    tcb.sndUna = tcb.iss;
    tcb.sndNxt = seqAdd(tcb.iss, 1);
    tcb.sndMax = tcb.sndNxt;
    tcb.recover = tcb.iss;
    tcb.scoreboard.reset(tcb.sndUna); // offsets count from SND.UNA: never from a stale 0
    tcb.rack.reset(tcb.sndNxt);
    negotiateOptions(tcb, seg, now);
    tcb.sndWnd = seg.window;
    tcb.sndWl1 = seg.seq;
    tcb.maxSndWnd = seg.window;
    tcb.state = 'SYN-RECEIVED';
    listener.embryos.add(tcb);
    listener.stats.synReceived++;
    this.table.add(tcb);
    this.counters.inc('passiveOpens');
    tcb.rttSeq = tcb.iss;
    tcb.rttSentAt = now;
    this.builder.send(this, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
    restartRetransmit(this, tcb);
  }

  private tuple: [number, number, number, number] = [0, 0, 0, 0];

  private fillTuple(seg: Segment): [number, number, number, number] {
    const t = this.tuple;
    t[0] = seg.destination;
    t[1] = seg.dstPort;
    t[2] = seg.source;
    t[3] = seg.srcPort;
    return t;
  }

  private sendCookie(listener: TcpListener, seg: Segment): void {
    const mss = seg.options.mss > 0 ? seg.options.mss : 536;
    const route = this.port.route(seg.source, seg.destination);
    if (route === undefined) return;
    const cookie = this.cookies.encode(this.now(), this.fillTuple(seg), seg.seq, Math.min(mss, route.mtu - 40));
    listener.stats.cookiesSent++;
    // A SYN-ACK from no state: MSS option only (what a cookie can carry).
    const advMss = Math.max(64, route.mtu - 40);
    const r = this.rstScratch;
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    r.seq = cookie;
    r.ack = seqAdd(seg.seq, 1);
    r.flags = TcpFlag.SYN | TcpFlag.ACK;
    r.window = Math.min(listener.receiveBufferSize, 0xffff);
    r.mss = advMss;
    const o = seg.options;
    r.timestamps = o.hasTimestamps;
    r.optionBytes = 4;
    if (o.hasTimestamps) {
      // The client's options ride in our TSval (echoed by its ACK): see syn-cookies.ts.
      const offset = this.tsOffsets.isn(0, seg.destination, seg.dstPort, seg.source, seg.srcPort);
      r.tsVal = cookieTimestamp(tsClock(this.now(), offset), { windowScale: o.windowScale >= 0 ? o.windowScale : -1, sackPermitted: o.sackPermitted });
      r.tsEcr = o.tsVal;
      r.sackPermitted = o.sackPermitted;
      r.windowShift = o.windowScale >= 0 ? this.windowShift() : -1;
      r.optionBytes = 4 + 12 + (r.windowShift >= 0 ? 4 : 0);
    }
    if (!this.port.send(seg.destination, seg.source, TCP_HEADER + r.optionBytes, this.cookieWriter)) this.counters.inc('sendFailures');
  }

  private acceptCookie(listener: TcpListener, seg: Segment): boolean {
    const clientIsn = seqAdd(seg.seq, -1);
    const decoded = this.cookies.decode(this.now(), this.fillTuple(seg), clientIsn, seqAdd(seg.ack, -1));
    if (decoded === undefined) {
      listener.stats.cookiesRejected++;
      return false;
    }
    if (!listener.hasAcceptRoom() || !this.makeRoom()) {
      listener.stats.acceptQueueDrops++;
      return true;
    }
    const route = this.port.route(seg.source, seg.destination);
    if (route === undefined) return true;
    const tcb = this.newTcb(seg.destination, seg.dstPort, seg.source, seg.srcPort, true, route.mtu, listener.sendBufferSize, listener.receiveBufferSize);
    tcb.listener = listener;
    tcb.iss = seqAdd(seg.ack, -1);
    tcb.sndUna = seg.ack;
    tcb.sndNxt = seg.ack;
    tcb.sndMax = seg.ack;
    tcb.recover = seg.ack;
    tcb.scoreboard.reset(tcb.sndUna); // offsets count from SND.UNA: never from a stale 0
    tcb.rack.reset(tcb.sndUna);
    tcb.irs = clientIsn;
    tcb.rcvNxt = seg.seq;
    tcb.rcvAdvRight = seqAdd(seg.seq, Math.min(tcb.recvBuffer.capacity, 0xffff));
    const o = seg.options;
    if (o.hasTimestamps && o.tsEcr !== 0) {
      // The client's options came back in the echo of our SYN-ACK's TSval.
      const carried = decodeCookieTimestamp(o.tsEcr);
      tcb.tsEnabled = true;
      tcb.tsRecent = o.tsVal;
      tcb.tsRecentAge = this.now();
      tcb.sackEnabled = carried.sackPermitted;
      tcb.wsEnabled = carried.windowScale >= 0;
      tcb.sndWndShift = tcb.wsEnabled ? carried.windowScale : 0;
      if (!tcb.wsEnabled) tcb.rcvWndShift = 0;
    } else {
      tcb.rcvWndShift = 0;
      tcb.sndWndShift = 0;
    }
    tcb.sendMss = Math.max(64, Math.min(decoded.mss, tcb.advertisedMss) - (tcb.tsEnabled ? TCP_TIMESTAMP_OPTION_SPACE : 0));
    tcb.cc.setMss(tcb.sendMss);
    tcb.scoreboard.mss = tcb.sendMss;
    tcb.sndWnd = seg.window << tcb.sndWndShift;
    tcb.sndWl1 = seg.seq;
    tcb.sndWl2 = seg.ack;
    tcb.maxSndWnd = tcb.sndWnd;
    tcb.state = 'ESTABLISHED';
    this.table.add(tcb);
    listener.stats.cookiesAccepted++;
    this.counters.inc('passiveOpens');
    this.toAcceptQueue(listener, tcb);
    // The ACK may carry data: process it like any segment of the new connection.
    if (seg.payload.byteLength > 0 || seg.fin) {
      segmentArrives(this, tcb, seg);
    }
    this.afterSegment(tcb);
    return true;
  }

  private toAcceptQueue(listener: TcpListener, tcb: Tcb): void {
    const conn = this.connOf(tcb);
    listener.stats.established++;
    if (listener.onConnection !== undefined) {
      listener.stats.accepted++;
      listener.onConnection(conn);
    } else {
      listener.acceptQueue.push(conn);
      if (listener.acceptQueue.length === 1) listener.onAcceptable?.();
    }
  }

  // ---------------------------------------------------------------- TcpInputContext

  /** @internal */
  passiveEstablished(tcb: Tcb): boolean {
    const listener = tcb.listener;
    if (listener === undefined || listener.closed) return true;
    if (!listener.hasAcceptRoom()) {
      listener.stats.acceptQueueDrops++;
      return false;
    }
    listener.embryos.delete(tcb);
    this.toAcceptQueue(listener, tcb);
    return true;
  }

  /** @internal */
  closeTcb(tcb: Tcb, reason: TcpCloseReason, error?: TcpError): void {
    if (tcb.released) return;
    if (reason === 'reset') this.counters.inc('resetsReceived');
    if (reason === 'timeout') this.counters.inc('timeouts');
    this.release(tcb, reason);
    const conn = this.conns.get(tcb);
    if (conn !== undefined && !conn.closeNotified) {
      if (error !== undefined) conn.onError?.(error);
      tcb.raise(TcbEvent.CLOSED);
      this.deliverEvents(tcb);
    }
  }

  /** Takes the TCB out of every table and stops its timers. */
  private release(tcb: Tcb, reason: TcpCloseReason): void {
    if (tcb.released) return;
    if (tcb.state !== 'TIME-WAIT') tcb.closeReason = reason;
    tcb.state = 'CLOSED';
    tcb.released = true;
    cancelAllTimers(tcb);
    this.table.remove(tcb);
    this.timeWait.delete(tcb);
    tcb.sendBuffer.clear();
    tcb.scoreboard.reset(0);
    tcb.sent.clear();
    const listener = tcb.listener;
    if (listener !== undefined) {
      listener.embryos.delete(tcb);
      const conn = this.conns.get(tcb);
      if (conn !== undefined) {
        const i = listener.acceptQueue.indexOf(conn);
        if (i >= 0) listener.acceptQueue.splice(i, 1);
      }
    }
    const conn = this.conns.get(tcb);
    if (conn !== undefined && !conn.closeNotified) tcb.raise(TcbEvent.CLOSED);
  }

  /** @internal */
  enterTimeWait(tcb: Tcb): void {
    const first = tcb.state !== 'TIME-WAIT';
    tcb.state = 'TIME-WAIT';
    tcb.closeReason = 'normal';
    cancelRetransmit(tcb);
    this.timeWait.delete(tcb);
    if (first && this.timeWait.size >= this.maxTimeWait) {
      const oldest = this.timeWait.values().next();
      if (oldest.done !== true) {
        this.release(oldest.value, 'normal');
        this.counters.inc('timeWaitRecycled');
      }
    }
    this.timeWait.add(tcb);
    armIdle(this, tcb, this.opts.timeWaitMs);
    tcb.sendBuffer.clear();
    if (first) tcb.raise(TcbEvent.CLOSED);
  }

  /** @internal */
  armDelayedAck(tcb: Tcb): void {
    armDelayedAck(this, tcb);
  }

  /** @internal */
  cancelDelayedAck(tcb: Tcb): void {
    cancelDelayedAck(tcb);
  }

  /** @internal */
  armRetransmit(tcb: Tcb): void {
    armRetransmit(this, tcb);
  }

  /** @internal */
  restartRetransmit(tcb: Tcb): void {
    restartRetransmit(this, tcb);
  }

  /** @internal */
  armPersist(tcb: Tcb): void {
    armPersist(this, tcb);
  }

  /** @internal */
  cancelRetransmit(tcb: Tcb): void {
    cancelRetransmit(tcb);
  }

  /** @internal */
  armFinWait2(tcb: Tcb): void {
    armIdle(this, tcb, this.opts.finWait2TimeoutMs);
  }

  /** @internal */
  touchKeepAlive(tcb: Tcb): void {
    if (!tcb.keepAlive || tcb.idleTimer?.active) return;
    if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'CLOSE-WAIT') return;
    armIdle(this, tcb, tcb.keepAliveIdleMs);
  }

  /** @internal */
  errorFor(reason: 'refused' | 'reset'): TcpError {
    return reason === 'refused' ? new TcpError('ECONNREFUSED', 'the peer refused the connection') : new TcpError('ECONNRESET', 'the peer reset the connection');
  }

  /** @internal */
  countSendFailure(): void {
    this.counters.inc('sendFailures');
  }

  /** @internal */
  countNagleHold(): void {
    this.counters.inc('nagleHeld');
  }

  /** @internal */
  countLossEvent(name: TcpLossEventName, by = 1): void {
    this.counters.inc(name, by);
  }

  /** @internal */
  armReorder(tcb: Tcb, delay: number): void {
    armReorder(this, tcb, delay);
  }

  /** @internal */
  sendResetFor(seg: Segment): void {
    const r = this.rstScratch;
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    if (seg.hasAck) {
      r.seq = seg.ack;
      r.ack = 0;
      r.flags = TcpFlag.RST;
    } else {
      r.seq = 0;
      r.ack = seqAdd(seg.seq, seg.length);
      r.flags = TcpFlag.RST | TcpFlag.ACK;
    }
    this.counters.inc('resetsSent');
    if (!this.port.send(seg.destination, seg.source, TCP_HEADER, this.rstWriter)) this.counters.inc('sendFailures');
  }

  /** @internal */
  resendSyn(tcb: Tcb): void {
    this.builder.send(this, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
    armRetransmit(this, tcb);
  }

  /** @internal */
  sendNewSegment(tcb: Tcb): boolean {
    const unsent = unsentBytes(tcb);
    if (unsent === 0) return false;
    const usable = seqSub(seqAdd(tcb.sndUna, tcb.sndWnd), tcb.sndNxt);
    const length = Math.min(unsent, segmentPayloadLimit(tcb), usable);
    if (length <= 0) return false;
    const offset = seqSub(tcb.sndNxt, tcb.sndUna);
    this.builder.send(this, tcb, tcb.sndNxt, length === unsent ? TcpFlag.PSH : 0, offset, length);
    tcb.stats.bytesOut += length;
    tcb.nagleHolding = false;
    tcb.sndNxt = seqAdd(tcb.sndNxt, length);
    if (seqGt(tcb.sndNxt, tcb.sndMax)) tcb.sndMax = tcb.sndNxt;
    armRetransmit(this, tcb);
    return true;
  }

  // ---------------------------------------------------------------- timers

  /** @internal */
  onRetransmitTimer(tcb: Tcb): void {
    const now = this.now();
    if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED') {
      if (tcb.backoffCount >= this.opts.synRetries) {
        if (tcb.passive) this.release(tcb, 'timeout');
        else this.closeTcb(tcb, 'timeout', this.timeoutError(tcb, 'no answer to SYN'));
        return;
      }
      tcb.backoffCount++;
      tcb.rto.backoff();
      tcb.rttSeq = -1;
      tcb.synRetransmitted = true;
      tcb.stats.retransmits++;
      tcb.stats.timeouts++;
      this.builder.send(this, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
      restartRetransmit(this, tcb);
      return;
    }
    if (flightSize(tcb) === 0) return;
    if (tcb.backoffCount >= this.opts.maxRetransmits) {
      this.builder.send(this, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
      this.closeTcb(tcb, 'timeout', this.timeoutError(tcb, 'retransmissions went unanswered'));
      return;
    }
    tcb.backoffCount++;
    tcb.stats.timeouts++;
    this.counters.inc('rtoExpiries');
    tcb.probeOutstanding = false;
    tcb.rto.backoff();
    rackOnTimeout(tcb);
    if (!tcb.inRecovery) armUndo(tcb, now, true);
    else tcb.undoAfterRto = true;
    tcb.cc.onRetransmitTimeout(now, flightSize(tcb));
    tcb.inRecovery = false;
    tcb.recover = tcb.sndMax;
    tcb.dupAcks = 0;
    tcb.rttSeq = -1;
    // RFC 6675 §5.1 / RFC 2018 §8: the scoreboard survives the timeout, and the go-back-N below
    // skips what the peer SACKed (tcpOutput), unless the peer may have reneged: it SACKed the byte
    // at SND.UNA yet does not acknowledge it, or this is a repeated timeout (the holes alone were
    // resent and still nothing moved). Then everything is resent, as RFC 2018 asks.
    if (!tcb.sackEnabled || tcb.backoffCount > 1 || tcb.scoreboard.isSacked(tcb.sndUna)) tcb.scoreboard.reset(tcb.sndUna);
    tcb.sndNxt = tcb.sndUna;
    tcpOutput(this, tcb, AckUrgency.NOW);
    if (tcb.rtxTimer?.active !== true) restartRetransmit(this, tcb);
    tcb.stats.cwnd = tcb.cc.cwnd;
  }

  /**
   * The error a timed-out connection reports: the last soft ICMP error if one arrived since SND.UNA
   * last moved (RFC 1122 §4.2.3.9: soft errors are reported when the connection gives up), else
   * `ETIMEDOUT`.
   */
  private timeoutError(tcb: Tcb, what: string): TcpError {
    if (tcb.softError !== undefined && tcb.softErrorUna === tcb.sndUna) {
      return new TcpError(tcb.softError, `${what}; a router reported the destination unreachable`);
    }
    return new TcpError('ETIMEDOUT', what);
  }

  // ---------------------------------------------------------------- ICMP

  /**
   * Receives an ICMP error about a segment this module sent (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927,
   * RFC 1191). The quoted segment names the connection; its sequence number must lie in
   * `SND.UNA..SND.NXT` (the highest sent), else the message is dropped as forged or stale
   * (`icmpOutOfWindow`). Then, per {@link classifyIcmpForTcp}:
   * - fragmentation needed lowers the connection's path MTU and MSS (never raises them; a
   *   reported MTU under {@link TCP_MIN_PMTU} clamps to it and clears DF for the connection) and
   *   resends the flight at once in segments of the new size, without a congestion response
   *   (the loss was the path's MTU, not congestion) and skipping SACKed data;
   * - a hard error in SYN-SENT or SYN-RECEIVED (active) aborts the connection with its code
   *   (`ECONNREFUSED` for port or protocol unreachable); in any other state it is soft;
   * - a soft error is remembered and reported instead of `ETIMEDOUT` if the connection times out
   *   before an ACK of new data shows the path works.
   * Never throws; every outcome is counted.
   */
  icmpError(error: TcpIcmpError): void {
    this.counters.inc('icmpReceived');
    const t = error.transport;
    if (t.byteLength < 8) return this.counters.inc('icmpMalformed');
    const localPort = (t[0]! << 8) | t[1]!;
    const remotePort = (t[2]! << 8) | t[3]!;
    const seq = ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0;
    const tcb = this.table.find(error.source, localPort, error.destination, remotePort);
    if (tcb === undefined || tcb.state === 'TIME-WAIT') return this.counters.inc('icmpNoConnection');
    if (seqLt(seq, tcb.sndUna) || !seqLt(seq, tcb.sndMax)) return this.counters.inc('icmpOutOfWindow');
    const action = classifyIcmpForTcp(error.type, error.code);
    switch (action.kind) {
      case 'ignore':
        return this.counters.inc('icmpIgnored');
      case 'pmtu':
        return this.lowerPathMtu(tcb, error);
      case 'hard':
        if (tcb.state === 'SYN-SENT' || (tcb.state === 'SYN-RECEIVED' && !tcb.passive)) {
          this.counters.inc('icmpHardAborts');
          this.closeTcb(tcb, 'refused', new TcpError(action.code, `a router or the peer answered ICMP type ${error.type} code ${error.code}`));
          return;
        }
        break;
      case 'soft':
        break;
    }
    this.counters.inc('icmpSoftErrors');
    tcb.softError = action.code;
    tcb.softErrorUna = tcb.sndUna;
  }

  /** RFC 1191 for one connection: see {@link Tcp.icmpError}. */
  private lowerPathMtu(tcb: Tcb, error: TcpIcmpError): void {
    const mtu = pmtuFromIcmp(error.nextHopMtu, error.quotedTotalLength);
    if (mtu >= tcb.pathMtu) return this.counters.inc('icmpIgnored');
    if (error.nextHopMtu !== 0 && error.nextHopMtu < TCP_MIN_PMTU) tcb.dontFragment = false;
    this.counters.inc('pmtuDecreases');
    tcb.stats.pmtuDecreases++;
    tcb.pathMtu = mtu;
    tcb.stats.pathMtu = mtu;
    const mss = Math.max(64, mtu - TCP_IP_HEADERS - (tcb.tsEnabled ? TCP_TIMESTAMP_OPTION_SPACE : 0));
    if (mss >= tcb.sendMss) return;
    tcb.sendMss = mss;
    tcb.cc.setMss(mss);
    tcb.scoreboard.mss = mss;
    if (tcb.state === 'SYN-SENT' || tcb.state === 'SYN-RECEIVED' || flightSize(tcb) === 0) return;
    // Every segment in flight was sized for the old MTU and died at the router: resend the flight
    // now in the new size (Linux's tcp_simple_retransmit), Karn's rule applying to what goes again.
    tcb.rttSeq = -1;
    tcb.sndNxt = tcb.sndUna;
    tcb.probeOutstanding = false;
    tcpOutput(this, tcb, AckUrgency.NOW);
    if (tcb.rtxTimer?.active !== true) restartRetransmit(this, tcb);
  }

  /**
   * @internal A tail loss probe (RFC 8985 §7.3): no ACK came within the probe timeout, so one
   * segment goes out to draw one: new data if the peer's window allows, else the last segment
   * again. Then the RTO runs. (The probe's repair of a loss is not treated as a congestion
   * signal: RFC 8985's TLP loss detection is not implemented.)
   */
  onProbeTimer(tcb: Tcb): void {
    if (flightSize(tcb) === 0) return;
    tcb.probeOutstanding = true;
    tcb.stats.tailLossProbes++;
    this.counters.inc('tailLossProbes');
    if (!this.sendNewSegment(tcb)) {
      const start = seqMax(tcb.sndUna, seqAdd(tcb.sndMax, -tcb.sendMss));
      retransmitRange(this, tcb, start, seqSub(tcb.sndMax, start));
    }
    if (tcb.rtxTimer?.active !== true) restartRetransmit(this, tcb);
  }

  /**
   * @internal The RACK reordering timer (RFC 8985 §6.2): segments that were not yet due when the
   * last ACK came are due now; RACK decides again (entering recovery or sending what PRR allows),
   * then the RTO runs again.
   */
  onReorderTimer(tcb: Tcb): void {
    tcb.rtxMode = 'rtx';
    if (flightSize(tcb) === 0 || !tcb.sackEnabled) return;
    tcb.stats.rackReorderTimeouts++;
    this.counters.inc('rackReorderTimeouts');
    restartRetransmit(this, tcb);
    rackDetect(this, tcb, this.now(), 0);
    tcpOutput(this, tcb, AckUrgency.NOW);
  }

  /** @internal */
  onPersistTimer(tcb: Tcb): void {
    if (unsentBytes(tcb) === 0 && !(tcb.finQueued && !tcb.finSent)) return;
    if (tcb.sndWnd > 0) {
      // A usable window too small for sender SWS avoidance: send what fits anyway.
      tcb.forceSend = true;
      this.output(tcb);
      tcb.forceSend = false;
      if (unsentBytes(tcb) > 0 && flightSize(tcb) === 0) armPersist(this, tcb);
      return;
    }
    // Zero-window probe: an old byte's sequence number draws an ACK with the current window.
    tcb.probeCount++;
    tcb.stats.windowProbes++;
    this.builder.send(this, tcb, seqAdd(tcb.sndUna, -1), 0, 0, 0);
    armPersist(this, tcb);
  }

  /** @internal */
  onDelayedAckTimer(tcb: Tcb): void {
    if (tcb.ackUrgency === AckUrgency.NONE) return;
    if (tcpOutput(this, tcb, AckUrgency.DELAYED) > 0) {
      tcb.stats.delayedAckTimeouts++;
      this.counters.inc('delayedAckTimeouts');
    }
  }

  /** @internal */
  onIdleTimer(tcb: Tcb): void {
    switch (tcb.state) {
      case 'TIME-WAIT':
        this.release(tcb, 'normal');
        return;
      case 'FIN-WAIT-2':
        this.closeTcb(tcb, 'timeout');
        return;
      case 'ESTABLISHED':
      case 'CLOSE-WAIT': {
        if (!tcb.keepAlive) return;
        const now = this.now();
        const idle = now - tcb.lastReceivedAt;
        if (idle < tcb.keepAliveIdleMs && tcb.keepAliveProbes === 0) {
          armIdle(this, tcb, tcb.keepAliveIdleMs - idle);
          return;
        }
        if (tcb.keepAliveProbes >= this.opts.keepAliveProbes) {
          this.builder.send(this, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
          this.closeTcb(tcb, 'timeout', new TcpError('ETIMEDOUT', 'keep-alive probes went unanswered'));
          return;
        }
        tcb.keepAliveProbes++;
        this.builder.send(this, tcb, seqAdd(tcb.sndUna, -1), 0, 0, 0);
        armIdle(this, tcb, this.opts.keepAliveIntervalMs);
        return;
      }
      default:
        return;
    }
  }

  /** Every connection and listener, reset; for shutting the module down. */
  shutdown(): void {
    for (const l of this.listeners.all()) l.close();
    for (const tcb of this.table.all()) this.abort(tcb);
  }
}
