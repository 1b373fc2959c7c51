/**
 * The TAP descriptor on Node's own event loop: the kernel's readiness notification (epoll, through
 * libuv) is the receive interrupt, and a `write` from the main thread is the transmit.
 *
 * Why: a frame that arrives while the process is idle is then handled within one event-loop wake-up,
 * with no thread hand-off and no polling interval (a worker thread cannot block in `read` and still be
 * stopped, so it has to poll, and its sleep is added to every frame that arrives after silence).
 *
 * How, without a compiled addon: libuv's pipe handle (`uv_pipe_open`) accepts any descriptor epoll
 * can watch, a TAP descriptor included. One `read` of a TAP descriptor returns exactly one frame.
 * The port drives the handle itself: it gives the handle one read buffer that every read reuses
 * (`useUserBuffer`), sets the handle's `onread` and starts reading, so each readiness report costs
 * one call from libuv into the port's function (it finds the length in stream_wrap's shared
 * `streamBaseState`) and nothing else: no `net.Socket`, no stream machinery (`onStreamRead`, its
 * timer refresh and owner lookups) per wake-up. Where this Node lacks those internals the port lets
 * a `net.Socket` drive the handle instead (its `onread` option: the same one reused buffer), which
 * costs a little more per wake-up and works the same (see {@link EventLoopPortReader}).
 *
 * Writes: one frame per call, never merged (a `writev` on a TAP descriptor sends all its buffers as
 * ONE frame, and a stream's buffering would merge them), through the same pipe handle: its
 * `writeBuffer` with one buffer tries the `write` system call at once, from C++ (libuv's
 * `uv_try_write`), and a TAP always takes the frame there (the kernel takes it into its receive
 * path). That skips what `writeSync` costs per call besides the system call (its argument checks,
 * the fs binding's request and tracing checks, libuv's fs machinery). Should the descriptor not take
 * the frame at once (it would block), libuv queues the write and finishes it when the descriptor is
 * writable again, in order (later writes queue behind it): the port then holds the frame's bytes
 * until then, and says so ({@link WRITE_QUEUED}): the caller must leave them untouched. Where this
 * Node lacks those internals the port writes with `writeSync` (see {@link EventLoopPortWriter}),
 * which never queues: a write that would block fails with `EAGAIN`. Either way the descriptor must
 * take each write whole or not at all, as a TAP does (a partial write would split the frame).
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
import { getSystemErrorName } from 'node:util';
import type { FrameSlab } from './frame-slab.js';
import { FrameViews } from './frame-views.js';
import { ReadAhead } from './read-ahead.js';

/** Default most frames one wake-up reads: the frame libuv read plus the ones read ahead. */
export const DEFAULT_FRAMES_PER_WAKE = 64;

/** libuv's end-of-file status, as a read reports it (`UV_EOF`). */
const UV_EOF = -4095;

/** Node's pipe handle, as `process.binding('pipe_wrap')` exposes it (a libuv stream handle). */
interface PipeHandle {
  open(fd: number): number;
  /** Called by libuv's read callback; the read's length (or negative status) is in the stream state. */
  onread?: (this: PipeHandle, arrayBuffer?: ArrayBuffer) => void;
  /** Makes every read land in `buffer` (no allocation per read). */
  useUserBuffer?(buffer: Uint8Array): void;
  readStart?(): number;
  readStop?(): number;
  /**
   * Writes all of `buffer` (one `uv_try_write`, else a queued `uv_write` bound to `req`); returns 0
   * or a negative libuv status, and leaves in the stream state whether the write was queued.
   */
  writeBuffer?(req: WriteReq, buffer: Uint8Array): number | undefined;
  close?(callback?: () => void): void;
}
/** A stream write request (`new WriteWrap()`): used by C++ only when the write is queued. */
interface WriteReq {
  /** Called by C++ when a queued write finished (status < 0: it failed). */
  oncomplete?: (this: WriteReq, status: number) => void;
  /** The bytes a queued write still reads, kept alive until it finishes. */
  buffer?: Uint8Array | undefined;
}
interface PipeWrapBinding {
  Pipe: new (type: number) => PipeHandle;
  constants: { SOCKET: number };
}
/** What `process.binding('stream_wrap')` exposes of a stream read's outcome. */
interface StreamWrapBinding {
  /** Shared with C++: slot {@link kReadBytesOrError} holds the length of the read being reported (< 0: status). */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  /** Slot of {@link streamBaseState}: non-zero when the last write was queued rather than done at once. */
  kLastWriteWasAsync: number;
  WriteWrap: new () => WriteReq;
}

function binding<T>(name: string): Partial<T> | undefined {
  try {
    return (process as unknown as { binding(name: string): unknown }).binding(name) as Partial<T>;
  } catch {
    return undefined;
  }
}

function pipeWrap(): PipeWrapBinding | undefined {
  const pipe = binding<PipeWrapBinding>('pipe_wrap');
  return typeof pipe?.Pipe === 'function' && pipe.constants !== undefined ? (pipe as PipeWrapBinding) : undefined;
}

/** stream_wrap, when it offers what the `'handle'` reader needs. */
function streamWrap(): Pick<StreamWrapBinding, 'streamBaseState' | 'kReadBytesOrError'> | undefined {
  const stream = binding<StreamWrapBinding>('stream_wrap');
  return stream?.streamBaseState instanceof Int32Array && typeof stream.kReadBytesOrError === 'number'
    ? (stream as StreamWrapBinding)
    : undefined;
}

/** stream_wrap, when it and `handle` offer what the `'handle'` writer needs. */
function streamWriter(handle: PipeHandle): StreamWrapBinding | undefined {
  const stream = binding<StreamWrapBinding>('stream_wrap');
  return typeof handle.writeBuffer === 'function' &&
    stream?.streamBaseState instanceof Int32Array &&
    typeof stream.kLastWriteWasAsync === 'number' &&
    stream.kLastWriteWasAsync >= 0 &&
    stream.kLastWriteWasAsync < stream.streamBaseState.length &&
    typeof stream.WriteWrap === 'function'
    ? (stream as StreamWrapBinding)
    : undefined;
}

/** Whether `handle` offers what the port needs to drive it without a `net.Socket`. */
function drivable(handle: PipeHandle): boolean {
  return (
    typeof handle.useUserBuffer === 'function' &&
    typeof handle.readStart === 'function' &&
    typeof handle.readStop === 'function' &&
    typeof handle.close === 'function' &&
    'onread' in handle
  );
}

/**
 * Who reads the descriptor: `'handle'`, the port itself through the pipe handle's `onread` (one call
 * into JavaScript per readiness report, nothing else), or `'socket'`, a `net.Socket` wrapped around
 * the handle (Node's stream machinery per report). `'handle'` where this Node allows it, else `'socket'`.
 */
export type EventLoopPortReader = 'handle' | 'socket';

/**
 * Who writes frames: `'handle'`, the pipe handle's `writeBuffer` (the system call straight from C++;
 * a write that would block is queued, and the port holds the frame until it is done), or `'fs'`,
 * `writeSync` on the descriptor (Node's synchronous fs machinery per call; a write that would block
 * fails with `EAGAIN`). `'handle'` where this Node allows it, else `'fs'`.
 */
export type EventLoopPortWriter = 'handle' | 'fs';

/**
 * What {@link EventLoopPort.write} returns when the descriptor did not take the frame at once and
 * the port queued the write: the kernel gets it later, in order, and until then the frame's bytes
 * must stay as they are (the port holds them; the caller must not reuse them).
 */
export const WRITE_QUEUED = 1;

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
  /**
   * A readiness report begins: the {@link EventLoopPortEvents.frame} calls of this wake-up follow,
   * then {@link EventLoopPortEvents.wakeEnd}, always (also when one of them throws). Optional: for
   * an owner that handles a wake-up's frames as one batch (a scheduler's I/O callback bracket).
   */
  wakeStart?(): void;
  /** The wake-up that {@link EventLoopPortEvents.wakeStart} began delivered all its frames. Optional. */
  wakeEnd?(): void;
  /** The descriptor failed (the device went away, or a read error): no more frames will come. */
  failed(error: Error): void;
}

/** A TAP descriptor watched by the event loop. */
export interface EventLoopPort {
  /**
   * Writes the first `length` bytes of `frame` (`length` at most its byte length) as one frame.
   * Returns 0 when the kernel took it, {@link WRITE_QUEUED} when the port queued it (the caller must
   * then leave those bytes untouched: the port holds them until the kernel takes them; only the
   * `'handle'` writer queues), or the error code when the write failed (`EAGAIN` if the `'fs'`
   * writer would block, `EBADFD`/`EIO`/... when the device is gone, `EBADF` after {@link close}).
   */
  write(frame: Uint8Array, length: number): 0 | typeof WRITE_QUEUED | string;
  /** Who writes frames (see {@link EventLoopPortWriter}). */
  readonly writer: EventLoopPortWriter;
  /** Writes queued so far ({@link WRITE_QUEUED}: the descriptor did not take the frame at once). */
  readonly writesQueued: number;
  /** Queued writes not finished yet. */
  readonly writesPending: number;
  /** Queued writes that failed when libuv performed them (or were cancelled by {@link close}). */
  readonly queuedWriteFailures: number;
  /** Readiness reports (I/O callbacks) that delivered frames so far. */
  readonly wakeups: number;
  /** Frames read ahead so far: read after the one a wake-up announced, in the same callback. */
  readonly framesReadAhead: number;
  /** Who reads the descriptor (see {@link EventLoopPortReader}). */
  readonly reader: EventLoopPortReader;
  /** Stops reading and closes the descriptor (the port owns it from {@link openEventLoopPort} on). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts watching the (non-blocking) TAP descriptor `fd` on the event loop, reading each frame into
 * one reused buffer of `readLength` bytes (make it one more than the longest frame you accept, so
 * that a longer one shows by its length), at most `framesPerWake` (default
 * {@link DEFAULT_FRAMES_PER_WAKE}, at least 1) per wake-up; frames read ahead go straight into
 * `slab`'s free bytes instead when a slab is given and `readLength` fits one. `reader` (default: the
 * best this Node allows) chooses who reads; `'handle'` where this Node cannot falls back to
 * `'socket'` ({@link EventLoopPort.reader} tells); `writer` likewise chooses who writes (`'handle'`
 * falls back to `'fs'`). From now on the port owns `fd` and closes it.
 * Throws when the pipe handle is unavailable or refuses the descriptor (the caller still owns `fd` then).
 */
export function openEventLoopPort(
  fd: number,
  readLength: number,
  events: EventLoopPortEvents,
  framesPerWake: number = DEFAULT_FRAMES_PER_WAKE,
  slab?: FrameSlab,
  reader: EventLoopPortReader = 'handle',
  writer: EventLoopPortWriter = 'handle',
): EventLoopPort {
  const pipe = pipeWrap();
  if (pipe === undefined) throw new Error('process.binding("pipe_wrap") is not available in this Node');
  const handle = new pipe.Pipe(pipe.constants.SOCKET);
  const status = handle.open(fd);
  if (status !== 0) throw new Error(`uv_pipe_open failed (${status})`);
  const stream = reader === 'handle' && drivable(handle) ? streamWrap() : undefined;
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
  const bracketed = events.wakeStart !== undefined && events.wakeEnd !== undefined;
  /** One readiness report: the frame libuv read into {@link readBuffer}, then the ones read ahead (bracketed, see {@link EventLoopPortEvents.wakeStart}). */
  const wake = (length: number): void => {
    if (closed) return;
    wakeups++;
    if (!bracketed) {
      deliverWake(length);
      return;
    }
    events.wakeStart!();
    try {
      deliverWake(length);
    } finally {
      events.wakeEnd!();
    }
  };
  /** The frames of one wake-up: the one libuv read, then the ones waiting behind it. */
  const deliverWake = (length: number): void => {
    events.frame(readBuffer, 0, length);
    if (framesPerWake > 1 && !closed && readAhead.wanted()) {
      const most = Math.min(readAhead.limit, framesPerWake - 1);
      const frames = readWaiting(most);
      // Fewer than asked for: a read found the queue empty (or the port closed), so it was drained.
      readAhead.found(frames, frames < most);
    }
  };
  const writeStream = writer === 'handle' ? streamWriter(handle) : undefined;
  const frameWriter =
    writeStream === undefined ? new FsWriter(fd, () => closed) : new HandleWriter(handle, writeStream, () => closed);
  const close = stream === undefined ? readThroughSocket(handle, readBuffer, wake, events, () => closed) : undefined;
  if (stream !== undefined) {
    const state = stream.streamBaseState;
    const slot = stream.kReadBytesOrError;
    handle.onread = () => {
      const length = state[slot]!;
      if (length > 0) {
        wake(length);
        return;
      }
      if (length === 0 || closed) return; // 0: nothing read (EAGAIN); libuv waits for the next report.
      handle.readStop!();
      events.failed(
        new Error(
          length === UV_EOF
            ? 'the TAP descriptor reported end of file'
            : `reading the TAP descriptor failed (${getSystemErrorName(length)})`,
        ),
      );
    };
    handle.useUserBuffer!(readBuffer);
    const started = handle.readStart!();
    if (started !== 0) {
      handle.close!();
      throw new Error(`uv_read_start failed (${getSystemErrorName(started)})`);
    }
  }
  return {
    get wakeups() {
      return wakeups;
    },
    get framesReadAhead() {
      return framesReadAhead;
    },
    reader: stream === undefined ? 'socket' : 'handle',
    writer: frameWriter.writer,
    write: frameWriter.write,
    get writesQueued() {
      return frameWriter.queued;
    },
    get writesPending() {
      return frameWriter.pending;
    },
    get queuedWriteFailures() {
      return frameWriter.failures;
    },
    close() {
      closed = true;
      closing ??=
        close !== undefined
          ? close()
          : new Promise<void>((resolve) => {
              handle.readStop!();
              handle.close!(resolve);
            });
      return closing;
    },
  };
}

/**
 * The `'socket'` reader: a `net.Socket` drives `handle`, reading into `readBuffer` (its `onread`
 * option) and calling `wake` per read. Returns the function that closes it (once).
 */
function readThroughSocket(
  handle: PipeHandle,
  readBuffer: Uint8Array,
  wake: (length: number) => void,
  events: EventLoopPortEvents,
  closed: () => boolean,
): () => Promise<void> {
  const onread = { buffer: readBuffer, callback: (length: number): void => wake(length) };
  // `handle` is an accepted (if undocumented in the typings) option of net.Socket: it wraps an open libuv handle.
  const socket = new Socket({ handle, readable: true, writable: false, onread } as ConstructorParameters<
    typeof Socket
  >[0]);
  socket.on('error', (error: Error) => {
    if (!closed()) events.failed(error);
  });
  socket.on('end', () => {
    if (!closed()) events.failed(new Error('the TAP descriptor reported end of file'));
  });
  return () =>
    new Promise<void>((resolve) => {
      if (socket.destroyed && socket.closed) {
        resolve();
        return;
      }
      socket.once('close', () => resolve());
      socket.destroy();
    });
}

/** The `'fs'` writer: `writeSync` per frame. */
class FsWriter {
  readonly writer = 'fs';
  readonly queued = 0;
  readonly pending = 0;
  readonly failures = 0;

  constructor(
    private readonly fd: number,
    private readonly closed: () => boolean,
  ) {}

  readonly write = (frame: Uint8Array, length: number): 0 | string => {
    if (this.closed()) return 'EBADF';
    try {
      writeSync(this.fd, frame, 0, length);
      return 0;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? 'EIO';
    }
  };
}

/**
 * The `'handle'` writer: the pipe handle's `writeBuffer` per frame, with one request object reused
 * for every write the kernel takes at once (C++ binds a request only to a write it queues; that one
 * then keeps its request and its frame, and the next write gets a fresh request).
 */
class HandleWriter {
  readonly writer = 'handle';
  queued = 0;
  pending = 0;
  failures = 0;
  private readonly state: Int32Array;
  private readonly asyncSlot: number;
  private readonly views = new FrameViews();
  private req: WriteReq;

  constructor(
    private readonly handle: PipeHandle,
    private readonly stream: StreamWrapBinding,
    private readonly closed: () => boolean,
  ) {
    this.state = stream.streamBaseState;
    this.asyncSlot = stream.kLastWriteWasAsync;
    this.req = new stream.WriteWrap();
  }

  /** A queued write finished (called by C++ on its request). */
  private readonly done = (req: WriteReq, status: number): void => {
    this.pending--;
    req.buffer = undefined;
    if (status < 0) this.failures++;
  };

  readonly write = (frame: Uint8Array, length: number): 0 | typeof WRITE_QUEUED | string => {
    if (this.closed()) return 'EBADF';
    const view = this.views.of(frame, length);
    const req = this.req;
    const status = this.handle.writeBuffer!(req, view);
    if (status !== 0) {
      // Not written, not queued. A fresh request all the same: C++ may have bound this one before failing.
      this.req = new this.stream.WriteWrap();
      return typeof status === 'number' && status < 0 ? getSystemErrorName(status) : 'EBADF';
    }
    if (this.state[this.asyncSlot] === 0) return 0;
    // Queued: libuv writes `view` later; keep it (and so the frame's bytes) alive until then.
    req.buffer = view;
    const done = this.done;
    req.oncomplete = function (this: WriteReq, status: number) {
      done(this, status);
    };
    this.req = new this.stream.WriteWrap();
    this.queued++;
    this.pending++;
    return WRITE_QUEUED;
  };
}
