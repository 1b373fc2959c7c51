/**
 * The TAP I/O worker, as JavaScript source for `new Worker(source, { eval: true })`. It is a string,
 * not a module, so that it runs the same from TypeScript sources (vitest, tsx) and from a build,
 * with no file to locate and nothing a bundler or transpiler could rewrite.
 *
 * The worker is the NIC's DMA engine. In a loop it: writes every frame queued in the TX ring (one
 * `write` per frame); reads frames from the non-blocking TAP descriptor into RX slots (no FCS: the medium has
 * none, and the driver reports `fcs: 'none'`), up to `batch` frames; then
 * publishes the batch and raises the RX interrupt (bumps `RX_SEQ`, `Atomics.notify`). When a pass
 * found nothing to do it sleeps in `Atomics.wait` on the doorbell word, from `pollMinMs` doubling up
 * to `pollMaxMs`: a TX doorbell or STOP wakes it at once, a frame arriving from the kernel is picked
 * up within the current sleep. A blocking `read` would need no polling, but nothing interrupts a
 * thread blocked in it: closing the descriptor from another thread does not wake it (the read holds
 * its own reference to the file), signals restart it (libuv installs handlers with SA_RESTART), and
 * only deleting the device would; a worker blocked there cannot be joined, so close, and process
 * exit, could hang. Hence a non-blocking descriptor and a bounded idle sleep.
 *
 * It never closes the descriptor: the main thread does, after the worker has exited.
 * workerData: { fd, sab, layout: RingLayout, ctrl: typeof Ctrl, batch, pollMinMs, pollMaxMs }.
 */
export const TAP_WORKER_SOURCE = String.raw`
'use strict';
// EAGAIN arrives as an exception from readSync once per idle poll; without stack traces it is cheap.
Error.stackTraceLimit = 0;
const { workerData } = require('node:worker_threads');
const { readSync, writeSync } = require('node:fs');
const { fd, sab, layout: L, ctrl: C, batch, pollMinMs, pollMaxMs } = workerData;
const ctrl = new Int32Array(sab, 0, L.rxLensOffset / 4);
const rxLens = new Int32Array(sab, L.rxLensOffset, L.rxSlots);
const txLens = new Int32Array(sab, L.txLensOffset, L.txSlots);
const rxMask = L.rxSlots - 1;
const txMask = L.txSlots - 1;
const rxSlotViews = [];
for (let i = 0; i < L.rxSlots; i++) rxSlotViews.push(new Uint8Array(sab, L.rxDataOffset + i * L.slotSize, L.slotSize));
const txSlotViews = [];
for (let i = 0; i < L.txSlots; i++) txSlotViews.push(new Uint8Array(sab, L.txDataOffset + i * L.slotSize, L.slotSize));
const EBADFD = -77;
let linkUp = true;
let wait = pollMinMs;

function fatal(err) {
  // The device went away (deleted, or its namespace with it): report link loss once, stop I/O.
  linkUp = false;
  Atomics.store(ctrl, C.LINK_UP, 0);
  Atomics.add(ctrl, C.RX_SEQ, 1);
  Atomics.notify(ctrl, C.RX_SEQ);
}

function isDeviceGone(err) {
  return err.errno === EBADFD || err.code === 'EBADF' || err.code === 'EBADFD' || err.code === 'ENXIO' || err.code === 'ENODEV';
}

function transmitQueued() {
  let tail = ctrl[C.TX_TAIL];
  const head = Atomics.load(ctrl, C.TX_HEAD);
  if (tail === head) return false;
  let written = 0;
  while (tail !== head) {
    const slot = tail & txMask;
    if (linkUp) {
      try {
        writeSync(fd, txSlotViews[slot], 0, txLens[slot]);
        written++;
      } catch (err) {
        if (err.code !== 'EINTR') Atomics.add(ctrl, C.TX_WRITE_ERRORS, 1);
        if (isDeviceGone(err)) fatal(err);
      }
    }
    tail = (tail + 1) | 0;
  }
  // One store per drained batch: the main thread only needs to see the slots come free.
  Atomics.store(ctrl, C.TX_TAIL, tail);
  if (written) Atomics.add(ctrl, C.TX_WRITTEN, written);
  return true;
}

function receiveBatch() {
  if (!linkUp) return false;
  let head = ctrl[C.RX_HEAD];
  let n = 0;
  while (n < batch) {
    if (((head - Atomics.load(ctrl, C.RX_TAIL)) | 0) >= L.rxSlots) {
      Atomics.add(ctrl, C.RX_RING_FULL, 1);
      Atomics.store(ctrl, C.RX_FULL_WAIT, 1);
      break;
    }
    const slot = head & rxMask;
    const view = rxSlotViews[slot];
    let len;
    try {
      len = readSync(fd, view, 0, L.readLength, null);
    } catch (err) {
      if (err.code === 'EAGAIN' || err.code === 'EWOULDBLOCK') break;
      if (err.code === 'EINTR') continue;
      Atomics.add(ctrl, C.RX_READ_ERRORS, 1);
      if (isDeviceGone(err)) fatal(err);
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
}

for (;;) {
  const wakeSeen = Atomics.load(ctrl, C.WAKE);
  if (Atomics.load(ctrl, C.STOP)) break;
  const sent = transmitQueued();
  const received = receiveBatch();
  if (sent || received) {
    wait = pollMinMs;
    continue;
  }
  Atomics.store(ctrl, C.WORKER_SLEEPING, 1);
  const woken = Atomics.wait(ctrl, C.WAKE, wakeSeen, linkUp ? wait : pollMaxMs * 64) !== 'timed-out';
  Atomics.store(ctrl, C.WORKER_SLEEPING, 0);
  wait = woken ? pollMinMs : Math.min(wait * 2, pollMaxMs);
}
`;
