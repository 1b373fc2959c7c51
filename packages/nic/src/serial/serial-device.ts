/**
 * {@link SerialBoard}: the board's half of the serial device protocol (docs/device-protocol.md), as a
 * reusable class. An app (the device simulator) gives it the byte stream to the host and the Ethernet
 * side, and it behaves as the firmware of a USB Ethernet dev board would:
 *
 * - answers every request (HELLO, GET_MAC, GET_LINK, SET_LINK, SET_RX_FILTER, GET_STATS, RESET,
 *   GET_CREDIT), refusing all but HELLO with NOT_READY until a HELLO succeeded, and unknown request
 *   types with UNKNOWN_TYPE;
 * - puts host DATA frames on the wire through `toWire`, from a queue of `window` frames whose free
 *   room it advertises as credit (CREDIT events, §7); frames beyond it are dropped and counted;
 * - takes wire frames through {@link SerialBoard.fromWire}, drops bad ones (length, FCS) and those its
 *   hardware receive filter rejects, and queues the rest (bounded) for the host;
 * - reports PHY link changes ({@link SerialBoard.setCarrier}) as LINK_EVENTs;
 * - optionally paces itself to a line rate in each direction (`lineRateBytesPerSecond`), modelling a
 *   USB full-speed link: it writes no faster than the rate, and consumes host bytes no faster either
 *   (pausing the stream meanwhile, so that backpressure reaches the host).
 *
 * Time comes only from the given {@link SchedulerApi} (pacing timers); protocol work runs in stream
 * callbacks and microtasks. Nothing here throws on bad input: every bad frame is counted in
 * {@link SerialBoard.stats}.
 */
import type { Duplex } from 'node:stream';
import type { SchedulerApi, Timer } from '@postern/irq';
import {
  MAC_BROADCAST,
  SerialFrameDecoder,
  encodeSerialFrame,
  encodeSerialFrameToBytes,
  hasValidCrc32Trailer,
  isMulticastMac,
  maxEncodedLength,
  readMac,
  serialProtocol,
} from '@postern/wire';
import type {
  DecodedSerialFrame,
  MacAddress,
  SerialBoardStats,
  SerialDecoderErrors,
  SerialLinkStatus as LinkStatus,
} from '@postern/wire';
import type { LinkState } from '../driver.js';
import { FrameFifo, SlabAllocator } from './fifo.js';

/** The protocol's names this module uses (`@postern/wire`'s `serialProtocol`). */
const {
  ALL_CAPABILITIES,
  Capability,
  FrameFlag,
  FrameType,
  ProtocolError,
  RxFilterFlag,
  SERIAL_DEFAULT_MAX_FRAME,
  SERIAL_MAX_PAYLOAD,
  SERIAL_MIN_DATA_PAYLOAD,
  SERIAL_PROTOCOL_VERSION,
  emitCredit,
  emitError,
  emitHelloResponse,
  emitLinkStatus,
  emitMac,
  emitRxFilterResponse,
  emitStats,
  isRequestType,
  newBoardStats,
  parseHelloRequest,
  parseRxFilterRequest,
  parseSetLink,
} = serialProtocol;

/** Options for a {@link SerialBoard}. */
export interface SerialBoardOptions {
  /** The byte stream to the host (a PTY, a socket, one end of an in-process pair). */
  stream: Duplex;
  /** Source of time for pacing. */
  scheduler: SchedulerApi;
  /** The board's station address. */
  mac: MacAddress;
  /** Puts a frame from the host (Ethernet frame with FCS) on the wire. The callee owns the frame. */
  toWire: (frame: Uint8Array) => void;
  /** Host DATA frames the board buffers: the credit window (§7). Default 32. */
  window?: number;
  /** Wire frames that may wait for the link to the host. Default 256. */
  upQueueFrames?: number;
  /** Largest Ethernet frame with FCS the board carries. Default 1518. */
  maxFrame?: number;
  /** Protocol versions the board speaks. Default 1..1. */
  versions?: { min: number; max: number };
  /** {@link serialProtocol.Capability} bits the board offers. Default all. */
  capabilities?: number;
  /** Multicast addresses the hardware filter holds. Default 32. */
  maxMulticast?: number;
  /** Pace both directions to this many bytes per second (e.g. 1_000_000 for USB full speed). Default: unpaced. */
  lineRateBytesPerSecond?: number;
  /** Token-bucket depth for pacing, in bytes. Default: 10 ms of line rate, at least 4 KiB. */
  burstBytes?: number;
  /** Carrier at start. Default true. */
  carrier?: boolean;
  /** Reported speed in Mbit/s. Default 100. */
  speedMbps?: number;
  /** Drop wire frames whose FCS is wrong, as a MAC does. Default true. */
  checkWireFcs?: boolean;
  /**
   * On {@link SerialBoard.start}, announce the (re)start to the host with an unsolicited HELLO (type
   * HELLO, flags 0, empty payload; docs/device-protocol.md §13), so that a host holding a session
   * starts a new one at once. Default false.
   */
  announce?: boolean;
}

/** A token bucket on the scheduler clock. @internal */
class Pacer {
  private tokens: number;
  private last: number;
  constructor(
    private readonly scheduler: SchedulerApi,
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = scheduler.now;
  }
  available(): number {
    const now = this.scheduler.now;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    return this.tokens;
  }
  take(n: number): void {
    this.tokens -= n;
  }
  /** Ms until at least `n` tokens are there. */
  delayFor(n: number): number {
    return Math.max(0, ((n - this.tokens) * 1000) / this.rate);
  }
}

/** The board side of the serial protocol. See the module contract. */
export class SerialBoard {
  /** Board counters (also what GET_STATS reports). */
  readonly stats: SerialBoardStats = newBoardStats();
  private readonly stream: Duplex;
  private readonly scheduler: SchedulerApi;
  private readonly mac: MacAddress;
  private readonly toWire: (frame: Uint8Array) => void;
  private readonly window: number;
  private readonly maxFrame: number;
  private readonly versions: { min: number; max: number };
  private readonly offered: number;
  private readonly maxMulticast: number;
  private readonly speedMbps: number;
  private readonly checkWireFcs: boolean;
  private readonly announce: boolean;
  private readonly decoder: SerialFrameDecoder;
  private readonly wireQueue: FrameFifo;
  private readonly upQueue: FrameFifo;
  private readonly control: Uint8Array[] = [];
  private readonly slab = new SlabAllocator();
  private readonly outPacer: Pacer | undefined;
  private readonly inPacer: Pacer | undefined;
  private capabilities: number;
  private ready = false;
  private carrier: boolean;
  private adminUp = true;
  private promiscuous = false;
  private allMulticast = false;
  private multicast = new Set<MacAddress>();
  private rxNext = 0;
  private upSeq = 0;
  private eventSeq = 0;
  private lastAdvertised = 0;
  private drainQueued = false;
  private pumpQueued = false;
  private writeBlocked = false;
  private outTimer: Timer | undefined;
  private inTimer: Timer | undefined;
  private readonly inPending: Uint8Array[] = [];
  private started = false;
  private readonly onData = (chunk: Uint8Array): void => this.ingest(chunk);
  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.pump();
  };
  private readonly onStreamError = (): void => {
    this.stats.serialErrors++;
  };
  private readonly drainFn = (): void => this.drainToWire();
  private readonly pumpFn = (): void => this.pump();

  constructor(options: SerialBoardOptions) {
    this.stream = options.stream;
    this.scheduler = options.scheduler;
    this.mac = options.mac;
    this.toWire = options.toWire;
    this.window = intIn(options.window ?? 32, 1, 0x7fff, 'window');
    this.maxFrame = intIn(options.maxFrame ?? SERIAL_DEFAULT_MAX_FRAME, 64, SERIAL_MAX_PAYLOAD, 'maxFrame');
    this.versions = options.versions ?? { min: SERIAL_PROTOCOL_VERSION, max: SERIAL_PROTOCOL_VERSION };
    this.offered = options.capabilities ?? ALL_CAPABILITIES;
    this.capabilities = this.offered;
    this.maxMulticast = intIn(options.maxMulticast ?? 32, 0, 0xffff, 'maxMulticast');
    this.speedMbps = options.speedMbps ?? 100;
    this.carrier = options.carrier ?? true;
    this.checkWireFcs = options.checkWireFcs ?? true;
    this.announce = options.announce ?? false;
    this.wireQueue = new FrameFifo(this.window);
    this.upQueue = new FrameFifo(intIn(options.upQueueFrames ?? 256, 1, 1 << 20, 'upQueueFrames'));
    const rate = options.lineRateBytesPerSecond;
    if (rate !== undefined) {
      if (!(rate > 0) || !Number.isFinite(rate))
        throw new RangeError(`lineRateBytesPerSecond must be a finite number > 0, got ${rate}`);
      const burst = options.burstBytes ?? Math.max(4096, rate / 100);
      this.outPacer = new Pacer(this.scheduler, rate, burst);
      this.inPacer = new Pacer(this.scheduler, rate, burst);
    }
    this.decoder = new SerialFrameDecoder({
      onFrame: (f) => this.handleFrame(f),
      onUnknown: (f) => {
        if ((f.flags & FrameFlag.RESPONSE) === 0) this.respondError(f, ProtocolError.UNKNOWN_TYPE, 0);
      },
      onError: (kind) => {
        if (kind !== 'unknownType') this.stats.serialErrors++;
      },
    });
  }

  /** Discard counters of the board's decoder (host-to-board bytes). */
  get decoderErrors(): Readonly<SerialDecoderErrors> {
    return this.decoder.errors;
  }

  /** True once a HELLO succeeded. */
  get sessionReady(): boolean {
    return this.ready;
  }

  /** The link state the host sees: carrier and administratively up. */
  get linkState(): LinkState {
    return this.carrier && this.adminUp ? 'up' : 'down';
  }

  /** The hardware receive filter in effect. */
  get receiveFilter(): { promiscuous: boolean; allMulticast: boolean; multicast: ReadonlySet<MacAddress> } {
    return { promiscuous: this.promiscuous, allMulticast: this.allMulticast, multicast: this.multicast };
  }

  /** Starts listening on the stream (idempotent); with `announce`, sends the restart announcement. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.on('data', this.onData);
    this.stream.on('drain', this.onDrain);
    this.stream.on('error', this.onStreamError);
    if (this.announce) this.sendControl(FrameType.HELLO, 0, this.nextEventSeq(), new Uint8Array(0));
  }

  /** Stops listening and disarms timers; queued frames are dropped. Does not close the stream. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.stream.off('data', this.onData);
    this.stream.off('drain', this.onDrain);
    this.stream.off('error', this.onStreamError);
    this.outTimer?.cancel();
    this.inTimer?.cancel();
    this.outTimer = undefined;
    this.inTimer = undefined;
    this.inPending.length = 0;
    this.wireQueue.clear();
    this.upQueue.clear();
    this.control.length = 0;
    this.ready = false;
  }

  /**
   * A frame arrived from the wire (Ethernet frame with FCS; the board owns it from now on). Returns
   * true when it was queued for the host, false when it was dropped (and counted: not ready or link
   * down, bad length or FCS, filtered, queue full).
   */
  fromWire(frame: Uint8Array): boolean {
    const s = this.stats;
    if (!this.ready || !this.carrier || !this.adminUp) {
      s.rxDroppedNotReady++;
      return false;
    }
    if (
      frame.length < SERIAL_MIN_DATA_PAYLOAD ||
      frame.length > this.maxFrame ||
      (this.checkWireFcs && !hasValidCrc32Trailer(frame, 0, frame.length))
    ) {
      s.rxBadFrames++;
      return false;
    }
    if (!this.accepts(readMac(frame, 0))) {
      s.rxFiltered++;
      return false;
    }
    if (!this.upQueue.push(frame)) {
      s.rxDroppedQueue++;
      return false;
    }
    this.schedulePump();
    return true;
  }

  /** The PHY gained or lost carrier; reported to the host as a LINK_EVENT when the visible state changes. */
  setCarrier(up: boolean): void {
    const before = this.linkState;
    this.carrier = up;
    this.linkMaybeChanged(before);
  }

  private accepts(dst: MacAddress): boolean {
    if (this.promiscuous || (this.capabilities & Capability.RX_FILTER) === 0) return true;
    if (dst === this.mac || dst === MAC_BROADCAST) return true;
    if (!isMulticastMac(dst)) return false;
    return this.allMulticast || this.multicast.has(dst);
  }

  private linkStatus(): LinkStatus {
    const up = this.linkState === 'up';
    return { up, adminUp: this.adminUp, fullDuplex: up, speedMbps: up ? this.speedMbps : 0 };
  }

  private linkMaybeChanged(before: LinkState): void {
    if (this.linkState === before) return;
    this.stats.linkChanges++;
    if (!this.linkStatus().up) this.upQueue.clear();
    if (this.ready) this.sendControl(FrameType.LINK_EVENT, 0, this.nextEventSeq(), emitLinkStatus(this.linkStatus()));
  }

  private nextEventSeq(): number {
    const s = this.eventSeq;
    this.eventSeq = (s + 1) & 0xffff;
    return s;
  }

  // ---- host to board ------------------------------------------------------------------------

  private ingest(chunk: Uint8Array): void {
    const pacer = this.inPacer;
    if (pacer === undefined) {
      this.decoder.push(chunk);
      return;
    }
    this.inPending.push(chunk);
    this.consumePaced();
  }

  /** Feeds pending host bytes to the decoder as the inbound token bucket allows. */
  private consumePaced(): void {
    const pacer = this.inPacer!;
    this.inTimer = undefined;
    while (this.inPending.length > 0) {
      const avail = Math.floor(pacer.available());
      if (avail <= 0) break;
      const chunk = this.inPending[0]!;
      const n = Math.min(avail, chunk.length);
      pacer.take(n);
      if (n === chunk.length) this.inPending.shift();
      else this.inPending[0] = chunk.subarray(n);
      this.decoder.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    if (this.inPending.length > 0) {
      if (!this.stream.isPaused()) this.stream.pause();
      if (this.inTimer === undefined && this.started) {
        this.inTimer = this.scheduler.timerAfter(Math.max(pacer.delayFor(1024), 1), () => this.consumePaced());
      }
    } else if (this.stream.isPaused() && this.started) {
      this.stream.resume();
    }
  }

  private handleFrame(f: DecodedSerialFrame): void {
    if ((f.flags & FrameFlag.RESPONSE) !== 0) {
      // The host never answers; count it as a protocol error on the line.
      this.stats.serialErrors++;
      return;
    }
    if (f.type === FrameType.DATA) {
      this.hostData(f);
      return;
    }
    if (!isRequestType(f.type)) {
      // An event type sent by the host.
      this.respondError(f, ProtocolError.UNKNOWN_TYPE, 0);
      return;
    }
    if (!this.ready && f.type !== FrameType.HELLO) {
      this.respondError(f, ProtocolError.NOT_READY, 0);
      return;
    }
    try {
      this.handleRequest(f);
    } catch {
      // Payload parsers throw DecodeError only: the payload was malformed.
      this.respondError(f, ProtocolError.BAD_LENGTH, 0);
    }
  }

  private handleRequest(f: DecodedSerialFrame): void {
    switch (f.type) {
      case FrameType.HELLO: {
        const req = parseHelloRequest(f.payload);
        const version = Math.min(req.maxVersion, this.versions.max);
        if (version < Math.max(req.minVersion, this.versions.min)) {
          this.respondError(f, ProtocolError.UNSUPPORTED_VERSION, (this.versions.min << 8) | this.versions.max);
          return;
        }
        this.capabilities = this.offered & req.capabilities;
        this.startSession();
        this.respond(
          f,
          emitHelloResponse({
            version,
            maxFrame: Math.min(this.maxFrame, Math.max(req.maxFrame, SERIAL_MIN_DATA_PAYLOAD)),
            capabilities: this.capabilities,
            window: this.window,
            maxMulticast: this.maxMulticast,
          }),
        );
        return;
      }
      case FrameType.GET_MAC:
        this.respond(f, emitMac(this.mac));
        return;
      case FrameType.GET_LINK:
        this.respond(f, emitLinkStatus(this.linkStatus()));
        return;
      case FrameType.SET_LINK: {
        if ((this.capabilities & Capability.LINK_CONTROL) === 0) {
          this.respondError(f, ProtocolError.UNKNOWN_TYPE, 0);
          return;
        }
        const before = this.linkState;
        this.adminUp = parseSetLink(f.payload);
        this.respond(f, emitLinkStatus(this.linkStatus()));
        if (this.linkState !== before) {
          this.stats.linkChanges++;
          if (!this.linkStatus().up) this.upQueue.clear();
        }
        return;
      }
      case FrameType.SET_RX_FILTER: {
        if ((this.capabilities & Capability.RX_FILTER) === 0) {
          this.respondError(f, ProtocolError.UNKNOWN_TYPE, 0);
          return;
        }
        const req = parseRxFilterRequest(f.payload);
        this.promiscuous = req.promiscuous;
        const keepList = (this.capabilities & Capability.MULTICAST_LIST) !== 0;
        const overflow = req.multicast.length > (keepList ? this.maxMulticast : 0);
        this.allMulticast = req.allMulticast || overflow;
        this.multicast = overflow ? new Set() : new Set(req.multicast.filter(isMulticastMac));
        const flags =
          (this.promiscuous ? RxFilterFlag.PROMISCUOUS : 0) |
          (this.allMulticast ? RxFilterFlag.ALL_MULTICAST : 0) |
          (overflow ? RxFilterFlag.LIST_OVERFLOW : 0);
        this.respond(f, emitRxFilterResponse({ flags, count: this.multicast.size }));
        return;
      }
      case FrameType.GET_STATS:
        if ((this.capabilities & Capability.STATS) === 0) {
          this.respondError(f, ProtocolError.UNKNOWN_TYPE, 0);
          return;
        }
        this.respond(f, emitStats(this.stats));
        return;
      case FrameType.RESET: {
        const before = this.linkState;
        this.startSession();
        this.promiscuous = false;
        this.allMulticast = false;
        this.multicast = new Set();
        this.adminUp = true;
        this.respond(f, new Uint8Array(0));
        this.linkMaybeChanged(before);
        return;
      }
      case FrameType.GET_CREDIT: {
        const limit = this.creditLimit();
        this.lastAdvertised = limit;
        this.respond(f, emitCredit({ limit, window: this.window }));
        return;
      }
    }
  }

  /** Session start (HELLO, RESET): sequence numbers from 0, empty queues, full credit. */
  private startSession(): void {
    this.ready = true;
    this.rxNext = 0;
    this.upSeq = 0;
    this.wireQueue.clear();
    this.upQueue.clear();
    this.lastAdvertised = this.window;
  }

  private hostData(f: DecodedSerialFrame): void {
    const s = this.stats;
    if (!this.ready) {
      s.txDroppedNotReady++;
      return;
    }
    const gap = (f.seq - this.rxNext) & 0xffff;
    if (gap < 0x8000) {
      s.hostSeqGaps += gap;
      this.rxNext = (f.seq + 1) & 0xffff;
    }
    if (f.payload.length > this.maxFrame) {
      s.txDroppedBadLength++;
      return;
    }
    if (!this.wireQueue.push(this.slab.copy(f.payload))) {
      s.txDroppedOverrun++;
      return;
    }
    if (!this.drainQueued) {
      this.drainQueued = true;
      queueMicrotask(this.drainFn);
    }
  }

  private drainToWire(): void {
    this.drainQueued = false;
    const q = this.wireQueue;
    const s = this.stats;
    const up = this.linkStatus().up;
    for (let frame = q.shift(); frame !== undefined; frame = q.shift()) {
      if (!up) {
        s.txDroppedNotReady++;
        continue;
      }
      s.txFrames++;
      s.txBytes += frame.length;
      this.toWire(frame);
    }
    this.maybeAdvertise();
  }

  private creditLimit(): number {
    return (this.rxNext + this.window - this.wireQueue.length) & 0xffff;
  }

  /** Sends CREDIT once the limit has moved a quarter window (at least 1) past the last advertisement. */
  private maybeAdvertise(): void {
    if (!this.ready) return;
    const limit = this.creditLimit();
    const moved = (limit - this.lastAdvertised) & 0xffff;
    if (moved === 0 || moved >= 0x8000 || moved < Math.max(1, this.window >> 2)) return;
    this.lastAdvertised = limit;
    this.sendControl(FrameType.CREDIT, 0, this.nextEventSeq(), emitCredit({ limit, window: this.window }));
  }

  // ---- board to host ------------------------------------------------------------------------

  private respond(req: DecodedSerialFrame, payload: Uint8Array): void {
    this.sendControl(req.type, FrameFlag.RESPONSE, req.seq, payload);
  }

  private respondError(req: DecodedSerialFrame, code: number, detail: number): void {
    this.sendControl(req.type, FrameFlag.RESPONSE | FrameFlag.ERROR, req.seq, emitError({ code, detail }));
  }

  private sendControl(type: number, flags: number, seq: number, payload: Uint8Array): void {
    if (!this.started) return;
    this.control.push(encodeSerialFrameToBytes({ type, flags, seq, payload }));
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.outTimer !== undefined) return;
    this.pumpQueued = true;
    queueMicrotask(this.pumpFn);
  }

  /** Writes control frames first, then DATA frames, in one batch per round, within the line rate. */
  private pump(): void {
    this.pumpQueued = false;
    this.outTimer = undefined;
    if (!this.started || this.writeBlocked) return;
    const pacer = this.outPacer;
    let budget = pacer === undefined ? Infinity : pacer.available();
    while (budget > 0 && (this.control.length > 0 || this.upQueue.length > 0)) {
      const batch = new Uint8Array(this.batchBytes(budget));
      let pos = 0;
      while (this.control.length > 0 && budget > 0 && batch.length - pos >= this.control[0]!.length) {
        const c = this.control.shift()!;
        batch.set(c, pos);
        pos += c.length;
        budget -= c.length;
      }
      while (this.upQueue.length > 0 && budget > 0 && this.control.length === 0) {
        const frame = this.upQueue.peek()!;
        if (batch.length - pos < maxEncodedLength(frame.length)) break;
        this.upQueue.shift();
        const end = encodeSerialFrame({ type: FrameType.DATA, flags: 0, seq: this.upSeq, payload: frame }, batch, pos);
        this.upSeq = (this.upSeq + 1) & 0xffff;
        budget -= end - pos;
        pos = end;
        this.stats.rxFrames++;
        this.stats.rxBytes += frame.length;
      }
      if (pos === 0) break;
      pacer?.take(pos);
      if (!this.stream.write(batch.subarray(0, pos))) {
        this.writeBlocked = true;
        return;
      }
    }
    if (pacer !== undefined && (this.control.length > 0 || this.upQueue.length > 0)) {
      this.outTimer = this.scheduler.timerAfter(Math.max(pacer.delayFor(1), 0.5), this.pumpFn);
    }
  }

  private batchBytes(budget: number): number {
    const frame = maxEncodedLength(this.maxFrame);
    const controlBytes = this.control.reduce((n, c) => n + c.length, 0);
    const want = controlBytes + this.upQueue.length * frame;
    const cap = Math.max(frame, Math.min(64 * 1024, Number.isFinite(budget) ? Math.ceil(budget) + frame : 64 * 1024));
    return Math.max(Math.min(want, cap), this.control[0]?.length ?? 0);
  }
}

function intIn(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}
