/**
 * The event-loop port on a FIFO (a descriptor epoll watches like a TAP's, no root needed): each
 * reader ('handle': the port drives the pipe handle itself; 'socket': a net.Socket drives it)
 * delivers what arrives, in order, from the reused read buffer; reports end of file once; and
 * closes. A FIFO merges writes that wait together, so each chunk is written after the last one
 * arrived. Frames from a TAP, read ahead under a burst, are tested against the kernel in `tap.test.ts`.
 *
 * Writes: a port on a FIFO opened for reading and writing reads back what it writes. A FIFO holds
 * 64 KiB, so a burst written without yielding fills it: the `'handle'` writer then queues the rest
 * (and holds their bytes), the `'fs'` writer refuses it with EAGAIN; what was taken arrives whole and
 * in order either way, though the writing code reuses its buffer for every frame the port took at once.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  eventLoopPortAvailable,
  openEventLoopPort,
  WRITE_QUEUED,
  type EventLoopPortReader,
  type EventLoopPortWriter,
} from '../src/tap/event-loop-port.js';

const available = eventLoopPortAvailable();

let dir = '';
let fifo = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-port-'));
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Collects what a port reports; `next()` resolves at the next report. */
function recorder() {
  const frames: number[][] = [];
  const failures: string[] = [];
  let wakeUp: (() => void) | undefined;
  const next = (): Promise<void> =>
    new Promise((resolve) => {
      wakeUp = resolve;
    });
  return {
    frames,
    failures,
    next,
    events: {
      frame(buffer: Uint8Array, offset: number, length: number) {
        frames.push([...buffer.subarray(offset, offset + length)]);
        wakeUp?.();
      },
      failed(error: Error) {
        failures.push(error.message);
        wakeUp?.();
      },
    },
  };
}

describe.skipIf(!available)('event-loop port', () => {
  for (const reader of ['handle', 'socket'] as EventLoopPortReader[]) {
    it(`${reader} reader: delivers each chunk in order from its read buffer, and closes`, async () => {
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      const r = recorder();
      const port = openEventLoopPort(readFd, 100, r.events, undefined, undefined, reader);
      expect(port.reader).toBe(reader);
      try {
        for (let i = 1; i <= 3; i++) {
          const arrived = r.next();
          writeSync(
            writeFd,
            Uint8Array.from({ length: 10 * i }, (_, k) => (i * 16 + k) & 0xff),
          );
          await arrived;
        }
        expect(r.frames.map((f) => f.length)).toEqual([10, 20, 30]);
        expect(r.frames[2]!.slice(0, 3)).toEqual([48, 49, 50]);
        expect(port.wakeups).toBe(3);
        expect(r.failures).toEqual([]);
      } finally {
        await port.close();
        await port.close(); // idempotent
        closeSync(writeFd);
      }
    });

    it(`${reader} reader: a wake-up's frames, read ahead included, come between wakeStart and wakeEnd`, async () => {
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      const log: string[] = [];
      let wakeUp: (() => void) | undefined;
      const events = {
        wakeStart: () => log.push('start'),
        frame: (_buffer: Uint8Array, _offset: number, length: number) => log.push(`frame ${length}`),
        wakeEnd: () => {
          log.push('end');
          wakeUp?.();
        },
        failed: (error: Error) => log.push(error.message),
      };
      // A 10-byte read buffer: 25 bytes are one read by libuv and two read ahead, in one wake-up.
      const port = openEventLoopPort(readFd, 10, events, undefined, undefined, reader);
      try {
        const arrived = new Promise<void>((resolve) => (wakeUp = resolve));
        writeSync(writeFd, new Uint8Array(25));
        await arrived;
        expect(log).toEqual(['start', 'frame 10', 'frame 10', 'frame 5', 'end']);
        expect(port.wakeups).toBe(1);
        expect(port.framesReadAhead).toBe(2);
      } finally {
        await port.close();
        closeSync(writeFd);
      }
    });

    it(`${reader} reader: the writer going away is reported once as end of file`, async () => {
      const readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeFd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      const r = recorder();
      const port = openEventLoopPort(readFd, 100, r.events, undefined, undefined, reader);
      try {
        const arrived = r.next();
        writeSync(writeFd, new Uint8Array(5));
        await arrived;
        const failed = r.next();
        closeSync(writeFd);
        await failed;
        expect(r.frames).toHaveLength(1);
        expect(r.failures).toEqual(['the TAP descriptor reported end of file']);
      } finally {
        await port.close();
      }
    });
  }

  /** Writes `count` frames of `length` bytes (frame i: bytes (i * 7 + k) & 0xff) as the TAP driver does: from one
   * reused buffer, longer than the frame, switching to a fresh one whenever the port holds it. */
  function burst(port: ReturnType<typeof openEventLoopPort>, count: number, length: number) {
    let buffer = new Uint8Array(length + 500);
    const results: (number | string)[] = [];
    const taken: number[][] = [];
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < length; k++) buffer[k] = (i * 7 + k) & 0xff;
      const result = port.write(buffer, length);
      results.push(result);
      if (typeof result === 'number') taken.push([...buffer.subarray(0, length)]);
      if (result === WRITE_QUEUED) buffer = new Uint8Array(length + 500);
      else buffer.fill(0xee); // the port must not need a frame it took at once
    }
    return { results, expected: taken.flat() };
  }

  for (const reader of ['handle', 'socket'] as EventLoopPortReader[]) {
    for (const writer of ['handle', 'fs'] as EventLoopPortWriter[]) {
      it(`${reader} reader, ${writer} writer: a burst past the FIFO's room arrives whole and in order`, async () => {
        const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
        const received: number[] = [];
        let wakeUp: (() => void) | undefined;
        const port = openEventLoopPort(
          fd,
          4096,
          {
            frame(buffer, offset, length) {
              for (let i = 0; i < length; i++) received.push(buffer[offset + i]!);
              wakeUp?.();
            },
            failed(error) {
              throw error;
            },
          },
          undefined,
          undefined,
          reader,
          writer,
        );
        expect(port.reader).toBe(reader);
        expect(port.writer).toBe(writer);
        try {
          const { results, expected } = burst(port, 100, 1000); // 100,000 bytes; the FIFO holds 65,536
          const atOnce = results.filter((r) => r === 0).length;
          expect(atOnce).toBeGreaterThanOrEqual(60);
          expect(atOnce).toBeLessThan(100);
          if (writer === 'handle') {
            // The first frame the FIFO had no room for is queued, and so is every one after it (in order).
            expect(results.slice(atOnce).every((r) => r === WRITE_QUEUED)).toBe(true);
            expect(port.writesQueued).toBe(100 - atOnce);
            expect(port.writesPending).toBe(100 - atOnce);
          } else {
            expect(results.slice(atOnce).every((r) => r === 'EAGAIN')).toBe(true);
            expect(port.writesQueued).toBe(0);
          }
          while (received.length < expected.length) {
            await new Promise<void>((resolve) => {
              wakeUp = resolve;
            });
          }
          expect(received.length).toBe(expected.length);
          expect(received).toEqual(expected);
          expect(port.writesPending).toBe(0);
          expect(port.queuedWriteFailures).toBe(0);
        } finally {
          await port.close();
        }
        expect(port.write(new Uint8Array(10), 10)).toBe('EBADF');
      });
    }
  }

  it('handle writer: closing with writes still queued cancels them, counted as failed', async () => {
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const port = openEventLoopPort(fd, 4096, { frame() {}, failed() {} });
    const { results } = burst(port, 80, 1000);
    const queued = results.filter((r) => r === WRITE_QUEUED).length;
    expect(queued).toBeGreaterThan(0);
    expect(port.writesPending).toBe(queued);
    await port.close();
    expect(port.writesPending).toBe(0);
    expect(port.queuedWriteFailures).toBe(queued);
    expect(port.writesQueued).toBe(queued);
  });
});
