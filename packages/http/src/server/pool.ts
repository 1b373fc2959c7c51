/**
 * The pool of client-communication workers. A worker is an async loop in this process, pre-started:
 * it takes one job, serves it until the job's promise settles, then takes the next. The server's jobs
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

/**
 * A fixed set of pre-started worker loops over a bounded queue.
 *
 * Invariants: at most `workers` jobs run at once; at most `queueLimit` wait; a job is never dropped
 * once {@link WorkerPool.submit} accepted it (until {@link WorkerPool.stop}, which hands queued jobs
 * back through the `onDrop` callback).
 */
export class WorkerPool<T> {
  /** Live counters. */
  readonly stats: PoolStats;
  private readonly queue: T[] = [];
  private queueHead = 0;
  private readonly idle: Array<(job: T | undefined) => void> = [];
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  /**
   * Starts `workers` loops at once (they wait idle for work).
   * @param serve Serves one job; the worker takes the next job when the promise settles (a rejection is
   *   passed to `onError` and the worker goes on).
   * @param queueLimit Most jobs waiting for a worker (0: refuse whenever all workers are busy).
   */
  constructor(
    workers: number,
    private readonly queueLimit: number,
    private readonly serve: (job: T) => Promise<void>,
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError('pool workers must be an integer >= 1');
    if (!Number.isInteger(queueLimit) || queueLimit < 0) throw new RangeError('pool queueLimit must be an integer >= 0');
    this.stats = { workers, busy: 0, queued: 0, queuedPeak: 0, dispatched: 0, waited: 0, rejected: 0, completed: 0 };
    for (let i = 0; i < workers; i++) this.loops.push(this.workerLoop());
  }

  /** Hands `job` to an idle worker or queues it. Returns false (and counts a rejection) when the queue is full or the pool stopped. */
  submit(job: T): boolean {
    if (this.stopped) {
      this.stats.rejected++;
      return false;
    }
    const worker = this.idle.pop();
    if (worker !== undefined) {
      worker(job);
      return true;
    }
    if (this.queue.length - this.queueHead >= this.queueLimit) {
      this.stats.rejected++;
      return false;
    }
    this.queue.push(job);
    this.stats.waited++;
    const queued = this.queue.length - this.queueHead;
    this.stats.queued = queued;
    if (queued > this.stats.queuedPeak) this.stats.queuedPeak = queued;
    return true;
  }

  /**
   * Stops taking jobs: returns the jobs still queued (never served) so the caller can close them, and
   * a promise that resolves when every loop has exited (after its current job ends).
   */
  stop(): { queued: T[]; finished: Promise<void> } {
    this.stopped = true;
    const queued = this.queue.slice(this.queueHead);
    this.queue.length = 0;
    this.queueHead = 0;
    this.stats.queued = 0;
    for (const worker of this.idle.splice(0)) worker(undefined);
    return { queued, finished: Promise.all(this.loops).then(() => undefined) };
  }

  private next(): T | Promise<T | undefined> | undefined {
    if (this.stopped) return undefined;
    if (this.queueHead < this.queue.length) {
      const job = this.queue[this.queueHead]!;
      this.queue[this.queueHead] = undefined as unknown as T;
      this.queueHead++;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      }
      this.stats.queued = this.queue.length - this.queueHead;
      return job;
    }
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async workerLoop(): Promise<void> {
    for (;;) {
      const job = await this.next();
      if (job === undefined) return;
      this.stats.busy++;
      this.stats.dispatched++;
      try {
        await this.serve(job);
      } catch (error) {
        this.onError(error);
      }
      this.stats.busy--;
      this.stats.completed++;
    }
  }
}
