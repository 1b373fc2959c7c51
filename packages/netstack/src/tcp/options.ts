/**
 * The configuration of a `Tcp`: the options an application passes ({@link TcpOptions},
 * {@link TcpListenOptions}, {@link TcpConnectOptions}), their defaults, and
 * {@link resolveTcpSettings}, which checks them once and fills in every default, so the rest of
 * the module reads plain numbers.
 */
import type { Ipv4Address } from '@postern/wire';
import { TcpError } from './errors.js';
import type { RtoOptions } from './rto.js';

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

/**
 * The congestion controls a `Tcp` offers: `'newreno'` (RFC 5681, RFC 6582), `'cubic'` (RFC 9438),
 * `'bbr'` (model-based, BBR version 1; needs SACK and runs CUBIC on a connection without it).
 */
export type TcpCongestionName = 'newreno' | 'cubic' | 'bbr';

/** Every {@link TcpCongestionName}. */
export const TCP_CONGESTION_NAMES: readonly TcpCongestionName[] = ['newreno', 'cubic', 'bbr'];

/** Limits, timers and algorithms of a `Tcp`. */
export interface TcpOptions {
  /** Most TCBs at once, TIME-WAIT and SYN-RECEIVED included. Default 4096. */
  maxConnections?: number;
  /** Send buffer of a connection unless its connect or listen options set one, bytes. Default 256 KiB. */
  sendBufferSize?: number;
  /** Receive buffer of a connection (its largest window) unless its connect or listen options set one, bytes. Default 256 KiB. */
  receiveBufferSize?: number;
  /**
   * Largest send or receive buffer one connection may have: sizes set at connect or listen time
   * and later (`TcpConnection.setReceiveBufferSize`, `TcpConnection.setSendBufferSize`)
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
  /**
   * Congestion control. Default `'cubic'` (RFC 9438; faster than NewReno through random loss:
   * measured in tools/bench tcp-loss and on the virtual clock). `'bbr'` (model-based) keeps the
   * path's rate through random loss, where a loss-based algorithm halves its window on each loss:
   * on the virtual clock at 2% loss it keeps over 70% of a 20 Mbit/s bottleneck, more than 1.5
   * times CUBIC's rate on the same path (test/tcp-bbr.test.ts). It needs SACK (a connection without it runs CUBIC)
   * and sends window-limited (no pacing timer).
   */
  congestion?: TcpCongestionName;
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
  /**
   * Header prediction: an ESTABLISHED connection takes a short path for the two segments of a
   * steady exchange (a pure ACK of new data, in-order data with nothing new acknowledged) and the
   * full RFC 9293 checks for every other segment. Its effects are the full path's, frame for frame
   * (test/tcp-header-prediction.test.ts runs the same seeded exchanges both ways). Default true;
   * false sends every segment through the full checks.
   */
  headerPrediction?: boolean;
}

/** Options of `Tcp.listen`. */
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

/** Options of `Tcp.connect`. */
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

/** Every {@link TcpOptions} with its default filled in and checked (each field means what the option of the same name says): what the parts of `Tcp` read. */
export interface TcpSettings {
  readonly maxConnections: number;
  readonly sendBufferSize: number;
  readonly receiveBufferSize: number;
  readonly maxBufferSize: number;
  readonly synBacklog: number;
  readonly acceptBacklog: number;
  readonly synCookies: boolean;
  readonly timeWaitMs: number;
  readonly maxTimeWait: number;
  readonly delayedAckMs: number;
  readonly finWait2TimeoutMs: number;
  readonly maxRetransmits: number;
  readonly synRetries: number;
  readonly rto: RtoOptions;
  readonly congestion: TcpCongestionName;
  readonly keepAliveIdleMs: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveProbes: number;
  readonly ephemeralPorts: readonly [number, number];
  readonly verifyChecksums: boolean;
  readonly headerPrediction: boolean;
}

/**
 * Fills in the defaults of `options` and checks them.
 * @throws {@link TcpError} `EINVAL` when a size or backlog is not a positive integer, or
 *   `maxBufferSize` is smaller than either default buffer size.
 */
export function resolveTcpSettings(options: TcpOptions): TcpSettings {
  const maxConnections = options.maxConnections ?? TCP_DEFAULT_MAX_CONNECTIONS;
  const sendBufferSize = options.sendBufferSize ?? TCP_DEFAULT_BUFFER_SIZE;
  const receiveBufferSize = options.receiveBufferSize ?? TCP_DEFAULT_BUFFER_SIZE;
  const synBacklog = options.synBacklog ?? TCP_DEFAULT_BACKLOG;
  const acceptBacklog = options.acceptBacklog ?? TCP_DEFAULT_BACKLOG;
  for (const [name, v] of [
    ['maxConnections', maxConnections],
    ['sendBufferSize', sendBufferSize],
    ['receiveBufferSize', receiveBufferSize],
    ['synBacklog', synBacklog],
    ['acceptBacklog', acceptBacklog],
  ] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new TcpError('EINVAL', `${name} must be a positive integer, got ${v}`);
  }
  const largestDefault = Math.max(sendBufferSize, receiveBufferSize);
  const maxBufferSize = options.maxBufferSize ?? largestDefault;
  if (!(Number.isInteger(maxBufferSize) && maxBufferSize >= largestDefault)) {
    throw new TcpError(
      'EINVAL',
      `maxBufferSize must be an integer no smaller than the buffer sizes (${largestDefault}), got ${maxBufferSize}`,
    );
  }
  const congestion = options.congestion ?? 'cubic';
  if (!TCP_CONGESTION_NAMES.includes(congestion)) {
    throw new TcpError(
      'EINVAL',
      `congestion must be one of ${TCP_CONGESTION_NAMES.join(', ')}, got ${String(congestion)}`,
    );
  }
  return {
    maxConnections,
    sendBufferSize,
    receiveBufferSize,
    maxBufferSize,
    synBacklog,
    acceptBacklog,
    synCookies: options.synCookies ?? true,
    timeWaitMs: options.timeWaitMs ?? TCP_DEFAULT_TIME_WAIT_MS,
    maxTimeWait: options.maxTimeWait ?? Math.max(1, maxConnections >>> 1),
    delayedAckMs: Math.min(200, options.delayedAckMs ?? TCP_DEFAULT_DELAYED_ACK_MS),
    finWait2TimeoutMs: options.finWait2TimeoutMs ?? 60_000,
    maxRetransmits: options.maxRetransmits ?? 12,
    synRetries: options.synRetries ?? 5,
    rto: options.rto ?? {},
    congestion,
    keepAliveIdleMs: options.keepAliveIdleMs ?? 7_200_000,
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? 75_000,
    keepAliveProbes: options.keepAliveProbes ?? 9,
    ephemeralPorts: options.ephemeralPorts ?? [49_152, 65_535],
    verifyChecksums: options.verifyChecksums ?? true,
    headerPrediction: options.headerPrediction ?? true,
  };
}
