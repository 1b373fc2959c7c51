/**
 * The TAP I/O worker: {@link tapWorkerMain} is the whole program of the worker thread, and
 * {@link tapWorkerSource} turns it into the source that `new Worker(source, { eval: true })` runs.
 *
 * Why a function and not a worker file: the driver runs from TypeScript sources (vitest, tsx), from
 * the package's build (`dist/`) and from the esbuild bundles of the executables; a worker file would
 * have to be found, and be JavaScript, in each of the three. The function is compiled with the module
 * that holds it, wherever that is, and its text (`Function.prototype.toString`) is the worker's
 * source: one source of truth, typechecked and linted. The price is two rules that the compiler
 * cannot check, and that `tap-worker.test.ts` does by running the source in an empty context, as
 * compiled here and as esbuild compiles it with names kept and minified (the harshest transform of
 * the executables' bundles and of tsx): the function is self-contained, reading nothing from the
 * module around it (what it needs comes in as arguments: the `node:fs` calls and the `workerData`;
 * it imports nothing), and it holds no nested named function (a transpiler that keeps names would
 * wrap one in a call to a helper outside the function).
 *
 * The worker is the NIC's DMA engine. In a loop it: writes every frame queued in the TX ring (one
 * `write` per frame); reads frames from the non-blocking TAP descriptor into RX slots (no FCS: the
 * medium has none, and the driver reports `fcs: 'none'`), up to `batch` frames; then publishes the
 * batch and raises the RX interrupt (bumps `RX_SEQ`, `Atomics.notify`). When a pass found nothing to
 * do it sleeps in `Atomics.wait` on the doorbell word, from `pollMinMs` doubling up to `pollMaxMs`:
 * a TX doorbell or STOP wakes it at once, a frame arriving from the kernel is picked up within the
 * current sleep. A blocking `read` would need no polling, but nothing interrupts a thread blocked in
 * it: closing the descriptor from another thread does not wake it (the read holds its own reference
 * to the file), signals restart it (libuv installs handlers with SA_RESTART), and only deleting the
 * device would; a worker blocked there cannot be joined, so close, and process exit, could hang.
 * Hence a non-blocking descriptor and a bounded idle sleep.
 *
 * It never closes the descriptor: the main thread does, after the worker has exited.
 */
import type { readSync, writeSync } from 'node:fs';
import type { Ctrl, RingLayout } from './ring-layout.js';

/** What the driver hands the worker (its `workerData`). */
export interface TapWorkerData {
  /** The attached, non-blocking TAP descriptor (the main thread owns it and closes it). */
  fd: number;
  /** The shared rings and control words (see `ring-layout.ts`). */
  sab: SharedArrayBuffer;
  /** Where each region of `sab` lies. */
  layout: RingLayout;
  /** The indices of the control words ({@link Ctrl}), passed in because the worker imports nothing. */
  ctrl: typeof Ctrl;
  /** Most frames read before the RX interrupt is raised. */
  batch: number;
  /** Shortest idle sleep, ms. */
  pollMinMs: number;
  /** Longest idle sleep, ms. */
  pollMaxMs: number;
}

/** The `node:fs` calls the worker makes (passed in: the worker's source imports nothing). */
export interface TapWorkerFs {
  readSync: typeof readSync;
  writeSync: typeof writeSync;
}

/**
 * The worker's program: runs until the driver sets `STOP`. Self-contained (see the module
 * documentation): it refers to nothing outside its own body but its arguments and JavaScript's
 * globals.
 */
export function tapWorkerMain(data: TapWorkerData, fs: TapWorkerFs): void {
  // EAGAIN arrives as an exception from readSync once per idle poll; without stack traces it is cheap.
  Error.stackTraceLimit = 0;
  const { fd, sab, layout: L, ctrl: C, batch, pollMinMs, pollMaxMs } = data;
  const ctrl = new Int32Array(sab, 0, L.rxLensOffset / 4);
  const rxLens = new Int32Array(sab, L.rxLensOffset, L.rxSlots);
  const txLens = new Int32Array(sab, L.txLensOffset, L.txSlots);
  const rxMask = L.rxSlots - 1;
  const txMask = L.txSlots - 1;
  const rxSlotViews: Uint8Array[] = [];
  for (let i = 0; i < L.rxSlots; i++)
    rxSlotViews.push(new Uint8Array(sab, L.rxDataOffset + i * L.slotSize, L.slotSize));
  const txSlotViews: Uint8Array[] = [];
  for (let i = 0; i < L.txSlots; i++)
    txSlotViews.push(new Uint8Array(sab, L.txDataOffset + i * L.slotSize, L.slotSize));
  const EBADFD = -77;
  let linkUp = true;
  let wait = pollMinMs;

  // The helpers are methods of one object, not nested functions: transpilers that keep function names
  // (esbuild's keepNames) wrap a nested function in a call to a helper of their own, which the
  // worker, running only this function's text, would not have. Methods keep their names untouched.
  const io = {
    /** The device went away (deleted, or its namespace with it): report link loss once, stop I/O. */
    deviceGone(): void {
      linkUp = false;
      Atomics.store(ctrl, C.LINK_UP, 0);
      Atomics.add(ctrl, C.RX_SEQ, 1);
      Atomics.notify(ctrl, C.RX_SEQ);
    },

    codeOf(err: unknown): string | undefined {
      return (err as { code?: string }).code;
    },

    isDeviceGone(err: unknown): boolean {
      const code = io.codeOf(err);
      return (
        (err as { errno?: number }).errno === EBADFD ||
        code === 'EBADF' ||
        code === 'EBADFD' ||
        code === 'ENXIO' ||
        code === 'ENODEV'
      );
    },

    /** Writes every frame the driver published in the TX ring; true when there was any. */
    transmitQueued(): boolean {
      let tail = ctrl[C.TX_TAIL]!;
      const head = Atomics.load(ctrl, C.TX_HEAD);
      if (tail === head) return false;
      let written = 0;
      while (tail !== head) {
        const slot = tail & txMask;
        if (linkUp) {
          try {
            fs.writeSync(fd, txSlotViews[slot]!, 0, txLens[slot]!);
            written++;
          } catch (err) {
            if (io.codeOf(err) !== 'EINTR') Atomics.add(ctrl, C.TX_WRITE_ERRORS, 1);
            if (io.isDeviceGone(err)) io.deviceGone();
          }
        }
        tail = (tail + 1) | 0;
      }
      // One store per drained batch: the main thread only needs to see the slots come free.
      Atomics.store(ctrl, C.TX_TAIL, tail);
      if (written > 0) Atomics.add(ctrl, C.TX_WRITTEN, written);
      return true;
    },

    /** Reads up to `batch` frames into the RX ring and raises the interrupt; true when it read any. */
    receiveBatch(): boolean {
      if (!linkUp) return false;
      let head = ctrl[C.RX_HEAD]!;
      let n = 0;
      while (n < batch) {
        if (((head - Atomics.load(ctrl, C.RX_TAIL)) | 0) >= L.rxSlots) {
          Atomics.add(ctrl, C.RX_RING_FULL, 1);
          Atomics.store(ctrl, C.RX_FULL_WAIT, 1);
          break;
        }
        const slot = head & rxMask;
        let len: number;
        try {
          len = fs.readSync(fd, rxSlotViews[slot]!, 0, L.readLength, null);
        } catch (err) {
          const code = io.codeOf(err);
          if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
          if (code === 'EINTR') continue;
          Atomics.add(ctrl, C.RX_READ_ERRORS, 1);
          if (io.isDeviceGone(err)) io.deviceGone();
          break;
        }
        if (len > L.maxFrame || len <= 0) {
          Atomics.add(ctrl, C.RX_OVERSIZE, 1);
          continue;
        }
        rxLens[slot] = len;
        head = (head + 1) | 0;
        n++;
      }
      if (n === 0) return false;
      Atomics.store(ctrl, C.RX_HEAD, head);
      Atomics.add(ctrl, C.RX_SEQ, 1);
      Atomics.notify(ctrl, C.RX_SEQ);
      return true;
    },
  };

  for (;;) {
    const wakeSeen = Atomics.load(ctrl, C.WAKE);
    if (Atomics.load(ctrl, C.STOP) !== 0) break;
    const sent = io.transmitQueued();
    const received = io.receiveBatch();
    if (sent || received) {
      wait = pollMinMs;
      continue;
    }
    Atomics.store(ctrl, C.WORKER_SLEEPING, 1);
    const woken = Atomics.wait(ctrl, C.WAKE, wakeSeen, linkUp ? wait : pollMaxMs * 64) !== 'timed-out';
    Atomics.store(ctrl, C.WORKER_SLEEPING, 0);
    wait = woken ? pollMinMs : Math.min(wait * 2, pollMaxMs);
  }
}

/**
 * The worker's source for `new Worker(source, { eval: true })` (a CommonJS script): the text of
 * {@link tapWorkerMain}, as compiled, called with `workerData` and `node:fs`.
 */
export function tapWorkerSource(): string {
  return `'use strict';\n(${tapWorkerMain.toString()})(require('node:worker_threads').workerData, require('node:fs'));\n`;
}
