/**
 * The TAP I/O worker's program without a TAP device: its source (the text of `tapWorkerMain`, as
 * the driver hands it to `new Worker(..., { eval: true })`) runs in an empty V8 context, against a
 * fake `node:fs` over the real shared rings. Proves that the source is self-contained (it refers to
 * nothing outside the function: a free name would throw in the empty context) and what one pass of
 * the worker does: writes the published TX frames in order, reads frames into RX slots and raises
 * the interrupt, stops on STOP.
 */
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { Ctrl, CTRL_WORDS, ringLayout } from '../src/tap/ring-layout.js';
import { tapWorkerMain, tapWorkerSource, type TapWorkerData } from '../src/tap/tap-worker.js';

interface FakeFs {
  written: number[][];
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
}

/** A fake `node:fs`: `reads` are handed out one per readSync, then EAGAIN, and the worker is told to stop. */
function fakeFs(ctrl: Int32Array, reads: Uint8Array[]): FakeFs {
  const written: number[][] = [];
  return {
    written,
    readSync(_fd, buffer, offset, length) {
      const next = reads.shift();
      if (next === undefined) {
        Atomics.store(ctrl, Ctrl.STOP, 1);
        throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      }
      const n = Math.min(next.length, length);
      buffer.set(next.subarray(0, n), offset);
      return next.length;
    },
    writeSync(_fd, buffer, offset, length) {
      written.push([...buffer.subarray(offset, offset + length)]);
      return length;
    },
  };
}

function rings(maxFrame = 100) {
  const layout = ringLayout(4, 4, maxFrame);
  const sab = new SharedArrayBuffer(layout.totalBytes);
  const ctrl = new Int32Array(sab, 0, CTRL_WORDS);
  const data: TapWorkerData = { fd: 99, sab, layout, ctrl: Ctrl, batch: 8, pollMinMs: 0.05, pollMaxMs: 1 };
  return { layout, sab, ctrl, data };
}

/** Runs the worker's source as the driver builds it, in a context holding nothing but a `require` of the fakes. */
function runSource(data: TapWorkerData, fs: FakeFs, source = tapWorkerSource()): void {
  const modules: Record<string, unknown> = { 'node:worker_threads': { workerData: data }, 'node:fs': fs };
  runInNewContext(source, {
    require: (name: string) => {
      if (!(name in modules)) throw new Error(`the worker required ${name}`);
      return modules[name];
    },
  });
}

describe('the TAP worker program', () => {
  it('its source is the function itself, runnable where nothing else is defined', () => {
    expect(tapWorkerSource()).toContain(tapWorkerMain.toString());
    const { ctrl, data } = rings();
    const fs = fakeFs(ctrl, []);
    Atomics.store(ctrl, Ctrl.STOP, 1);
    expect(() => runSource(data, fs)).not.toThrow();
    expect(fs.written).toEqual([]);
  });

  it('runs as compiled by esbuild with names kept and minified (tsx keeps names; bundles may minify)', async () => {
    const entry = fileURLToPath(new URL('../src/tap/tap-worker.ts', import.meta.url));
    const out = await build({
      stdin: {
        contents: `import { tapWorkerSource } from ${JSON.stringify(entry)};\nexport const source = tapWorkerSource();\n`,
        resolveDir: '.',
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      keepNames: true,
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const compiled = { exports: {} as { source?: string } };
    new Function('module', 'exports', 'require', out.outputFiles[0]!.text)(compiled, compiled.exports, () => ({}));
    const source = compiled.exports.source!;
    expect(source).not.toBe(tapWorkerSource()); // really another compilation
    const { layout, sab, ctrl, data } = rings();
    const fs = fakeFs(ctrl, [Uint8Array.of(1, 2, 3)]);
    runSource(data, fs, source);
    expect(Atomics.load(ctrl, Ctrl.RX_HEAD)).toBe(1);
    expect(new Int32Array(sab, layout.rxLensOffset, 1)[0]).toBe(3);
  });

  it('writes the published TX frames in order, reads frames into RX slots, raises the interrupt once per batch', () => {
    const { layout, sab, ctrl, data } = rings();
    const txLens = new Int32Array(sab, layout.txLensOffset, layout.txSlots);
    const txData = new Uint8Array(sab, layout.txDataOffset, layout.txSlots * layout.slotSize);
    for (const [slot, frame] of [
      [1, 2, 3],
      [4, 5, 6, 7],
    ].entries()) {
      txData.set(frame, slot * layout.slotSize);
      txLens[slot] = frame.length;
    }
    Atomics.store(ctrl, Ctrl.TX_HEAD, 2);
    const fs = fakeFs(ctrl, [Uint8Array.of(9, 8, 7), new Uint8Array(layout.maxFrame + 1), Uint8Array.of(6, 5)]);
    runSource(data, fs);

    expect(fs.written).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(Atomics.load(ctrl, Ctrl.TX_TAIL)).toBe(2);
    expect(Atomics.load(ctrl, Ctrl.TX_WRITTEN)).toBe(2);
    // Two frames in slots 0 and 1; the one longer than maxFrame is counted and dropped.
    expect(Atomics.load(ctrl, Ctrl.RX_HEAD)).toBe(2);
    expect(Atomics.load(ctrl, Ctrl.RX_OVERSIZE)).toBe(1);
    expect(Atomics.load(ctrl, Ctrl.RX_SEQ)).toBe(1);
    const rxLens = new Int32Array(sab, layout.rxLensOffset, layout.rxSlots);
    const rxData = new Uint8Array(sab, layout.rxDataOffset, layout.rxSlots * layout.slotSize);
    expect([...rxData.subarray(0, rxLens[0]!)]).toEqual([9, 8, 7]);
    expect([...rxData.subarray(layout.slotSize, layout.slotSize + rxLens[1]!)]).toEqual([6, 5]);
  });

  it('stops reading while the RX ring is full and says it waits for room', () => {
    const { ctrl, data } = rings();
    const frames = Array.from({ length: 6 }, (_, i) => Uint8Array.of(i));
    const fs = fakeFs(ctrl, frames);
    // Nothing frees a slot here, so a worker facing a full ring would sleep and poll forever: the
    // fourth read (the one that fills the ring) also tells it to stop after this pass.
    const readSync = fs.readSync.bind(fs);
    let calls = 0;
    fs.readSync = (...args) => {
      if (++calls === 4) Atomics.store(ctrl, Ctrl.STOP, 1);
      return readSync(...args);
    };
    runSource(data, fs);
    expect(Atomics.load(ctrl, Ctrl.RX_HEAD)).toBe(4);
    expect(Atomics.load(ctrl, Ctrl.RX_RING_FULL)).toBeGreaterThan(0);
    expect(Atomics.load(ctrl, Ctrl.RX_FULL_WAIT)).toBe(1);
    expect(frames).toHaveLength(2); // left in the "kernel"
  });
});
