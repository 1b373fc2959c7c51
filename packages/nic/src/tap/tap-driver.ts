/**
 * {@link TapNicDriver}: a {@link NicDriver} over a Linux TAP device.
 *
 * Two data paths (`io` option):
 * - `'event-loop'` (the default): the descriptor is watched by Node's event loop (epoll through a
 *   libuv pipe handle, `event-loop-port.ts`): a readable descriptor is the RX interrupt, each read is
 *   one frame, handed up from the I/O callback (to a {@link NetDevice}, which stores it in its RX ring
 *   and raises its IRQ line); the callback also reads the frames queued behind it (up to 64 per
 *   wake-up), so under load the stack gets them as one batch. The callback is an I/O callback of the
 *   scheduler (`beginIo`/`endIo`): the stack's turn for the batch runs at its end, before it returns,
 *   with no microtask in between, and the host clock is read once for it. No thread hand-off and no
 *   polling interval stand between a frame and the stack, so an idle gateway answers within one
 *   event-loop wake-up.
 * - `'worker'`: a dedicated worker thread (`tap-worker.ts`) owns all I/O on the TAP descriptor and
 *   talks to the main thread only through a SharedArrayBuffer holding an RX and a TX ring (see
 *   `ring-layout.ts`). The worker's interrupt is an IRQ line on the scheduler: `Atomics.waitAsync`
 *   on the worker's `RX_SEQ` word raises it, its handler schedules the RX bottom half, and the
 *   bottom half drains the ring (at most the scheduler's budget per poll) and re-arms the interrupt
 *   when it finds the ring empty (NAPI). The worker polls the non-blocking descriptor, sleeping up to
 *   `pollMaxMs` when idle (that sleep is added to the first frame after silence). Used where the
 *   event-loop port is unavailable.
 *
 * TX, both modes: `transmit` queues the frame and the queue is written at the end of the scheduler
 * step that queued it (a bottom half, `tap:<name> tx`), so the frames one turn of the stack emits go
 * out together: in event-loop mode one `write` each, back to back (a TAP takes one frame per
 * `write`, and a `writev` would send its buffers as one frame); in worker mode one publication of
 * the TX ring and one doorbell for the whole batch. A full queue is written at once. Event-loop
 * mode, frames queued during a wake-up of the port (by the receiver, or by the scheduler's turn the
 * wake-up runs at its end, see below): the queue is written when the wake-up ends, right after that
 * turn, with no bottom half: a wake-up that answers costs no TX poll and, where the answer was the
 * turn's last work, no deferred round of its own.
 *
 * TSO (option `tso`, on by default): the descriptor is opened with `IFF_VNET_HDR`, so every frame
 * read or written starts with a virtio-net header (`vnet-header.ts`), as between a paravirtual NIC
 * and its host. In event-loop mode the TX flush then merges runs of consecutive TCP/IPv4 frames of
 * one flow into GSO super-frames of up to 64 KiB (`tcp-coalescer.ts`): one `write`, and one pass of
 * the kernel's receive path, for up to ~44 segments, in the order they were queued. Worker mode
 * adds and strips the header but writes frame by frame. The wrappers around the driver (pcap
 * capture, fault injection) still see ordinary frames: the merging happens inside the TX path.
 * With `tso: false` the descriptor carries plain frames, one `write` each.
 *
 * Received frames land in shared slabs (`frame-slab.ts`): frames read ahead are read straight into
 * a slab, the rest are copied there out of the read buffer or the ring, so neither path allocates a
 * buffer per frame; a received frame is a view.
 *
 * FCS: a TAP carries frames without an FCS, and so does this driver (`fcs` is `'none'`): received
 * frames end with the payload, and `transmit` writes all but the 4 bytes reserved for the FCS,
 * which nobody computes. No CRC pass in either direction.
 *
 * The driver reads no clock and arms no host timer: its deferred work runs on the scheduler it is
 * given (else on a private real-clock one). The worker's idle sleep is a bounded `Atomics.wait` (the
 * poll interval of the model NIC), and the attach helper process has a kill timeout; neither feeds
 * any state.
 */
import { Worker } from 'node:worker_threads';
import { closeSync } from 'node:fs';
import { Ring, Scheduler } from '@postern/irq';
import type { BottomHalf, IrqLine, SchedulerApi } from '@postern/irq';
import type { MacAddress } from '@postern/wire';
import {
  FCS_LENGTH,
  NicError,
  newDriverStats,
  type DriverStats,
  type FcsMode,
  type LinkState,
  type NicDriver,
  type ReceiveFilter,
} from '../driver.js';
import { openTapFd, type TapFd } from './attach.js';
import { eventLoopPortAvailable, openEventLoopPort, WRITE_QUEUED, type EventLoopPort } from './event-loop-port.js';
import { FrameSlab } from './frame-slab.js';
import { FrameViews } from './frame-views.js';
import { Ctrl, CTRL_WORDS, isPowerOfTwo, ringLayout, type RingLayout } from './ring-layout.js';
import { tapWorkerSource, type TapWorkerData } from './tap-worker.js';
import { TcpSegmentCoalescer } from './tcp-coalescer.js';
import { isPlainVnetFrame, writeVnetHeader } from './vnet-header.js';

/** The MAC address a {@link TapNicDriver} uses unless told otherwise: 02:50:53:54:00:01 (locally administered, unicast). */
export const DEFAULT_TAP_MAC: MacAddress = 0x02_50_53_54_00_01;

/** Ethernet header (14) + FCS (4): what a frame adds to the MTU. */
const FRAME_OVERHEAD = 18;
/** Room for one 802.1Q tag on received frames. */
const VLAN_TAG = 4;
const MIN_FRAME = 18;
/** The priority of the worker's RX interrupt line unless told otherwise (a {@link NetDevice}'s default). */
const DEFAULT_IRQ_PRIORITY = 10;

/** How a {@link TapNicDriver} does its I/O (see the module documentation). */
export type TapIoMode = 'event-loop' | 'worker';

/** Options for {@link TapNicDriver}. */
export interface TapNicDriverOptions {
  /**
   * `'event-loop'` (default): the main thread reads when epoll says a frame waits and writes each
   * frame at once. `'worker'`: a worker thread with shared RX/TX rings. The event-loop mode falls
   * back to the worker when this Node cannot watch the descriptor (see {@link TapNicDriver.io}).
   */
  io?: TapIoMode;
  /** The TAP device's name (at most 15 characters; with `create`, a `%d` pattern such as `pst%d` works too). */
  ifname: string;
  /**
   * Create the device when none of that name exists. A device created this way is not persistent:
   * it disappears when the driver closes. Default false (attach to an existing device, else reject
   * with `DEVICE_NOT_FOUND`).
   */
  create?: boolean;
  /** Our station MAC address. Default {@link DEFAULT_TAP_MAC}. */
  mac?: MacAddress;
  /**
   * The scheduler the driver's deferred work runs on: the TX flush at the end of each step, and in
   * worker mode the RX interrupt line and its bottom half. Pass the one the stack runs on, so that
   * the flush follows the stack's turns and the interrupt takes its place among the stack's lines.
   * Default: a private real-clock scheduler, started on `open` and stopped on `close`.
   */
  scheduler?: SchedulerApi;
  /** Worker mode: the priority of the RX interrupt line `tap:<name> rx` (lower runs first). Default 10. */
  irqPriority?: number;
  /** The MTU to report and enforce on transmit. Default: the device's MTU when it is opened. */
  mtu?: number;
  /** Worker mode: RX ring slots, a power of two. Default 256. */
  rxRingSlots?: number;
  /** Frames the TX queue holds until the end of the step (worker mode: the TX ring's slots), a power of two. Default 256. */
  txRingSlots?: number;
  /** Worker mode: most frames the worker reads before it raises the RX interrupt. Default 32. */
  rxBatch?: number;
  /** Worker mode: shortest idle sleep of the worker between polls of the device, ms. Default 0.05. */
  pollMinMs?: number;
  /** Worker mode: longest idle sleep of the worker (the worst added latency for a frame after silence), ms. Default 1. */
  pollMaxMs?: number;
  /** The Python 3 interpreter used to attach. Default `python3`. */
  python?: string;
  /**
   * TCP segmentation offload to the kernel (see the module documentation). `true` (default): the
   * TAP is opened with `IFF_VNET_HDR`, and in event-loop mode consecutive TCP/IPv4 frames of one
   * flow queued in the same step are written as one GSO super-frame (up to 64 KiB, checksums still
   * verified by the kernel); the kernel's own offloads stay off, so received frames are ordinary.
   * `false`: plain frames, one `write` per frame, no virtio-net header.
   */
  tso?: boolean;
}

/** Counters of the TAP data path, beside the {@link DriverStats} every driver keeps. */
export interface TapRingStats {
  /** Frames longer than MTU + header (+ one VLAN tag) read from the device and dropped. */
  rxOversize: number;
  /** Failed reads. */
  rxReadErrors: number;
  /** Worker mode: times the worker found the RX ring full (it then leaves frames queued in the kernel). */
  rxRingFull: number;
  /** Failed writes. */
  txWriteErrors: number;
  /** Frames written to the device. */
  txWritten: number;
  /** Times the TX queue was written out: at the end of a step, or at once because it was full. */
  txFlushes: number;
  /** Exceptions thrown by the receiver callback (counted in `errors` too). */
  receiverErrors: number;
  /** TSO: writes that carried several frames as one GSO super-frame. */
  txSuperFrames: number;
  /** TSO: frames that went out inside super-frames (each also counts in `txWritten`). */
  txCoalesced: number;
  /**
   * TSO: whether runs are still merged. False once the kernel refused a super-frame (`write` failed
   * with EINVAL, counted in `txWriteErrors`): every frame then goes out alone. False without TSO.
   */
  txMerging: boolean;
  /** TSO: frames read whose virtio-net header asked for work left to do (a checksum, segmentation), dropped. */
  rxBadVnetHeader: number;
  /** Event-loop mode: readiness reports of the descriptor that delivered frames (0 in worker mode). */
  rxWakeups: number;
  /**
   * Event-loop mode: frames read ahead, after the one a readiness report announced, in the same
   * callback (see `event-loop-port.ts`); under load most frames arrive this way. 0 in worker mode.
   */
  rxReadAhead: number;
  /**
   * Event-loop mode: frames the descriptor did not take at once, whose write the port queued (it
   * writes them when the descriptor is writable again, in order; a TAP takes every frame at once, so
   * this stays 0 there). Counted in `txWritten`/`txFrames` like the frames written at once; those of
   * them that then failed count in `txWriteErrors` too. 0 in worker mode.
   */
  txWritesQueued: number;
}

type WaitAsyncResult =
  { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): WaitAsyncResult }).waitAsync;

/**
 * A NIC driver over a Linux TAP device (needs `CAP_NET_ADMIN` and `python3` to attach; see
 * `attach.ts`).
 *
 * Contract, beyond {@link NicDriver}:
 * - `fcs` is `'none'`: every received frame is delivered as a `Uint8Array` of its own (a view into
 *   a slab no one else writes, which the callee owns) without an FCS, in arrival order, from an I/O
 *   callback on the main thread (event-loop mode) or the RX bottom half on the scheduler (worker mode).
 * - `transmit` takes the frame (the driver owns it from then on, as {@link NicDriver} says) into the
 *   TX queue and returns at once; the queue is written at the end of the scheduler step (or at once
 *   when full; event-loop mode: what is queued during a wake-up of the port, at that wake-up's end,
 *   after the scheduler's turn it runs), each frame minus its last 4 bytes (with `tso`, behind a virtio-net header, and runs
 *   of one TCP flow's segments merged into GSO super-frames; the counters still count frames). It refuses frames shorter than 18 or longer than
 *   MTU + 18 bytes (`txDroppedBadLength`), when not open or the device is gone
 *   (`txDroppedLinkDown`), and in worker mode when the TX ring is full (`txDroppedQueueFull`).
 *   Event-loop mode counts a frame in `txFrames`/`txBytes` once written; a write the kernel refuses
 *   counts `txDroppedQueueFull` (it would block), `txDroppedLinkDown` (the kernel side is down, as
 *   it is after `create` until someone sets it up: the kernel refuses the write with EIO and counts
 *   it in the device's RX `dropped`, the one drop `ip -s link` shows after a gateway announced its
 *   address at start) or an error. Worker mode counts it when it enters the ring, and the worker
 *   counts failed writes.
 * - The scheduler (option `scheduler`) must be running for queued frames to leave and, in worker
 *   mode, for received ones to arrive: a started real clock (or a virtual one the caller runs).
 * - Worker mode: when the RX ring is full the worker stops reading: frames wait in the kernel's
 *   queue (which drops beyond its own limit) rather than being dropped here. Event-loop mode: frames
 *   wait in the kernel's queue until the main thread reads them.
 * - Link state is `up` from a successful `open` until `close`, or until the device disappears
 *   (deleted, or its namespace deleted), which reports `down` once.
 * - `close` writes what the event-loop TX queue holds, stops the worker (it never blocks in a system
 *   call, so this takes at most about `pollMaxMs`), then closes the descriptor. Frames still in the
 *   worker's rings are dropped. It is idempotent; the driver cannot be opened again.
 * - No receive filtering: the kernel sends what it sends, {@link NetDevice} filters.
 */
export class TapNicDriver implements NicDriver {
  /** The station MAC address: `options.mac`, else {@link DEFAULT_TAP_MAC}. */
  readonly mac: MacAddress;
  private deviceName: string;
  private currentMtu: number;
  private state: LinkState = 'down';
  private readonly counters: DriverStats = newDriverStats();
  private receiverErrors = 0;
  private workerFailures = 0;
  private receiver: (frame: Uint8Array) => void = () => {};
  private linkListener: (state: LinkState) => void = () => {};
  private filter: ReceiveFilter = { promiscuous: false, allMulticast: false, multicast: new Set() };
  private readonly options: TapNicDriverOptions;
  private phase: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private closing: Promise<void> | undefined;
  private tap: TapFd | undefined;
  private ioMode: TapIoMode;
  /** Where received frames are copied to (see `frame-slab.ts`). */
  private readonly slab = new FrameSlab();
  /**
   * Event-loop mode: views of the first bytes of the port's read buffer, one per frame length, for
   * copying the frame each wake-up announces into the slab without a view of it per frame.
   */
  private readonly readViews = new FrameViews();
  /** The scheduler deferred work runs on while open: `options.scheduler`, else {@link ownScheduler}. */
  private scheduler: SchedulerApi | undefined;
  /** The private scheduler made at `open` when none was given. */
  private ownScheduler: Scheduler | undefined;
  /** The end-of-step TX flush. */
  private readonly txFlush: BottomHalf;
  private txFlushScheduled = false;
  /**
   * Event-loop mode: true during a wake-up of the port ({@link portWakeStart} .. {@link portWakeEnd}):
   * frames transmitted then are written when it ends, without the {@link txFlush} bottom half.
   */
  private inWake = false;
  private txFlushes = 0;
  private txWritten = 0;
  private txWriteErrors = 0;
  private rxReadErrors = 0;
  private rxOversize = 0;
  private rxBadVnetHeader = 0;
  private txSuperFrames = 0;
  private txCoalesced = 0;
  /** Bytes of virtio-net header before each frame on the descriptor: 10 with TSO, else 0 (known once open). */
  private vnetHeaderLength = 0;
  /** Event-loop mode with TSO: builds every frame written (see `tcp-coalescer.ts`). */
  private coalescer: TcpSegmentCoalescer | undefined;

  // Event-loop mode.
  private port: EventLoopPort | undefined;
  /** The port's counters as they were when it closed. */
  private portWakeups = 0;
  private portReadAhead = 0;
  private portWritesQueued = 0;
  private portQueuedFailures = 0;
  /** Frames transmitted and not yet written. */
  private readonly txQueue: Ring<Uint8Array>;
  /** The largest frame (no FCS) accepted from the device. */
  private maxRxFrame = 0;

  // Worker mode.
  private worker: Worker | undefined;
  private workerExited: Promise<void> | undefined;
  private ctrl: Int32Array<ArrayBufferLike> = new Int32Array(CTRL_WORDS);
  private layout: RingLayout | undefined;
  private rxLens: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private txLens: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private rxData: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private txData: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private rxMask = 0;
  private txMask = 0;
  /** TX ring: the head as filled by `transmit`; `TX_HEAD` (what the worker sees) catches up at each flush. */
  private txHead = 0;
  /** The worker's RX interrupt line. */
  private rxLine: IrqLine | undefined;
  /** The RX bottom half: drains the RX ring. */
  private readonly rxPoll: BottomHalf;

  constructor(options: TapNicDriverOptions) {
    this.options = { ...options };
    this.deviceName = `tap:${options.ifname}`;
    this.mac = options.mac ?? DEFAULT_TAP_MAC;
    this.currentMtu = options.mtu ?? 1500;
    this.ioMode = options.io === 'worker' || !eventLoopPortAvailable() ? 'worker' : 'event-loop';
    const rx = options.rxRingSlots ?? 256;
    const tx = options.txRingSlots ?? 256;
    if (!isPowerOfTwo(rx) || !isPowerOfTwo(tx))
      throw new NicError('BAD_ARGUMENT', this.name, 'ring sizes must be powers of two');
    if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65_535)) {
      throw new NicError('BAD_ARGUMENT', this.name, `bad MTU ${options.mtu}`);
    }
    if (options.irqPriority !== undefined && !Number.isFinite(options.irqPriority)) {
      throw new NicError('BAD_ARGUMENT', this.name, `bad IRQ priority ${options.irqPriority}`);
    }
    this.txQueue = new Ring<Uint8Array>(tx);
    this.txFlush = { name: `${this.name} tx`, poll: (budget) => this.flushTx(budget) };
    this.rxPoll = { name: `${this.name} rx`, poll: (budget) => this.drainRx(budget) };
  }

  /** `tap:` + the interface name (the kernel's, once open: a `%d` pattern is resolved then). */
  get name(): string {
    return this.deviceName;
  }

  /** The I/O mode in use: the `io` option, except that `'event-loop'` falls back to `'worker'` where unavailable. */
  get io(): TapIoMode {
    return this.ioMode;
  }

  /** Whether TCP segmentation offload is on: the `tso` option (default true). */
  get tso(): boolean {
    return this.options.tso ?? true;
  }

  /** A TAP medium carries no FCS: frames go up without one and the reserved 4 bytes are never written. */
  get fcs(): FcsMode {
    return 'none';
  }

  /** The MTU: the configured one, else the device's as read at `open` (1500 before that). */
  get mtu(): number {
    return this.currentMtu;
  }

  /** `up` from a successful `open` until `close` or until the device disappears; `down` otherwise. */
  get linkState(): LinkState {
    return this.state;
  }

  /**
   * The driver counters. `errors` sums failed reads and writes, oversize frames from the device,
   * exceptions thrown by the receiver and a failure of the I/O worker; {@link TapNicDriver.ringStats} has them one by one.
   */
  get stats(): Readonly<DriverStats> {
    const c = this.counters;
    const r = this.ringStats;
    c.errors =
      r.receiverErrors + this.workerFailures + r.rxReadErrors + r.txWriteErrors + r.rxOversize + r.rxBadVnetHeader;
    return c;
  }

  /** The data-path counters (see {@link TapRingStats}). */
  get ringStats(): Readonly<TapRingStats> {
    const k = this.ctrl;
    return {
      rxOversize: k[Ctrl.RX_OVERSIZE]! + this.rxOversize,
      rxReadErrors: k[Ctrl.RX_READ_ERRORS]! + this.rxReadErrors,
      rxRingFull: k[Ctrl.RX_RING_FULL]!,
      txWriteErrors:
        k[Ctrl.TX_WRITE_ERRORS]! + this.txWriteErrors + (this.port?.queuedWriteFailures ?? this.portQueuedFailures),
      txWritten: k[Ctrl.TX_WRITTEN]! + this.txWritten,
      txFlushes: this.txFlushes,
      receiverErrors: this.receiverErrors,
      txSuperFrames: this.txSuperFrames,
      txCoalesced: this.txCoalesced,
      txMerging: this.coalescer?.mergingEnabled ?? false,
      rxBadVnetHeader: this.rxBadVnetHeader,
      rxWakeups: this.port?.wakeups ?? this.portWakeups,
      rxReadAhead: this.port?.framesReadAhead ?? this.portReadAhead,
      txWritesQueued: this.port?.writesQueued ?? this.portWritesQueued,
    };
  }

  /** The receive filter last set. A TAP applies none (the kernel sends what it sends). */
  get receiveFilter(): Readonly<ReceiveFilter> {
    return this.filter;
  }

  /**
   * Attaches to (or creates) the TAP device and starts its I/O. Rejects with a {@link NicError}: see
   * `openTapFd`; `CLOSED` after `close`; `DEVICE_BUSY` while an open is under way; `PROTOCOL_ERROR`
   * when the I/O worker cannot start. Resolves at once when already open.
   */
  async open(): Promise<void> {
    if (this.phase === 'open') return;
    if (this.phase === 'closed') throw new NicError('CLOSED', this.name, 'driver was closed; make a new one');
    if (this.phase === 'opening') throw new NicError('DEVICE_BUSY', this.name, 'open already in progress');
    this.phase = 'opening';
    let tap: TapFd;
    try {
      tap = await openTapFd(this.options.ifname, {
        create: this.options.create ?? false,
        nonBlocking: true,
        vnetHeader: this.tso,
        ...(this.options.python === undefined ? {} : { python: this.options.python }),
      });
    } catch (e) {
      this.phase = 'new';
      throw e;
    }
    if (this.phase !== 'opening') {
      // close() ran while we were attaching.
      closeSync(tap.fd);
      throw new NicError('CLOSED', this.name, 'closed while opening');
    }
    this.tap = tap;
    this.vnetHeaderLength = tap.vnetHeaderLength;
    this.deviceName = `tap:${tap.name}`;
    this.currentMtu = this.options.mtu ?? tap.mtu;
    this.useScheduler();
    const maxFrame = Math.max(this.currentMtu, tap.mtu) + 14 + VLAN_TAG;
    if (this.ioMode === 'event-loop') {
      try {
        this.maxRxFrame = maxFrame;
        const hdr = this.vnetHeaderLength;
        this.coalescer = hdr > 0 ? new TcpSegmentCoalescer(maxFrame) : undefined;
        this.port = openEventLoopPort(
          tap.fd,
          hdr + maxFrame + 1,
          { frame: this.portFrame, failed: this.portFailed, wakeStart: this.portWakeStart, wakeEnd: this.portWakeEnd },
          undefined,
          this.slab,
        );
        this.phase = 'open';
        this.setLink('up');
        return;
      } catch {
        // The pipe handle refused the descriptor: the worker takes it.
        this.ioMode = 'worker';
      }
    }
    try {
      this.startWorker(tap, maxFrame);
    } catch (e) {
      closeSync(tap.fd);
      this.tap = undefined;
      this.releaseScheduler();
      this.phase = 'new';
      throw new NicError('PROTOCOL_ERROR', this.name, 'cannot start the TAP I/O worker', { cause: e });
    }
    this.phase = 'open';
    this.setLink('up');
    this.armInterrupt(Atomics.load(this.ctrl, Ctrl.RX_SEQ));
  }

  /** Takes `options.scheduler`, else makes and starts a private real-clock one. */
  private useScheduler(): void {
    if (this.options.scheduler !== undefined) {
      this.scheduler = this.options.scheduler;
      return;
    }
    const own = new Scheduler({ clock: 'real', hostWake: 'microtask' });
    own.start();
    this.ownScheduler = own;
    this.scheduler = own;
  }

  /** Frees the RX line and stops the private scheduler, if any. */
  private releaseScheduler(): void {
    this.rxLine?.free();
    this.rxLine = undefined;
    this.ownScheduler?.stop();
    this.ownScheduler = undefined;
  }

  /** Worker mode: lays out the rings, requests the RX line and starts the worker (throws if it cannot). */
  private startWorker(tap: TapFd, maxFrame: number): void {
    // Slots hold the virtio-net header too: the worker reads and writes whole descriptor records.
    const layout = ringLayout(
      this.options.rxRingSlots ?? 256,
      this.options.txRingSlots ?? 256,
      maxFrame + this.vnetHeaderLength,
    );
    this.layout = layout;
    const sab = new SharedArrayBuffer(layout.totalBytes);
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.rxLens = new Int32Array(sab, layout.rxLensOffset, layout.rxSlots);
    this.txLens = new Int32Array(sab, layout.txLensOffset, layout.txSlots);
    this.rxData = new Uint8Array(sab, layout.rxDataOffset, layout.rxSlots * layout.slotSize);
    this.txData = new Uint8Array(sab, layout.txDataOffset, layout.txSlots * layout.slotSize);
    this.rxMask = layout.rxSlots - 1;
    this.txMask = layout.txSlots - 1;
    this.txHead = 0;
    Atomics.store(this.ctrl, Ctrl.LINK_UP, 1);
    this.rxLine = this.scheduler!.requestIrq(
      `${this.name} rx`,
      this.options.irqPriority ?? DEFAULT_IRQ_PRIORITY,
      this.rxInterrupt,
    );
    const workerData: TapWorkerData = {
      fd: tap.fd,
      sab,
      layout,
      ctrl: Ctrl,
      batch: this.options.rxBatch ?? 32,
      pollMinMs: this.options.pollMinMs ?? 0.05,
      pollMaxMs: this.options.pollMaxMs ?? 1,
    };
    const worker = new Worker(tapWorkerSource(), { eval: true, name: `${this.name} io`, workerData });
    this.worker = worker;
    this.workerExited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('error', () => {
      // The worker died: no more I/O on this device. Count it and report the link down.
      this.workerFailures++;
      Atomics.store(this.ctrl, Ctrl.LINK_UP, 0);
      this.setLink('down');
    });
  }

  /** Writes what the TX queue holds, stops the worker, closes the descriptor. Idempotent; never hangs on a blocked read. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasOpen = this.phase === 'open';
    if (wasOpen && this.port !== undefined) this.writeQueued(this.txQueue.length);
    this.phase = 'closed';
    if (!wasOpen) return;
    this.releaseScheduler();
    if (this.port !== undefined) {
      const port = this.port;
      this.port = undefined;
      this.portWakeups = port.wakeups;
      this.portReadAhead = port.framesReadAhead;
      this.portWritesQueued = port.writesQueued;
      this.portQueuedFailures = port.queuedWriteFailures;
      this.tap = undefined;
      await port.close(); // closes the descriptor
      this.portQueuedFailures = port.queuedWriteFailures; // queued writes the close cancelled
      this.setLink('down');
      return;
    }
    Atomics.store(this.ctrl, Ctrl.STOP, 1);
    Atomics.add(this.ctrl, Ctrl.WAKE, 1);
    Atomics.notify(this.ctrl, Ctrl.WAKE);
    Atomics.add(this.ctrl, Ctrl.RX_SEQ, 1);
    Atomics.notify(this.ctrl, Ctrl.RX_SEQ);
    await this.workerExited;
    this.worker = undefined;
    if (this.tap) closeSync(this.tap.fd);
    this.tap = undefined;
    this.setLink('down');
  }

  /**
   * Queues `frame` (a wire frame; its last 4 bytes, the FCS, are never written) for the end of the
   * scheduler step: event-loop mode keeps the frame itself, worker mode copies it into the TX ring.
   * Returns false and counts why when the driver is not open or the device is gone, the length is
   * outside 18 .. MTU + 18, or (worker mode) the TX ring is full. Never throws.
   */
  transmit(frame: Uint8Array): boolean {
    const c = this.counters;
    if (this.phase !== 'open' || this.state !== 'up') {
      c.txDroppedLinkDown++;
      return false;
    }
    const len = frame.length;
    if (len < MIN_FRAME || len > this.currentMtu + FRAME_OVERHEAD) {
      c.txDroppedBadLength++;
      return false;
    }
    if (this.port !== undefined) {
      const queue = this.txQueue;
      if (queue.full) this.writeQueued(queue.length);
      queue.push(frame);
      if (this.inWake) return true; // written when the wake-up ends (portWakeEnd)
    } else if (!this.enqueueInRing(frame, len)) {
      c.txDroppedQueueFull++;
      return false;
    }
    if (!this.txFlushScheduled) {
      this.txFlushScheduled = true;
      this.scheduler!.schedule(this.txFlush);
    }
    return true;
  }

  /** Worker mode: copies the frame (without FCS) into the next TX slot; false when the ring is full. */
  private enqueueInRing(frame: Uint8Array, len: number): boolean {
    const k = this.ctrl;
    const head = this.txHead;
    const queued = (head - Atomics.load(k, Ctrl.TX_TAIL)) | 0;
    const slots = this.layout!.txSlots;
    if (queued >= slots) {
      this.publishTx();
      return false;
    }
    const slot = head & this.txMask;
    // The whole frame fits a slot after the header (header + MTU + 18 < slotSize); its FCS bytes are copied and never written.
    const at = slot * this.layout!.slotSize;
    const hdr = this.vnetHeaderLength;
    if (hdr > 0) writeVnetHeader(this.txData, at);
    this.txData.set(frame, at + hdr);
    this.txLens[slot] = hdr + len - FCS_LENGTH;
    this.txHead = (head + 1) | 0;
    const c = this.counters;
    c.txFrames++;
    c.txBytes += len;
    // Half a ring unpublished: let the worker start on it rather than wait for the end of the step.
    if (((this.txHead - k[Ctrl.TX_HEAD]!) | 0) >= slots >> 1) this.publishTx();
    return true;
  }

  /** Worker mode: makes the frames queued since the last flush visible to the worker and rings its doorbell. */
  private publishTx(): number {
    const k = this.ctrl;
    const published = k[Ctrl.TX_HEAD]!;
    const count = (this.txHead - published) | 0;
    if (count === 0) return 0;
    Atomics.store(k, Ctrl.TX_HEAD, this.txHead);
    this.txFlushes++;
    Atomics.add(k, Ctrl.WAKE, 1);
    if (Atomics.load(k, Ctrl.WORKER_SLEEPING) === 1) Atomics.notify(k, Ctrl.WAKE, 1);
    return count;
  }

  /** The TX bottom half: writes (event-loop) or publishes (worker) what `transmit` queued this step. */
  private flushTx(budget: number): number {
    if (this.phase !== 'open') {
      this.txFlushScheduled = false;
      return 0;
    }
    if (this.port === undefined) {
      this.txFlushScheduled = false;
      return this.publishTx();
    }
    const done = this.writeQueued(budget);
    // Budget spent with frames left: returning the budget makes the scheduler poll again next round.
    if (this.txQueue.length > 0) return budget;
    this.txFlushScheduled = false;
    return done;
  }

  /**
   * Event-loop mode: writes up to `max` queued frames, in order; returns how many it took off the
   * queue. With TSO, runs of frames the coalescer merges go out as one super-frame each.
   */
  private writeQueued(max: number): number {
    const port = this.port;
    const queue = this.txQueue;
    if (port === undefined || queue.length === 0) return 0;
    this.txFlushes++;
    const c = this.counters;
    const coalescer = this.coalescer;
    /** Bytes (FCS included, as counted) of the frames in the coalescer's run. */
    let runBytes = 0;
    let n = 0;
    while (n < max) {
      const frame = queue.shift();
      if (frame === undefined) break;
      n++;
      if (this.state !== 'up') {
        c.txDroppedLinkDown++;
        continue;
      }
      const len = frame.length;
      if (coalescer === undefined) {
        this.countWrite(port.write(frame, len - FCS_LENGTH), 1, len);
        continue;
      }
      if (coalescer.segments > 0) {
        if (coalescer.append(frame, len - FCS_LENGTH)) {
          runBytes += len;
          continue;
        }
        this.writeRun(port, coalescer, runBytes);
      }
      coalescer.start(frame, len - FCS_LENGTH);
      runBytes = len;
    }
    if (coalescer !== undefined && coalescer.segments > 0) this.writeRun(port, coalescer, runBytes);
    return n;
  }

  /** TSO: writes the coalescer's run (one frame, or a super-frame of several) and counts it. */
  private writeRun(port: EventLoopPort, coalescer: TcpSegmentCoalescer, bytes: number): void {
    const frames = coalescer.segments;
    const error = this.state === 'up' ? port.write(coalescer.buffer, coalescer.finish()) : 'EIO';
    // Queued: the port holds the frame in the coalescer's buffer until the kernel takes it.
    // (`typeof` first: this compare then sees only numbers, see below.)
    if (typeof error === 'number' && error === WRITE_QUEUED) coalescer.replaceBuffer();
    // `typeof`, not `=== 0`: the result is 0 or an error code string (EIO at start, before the kernel side is up),
    // and a strict compare that has seen both takes V8's generic path on every write.
    // And the string compare only where `error` is a string: a written single frame (0) reaching
    // `error === 'EINVAL'` made that compare see numbers too, and call V8's generic StrictEqual per write.
    if (typeof error === 'number') {
      if (frames > 1) {
        this.txSuperFrames++;
        this.txCoalesced += frames;
      }
    } else if (error === 'EINVAL' && frames > 1) {
      // This kernel refuses GSO frames: its segments are lost (TCP sends them again), later frames go out alone.
      coalescer.stopMerging();
    }
    this.countWrite(error, frames, bytes);
  }

  /**
   * Counts the outcome of one write that carried `frames` frames of `bytes` bytes (FCS included):
   * written or queued (a number), else the error code.
   */
  private countWrite(error: number | string, frames: number, bytes: number): void {
    const c = this.counters;
    if (typeof error === 'number') {
      this.txWritten += frames;
      c.txFrames += frames;
      c.txBytes += bytes;
    } else if (error === 'EAGAIN' || error === 'EWOULDBLOCK' || error === 'ENOBUFS') {
      c.txDroppedQueueFull += frames;
    } else if (error === 'EIO') {
      // The kernel side of the device is down (not up yet, or taken down): nothing can be sent.
      c.txDroppedLinkDown += frames;
    } else {
      this.txWriteErrors++;
      if (error === 'EBADFD' || error === 'EBADF' || error === 'ENXIO' || error === 'ENODEV') this.setLink('down');
    }
  }

  /** Sets the receiver; each call gets a fresh frame (no FCS) that it owns. Exceptions it throws are counted and swallowed. */
  onReceive(receiver: (frame: Uint8Array) => void): void {
    this.receiver = receiver;
  }

  /** Sets the listener for link changes (`up` on open; `down` on close or when the device disappears). */
  onLinkChange(listener: (state: LinkState) => void): void {
    this.linkListener = listener;
  }

  /** Records `filter` (see {@link TapNicDriver.receiveFilter}); a TAP cannot filter, so every frame is still delivered. */
  setReceiveFilter(filter: ReceiveFilter): void {
    this.filter = filter;
  }

  /** Event-loop mode: one frame read from the descriptor into the port's read buffer or (read ahead) the slab. */
  private readonly portFrame = (buffer: Uint8Array, offset: number, length: number): void => {
    if (this.phase !== 'open') return;
    const hdr = this.vnetHeaderLength;
    if (length > hdr + this.maxRxFrame) {
      this.rxOversize++;
      return;
    }
    if (hdr > 0 && (length < hdr || !isPlainVnetFrame(buffer, offset))) {
      this.rxBadVnetHeader++;
      return;
    }
    const slab = this.slab;
    // A frame read ahead is kept where it landed; one in the port's read buffer (offset 0) is copied
    // out with its header, through a view of the buffer's first `length` bytes kept for that length.
    let frame: Uint8Array;
    if (slab.holds(buffer, offset)) frame = slab.take(buffer, offset + hdr, length - hdr);
    else if (offset === 0) frame = slab.copyFrom(this.readViews.of(buffer, length), hdr);
    else frame = slab.take(buffer, offset + hdr, length - hdr);
    this.deliver(frame);
  };

  /**
   * Event-loop mode: a wake-up of the port begins. Its frames go up as one I/O callback of the
   * scheduler (`beginIo`, where it has one): the raises they cause ask for no microtask, and the turn
   * they owe runs at {@link portWakeEnd}, before the port's callback returns.
   */
  private readonly portWakeStart = (): void => {
    this.inWake = true;
    const s = this.scheduler;
    if (s !== undefined && s.beginIo !== undefined) s.beginIo();
  };

  /**
   * Event-loop mode: the wake-up {@link portWakeStart} began delivered its frames: the scheduler's turn
   * runs, then what the wake-up transmitted (the receiver, that turn) is written, in queue order.
   */
  private readonly portWakeEnd = (): void => {
    const s = this.scheduler;
    try {
      if (s !== undefined && s.endIo !== undefined) s.endIo();
    } finally {
      this.inWake = false;
      this.writeQueued(this.txQueue.length);
    }
  };

  /** Event-loop mode: the descriptor failed (device gone, read error): report the link down once. */
  private readonly portFailed = (): void => {
    this.rxReadErrors++;
    this.setLink('down');
  };

  /** Counts a received frame and hands it to the receiver. */
  private deliver(frame: Uint8Array): void {
    const c = this.counters;
    c.rxFrames++;
    c.rxBytes += frame.length;
    try {
      this.receiver(frame);
    } catch {
      this.receiverErrors++;
    }
  }

  private setLink(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.counters.linkChanges++;
    this.linkListener(state);
  }

  /**
   * Worker mode: enables the RX interrupt: the line is raised once `RX_SEQ` differs from `seen`
   * (at once if it already does).
   */
  private armInterrupt(seen: number): void {
    if (this.phase !== 'open') return;
    const r = waitAsync(this.ctrl, Ctrl.RX_SEQ, seen);
    if (r.async) void r.value.then(this.raiseRx);
    else this.raiseRx();
  }

  private readonly raiseRx = (): void => {
    this.rxLine?.raise();
  };

  /** Worker mode: the RX line's handler (top half): the bottom half does the work. */
  private readonly rxInterrupt = (): void => {
    this.scheduler!.schedule(this.rxPoll);
  };

  /**
   * Worker mode, the RX bottom half: delivers up to `budget` frames from the RX ring, freeing their
   * slots, and wakes the worker if it waits for room. Finding the ring empty first, it re-enables
   * the interrupt; a spent budget leaves the rest for the next round (the scheduler polls again).
   */
  private drainRx(budget: number): number {
    if (this.phase !== 'open') return 0;
    const k = this.ctrl;
    const seq = Atomics.load(k, Ctrl.RX_SEQ);
    const head = Atomics.load(k, Ctrl.RX_HEAD);
    let tail = k[Ctrl.RX_TAIL]!;
    const slotSize = this.layout!.slotSize;
    const hdr = this.vnetHeaderLength;
    let done = 0;
    while (tail !== head && done < budget && this.phase === 'open') {
      const slot = tail & this.rxMask;
      const at = slot * slotSize;
      const length = this.rxLens[slot]!;
      // The slot holds the descriptor's record: the virtio-net header (TSO), then the frame.
      const plain = hdr === 0 || (length >= hdr && isPlainVnetFrame(this.rxData, at));
      const frame = plain ? this.slab.take(this.rxData, at + hdr, length - hdr) : undefined;
      tail = (tail + 1) | 0;
      Atomics.store(k, Ctrl.RX_TAIL, tail);
      done++;
      if (frame !== undefined) this.deliver(frame);
      else this.rxBadVnetHeader++;
    }
    if (Atomics.load(k, Ctrl.RX_FULL_WAIT) === 1) {
      Atomics.store(k, Ctrl.RX_FULL_WAIT, 0);
      Atomics.add(k, Ctrl.WAKE, 1);
      Atomics.notify(k, Ctrl.WAKE, 1);
    }
    if (Atomics.load(k, Ctrl.LINK_UP) === 0) this.setLink('down');
    if (done < budget) this.armInterrupt(seq);
    return done;
  }
}
