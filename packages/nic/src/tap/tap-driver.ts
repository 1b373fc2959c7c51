/**
 * {@link TapNicDriver}: a {@link NicDriver} over a Linux TAP device.
 *
 * Two data paths (`io` option):
 * - `'event-loop'` (the default): the descriptor is watched by Node's event loop (epoll through a
 *   libuv pipe handle, `event-loop-port.ts`): a readable descriptor is the RX interrupt, each read is
 *   one frame, and `transmit` writes the frame at once from the main thread. No thread hand-off and no
 *   polling interval stand between a frame and the stack, so an idle gateway answers within one
 *   event-loop wake-up.
 * - `'worker'`: a dedicated worker thread owns all I/O on the TAP descriptor and talks to the main
 *   thread only through a SharedArrayBuffer holding an RX and a TX ring (see `ring-layout.ts`), with
 *   `Atomics` as the interrupt line (worker -> main, `Atomics.waitAsync` on the main side) and the
 *   doorbell (main -> worker). Frames cross the rings in batches; the worker polls the non-blocking
 *   descriptor, sleeping up to `pollMaxMs` when idle (that sleep is added to the first frame after
 *   silence). Used where the event-loop port is unavailable.
 *
 * FCS: a TAP carries frames without an FCS, and so does this driver (`fcs` is `'none'`): received
 * frames end with the payload, and `transmit` writes all but the 4 bytes reserved for the FCS,
 * which nobody computes. No CRC pass in either direction.
 *
 * The driver reads no clock. The worker's idle sleep is a bounded `Atomics.wait` (the poll interval
 * of the model NIC), and the attach helper process has a kill timeout; neither feeds any state.
 */
import { Worker } from 'node:worker_threads';
import { closeSync } from 'node:fs';
import type { MacAddress } from '@postern/wire';
import {
  FCS_LENGTH, NicError, newDriverStats,
  type DriverStats, type FcsMode, type LinkState, type NicDriver, type ReceiveFilter,
} from '../driver.js';
import { openTapFd, type TapFd } from './attach.js';
import { eventLoopPortAvailable, openEventLoopPort, type EventLoopPort } from './event-loop-port.js';
import { Ctrl, CTRL_WORDS, isPowerOfTwo, ringLayout, type RingLayout } from './ring-layout.js';
import { TAP_WORKER_SOURCE } from './worker-source.js';

/** The MAC address a {@link TapNicDriver} uses unless told otherwise: 02:50:53:54:00:01 (locally administered, unicast). */
export const DEFAULT_TAP_MAC: MacAddress = 0x02_50_53_54_00_01;

/** Ethernet header (14) + FCS (4): what a frame adds to the MTU. */
const FRAME_OVERHEAD = 18;
/** Room for one 802.1Q tag on received frames. */
const VLAN_TAG = 4;
const MIN_FRAME = 18;

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
  /** The MTU to report and enforce on transmit. Default: the device's MTU when it is opened. */
  mtu?: number;
  /** Worker mode: RX ring slots, a power of two. Default 256. */
  rxRingSlots?: number;
  /** Worker mode: TX ring slots, a power of two. Default 256. */
  txRingSlots?: number;
  /** Worker mode: most frames the worker reads before it raises the RX interrupt. Default 32. */
  rxBatch?: number;
  /** Worker mode: shortest idle sleep of the worker between polls of the device, ms. Default 0.05. */
  pollMinMs?: number;
  /** Worker mode: longest idle sleep of the worker (the worst added latency for a frame after silence), ms. Default 1. */
  pollMaxMs?: number;
  /** The Python 3 interpreter used to attach. Default `python3`. */
  python?: string;
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
  /** Exceptions thrown by the receiver callback (counted in `errors` too). */
  receiverErrors: number;
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): WaitAsyncResult }).waitAsync;

/**
 * A NIC driver over a Linux TAP device (needs `CAP_NET_ADMIN` and `python3` to attach; see
 * `attach.ts`).
 *
 * Contract, beyond {@link NicDriver}:
 * - `fcs` is `'none'`: every received frame is delivered as its own `Uint8Array` (which the callee
 *   owns) without an FCS, in arrival order, from an I/O callback on the main thread (event-loop
 *   mode) or an `Atomics.waitAsync` continuation (worker mode).
 * - `transmit` writes the frame minus its last 4 bytes (event-loop mode) or copies it into the TX
 *   ring (worker mode) and returns at once; the caller may reuse its buffer afterwards. It refuses
 *   frames shorter than 18 or longer than MTU + 18 bytes (`txDroppedBadLength`), when not open or the
 *   device is gone (`txDroppedLinkDown`), and when the kernel would block or the TX ring is full
 *   (`txDroppedQueueFull`).
 * - Worker mode: when the RX ring is full the worker stops reading: frames wait in the kernel's
 *   queue (which drops beyond its own limit) rather than being dropped here. Event-loop mode: frames
 *   wait in the kernel's queue until the main thread reads them.
 * - Link state is `up` from a successful `open` until `close`, or until the device disappears
 *   (deleted, or its namespace deleted), which reports `down` once.
 * - `close` stops the worker (it never blocks in a system call, so this takes at most about
 *   `pollMaxMs`), then closes the descriptor. Frames still in the rings are dropped. It is
 *   idempotent; the driver cannot be opened again.
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
  private pumpScheduled = false;
  private port: EventLoopPort | undefined;
  private ioMode: TapIoMode;
  private txWritten = 0;
  private txWriteErrors = 0;
  private rxReadErrors = 0;
  private rxOversize = 0;

  constructor(options: TapNicDriverOptions) {
    this.options = { ...options };
    this.deviceName = `tap:${options.ifname}`;
    this.mac = options.mac ?? DEFAULT_TAP_MAC;
    this.currentMtu = options.mtu ?? 1500;
    this.ioMode = options.io === 'worker' || !eventLoopPortAvailable() ? 'worker' : 'event-loop';
    const rx = options.rxRingSlots ?? 256;
    const tx = options.txRingSlots ?? 256;
    if (!isPowerOfTwo(rx) || !isPowerOfTwo(tx)) throw new NicError('BAD_ARGUMENT', this.name, 'ring sizes must be powers of two');
    if (options.mtu !== undefined && (!Number.isInteger(options.mtu) || options.mtu < 68 || options.mtu > 65_535)) {
      throw new NicError('BAD_ARGUMENT', this.name, `bad MTU ${options.mtu}`);
    }
  }

  /** `tap:` + the interface name (the kernel's, once open: a `%d` pattern is resolved then). */
  get name(): string {
    return this.deviceName;
  }

  /** The I/O mode in use: the `io` option, except that `'event-loop'` falls back to `'worker'` where unavailable. */
  get io(): TapIoMode {
    return this.ioMode;
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
    c.errors = r.receiverErrors + this.workerFailures + r.rxReadErrors + r.txWriteErrors + r.rxOversize;
    return c;
  }

  /** The data-path counters (see {@link TapRingStats}). */
  get ringStats(): Readonly<TapRingStats> {
    const k = this.ctrl;
    return {
      rxOversize: k[Ctrl.RX_OVERSIZE]! + this.rxOversize, rxReadErrors: k[Ctrl.RX_READ_ERRORS]! + this.rxReadErrors, rxRingFull: k[Ctrl.RX_RING_FULL]!,
      txWriteErrors: k[Ctrl.TX_WRITE_ERRORS]! + this.txWriteErrors, txWritten: k[Ctrl.TX_WRITTEN]! + this.txWritten, receiverErrors: this.receiverErrors,
    };
  }

  /** The receive filter last set. A TAP applies none (the kernel sends what it sends). */
  get receiveFilter(): Readonly<ReceiveFilter> {
    return this.filter;
  }

  /**
   * Attaches to (or creates) the TAP device and starts the I/O worker. Rejects with a
   * {@link NicError}: see `openTapFd`; `CLOSED` after `close`; `DEVICE_BUSY` while an open is
   * under way. Resolves at once when already open.
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
    this.deviceName = `tap:${tap.name}`;
    this.currentMtu = this.options.mtu ?? tap.mtu;
    if (this.ioMode === 'event-loop') {
      try {
        this.port = openEventLoopPort(tap.fd, { frame: this.portFrame, failed: this.portFailed });
        this.maxRxFrame = Math.max(this.currentMtu, tap.mtu) + 14 + VLAN_TAG;
        this.phase = 'open';
        this.setLink('up');
        return;
      } catch {
        // The pipe handle refused the descriptor: the worker takes it.
        this.ioMode = 'worker';
      }
    }
    const maxFrame = Math.max(this.currentMtu, tap.mtu) + 14 + VLAN_TAG;
    const layout = ringLayout(this.options.rxRingSlots ?? 256, this.options.txRingSlots ?? 256, maxFrame);
    this.layout = layout;
    const sab = new SharedArrayBuffer(layout.totalBytes);
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.rxLens = new Int32Array(sab, layout.rxLensOffset, layout.rxSlots);
    this.txLens = new Int32Array(sab, layout.txLensOffset, layout.txSlots);
    this.rxData = new Uint8Array(sab, layout.rxDataOffset, layout.rxSlots * layout.slotSize);
    this.txData = new Uint8Array(sab, layout.txDataOffset, layout.txSlots * layout.slotSize);
    this.rxMask = layout.rxSlots - 1;
    this.txMask = layout.txSlots - 1;
    Atomics.store(this.ctrl, Ctrl.LINK_UP, 1);
    let worker: Worker;
    try {
      worker = new Worker(TAP_WORKER_SOURCE, {
        eval: true,
        name: `${this.name} io`,
        workerData: {
          fd: tap.fd, sab, layout, ctrl: Ctrl,
          batch: this.options.rxBatch ?? 32,
          pollMinMs: this.options.pollMinMs ?? 0.05,
          pollMaxMs: this.options.pollMaxMs ?? 1,
        },
      });
    } catch (e) {
      closeSync(tap.fd);
      this.tap = undefined;
      this.phase = 'new';
      throw new NicError('PROTOCOL_ERROR', this.name, 'cannot start the TAP I/O worker', { cause: e });
    }
    this.worker = worker;
    this.workerExited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('error', () => {
      // The worker died: no more I/O on this device. Count it and report the link down.
      this.workerFailures++;
      Atomics.store(this.ctrl, Ctrl.LINK_UP, 0);
      this.setLink('down');
    });
    this.phase = 'open';
    this.setLink('up');
    this.armInterrupt(Atomics.load(this.ctrl, Ctrl.RX_SEQ));
  }

  /** Stops the worker, drops what is in the rings, closes the descriptor. Idempotent; never hangs on a blocked read. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    if (!wasOpen) return;
    if (this.port !== undefined) {
      const port = this.port;
      this.port = undefined;
      this.tap = undefined;
      await port.close(); // closes the descriptor
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
   * Copies `frame` (a wire frame; its last 4 bytes, the FCS, are dropped unchecked) into the TX ring
   * and rings the worker's doorbell. Returns false and counts why when the driver is not open or the
   * device is gone, the length is outside 18 .. MTU + 18, or the TX ring is full. Never throws.
   */
  transmit(frame: Uint8Array): boolean {
    const c = this.counters;
    if (this.phase !== 'open' || this.state !== 'up') {
      c.txDroppedLinkDown++;
      return false;
    }
    const len = frame.byteLength;
    if (len < MIN_FRAME || len > this.currentMtu + FRAME_OVERHEAD) {
      c.txDroppedBadLength++;
      return false;
    }
    const port = this.port;
    if (port !== undefined) {
      const error = port.write(frame, len - FCS_LENGTH);
      if (error !== 0) {
        if (error === 'EAGAIN' || error === 'EWOULDBLOCK' || error === 'ENOBUFS') {
          c.txDroppedQueueFull++;
        } else if (error === 'EIO') {
          // The kernel side of the device is down (not up yet, or taken down): nothing can be sent.
          c.txDroppedLinkDown++;
        } else {
          this.txWriteErrors++;
          if (error === 'EBADFD' || error === 'EBADF' || error === 'ENXIO' || error === 'ENODEV') this.setLink('down');
        }
        return false;
      }
      this.txWritten++;
      c.txFrames++;
      c.txBytes += len;
      return true;
    }
    const k = this.ctrl;
    const head = k[Ctrl.TX_HEAD]!;
    const queued = (head - Atomics.load(k, Ctrl.TX_TAIL)) | 0;
    if (queued >= this.layout!.txSlots) {
      c.txDroppedQueueFull++;
      return false;
    }
    const slot = head & this.txMask;
    const bytes = len - FCS_LENGTH;
    this.txData.set(frame.subarray(0, bytes), slot * this.layout!.slotSize);
    this.txLens[slot] = bytes;
    Atomics.store(k, Ctrl.TX_HEAD, (head + 1) | 0);
    // A worker with frames still queued has not finished its pass and will see this one without a
    // doorbell; only a push into an empty ring may find it asleep.
    if (queued === 0) this.ringDoorbell();
    c.txFrames++;
    c.txBytes += len;
    return true;
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

  /** Event-loop mode: the largest frame (no FCS) accepted from the device. */
  private maxRxFrame = 0;

  /** Event-loop mode: one frame read from the descriptor. */
  private readonly portFrame = (frame: Uint8Array): void => {
    if (this.phase !== 'open') return;
    const c = this.counters;
    if (frame.byteLength > this.maxRxFrame) {
      this.rxOversize++;
      return;
    }
    c.rxFrames++;
    c.rxBytes += frame.byteLength;
    try {
      this.receiver(frame);
    } catch {
      this.receiverErrors++;
    }
  };

  /** Event-loop mode: the descriptor failed (device gone, read error): report the link down once. */
  private readonly portFailed = (): void => {
    this.rxReadErrors++;
    this.setLink('down');
  };

  private ringDoorbell(): void {
    Atomics.add(this.ctrl, Ctrl.WAKE, 1);
    if (Atomics.load(this.ctrl, Ctrl.WORKER_SLEEPING) === 1) Atomics.notify(this.ctrl, Ctrl.WAKE, 1);
  }

  private setLink(state: LinkState): void {
    if (this.state === state) return;
    this.state = state;
    this.counters.linkChanges++;
    this.linkListener(state);
  }

  /** Waits for the RX interrupt (a change of `RX_SEQ` from `seen`), then runs the pump. */
  private armInterrupt(seen: number): void {
    if (this.phase !== 'open') return;
    const r = waitAsync(this.ctrl, Ctrl.RX_SEQ, seen);
    if (r.async) void r.value.then(this.interrupt);
    else this.schedulePump();
  }

  private readonly interrupt = (): void => {
    this.schedulePump();
  };

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(this.pump);
  }

  /**
   * The bottom half: delivers at most one ring's worth of frames, frees their slots, then re-arms
   * the interrupt (or reschedules itself when more are waiting, letting other I/O run in between).
   */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    if (this.phase !== 'open') return;
    const k = this.ctrl;
    const seq = Atomics.load(k, Ctrl.RX_SEQ);
    const head = Atomics.load(k, Ctrl.RX_HEAD);
    let tail = k[Ctrl.RX_TAIL]!;
    const slotSize = this.layout!.slotSize;
    const c = this.counters;
    while (tail !== head && this.phase === 'open') {
      const slot = tail & this.rxMask;
      const start = slot * slotSize;
      const frame = this.rxData.slice(start, start + this.rxLens[slot]!);
      tail = (tail + 1) | 0;
      Atomics.store(k, Ctrl.RX_TAIL, tail);
      c.rxFrames++;
      c.rxBytes += frame.byteLength;
      try {
        this.receiver(frame);
      } catch {
        this.receiverErrors++;
      }
    }
    if (Atomics.load(k, Ctrl.RX_FULL_WAIT) === 1) {
      Atomics.store(k, Ctrl.RX_FULL_WAIT, 0);
      Atomics.add(k, Ctrl.WAKE, 1);
      Atomics.notify(k, Ctrl.WAKE, 1);
    }
    if (Atomics.load(k, Ctrl.LINK_UP) === 0) this.setLink('down');
    this.armInterrupt(seq);
  };
}
