/**
 * The pool of client-communication workers. A worker is a slot in this process: it takes one job,
 * serves it until the job ends, then takes the next. The server's jobs
 * are *requests* whose head is complete (the worker runs the handler, which reads the body as it
 * arrives, and is free once the response is ended), not connections: reading heads, keep-alive waits
 * and slow clients hold no worker (the event-MPM model rather than prefork). A job goes to an idle
 * worker at once; with none idle it waits in a bounded FIFO queue; with the queue full it is refused
 * (the server answers that request 503).
 */

/** Counters of a {@link WorkerPool}. */
export interface PoolStats {
  /** Workers in the pool. */
  workers: number;
  /** Workers serving a job now. */
  busy: number;
  /** Jobs waiting for a worker now. */
  queued: number;
  /** Largest queue length seen. */
  queuedPeak: number;
  /** Jobs handed to a worker (directly or after waiting). */
  dispatched: number;
  /** Jobs that had to wait in the queue. */
  waited: number;
  /** Jobs refused because the queue was full (or the pool stopped). */
  rejected: number;
  /** Jobs a worker finished serving. */
  completed: number;
}

/** Settled once: `RESOLVED.then(fn)` runs `fn` in a microtask. */
const RESOLVED = Promise.resolve();

/**
 * A fixed number of workers over a bounded queue. A worker is a slot, not a loop: a job accepted
 * while a slot is free starts in the next microtask (jobs accepted in the same turn start together,
 * after one promise reaction); a job that finishes hands its slot to the oldest queued job, which
 * starts the same way.
 *
 * `serve` signals the end of a job either by the promise it returns settling, or (when it returns
 * nothing) by calling `done` once; either way no promise or async frame is needed per job.
 *
 * Invariants: at most `workers` jobs run at once; at most `queueLimit` wait; a job is never dropped
 * once {@link WorkerPool.submit} accepted it (until {@link WorkerPool.stop}, which hands queued jobs
 * back to the caller).
 */
export class WorkerPool<T> {
  /** Live counters. */
  readonly stats: PoolStats;
  private readonly queue: T[] = [];
  private queueHead = 0;
  /** Jobs given a slot, to start in the next microtask: the first {@link WorkerPool.startingCount} slots. */
  private starting: (T | undefined)[] = [];
  private startingCount = 0;
  /**
   * The other array {@link WorkerPool.startAll} swaps in. Both keep their storage between batches (slots
   * are cleared, the length is not cut: a JS array cut to length 0 drops its storage, and the next
   * push allocates it again), so a batch allocates no array.
   */
  private spare: (T | undefined)[] = [];
  private startQueued = false;
  private stopped = false;
  private resolveFinished: (() => void) | undefined;

  /**
   * @param serve Serves one job; the worker takes the next job when the returned promise settles, or
   *   (when `serve` returns no promise) when `serve` calls `done`. A rejection or a throw is passed to
   *   `onError` and the worker goes on.
   * @param queueLimit Most jobs waiting for a worker (0: refuse whenever all workers are busy).
   */
  constructor(
    workers: number,
    private readonly queueLimit: number,
    private readonly serve: (job: T, done: () => void) => Promise<void> | void,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError('pool workers must be an integer >= 1');
    if (!Number.isInteger(queueLimit) || queueLimit < 0)
      throw new RangeError('pool queueLimit must be an integer >= 0');
    this.stats = { workers, busy: 0, queued: 0, queuedPeak: 0, dispatched: 0, waited: 0, rejected: 0, completed: 0 };
  }

  /** Hands `job` to an idle worker or queues it. Returns false (and counts a rejection) when the queue is full or the pool stopped. */
  submit(job: T): boolean {
    const stats = this.stats;
    if (this.stopped) {
      stats.rejected++;
      return false;
    }
    if (stats.busy < stats.workers) {
      stats.busy++;
      this.startSoon(job);
      return true;
    }
    if (this.queue.length - this.queueHead >= this.queueLimit) {
      stats.rejected++;
      return false;
    }
    this.queue.push(job);
    stats.waited++;
    const queued = this.queue.length - this.queueHead;
    stats.queued = queued;
    if (queued > stats.queuedPeak) stats.queuedPeak = queued;
    return true;
  }

  /**
   * Stops taking jobs: returns the jobs still queued (never served) so the caller can close them, and
   * a promise that resolves when every worker is free (after its current job ends).
   */
  stop(): { queued: T[]; finished: Promise<void> } {
    this.stopped = true;
    const queued = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
    this.stats.queued = 0;
    const finished =
      this.stats.busy === 0 ? RESOLVED : new Promise<void>((resolve) => (this.resolveFinished = resolve));
    return { queued, finished };
  }

  /**
   * Starts `job` (its slot already counted in `busy`) in the next microtask, never inside the call
   * that freed or found the slot (a handler never runs nested in another one's `end()`).
   */
  private startSoon(job: T): void {
    this.starting[this.startingCount++] = job;
    if (!this.startQueued) {
      this.startQueued = true;
      void RESOLVED.then(this.startAll);
    }
  }

  private readonly startAll = (): void => {
    this.startQueued = false;
    const jobs = this.starting;
    const n = this.startingCount;
    this.starting = this.spare;
    this.spare = jobs;
    this.startingCount = 0;
    try {
      for (let i = 0; i < n; i++) this.run(jobs[i]!);
    } finally {
      for (let i = 0; i < n; i++) jobs[i] = undefined;
    }
  };

  /** Serves `job` on a slot already counted in `busy`. */
  private run(job: T): void {
    this.stats.dispatched++;
    const done = this.endOnce();
    let result: Promise<void> | void;
    try {
      result = this.serve(job, done);
    } catch (error) {
      this.onError(error);
      done();
      return;
    }
    if (result !== undefined) {
      result.then(done, (error: unknown) => {
        this.onError(error);
        done();
      });
    }
  }

  /**
   * The `done` of one job: ends it on the first call, ignores the others. One small unnamed function
   * per job (the only per-job allocation of the pool).
   */
  private endOnce(): () => void {
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.jobEnded();
    };
  }

  /** A job ended: its slot goes to the oldest queued job, or becomes free. */
  private jobEnded(): void {
    const stats = this.stats;
    stats.completed++;
    if (!this.stopped && this.queueHead < this.queue.length) {
      const job = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined as unknown as T;
      this.queueHead++;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
      stats.queued = this.queue.length - this.queueHead;
      this.startSoon(job);
      return;
    }
    stats.busy--;
    if (stats.busy === 0 && this.resolveFinished !== undefined) {
      const resolve = this.resolveFinished;
      this.resolveFinished = undefined;
      resolve();
    }
  }
}
