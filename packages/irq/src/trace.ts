/**
 * {@link PathTrace}: an opt-in flight recorder of one packet's path through the layers (driver RX,
 * interrupt, IP, TCP, socket, HTTP, and back out through the driver), with the time of each step on
 * the scheduler's clock.
 *
 * Each layer owns a mark site: `const t = scheduler.trace; if (t.on) t.mark('ip', 'input')`. While
 * the trace is not armed, `on` is false and a mark site costs one property read and one branch; no
 * clock is read and nothing is allocated.
 *
 * {@link PathTrace.arm} waits for a request: each frame the driver hands up (`mark('driver', ...,
 * true)`) starts the capture afresh until one of them reaches the HTTP layer (an `http` mark); from
 * then on every mark is recorded, in order, until a frame leaves through the driver (the answer went
 * out), or {@link MAX_TRACE_MARKS} marks, or {@link PathTrace.disarm}. On a busy system other traffic interleaves: a trace is meant to be taken
 * on one request at a time (the admin UI's "trace the next request").
 */

/** The layers a mark can name, bottom first. */
export type TraceLayer = 'driver' | 'interrupt' | 'ip' | 'tcp' | 'socket' | 'http';

/** One recorded step. */
export interface TraceMark {
  readonly layer: TraceLayer;
  /** What happened, e.g. `rx frame`, `top half`, `input`, `readable`. */
  readonly what: string;
  /** Microseconds since the first mark of the capture. */
  readonly atUs: number;
}

/** One finished (or still running) capture. */
export interface TraceCapture {
  /** The scheduler time of the first mark, ms. */
  readonly startedAtMs: number;
  /** The steps in order. */
  readonly marks: readonly TraceMark[];
  /** True once the answer left through the driver (false: stopped by the mark limit or disarmed). */
  readonly complete: boolean;
}

/** Most marks one capture keeps. */
export const MAX_TRACE_MARKS = 64;

/** The flight recorder; one per scheduler (`scheduler.trace`). See the module documentation. */
export class PathTrace {
  /** True while armed or capturing: mark sites record only then. */
  on = false;
  private capturing = false;
  private sawHttp = false;
  private startMs = 0;
  private marks: TraceMark[] = [];
  private lastCapture: TraceCapture | undefined;

  /** @param now the scheduler's clock, ms. */
  constructor(private readonly now: () => number) {}

  /** Captures the path of the next frame the driver hands up (replacing the last capture once it starts). */
  arm(): void {
    this.on = true;
    this.capturing = false;
    this.sawHttp = false;
    this.marks = [];
  }

  /** Stops waiting or capturing; a capture under way is kept as incomplete. */
  disarm(): void {
    if (this.capturing) this.finish(false);
    this.on = false;
  }

  /** Whether a capture is armed but has not started, or is under way. */
  get state(): 'idle' | 'armed' | 'capturing' {
    return !this.on ? 'idle' : this.capturing ? 'capturing' : 'armed';
  }

  /** The last capture (the one under way, if any, else the last finished one). */
  get last(): TraceCapture | undefined {
    if (this.capturing) return { startedAtMs: this.startMs, marks: this.marks.slice(), complete: false };
    return this.lastCapture;
  }

  /**
   * Records one step (nothing while not armed; check {@link on} first to skip building `what`). `start`: this is a frame arriving from the
   * medium, which starts the capture when armed; marks before a capture starts are ignored.
   */
  mark(layer: TraceLayer, what: string, start = false): void {
    if (!this.on) return;
    if (start && !this.sawHttp) {
      // A new frame before any request reached HTTP: the capture restarts with it, so that what is
      // kept is the frame that carried the request, and everything up to its answer.
      this.capturing = true;
      this.marks = [];
      this.startMs = this.now();
      this.marks.push({ layer, what, atUs: 0 });
      return;
    }
    if (!this.capturing) return;
    const atUs = Math.round((this.now() - this.startMs) * 1000 * 10) / 10;
    this.marks.push({ layer, what, atUs });
    if (layer === 'http') this.sawHttp = true;
    if (layer === 'driver' && !start && this.sawHttp) this.finish(true);
    else if (this.marks.length >= MAX_TRACE_MARKS) this.finish(false);
  }

  private finish(complete: boolean): void {
    this.lastCapture = { startedAtMs: this.startMs, marks: this.marks, complete };
    this.marks = [];
    this.capturing = false;
    this.on = false;
  }
}
