/**
 * {@link SerialNicDriver}: the host half of the serial device protocol (docs/device-protocol.md), a
 * {@link NicDriver} for a dev board that bridges an Ethernet MAC/PHY over USB CDC-ACM.
 *
 * Contract, beyond {@link NicDriver}:
 * - `open()` opens the byte stream, performs the HELLO exchange (rejecting with `PROTOCOL_VERSION`
 *   when no version is shared), reads the MAC address and the link status, then applies the last
 *   receive filter set. Each control request is retried `retries` times after `requestTimeoutMs`
 *   without an answer, then fails with `NO_ANSWER`. Open errors: `DEVICE_NOT_FOUND`,
 *   `PERMISSION_DENIED`, `DEVICE_BUSY`, `BAD_ARGUMENT` (endpoint syntax), `PROTOCOL_ERROR`.
 * - Transmit honours the board's DATA credits (§7): frames wait in a bounded queue
 *   (`txQueueFrames`) until the board has room; a full queue refuses the frame and counts
 *   `txDroppedQueueFull`. Queued frames go out in one batched write per microtask, and not while
 *   the stream signals backpressure. A credit stall longer than `creditProbeMs` sends GET_CREDIT.
 * - All time comes from the {@link SchedulerApi} given in the options (`timerAfter` for request
 *   timeouts and credit probes); the driver never reads a clock. I/O-driven work (decoding, batching
 *   writes) runs in stream callbacks and microtasks.
 * - Received DATA frames are delivered from the stream's data callback, one call per frame, as
 *   views into slabs the driver never touches again (the receiver owns them). A frame whose FCS fails
 *   on the serial line is dropped and counted (decoder `badFcs`), like a MAC drops a bad frame.
 * - Reconnection (docs/device-protocol.md §13), unless `reconnect: false`: once open, the driver keeps
 *   its session. When the port closes or fails (USB unplug: the device, PTY or socket disappears) it
 *   drops the port; when the board loses the session while the port stays (it answers NOT_READY,
 *   announces a restart with an unsolicited HELLO, or leaves a request unanswered after every
 *   resend) it keeps the port. Either way the link goes down (one link event), the TX queue is
 *   dropped and counted (`txDroppedDisconnect`), outstanding requests fail with `CLOSED`, and the
 *   driver tries again after a backoff (`initialDelayMs` doubling up to `maxDelayMs`, shortened by up
 *   to `jitter` of itself with the scheduler's seeded generator): reopen the port if it was dropped,
 *   HELLO, GET_MAC, GET_LINK (SET_LINK down instead when the caller had taken the link down), the
 *   receive filter, then the link comes back up. It retries until it
 *   succeeds or `close()` is called; `close()` cancels the backoff timer and any attempt in flight.
 *   An endpoint given as an open stream cannot be reopened: losing that stream closes the driver
 *   (pass a function that returns a fresh stream instead). {@link SerialNicDriver.connection} and
 *   {@link SerialNicDriver.onConnectionChange} report the state (one event per change, not per
 *   attempt); `serialStats` counts disconnects, attempts, reconnects and re-HELLOs.
 * - `keepaliveMs` (default off): while open, every `keepaliveMs` with no request outstanding the driver
 *   sends GET_LINK, so that a board that restarted silently (it then forwards nothing) is noticed even
 *   when the host sends nothing.
 */
import type { SchedulerApi, Timer } from '@postern/irq';
import {
  SerialFrameDecoder,
  encodeSerialFrame,
  encodeSerialFrameToBytes,
  maxEncodedLength,
  serialProtocol,
} from '@postern/wire';
import type {
  DecodedSerialFrame,
  MacAddress,
  SerialBoardStats,
  SerialDecoderErrors,
  SerialHelloResponse as HelloResponse,
  SerialLinkStatus as LinkStatus,
  SerialRxFilterResponse as RxFilterResponse,
} from '@postern/wire';
import { NicError, newDriverStats } from '../driver.js';
import type { DriverStats, LinkState, NicDriver, ReceiveFilter } from '../driver.js';
import { FrameFifo, SlabAllocator } from './fifo.js';
import { openTransport } from './transport.js';
import type { OpenedTransport, SerialEndpoint } from './transport.js';

/** The protocol's names this module uses (`@postern/wire`'s `serialProtocol`). */
const {
  ALL_CAPABILITIES,
  FrameFlag,
  FrameType,
  ProtocolError,
  SERIAL_MAX_PAYLOAD,
  SERIAL_MIN_DATA_PAYLOAD,
  SERIAL_PROTOCOL_VERSION,
  emitHelloRequest,
  emitRxFilterRequest,
  emitSetLink,
  parseCredit,
  parseError,
  parseHelloResponse,
  parseLinkStatus,
  parseMac6,
  parseRxFilterResponse,
  parseStats,
  seqBeforeLimit,
} = serialProtocol;

/** Options for a {@link SerialNicDriver}. */
export interface SerialNicDriverOptions {
  /** `/dev/ttyACM0` (any device path), `socket://HOST:PORT`, or an open duplex stream (in-process). */
  endpoint: SerialEndpoint;
  /** Source of time for timeouts (use a real-clock scheduler in production). */
  scheduler: SchedulerApi;
  /** Driver name for logs and errors. Default `serial0`. */
  name?: string;
  /** UART baud rate; ignored by CDC-ACM devices and PTYs. Default 921600. */
  baudRate?: number;
  /** Time to wait for a response before resending a request. Default 250 ms. */
  requestTimeoutMs?: number;
  /** Resends of a request before it fails with NO_ANSWER. Default 3. */
  retries?: number;
  /** Frames that may wait for credit or for the stream. Default 256. */
  txQueueFrames?: number;
  /**
   * Largest single write of batched DATA frames. Default 4 KiB on a serial port (larger writes hit
   * EAGAIN in the `serialport` binding more often; before the poller fix in poller-wakeups.ts each such
   * wait could stall until the board sent a byte), 64 KiB on a socket or stream.
   */
  maxBatchBytes?: number;
  /** How long transmit may stall on credit before the driver asks for it (GET_CREDIT). Default 50 ms. */
  creditProbeMs?: number;
  /** Largest DATA payload (Ethernet frame with FCS) the host accepts, sent in HELLO. Default 1522. */
  maxFrame?: number;
  /** Oldest and newest protocol versions to offer in HELLO. Default 1..1. */
  versions?: { min: number; max: number };
  /** How to get the session back after it is lost (see the module contract); `false`: do not, close instead. Default on. */
  reconnect?: SerialReconnectOptions | false;
  /** While open, send GET_LINK every this many ms when no request is outstanding (0: never). Default 0. */
  keepaliveMs?: number;
}

/** Backoff of {@link SerialNicDriver}'s reconnection. */
export interface SerialReconnectOptions {
  /** Wait before the first attempt. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest wait between attempts; the wait doubles per failed attempt up to this. Default 5000 ms. */
  maxDelayMs?: number;
  /** Each wait is shortened by up to this fraction of itself, drawn from the scheduler's seeded generator (0..1). Default 0.2. */
  jitter?: number;
}

/**
 * Where a {@link SerialNicDriver} stands: `closed` (not opened, closed by the caller, or its stream
 * ended and cannot be reopened), `opening` (the caller's `open()`), `open` (a session with the board),
 * `reconnecting` (the session was lost; waiting in backoff or trying).
 */
export type SerialConnectionState = 'closed' | 'opening' | 'open' | 'reconnecting';

/** A snapshot of a {@link SerialNicDriver}'s connection, as {@link SerialNicDriver.connection} returns it. */
export interface SerialConnectionInfo {
  /** The state. */
  readonly state: SerialConnectionState;
  /** Attempts made since the session was last lost; while open, how many the last reconnection took (0 if none). */
  readonly attempts: number;
  /** Scheduler time of the next attempt while waiting in backoff, else undefined. */
  readonly nextAttemptAt: number | undefined;
  /** Why the session was last lost, or why the last attempt failed; undefined before any loss. */
  readonly lastError: string | undefined;
}

/** Serial-specific counters, besides {@link DriverStats}. */
export interface SerialDriverStats {
  /** Frames the decoder discarded, by reason. */
  decoder: Readonly<SerialDecoderErrors>;
  /** DATA frames from the board missing by sequence number (lost on the line). */
  rxSeqGaps: number;
  /** DATA frames that arrived while the driver was not open. */
  rxDroppedNotOpen: number;
  /** Times transmit found frames queued and no credit. */
  creditStalls: number;
  /** GET_CREDIT probes sent after a stall. */
  creditProbes: number;
  /** Request resends after a timeout. */
  requestRetries: number;
  /** Requests that failed with NO_ANSWER. */
  requestTimeouts: number;
  /** Error responses, unparseable payloads and frames the host does not expect. */
  protocolErrors: number;
  /** Responses that matched no outstanding request (late answers to a resend). */
  staleResponses: number;
  /** Errors the stream reported. */
  streamErrors: number;
  /** Sessions lost while open: the port closed or failed, or the board lost the session. */
  disconnects: number;
  /** Attempts to get a lost session back (each reopens the port if needed, then HELLOs). */
  reconnectAttempts: number;
  /** Sessions got back (the link state is the board's again). */
  reconnects: number;
  /** Of those, sessions started again with HELLO on a port that stayed open (the board had restarted). */
  reHellos: number;
  /** Frames waiting in the TX queue when the session was lost (dropped). */
  txDroppedDisconnect: number;
}

interface PendingRequest {
  readonly type: number;
  readonly seq: number;
  readonly bytes: Uint8Array;
  attemptsLeft: number;
  timer: Timer | undefined;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (err: NicError) => void;
}

type State = SerialConnectionState;

interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
}

const NO_LINK: LinkStatus = { up: false, adminUp: true, fullDuplex: false, speedMbps: 0 };

/** The host driver for the serial USB Ethernet device. See the module contract. */
export class SerialNicDriver implements NicDriver {
  readonly name: string;
  private macAddress: MacAddress = 0;
  private maxFrameNegotiated: number;
  private state: State = 'closed';
  private link: LinkStatus = NO_LINK;
  private readonly driverStats: DriverStats = newDriverStats();
  private readonly extra: Omit<SerialDriverStats, 'decoder'> = {
    rxSeqGaps: 0,
    rxDroppedNotOpen: 0,
    creditStalls: 0,
    creditProbes: 0,
    requestRetries: 0,
    requestTimeouts: 0,
    protocolErrors: 0,
    staleResponses: 0,
    streamErrors: 0,
    disconnects: 0,
    reconnectAttempts: 0,
    reconnects: 0,
    reHellos: 0,
    txDroppedDisconnect: 0,
  };
  private readonly reconnectPolicy: ReconnectPolicy | undefined;
  private readonly keepaliveMs: number;
  private keepaliveTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private nextAttemptAt: number | undefined;
  private attempt: Promise<void> | undefined;
  private attempts = 0;
  private lastError: string | undefined;
  private readonly connectionListeners: Array<(info: SerialConnectionInfo) => void> = [];
  private readonly scheduler: SchedulerApi;
  private readonly endpoint: SerialEndpoint;
  private readonly baudRate: number;
  private readonly requestTimeoutMs: number;
  private readonly retries: number;
  private readonly maxBatchOption: number | undefined;
  private maxBatchBytes = 64 * 1024;
  private readonly creditProbeMs: number;
  private readonly hostMaxFrame: number;
  private readonly versions: { min: number; max: number };
  private readonly decoder: SerialFrameDecoder;
  private readonly txQueue: FrameFifo;
  private readonly slab = new SlabAllocator();
  private transport: OpenedTransport | undefined;
  private openPromise: Promise<void> | undefined;
  private receiver: (frame: Uint8Array) => void = () => {};
  private linkListener: (state: LinkState) => void = () => {};
  private filter: ReceiveFilter | undefined;
  private hello: HelloResponse | undefined;
  private readonly requests: PendingRequest[] = [];
  private nextRequestSeq = 1;
  private txSeq = 0;
  private creditLimit = 0;
  private rxExpected = 0;
  private flushQueued = false;
  private writeBlocked = false;
  private stalled = false;
  private probeTimer: Timer | undefined;
  private lastFilterResponse: RxFilterResponse | undefined;
  /** The caller took the link down with SET_LINK (restored after a reconnection). */
  private adminDown = false;
  private readonly onData = (chunk: Uint8Array): void => this.decoder.push(chunk);
  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.flush();
  };
  private readonly onStreamError = (err: unknown): void => {
    this.extra.streamErrors++;
    this.driverStats.errors++;
    this.streamEnded(`port error: ${err instanceof Error ? err.message : String(err)}`);
  };
  private readonly onStreamClose = (err?: unknown): void =>
    this.streamEnded(err instanceof Error ? `port closed: ${err.message}` : 'port closed');
  private readonly flushFn = (): void => this.flush();

  constructor(options: SerialNicDriverOptions) {
    this.name = options.name ?? 'serial0';
    this.scheduler = options.scheduler;
    this.endpoint = options.endpoint;
    this.baudRate = options.baudRate ?? 921_600;
    this.requestTimeoutMs = positive(options.requestTimeoutMs ?? 250, 'requestTimeoutMs', this.name);
    this.retries = nonNegativeInt(options.retries ?? 3, 'retries', this.name);
    this.maxBatchOption =
      options.maxBatchBytes === undefined ? undefined : positive(options.maxBatchBytes, 'maxBatchBytes', this.name);
    this.creditProbeMs = positive(options.creditProbeMs ?? 50, 'creditProbeMs', this.name);
    this.hostMaxFrame = options.maxFrame ?? 1522;
    if (!Number.isInteger(this.hostMaxFrame) || this.hostMaxFrame < 64 || this.hostMaxFrame > SERIAL_MAX_PAYLOAD) {
      throw new NicError('BAD_ARGUMENT', this.name, `maxFrame must be an integer in 64..${SERIAL_MAX_PAYLOAD}`);
    }
    this.maxFrameNegotiated = Math.min(this.hostMaxFrame, 1518);
    this.versions = options.versions ?? { min: SERIAL_PROTOCOL_VERSION, max: SERIAL_PROTOCOL_VERSION };
    this.txQueue = new FrameFifo(positiveInt(options.txQueueFrames ?? 256, 'txQueueFrames', this.name));
    this.reconnectPolicy =
      options.reconnect === false ? undefined : reconnectPolicyOf(options.reconnect ?? {}, this.name);
    this.keepaliveMs = options.keepaliveMs ?? 0;
    if (!(this.keepaliveMs >= 0) || !Number.isFinite(this.keepaliveMs))
      throw new NicError(
        'BAD_ARGUMENT',
        this.name,
        `keepaliveMs must be a finite number >= 0, got ${this.keepaliveMs}`,
      );
    this.decoder = new SerialFrameDecoder({
      onFrame: (f) => this.handleFrame(f),
      onUnknown: () => {},
      onError: () => {
        this.driverStats.errors++;
      },
    });
  }

  /** The station MAC address the board reported (0 before the first open). */
  get mac(): MacAddress {
    return this.macAddress;
  }

  /** The board's MTU: its largest DATA payload minus the Ethernet header and FCS (1500 by default). */
  get mtu(): number {
    return this.maxFrameNegotiated - 18;
  }

  /** `up` when the board reports carrier and the driver is open. */
  get linkState(): LinkState {
    return this.state === 'open' && this.link.up ? 'up' : 'down';
  }

  /** The generic driver counters. */
  get stats(): Readonly<DriverStats> {
    return this.driverStats;
  }

  /** Serial-specific counters. */
  get serialStats(): Readonly<SerialDriverStats> {
    return { ...this.extra, decoder: this.decoder.errors };
  }

  /** What HELLO negotiated (undefined before the first successful open). */
  get negotiated(): Readonly<HelloResponse> | undefined {
    return this.hello;
  }

  /** The full link status last reported by the board. */
  get linkStatus(): Readonly<LinkStatus> {
    return this.link;
  }

  /** The connection state, attempts since the session was lost, the next attempt's time and the last error. */
  get connection(): SerialConnectionInfo {
    return { state: this.state, attempts: this.attempts, nextAttemptAt: this.nextAttemptAt, lastError: this.lastError };
  }

  /**
   * Adds a listener for connection state changes: called once when the session is lost (state
   * `reconnecting`, or `closed` when it cannot come back) and once when it is back (`open`). Not
   * called per attempt, nor for the caller's own `open()` and `close()`.
   */
  onConnectionChange(listener: (info: SerialConnectionInfo) => void): void {
    this.connectionListeners.push(listener);
  }

  /** The filter the board confirmed last (flags and multicast count in effect), if any. */
  get receiveFilterInEffect(): Readonly<RxFilterResponse> | undefined {
    return this.lastFilterResponse;
  }

  /**
   * Opens the endpoint and performs the session start (see the module contract). Idempotent while
   * open, and while reconnecting (the driver is open; the session comes back by itself).
   */
  open(): Promise<void> {
    if (this.state === 'open' || this.state === 'reconnecting') return Promise.resolve();
    if (this.openPromise !== undefined) return this.openPromise;
    this.openPromise = this.doOpen().finally(() => {
      this.openPromise = undefined;
    });
    return this.openPromise;
  }

  private async doOpen(): Promise<void> {
    this.state = 'opening';
    let transport: OpenedTransport;
    try {
      transport = await openTransport(this.endpoint, { name: this.name, baudRate: this.baudRate });
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    if (this.state !== 'opening') {
      // close() was called meanwhile.
      await transport.close();
      throw new NicError('CLOSED', this.name, 'closed while opening');
    }
    this.attach(transport);
    try {
      await this.startSession();
      const status = parseLinkStatus(await this.request(FrameType.GET_LINK, EMPTY));
      this.state = 'open';
      this.attempts = 0;
      this.sessionUp(status);
    } catch (err) {
      await this.teardown();
      throw toNicError(err, this.name);
    }
  }

  /** Takes `transport` as the driver's byte stream. */
  private attach(transport: OpenedTransport): void {
    this.transport = transport;
    this.maxBatchBytes = Math.max(
      maxEncodedLength(SERIAL_MAX_PAYLOAD),
      this.maxBatchOption ?? (transport.kind === 'serial' ? 4096 : 64 * 1024),
    );
    this.decoder.reset();
    const s = transport.stream;
    s.on('data', this.onData);
    s.on('drain', this.onDrain);
    s.on('error', this.onStreamError);
    s.on('close', this.onStreamClose);
  }

  /** The session is (again) established: the board's link status, the receive filter, the keepalive. */
  private sessionUp(status: LinkStatus): void {
    this.applyLinkStatus(status);
    if (this.filter !== undefined) this.sendFilter(this.filter);
    this.armKeepalive();
  }

  /** HELLO, version check, GET_MAC; resets sequence numbers and credit. */
  private async startSession(): Promise<void> {
    const payload = emitHelloRequest({
      minVersion: this.versions.min,
      maxVersion: this.versions.max,
      maxFrame: this.hostMaxFrame,
      capabilities: ALL_CAPABILITIES,
    });
    const hello = parseHelloResponse(await this.request(FrameType.HELLO, payload));
    if (hello.version < this.versions.min || hello.version > this.versions.max) {
      throw new NicError(
        'PROTOCOL_VERSION',
        this.name,
        `board chose version ${hello.version}, host speaks ${this.versions.min}..${this.versions.max}`,
      );
    }
    this.hello = hello;
    this.maxFrameNegotiated = Math.min(hello.maxFrame, this.hostMaxFrame);
    this.txSeq = 0;
    this.rxExpected = 0;
    this.creditLimit = hello.window;
    this.macAddress = parseMac6(await this.request(FrameType.GET_MAC, EMPTY));
  }

  /**
   * Brings the driver down: fails outstanding requests with CLOSED, drops queued frames, stops any
   * reconnection (its timer and the attempt in flight), closes the stream. Idempotent.
   */
  async close(): Promise<void> {
    const attempt = this.attempt;
    if (this.state === 'closed' && this.transport === undefined && attempt === undefined) return;
    const wasUp = this.linkState === 'up';
    this.state = 'closed';
    await this.teardown();
    // An attempt in flight sees the state and releases whatever it opened before it settles.
    if (attempt !== undefined) await attempt;
    if (wasUp) this.linkChanged();
  }

  private async teardown(): Promise<void> {
    this.state = 'closed';
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.nextAttemptAt = undefined;
    this.link = NO_LINK;
    this.endSession(new NicError('CLOSED', this.name, 'driver closed'));
    await this.releaseTransport();
  }

  /** Ends the session's state: fails outstanding requests with `err`, drops the TX queue, disarms the timers. */
  private endSession(err: NicError): void {
    this.failRequests(err);
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
    this.keepaliveTimer?.cancel();
    this.keepaliveTimer = undefined;
    this.stalled = false;
    this.txQueue.clear();
    this.writeBlocked = false;
  }

  /** Detaches from the stream and closes it (resolves when closed). No-op without one. */
  private async releaseTransport(): Promise<void> {
    const t = this.transport;
    this.transport = undefined;
    if (t === undefined) return;
    const s = t.stream;
    s.off('data', this.onData);
    s.off('drain', this.onDrain);
    s.off('close', this.onStreamClose);
    // The error listener stays: a write still in flight may fail after the close, and must not crash.
    s.off('error', this.onStreamError);
    s.on('error', ignoreError);
    await t.close();
  }

  /** The stream closed or failed under us (device unplugged, simulator gone). */
  private streamEnded(reason: string): void {
    if (this.transport === undefined) return;
    switch (this.state) {
      case 'open':
        this.sessionLost(reason, true);
        return;
      case 'reconnecting':
        // An attempt on this stream fails (its requests get CLOSED) and the next one reopens the port.
        this.lastError = reason;
        this.endSession(new NicError('CLOSED', this.name, reason));
        void this.releaseTransport();
        return;
      default: {
        // Opening: the open fails with CLOSED. Closed: nothing left to do but release it.
        const wasUp = this.linkState === 'up';
        void this.teardown();
        if (wasUp) this.linkChanged();
      }
    }
  }

  /**
   * The open session is gone: the port (`dropPort`) or the board's session. Link down, queue dropped
   * and counted, requests failed; then reconnection starts, or the driver closes when it cannot.
   */
  private sessionLost(reason: string, dropPort: boolean): void {
    if (this.state !== 'open') return;
    const wasUp = this.linkState === 'up';
    this.extra.disconnects++;
    this.extra.txDroppedDisconnect += this.txQueue.length;
    this.lastError = reason;
    this.attempts = 0;
    this.link = NO_LINK;
    const canReopen = typeof this.endpoint !== 'object';
    if (this.reconnectPolicy === undefined || (dropPort && !canReopen)) {
      void this.teardown();
      if (wasUp) this.linkChanged();
      this.connectionChanged();
      return;
    }
    this.state = 'reconnecting';
    this.endSession(new NicError('CLOSED', this.name, `session lost (${reason}); reconnecting`));
    if (dropPort) void this.releaseTransport();
    if (wasUp) this.linkChanged();
    this.connectionChanged();
    // A listener may have closed the driver.
    if (this.state === 'reconnecting') this.scheduleAttempt();
  }

  /**
   * The board lost the session while the port stayed open: when open and reconnecting is on, starts
   * a new session on the same port and returns true; otherwise false (the caller carries on).
   */
  private boardLostSession(reason: string): boolean {
    if (this.state !== 'open' || this.reconnectPolicy === undefined) return false;
    this.sessionLost(reason, false);
    return true;
  }

  /** Arms the backoff timer for the next attempt. */
  private scheduleAttempt(): void {
    const p = this.reconnectPolicy!;
    const base = Math.min(p.maxDelayMs, p.initialDelayMs * 2 ** Math.min(this.attempts, 30));
    const delay = base * (1 - p.jitter * this.scheduler.random());
    this.nextAttemptAt = this.scheduler.now + delay;
    this.retryTimer = this.scheduler.timerAfter(delay, () => {
      this.retryTimer = undefined;
      this.nextAttemptAt = undefined;
      const attempt = this.reconnectOnce().finally(() => {
        if (this.attempt === attempt) this.attempt = undefined;
      });
      this.attempt = attempt;
    });
  }

  /** One attempt: reopen the port if it was dropped, then the session start; another backoff on failure. Never rejects. */
  private async reconnectOnce(): Promise<void> {
    if (this.state !== 'reconnecting') return;
    this.attempts++;
    this.extra.reconnectAttempts++;
    const portKept = this.transport !== undefined;
    try {
      if (!portKept) {
        const transport = await openTransport(this.endpoint, { name: this.name, baudRate: this.baudRate });
        if (this.state !== 'reconnecting') {
          await transport.close();
          return;
        }
        this.attach(transport);
      }
      await this.startSession();
      // A restarted board is administratively up again: restore what the caller had set.
      const status = parseLinkStatus(
        this.adminDown
          ? await this.request(FrameType.SET_LINK, emitSetLink(false))
          : await this.request(FrameType.GET_LINK, EMPTY),
      );
      if (this.state !== 'reconnecting') return;
      this.state = 'open';
      this.extra.reconnects++;
      if (portKept) this.extra.reHellos++;
      this.sessionUp(status);
      this.connectionChanged();
    } catch (err) {
      if (this.state !== 'reconnecting') return;
      this.lastError = err instanceof Error ? err.message : String(err);
      // A port whose board answers nothing may be a stale handle (the device came back under the same
      // path as a new one): the next attempt opens it afresh, when the endpoint can be reopened.
      if (err instanceof NicError && err.code === 'NO_ANSWER' && typeof this.endpoint !== 'object')
        void this.releaseTransport();
      this.scheduleAttempt();
    }
  }

  private connectionChanged(): void {
    const info = this.connection;
    for (const listener of this.connectionListeners) listener(info);
  }

  /** Arms the keepalive (GET_LINK after `keepaliveMs` with no request), when configured and open. */
  private armKeepalive(): void {
    if (this.keepaliveMs === 0 || this.state !== 'open') return;
    this.keepaliveTimer?.cancel();
    this.keepaliveTimer = this.scheduler.timerAfter(this.keepaliveMs, () => {
      this.keepaliveTimer = undefined;
      if (this.state !== 'open') return;
      if (this.requests.length > 0) {
        this.armKeepalive();
        return;
      }
      this.request(FrameType.GET_LINK, EMPTY).then(
        (p) => {
          if (this.state !== 'open') return;
          try {
            this.applyLinkStatus(parseLinkStatus(p));
          } catch {
            this.protocolError();
          }
          this.armKeepalive();
        },
        () => this.armKeepalive(),
      );
    });
  }

  /** Queues one wire frame for the board. See the module contract for when it returns false. */
  transmit(frame: Uint8Array): boolean {
    const st = this.driverStats;
    if (this.state !== 'open' || !this.link.up) {
      st.txDroppedLinkDown++;
      return false;
    }
    if (frame.length < SERIAL_MIN_DATA_PAYLOAD || frame.length > this.maxFrameNegotiated) {
      st.txDroppedBadLength++;
      return false;
    }
    if (!this.txQueue.push(frame)) {
      st.txDroppedQueueFull++;
      return false;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushFn);
    }
    return true;
  }

  /** Sets the receiver of wire frames. */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** Sets the link change listener. */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListener = listener;
  }

  /**
   * Sends SET_RX_FILTER (now if open, else at the next open, and again after {@link resetDevice}).
   * Failures are counted in `errors` and `protocolErrors`; {@link receiveFilterInEffect} shows the result.
   */
  setReceiveFilter(filter: ReceiveFilter): void {
    this.filter = {
      promiscuous: filter.promiscuous,
      allMulticast: filter.allMulticast,
      multicast: new Set(filter.multicast),
    };
    if (this.state === 'open') this.sendFilter(this.filter);
  }

  /** Reads the board's counters (GET_STATS). Rejects with NicError (CLOSED, NO_ANSWER, PROTOCOL_ERROR). */
  async readDeviceStats(): Promise<SerialBoardStats> {
    this.requireOpen();
    return parseStats(await this.request(FrameType.GET_STATS, EMPTY));
  }

  /** Sets the board's administrative link state (SET_LINK) and returns the status it reports. */
  async setAdminLink(up: boolean): Promise<Readonly<LinkStatus>> {
    this.requireOpen();
    const status = parseLinkStatus(await this.request(FrameType.SET_LINK, emitSetLink(up)));
    this.adminDown = !up;
    this.applyLinkStatus(status);
    return status;
  }

  /**
   * Resets the board (RESET): it drops its queues and restores its default filter; the driver drops its
   * TX queue, restarts sequence numbers and credit, and re-applies the receive filter.
   */
  async resetDevice(): Promise<void> {
    this.requireOpen();
    this.txQueue.clear();
    await this.request(FrameType.RESET, EMPTY);
    this.adminDown = false; // RESET sets the link administratively up (§6.8)
    this.applyLinkStatus(parseLinkStatus(await this.request(FrameType.GET_LINK, EMPTY)));
    if (this.filter !== undefined) this.sendFilter(this.filter);
  }

  private requireOpen(): void {
    if (this.state !== 'open') throw new NicError('CLOSED', this.name, 'driver is not open');
  }

  private sendFilter(filter: ReceiveFilter): void {
    const payload = emitRxFilterRequest({
      promiscuous: filter.promiscuous,
      allMulticast: filter.allMulticast,
      multicast: [...filter.multicast].sort((a, b) => a - b),
    });
    this.request(FrameType.SET_RX_FILTER, payload).then(
      (p) => {
        try {
          this.lastFilterResponse = parseRxFilterResponse(p);
        } catch {
          this.protocolError();
        }
      },
      (err: unknown) => {
        if (err instanceof NicError && err.code === 'CLOSED') return;
        this.protocolError();
      },
    );
  }

  private protocolError(): void {
    this.extra.protocolErrors++;
    this.driverStats.errors++;
  }

  // ---- control requests -------------------------------------------------------------------

  /** Sends a request (serialized: one outstanding at a time) and resolves with a copy of the response payload. */
  private request(type: number, payload: Uint8Array): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const seq = this.nextRequestSeq;
      this.nextRequestSeq = (seq + 1) & 0xffff;
      const bytes = encodeSerialFrameToBytes({ type, flags: 0, seq, payload });
      this.requests.push({ type, seq, bytes, attemptsLeft: this.retries + 1, timer: undefined, resolve, reject });
      if (this.requests.length === 1) this.sendActive();
    });
  }

  private sendActive(): void {
    const r = this.requests[0];
    if (r === undefined) return;
    if (this.transport === undefined) {
      this.failRequests(new NicError('CLOSED', this.name, 'driver closed'));
      return;
    }
    r.attemptsLeft--;
    this.transport.stream.write(r.bytes);
    r.timer = this.scheduler.timerAfter(this.requestTimeoutMs, () => this.requestTimedOut(r));
  }

  private requestTimedOut(r: PendingRequest): void {
    if (this.requests[0] !== r) return;
    r.timer = undefined;
    if (r.attemptsLeft > 0) {
      this.extra.requestRetries++;
      this.sendActive();
      return;
    }
    this.extra.requestTimeouts++;
    this.driverStats.errors++;
    this.requests.shift();
    const err = new NicError(
      'NO_ANSWER',
      this.name,
      `no answer to request type 0x${r.type.toString(16)} after ${this.retries + 1} attempts of ${this.requestTimeoutMs} ms`,
    );
    r.reject(err);
    // A board that answers nothing has lost the session (or hangs): start a new one.
    if (this.boardLostSession('board stopped answering')) return;
    this.sendActive();
  }

  private failRequests(err: NicError): void {
    const all = this.requests.splice(0);
    for (const r of all) {
      r.timer?.cancel();
      r.reject(err);
    }
  }

  private handleResponse(f: DecodedSerialFrame): void {
    const r = this.requests[0];
    if (r === undefined || r.type !== f.type || r.seq !== f.seq) {
      this.extra.staleResponses++;
      return;
    }
    this.requests.shift();
    r.timer?.cancel();
    if ((f.flags & FrameFlag.ERROR) === 0 && (f.type === FrameType.RESET || f.type === FrameType.HELLO)) {
      // A new session starts with this very frame: DATA after it in the same chunk already counts from 0.
      this.txSeq = 0;
      this.rxExpected = 0;
      if (f.type === FrameType.RESET) this.creditLimit = this.hello?.window ?? 1;
    }
    if ((f.flags & FrameFlag.ERROR) !== 0) {
      this.protocolError();
      r.reject(this.errorFromResponse(f));
      // NOT_READY: the board restarted and waits for HELLO (§6.2); start a new session on the same port.
      if (errorCodeOf(f.payload) === ProtocolError.NOT_READY && this.boardLostSession('board not ready (it restarted)'))
        return;
    } else {
      r.resolve(f.payload.slice());
    }
    this.sendActive();
  }

  private errorFromResponse(f: DecodedSerialFrame): NicError {
    let code = 0;
    let detail = 0;
    try {
      ({ code, detail } = parseError(f.payload));
    } catch {
      // An unparseable error payload is still an error.
    }
    const what = `request type 0x${f.type.toString(16)}`;
    switch (code) {
      case ProtocolError.UNSUPPORTED_VERSION:
        return new NicError(
          'PROTOCOL_VERSION',
          this.name,
          `board speaks protocol versions ${detail >>> 8}..${detail & 0xff}, host ${this.versions.min}..${this.versions.max}`,
        );
      case ProtocolError.BUSY:
        return new NicError('DEVICE_BUSY', this.name, `${what}: board busy`);
      case ProtocolError.NOT_READY:
        return new NicError(
          'PROTOCOL_ERROR',
          this.name,
          `${what}: board not ready (no session: it restarted)${this.reconnectPolicy === undefined ? '' : '; the driver starts a new session'}`,
        );
      case ProtocolError.BAD_ARGUMENT:
      case ProtocolError.BAD_LENGTH:
        return new NicError('BAD_ARGUMENT', this.name, `${what}: board refused the arguments (error ${code})`);
      default:
        return new NicError('PROTOCOL_ERROR', this.name, `${what}: board answered error ${code} (detail ${detail})`);
    }
  }

  // ---- receive ------------------------------------------------------------------------------

  private handleFrame(f: DecodedSerialFrame): void {
    if ((f.flags & FrameFlag.RESPONSE) !== 0) {
      this.handleResponse(f);
      return;
    }
    switch (f.type) {
      case FrameType.DATA:
        this.receiveData(f);
        return;
      case FrameType.CREDIT:
        try {
          this.updateCredit(parseCredit(f.payload).limit);
        } catch {
          this.protocolError();
        }
        return;
      case FrameType.HELLO:
        // A board's restart announcement (§13): start a new session; while opening, one is under way.
        this.boardLostSession('board announced a restart');
        return;
      case FrameType.LINK_EVENT:
        if (this.state !== 'open') return;
        try {
          this.applyLinkStatus(parseLinkStatus(f.payload));
        } catch {
          this.protocolError();
        }
        return;
      default:
        // A request from the board: not part of the protocol.
        this.protocolError();
    }
  }

  private receiveData(f: DecodedSerialFrame): void {
    if (this.state !== 'open') {
      this.extra.rxDroppedNotOpen++;
      return;
    }
    const gap = (f.seq - this.rxExpected) & 0xffff;
    if (gap !== 0 && gap < 0x8000) this.extra.rxSeqGaps += gap;
    this.rxExpected = (f.seq + 1) & 0xffff;
    const frame = this.slab.copy(f.payload);
    this.driverStats.rxFrames++;
    this.driverStats.rxBytes += frame.length;
    this.receiver(frame);
  }

  private applyLinkStatus(status: LinkStatus): void {
    const before = this.linkState;
    this.link = status;
    if (this.linkState !== before) this.linkChanged();
  }

  private linkChanged(): void {
    this.driverStats.linkChanges++;
    this.linkListener(this.linkState);
  }

  // ---- transmit -----------------------------------------------------------------------------

  private updateCredit(limit: number): void {
    // Credit only moves forward within a session (§7); an older advertisement is ignored.
    const d = (limit - this.creditLimit) & 0xffff;
    if (d === 0 || d >= 0x8000) return;
    this.creditLimit = limit;
    if (this.stalled) {
      this.stalled = false;
      this.probeTimer?.cancel();
      this.probeTimer = undefined;
    }
    if (this.txQueue.length > 0 && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushFn);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    const t = this.transport;
    if (t === undefined || this.state !== 'open' || this.writeBlocked) return;
    const q = this.txQueue;
    while (q.length > 0 && seqBeforeLimit(this.txSeq, this.creditLimit)) {
      const batch = new Uint8Array(this.batchSize());
      let pos = 0;
      while (q.length > 0 && seqBeforeLimit(this.txSeq, this.creditLimit)) {
        const frame = q.peek()!;
        if (batch.length - pos < maxEncodedLength(frame.length)) break;
        q.shift();
        pos = encodeSerialFrame({ type: FrameType.DATA, flags: 0, seq: this.txSeq, payload: frame }, batch, pos);
        this.txSeq = (this.txSeq + 1) & 0xffff;
        this.driverStats.txFrames++;
        this.driverStats.txBytes += frame.length;
      }
      if (!t.stream.write(batch.subarray(0, pos))) {
        this.writeBlocked = true;
        break;
      }
    }
    if (q.length > 0 && !this.writeBlocked && !seqBeforeLimit(this.txSeq, this.creditLimit) && !this.stalled) {
      this.stalled = true;
      this.extra.creditStalls++;
      this.armProbe();
    }
  }

  /** Bytes for one batch: enough for what is queued (within credit), capped at maxBatchBytes. */
  private batchSize(): number {
    const perFrame = maxEncodedLength(this.maxFrameNegotiated);
    const credit = (this.creditLimit - this.txSeq) & 0xffff;
    const frames = Math.min(this.txQueue.length, credit);
    return Math.min(this.maxBatchBytes, frames * perFrame);
  }

  private armProbe(): void {
    this.probeTimer = this.scheduler.timerAfter(this.creditProbeMs, () => {
      this.probeTimer = undefined;
      if (!this.stalled || this.state !== 'open') return;
      this.extra.creditProbes++;
      this.request(FrameType.GET_CREDIT, EMPTY).then(
        (p) => {
          try {
            this.updateCredit(parseCredit(p).limit);
          } catch {
            this.protocolError();
          }
          if (this.stalled && this.state === 'open') this.armProbe();
        },
        () => {
          if (this.stalled && this.state === 'open') this.armProbe();
        },
      );
    });
  }
}

const EMPTY = new Uint8Array(0);

const ignoreError = (): void => {};

/** The error code of an error response payload, or 0 when it does not parse. */
function errorCodeOf(payload: Uint8Array): number {
  try {
    return parseError(payload).code;
  } catch {
    return 0;
  }
}

function reconnectPolicyOf(o: SerialReconnectOptions, name: string): ReconnectPolicy {
  const initialDelayMs = positive(o.initialDelayMs ?? 100, 'reconnect.initialDelayMs', name);
  const maxDelayMs = positive(o.maxDelayMs ?? 5000, 'reconnect.maxDelayMs', name);
  if (maxDelayMs < initialDelayMs)
    throw new NicError(
      'BAD_ARGUMENT',
      name,
      `reconnect.maxDelayMs (${maxDelayMs}) must be >= reconnect.initialDelayMs (${initialDelayMs})`,
    );
  const jitter = o.jitter ?? 0.2;
  if (!(jitter >= 0 && jitter <= 1))
    throw new NicError('BAD_ARGUMENT', name, `reconnect.jitter must be in 0..1, got ${jitter}`);
  return { initialDelayMs, maxDelayMs, jitter };
}

function toNicError(err: unknown, name: string): NicError {
  if (err instanceof NicError) return err;
  return new NicError(
    'PROTOCOL_ERROR',
    name,
    `bad answer from board: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

function positive(v: number, what: string, name: string): number {
  if (!(v > 0) || !Number.isFinite(v))
    throw new NicError('BAD_ARGUMENT', name, `${what} must be a finite number > 0, got ${v}`);
  return v;
}

function positiveInt(v: number, what: string, name: string): number {
  if (!Number.isInteger(v) || v < 1)
    throw new NicError('BAD_ARGUMENT', name, `${what} must be an integer >= 1, got ${v}`);
  return v;
}

function nonNegativeInt(v: number, what: string, name: string): number {
  if (!Number.isInteger(v) || v < 0)
    throw new NicError('BAD_ARGUMENT', name, `${what} must be an integer >= 0, got ${v}`);
  return v;
}
