/**
 * The event-loop port on a FIFO (a descriptor epoll watches like a TAP's, no root needed): each
 * reader ('handle': the port drives the pipe handle itself; 'socket': a net.Socket drives it)
 * delivers what arrives, in order, from the reused read buffer; reports end of file once; and
 * closes. A FIFO merges writes that wait together, so each chunk is written after the last one
 * arrived. Frames from a TAP, read ahead under a burst, are tested against the kernel in `tap.test.ts`.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventLoopPortAvailable, openEventLoopPort, type EventLoopPortReader } from '../src/tap/event-loop-port.js';

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
});
