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

/** How a {@link WorkerPool} learns that a job ended. */
export interface WorkerPoolOptions {
  /**
   * The caller ends every job itself, exactly once, with {@link WorkerPool.jobDone} (from a once-only
   * signal it already has, such as a response settling): `serve` gets no `done`, so the pool makes no
   * function per job. `serve` must arrange that end before anything in it can throw: a throw (or a
   * rejection of a returned promise) reaches `onError` but does not end the job. Default false.
   */
  readonly endsByCall?: boolean;
}

/**
 * A fixed number of workers over a bounded queue. A worker is a slot, not a loop: a job accepted
 * while a slot is free starts in the next microtask (jobs accepted in the same turn start together,
 * after one promise reaction), or, when it was accepted inside {@link WorkerPool.holdStarts}, when
 * the outermost hold is released (the caller's event goes on with the job served, no microtask); a
 * job that finishes hands its slot to the oldest queued job, which starts the same way (or, when the
 * end came while a batch was being started, in that batch, after the job before it returned).
 *
 * `serve` signals the end of a job either by the promise it returns settling, or (when it returns
 * nothing) by calling `done` once; either way no promise or async frame is needed per job. With
 * {@link WorkerPoolOptions.endsByCall} the caller ends each job with {@link WorkerPool.jobDone}
 * instead, and the pool allocates nothing per job.
 *
 * Invariants: at most `workers` jobs run at once; at most `queueLimit` wait; a job is never dropped
 * once {@link WorkerPool.submit} accepted it (until {@link WorkerPool.stop}, which hands queued jobs
 * back to the caller); a job never starts inside the call that freed its slot, nor inside `submit`.
 */
export class WorkerPool<T> {
  /** Live counters. */
  readonly stats: PoolStats;
  private readonly queue: T[] = [];
  private queueHead = 0;
  /**
   * Jobs given a slot and not started yet: the first {@link WorkerPool.startingCount} slots. The array
   * keeps its storage between batches (slots are cleared, the length is not cut: a JS array cut to
   * length 0 drops its storage, and the next push allocates it again), so a batch allocates nothing.
   */
  private readonly starting: (T | undefined)[] = [];
  private startingCount = 0;
  /** {@link WorkerPool.startAll} is running (a nested call leaves the new jobs to it). */
  private startingNow = false;
  private startQueued = false;
  /** Open {@link WorkerPool.holdStarts} calls: while above 0, a started job waits for the release, not a microtask. */
  private holds = 0;
  private readonly endsByCall: boolean;
  private stopped = false;
  private resolveFinished: (() => void) | undefined;

  /**
   * @param serve Serves one job; the worker takes the next job when the returned promise settles, or
   *   (when `serve` returns no promise) when `serve` calls `done`. A rejection or a throw is passed to
   *   `onError` and the worker goes on.
   * @param queueLimit Most jobs waiting for a worker (0: refuse whenever all workers are busy).
   * @param options see {@link WorkerPoolOptions}
   */
  constructor(
    workers: number,
    private readonly queueLimit: number,
    private readonly serve: (job: T, done: () => void) => Promise<void> | void,
    private readonly onError: (error: unknown) => void = () => {},
    options: WorkerPoolOptions = {},
  ) {
    this.endsByCall = options.endsByCall === true;
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
   * Until the matching {@link WorkerPool.releaseStarts}, jobs given a slot wait for that release
   * instead of a microtask. Bracket one event with the two (a connection's received bytes): the jobs
   * the event submitted are served before the event returns, in the same turn. Holds nest.
   */
  holdStarts(): void {
    this.holds++;
  }

  /**
   * Ends one {@link WorkerPool.holdStarts}; the outermost one starts every job given a slot meanwhile
   * (and any still waiting for its microtask), in the order they got their slots. Call it where no
   * job's end is in progress (the end of the event, not inside a handler).
   */
  releaseStarts(): void {
    if (this.holds === 0) throw new Error('releaseStarts() without holdStarts()');
    if (--this.holds === 0 && this.startingCount > 0) this.startAll();
  }

  /**
   * Ends one running job, with {@link WorkerPoolOptions.endsByCall}: call it exactly once per job
   * `serve` was given. Its slot goes to the oldest queued job (started in a microtask) or becomes free.
   */
  jobDone(): void {
    if (!this.endsByCall) throw new Error('jobDone() needs a pool made with endsByCall');
    this.jobEnded();
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
   * Starts `job` (its slot already counted in `busy`) in the next microtask, or at the outermost
   * {@link WorkerPool.releaseStarts} while held; never inside the call that freed or found the slot (a
   * handler never runs nested in another one's `end()`).
   */
  private startSoon(job: T): void {
    this.starting[this.startingCount++] = job;
    // Inside startAll the running batch takes it after the current job returns.
    if (!this.startQueued && this.holds === 0 && !this.startingNow) {
      this.startQueued = true;
      void RESOLVED.then(this.startQueuedJobs);
    }
  }

  /** The microtask of {@link WorkerPool.startSoon}. */
  private readonly startQueuedJobs = (): void => {
    this.startQueued = false;
    this.startAll();
  };

  /**
   * Starts every job given a slot, oldest first, including those given one while this runs (after the
   * job before them returned: none runs inside another one's call).
   */
  private startAll(): void {
    if (this.startingNow) return;
    this.startingNow = true;
    const jobs = this.starting;
    let i = 0;
    try {
      for (; i < this.startingCount; i++) {
        const job = jobs[i]!;
        jobs[i] = undefined;
        this.run(job);
      }
    } finally {
      // After a throw (from onError), the jobs not reached yet move to the front for the next batch.
      const left = this.startingCount - i - 1;
      for (let k = 0; k < left; k++) {
        jobs[k] = jobs[i + 1 + k];
        jobs[i + 1 + k] = undefined;
      }
      this.startingCount = left > 0 ? left : 0;
      this.startingNow = false;
      if (left > 0 && !this.startQueued) {
        this.startQueued = true;
        void RESOLVED.then(this.startQueuedJobs);
      }
    }
  }

  /** Serves `job` on a slot already counted in `busy`. */
  private run(job: T): void {
    this.stats.dispatched++;
    if (this.endsByCall) {
      this.runEndedByCall(job);
      return;
    }
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

  /** {@link WorkerPool.run} with {@link WorkerPoolOptions.endsByCall}: the caller ends the job, never the pool. */
  private runEndedByCall(job: T): void {
    let result: Promise<void> | void;
    try {
      result = this.serve(job, this.noDone);
    } catch (error) {
      this.onError(error);
      return;
    }
    if (result !== undefined) result.then(undefined, this.onError);
  }

  /** The `done` argument with {@link WorkerPoolOptions.endsByCall} (the caller ends jobs with {@link WorkerPool.jobDone}). */
  private readonly noDone = (): void => {};

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
