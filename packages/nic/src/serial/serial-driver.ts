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
 */
import type { SchedulerApi, Timer } from '@postern/irq';
import type { MacAddress } from '@postern/wire';
import { NicError, newDriverStats } from '../driver.js';
import type { DriverStats, LinkState, NicDriver, ReceiveFilter } from '../driver.js';
import { SerialFrameDecoder, encodeSerialFrame, encodeSerialFrameToBytes, maxEncodedLength } from './codec.js';
import type { DecodedSerialFrame, SerialDecoderErrors } from './codec.js';
import { FrameFifo, SlabAllocator } from './fifo.js';
import {
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
} from './protocol.js';
import type { HelloResponse, LinkStatus, RxFilterResponse, SerialBoardStats } from './protocol.js';
import { openTransport } from './transport.js';
import type { OpenedTransport, SerialEndpoint } from './transport.js';

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

type State = 'closed' | 'opening' | 'open';

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
    rxSeqGaps: 0, rxDroppedNotOpen: 0, creditStalls: 0, creditProbes: 0, requestRetries: 0,
    requestTimeouts: 0, protocolErrors: 0, staleResponses: 0, streamErrors: 0,
  };
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
  private readonly onData = (chunk: Uint8Array): void => this.decoder.push(chunk);
  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.flush();
  };
  private readonly onStreamError = (): void => {
    this.extra.streamErrors++;
    this.driverStats.errors++;
  };
  private readonly onStreamClose = (): void => this.lost();
  private readonly flushFn = (): void => this.flush();

  constructor(options: SerialNicDriverOptions) {
    this.name = options.name ?? 'serial0';
    this.scheduler = options.scheduler;
    this.endpoint = options.endpoint;
    this.baudRate = options.baudRate ?? 921_600;
    this.requestTimeoutMs = positive(options.requestTimeoutMs ?? 250, 'requestTimeoutMs', this.name);
    this.retries = nonNegativeInt(options.retries ?? 3, 'retries', this.name);
    this.maxBatchOption = options.maxBatchBytes === undefined ? undefined : positive(options.maxBatchBytes, 'maxBatchBytes', this.name);
    this.creditProbeMs = positive(options.creditProbeMs ?? 50, 'creditProbeMs', this.name);
    this.hostMaxFrame = options.maxFrame ?? 1522;
    if (!Number.isInteger(this.hostMaxFrame) || this.hostMaxFrame < 64 || this.hostMaxFrame > SERIAL_MAX_PAYLOAD) {
      throw new NicError('BAD_ARGUMENT', this.name, `maxFrame must be an integer in 64..${SERIAL_MAX_PAYLOAD}`);
    }
    this.maxFrameNegotiated = Math.min(this.hostMaxFrame, 1518);
    this.versions = options.versions ?? { min: SERIAL_PROTOCOL_VERSION, max: SERIAL_PROTOCOL_VERSION };
    this.txQueue = new FrameFifo(positiveInt(options.txQueueFrames ?? 256, 'txQueueFrames', this.name));
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

  /** The filter the board confirmed last (flags and multicast count in effect), if any. */
  get receiveFilterInEffect(): Readonly<RxFilterResponse> | undefined {
    return this.lastFilterResponse;
  }

  /** Opens the endpoint and performs the session start (see the module contract). Idempotent while open. */
  open(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
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
    this.transport = transport;
    this.maxBatchBytes = Math.max(maxEncodedLength(SERIAL_MAX_PAYLOAD), this.maxBatchOption ?? (transport.kind === 'serial' ? 4096 : 64 * 1024));
    this.decoder.reset();
    const s = transport.stream;
    s.on('data', this.onData);
    s.on('drain', this.onDrain);
    s.on('error', this.onStreamError);
    s.on('close', this.onStreamClose);
    try {
      await this.startSession();
      const status = parseLinkStatus(await this.request(FrameType.GET_LINK, EMPTY));
      this.state = 'open';
      this.applyLinkStatus(status);
      if (this.filter !== undefined) this.sendFilter(this.filter);
    } catch (err) {
      await this.teardown();
      throw toNicError(err, this.name);
    }
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
      throw new NicError('PROTOCOL_VERSION', this.name, `board chose version ${hello.version}, host speaks ${this.versions.min}..${this.versions.max}`);
    }
    this.hello = hello;
    this.maxFrameNegotiated = Math.min(hello.maxFrame, this.hostMaxFrame);
    this.txSeq = 0;
    this.rxExpected = 0;
    this.creditLimit = hello.window;
    this.macAddress = parseMac6(await this.request(FrameType.GET_MAC, EMPTY));
  }

  /** Brings the driver down: fails outstanding requests with CLOSED, drops queued frames, closes the stream. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed' && this.transport === undefined) return;
    const wasUp = this.linkState === 'up';
    this.state = 'closed';
    await this.teardown();
    if (wasUp) this.linkChanged();
  }

  private async teardown(): Promise<void> {
    this.state = 'closed';
    this.failRequests(new NicError('CLOSED', this.name, 'driver closed'));
    this.probeTimer?.cancel();
    this.probeTimer = undefined;
    this.stalled = false;
    this.txQueue.clear();
    this.writeBlocked = false;
    const t = this.transport;
    this.transport = undefined;
    if (t !== undefined) {
      const s = t.stream;
      s.off('data', this.onData);
      s.off('drain', this.onDrain);
      s.off('close', this.onStreamClose);
      // The error listener stays: a write still in flight may fail after the close, and must not crash.
      await t.close();
    }
  }

  /** The stream closed under us (device unplugged, simulator gone). */
  private lost(): void {
    if (this.transport === undefined) return;
    const wasUp = this.linkState === 'up';
    void this.teardown();
    if (wasUp) this.linkChanged();
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
    this.filter = { promiscuous: filter.promiscuous, allMulticast: filter.allMulticast, multicast: new Set(filter.multicast) };
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
    this.applyLinkStatus(parseLinkStatus(await this.request(FrameType.GET_LINK, EMPTY)));
    if (this.filter !== undefined) this.sendFilter(this.filter);
  }

  private requireOpen(): void {
    if (this.state !== 'open') throw new NicError('CLOSED', this.name, 'driver is not open');
  }

  private sendFilter(filter: ReceiveFilter): void {
    const payload = emitRxFilterRequest({ promiscuous: filter.promiscuous, allMulticast: filter.allMulticast, multicast: [...filter.multicast].sort((a, b) => a - b) });
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
    r.reject(new NicError('NO_ANSWER', this.name, `no answer to request type 0x${r.type.toString(16)} after ${this.retries + 1} attempts of ${this.requestTimeoutMs} ms`));
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
        return new NicError('PROTOCOL_VERSION', this.name, `board speaks protocol versions ${detail >>> 8}..${detail & 0xff}, host ${this.versions.min}..${this.versions.max}`);
      case ProtocolError.BUSY:
        return new NicError('DEVICE_BUSY', this.name, `${what}: board busy`);
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

function toNicError(err: unknown, name: string): NicError {
  if (err instanceof NicError) return err;
  return new NicError('PROTOCOL_ERROR', name, `bad answer from board: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function positive(v: number, what: string, name: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new NicError('BAD_ARGUMENT', name, `${what} must be a finite number > 0, got ${v}`);
  return v;
}

function positiveInt(v: number, what: string, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new NicError('BAD_ARGUMENT', name, `${what} must be an integer >= 1, got ${v}`);
  return v;
}

function nonNegativeInt(v: number, what: string, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new NicError('BAD_ARGUMENT', name, `${what} must be an integer >= 0, got ${v}`);
  return v;
}
