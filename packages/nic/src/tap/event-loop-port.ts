/**
 * The TAP descriptor on Node's own event loop: the kernel's readiness notification (epoll, through
 * libuv) is the receive interrupt, and a `write` from the main thread is the transmit.
 *
 * Why: a frame that arrives while the process is idle is then handled within one event-loop wake-up,
 * with no thread hand-off and no polling interval (a worker thread cannot block in `read` and still be
 * stopped, so it has to poll, and its sleep is added to every frame that arrives after silence).
 *
 * How, without a compiled addon: libuv's pipe handle (`uv_pipe_open`) accepts any descriptor epoll
 * can watch, a TAP descriptor included, and Node's `net.Socket` drives it. One `read` of a TAP
 * descriptor returns exactly one frame. The socket reads into one buffer of its owner's size that
 * it reuses for every read (`net.Socket`'s `onread`), so a read allocates nothing: the owner copies
 * out what it keeps. (Without `onread`, Node allocates a fresh buffer for every read.) Writes do
 * not go through the socket (its buffering would merge frames, and a `writev` on a TAP descriptor
 * sends all its buffers as ONE frame): `writeSync` on the descriptor, one frame per call, never
 * blocks on a TAP (the kernel takes the frame into its receive path at once).
 *
 * Reading ahead: libuv reads once per readiness report (a read that does not fill the buffer tells
 * it the descriptor is drained, and a frame never fills it), so each frame would cost an
 * `epoll_wait`, a read and a call into JavaScript of its own. After the frame libuv read, the port
 * reads the frames waiting behind it with `readSync` on the same (non-blocking) descriptor, up to
 * `framesPerWake` in all, until a read reports `EAGAIN`: under load one wake-up then serves a whole
 * batch. That last, empty read is paid only while reading ahead finds frames, and a steady batch
 * stops at the count the last one found, before the failing read (`read-ahead.ts`).
 * Given a {@link FrameSlab}, the port reads ahead straight into the slab's free bytes, so the owner
 * keeps those frames in place instead of copying them out of the read buffer (under load most
 * frames arrive this way).
 *
 * The pipe handle comes from `process.binding('pipe_wrap')`, which Node 20 still provides; where it
 * is missing {@link eventLoopPortAvailable} says so and the driver falls back to its worker thread.
 */
import { readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { FrameSlab } from './frame-slab.js';
import { ReadAhead } from './read-ahead.js';

/** Default most frames one wake-up reads: the frame libuv read plus the ones read ahead. */
export const DEFAULT_FRAMES_PER_WAKE = 64;

/** Node's pipe handle class, as `process.binding('pipe_wrap')` exposes it. */
interface PipeHandle {
  open(fd: number): number;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}

function pipeWrap(): PipeWrapBinding | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding(
      'pipe_wrap',
    ) as Partial<PipeWrapBinding>;
    return typeof binding.Pipe === 'function' && binding.constants !== undefined
      ? (binding as PipeWrapBinding)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this Node can watch a TAP descriptor on its event loop (else the worker thread is used). */
export function eventLoopPortAvailable(): boolean {
  return pipeWrap() !== undefined;
}

/** What an {@link EventLoopPort} reports to its owner. */
export interface EventLoopPortEvents {
  /**
   * One received frame, from an event-loop I/O callback (one callback may report several, in
   * arrival order): the `length` bytes of `buffer` from `offset` on. `buffer` is the port's read
   * buffer, or the slab given to {@link openEventLoopPort} (its free bytes, where a read ahead
   * landed); the next read overwrites either, so keep what you keep before returning
   * ({@link FrameSlab.take} keeps a slab frame in place). A frame longer than the read reports its
   * whole length, more than was read (the kernel drops the rest): check `length` before reading.
   */
  frame(buffer: Uint8Array, offset: number, length: number): void;
  /** The descriptor failed (the device went away, or a read error): no more frames will come. */
  failed(error: Error): void;
}

/** A TAP descriptor watched by the event loop. */
export interface EventLoopPort {
  /**
   * Writes the first `length` bytes of `frame` as one frame. Returns 0, or the error code when the
   * write failed (`EAGAIN` if the kernel would block, `EBADFD`/`EIO`/... when the device is gone).
   */
  write(frame: Uint8Array, length: number): 0 | string;
  /** Readiness reports (I/O callbacks) that delivered frames so far. */
  readonly wakeups: number;
  /** Frames read ahead so far: read after the one a wake-up announced, in the same callback. */
  readonly framesReadAhead: number;
  /** Stops reading and closes the descriptor (the port owns it from {@link openEventLoopPort} on). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts watching the (non-blocking) TAP descriptor `fd` on the event loop, reading each frame into
 * one reused buffer of `readLength` bytes (make it one more than the longest frame you accept, so
 * that a longer one shows by its length), at most `framesPerWake` (default
 * {@link DEFAULT_FRAMES_PER_WAKE}, at least 1) per wake-up; frames read ahead go straight into
 * `slab`'s free bytes instead when a slab is given and `readLength` fits one. From now on the port
 * owns `fd` and closes it. Throws when the pipe handle is unavailable or refuses the descriptor (the
 * caller still owns `fd` then).
 */
export function openEventLoopPort(
  fd: number,
  readLength: number,
  events: EventLoopPortEvents,
  framesPerWake: number = DEFAULT_FRAMES_PER_WAKE,
  slab?: FrameSlab,
): EventLoopPort {
  const binding = pipeWrap();
  if (binding === undefined) throw new Error('process.binding("pipe_wrap") is not available in this Node');
  const handle = new binding.Pipe(binding.constants.SOCKET);
  const status = handle.open(fd);
  if (status !== 0) throw new Error(`uv_pipe_open failed (${status})`);
  let closed = false;
  let closing: Promise<void> | undefined;
  const readBuffer = new Uint8Array(readLength);
  const readArea = slab !== undefined && readLength <= slab.slabBytes ? slab : undefined;
  const readAhead = new ReadAhead();
  let wakeups = 0;
  let framesReadAhead = 0;
  /** Reads and reports up to `max` frames waiting behind the one libuv read; returns how many. */
  const readWaiting = (max: number): number => {
    let frames = 0;
    // The read that finds the queue empty throws EAGAIN: no stack trace makes that error cheaper.
    // Set once for the whole batch: between the reads runs only `events.frame`, which copies the
    // frame out and queues it (the stack handles it later, in the scheduler's turn).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      while (frames < max && !closed) {
        const target = readArea === undefined ? readBuffer : readArea.reserve(readLength);
        const at = readArea === undefined ? 0 : readArea.free;
        let length: number;
        try {
          length = readSync(fd, target, at, readLength, null);
        } catch {
          // EAGAIN: drained. Any other error shows again at libuv's next read, which reports it.
          break;
        }
        frames++;
        events.frame(target, at, length);
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    framesReadAhead += frames;
    return frames;
  };
  const onread = {
    buffer: readBuffer,
    callback: (length: number, buffer: Uint8Array): void => {
      if (closed) return;
      wakeups++;
      events.frame(buffer, 0, length);
      if (framesPerWake > 1 && !closed && readAhead.wanted()) {
        const most = Math.min(readAhead.limit, framesPerWake - 1);
        const frames = readWaiting(most);
        // Fewer than asked for: a read found the queue empty (or the port closed), so it was drained.
        readAhead.found(frames, frames < most);
      }
    },
  };
  // `handle` is an accepted (if undocumented in the typings) option of net.Socket: it wraps an open libuv handle.
  const socket = new Socket({ handle, readable: true, writable: false, onread } as ConstructorParameters<
    typeof Socket
  >[0]);
  socket.on('error', (error: Error) => {
    if (!closed) events.failed(error);
  });
  socket.on('end', () => {
    if (!closed) events.failed(new Error('the TAP descriptor reported end of file'));
  });
  return {
    get wakeups() {
      return wakeups;
    },
    get framesReadAhead() {
      return framesReadAhead;
    },
    write(frame, length) {
      try {
        writeSync(fd, frame, 0, length);
        return 0;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? 'EIO';
      }
    },
    close() {
      closed = true;
      closing ??= new Promise<void>((resolve) => {
        if (socket.destroyed && socket.closed) {
          resolve();
          return;
        }
        socket.once('close', () => resolve());
        socket.destroy();
      });
      return closing;
    },
  };
}
