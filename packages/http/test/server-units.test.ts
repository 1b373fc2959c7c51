/** Unit tests of the pool, the scheduler clock, the rate limiter, range/conditional helpers and static path checks. */
import { describe, expect, it } from 'vitest';
import { Scheduler, type Clock } from '@postern/irq';
import { HttpResponse, TokenBucketLimiter, WorkerPool, resolveStaticPath, schedulerClock } from '../src/index.js';
import type { ResponseChannel } from '../src/server/response.js';

describe('WorkerPool', () => {
  it('runs at most `workers` jobs, queues up to the limit, refuses beyond it', async () => {
    const releases: Array<() => void> = [];
    const served: number[] = [];
    const pool = new WorkerPool<number>(2, 1, (job) => {
      served.push(job);
      return new Promise<void>((r) => releases.push(r));
    });
    expect([pool.submit(1), pool.submit(2), pool.submit(3), pool.submit(4)]).toEqual([true, true, true, false]);
    await Promise.resolve();
    expect(served).toEqual([1, 2]);
    expect(pool.stats).toMatchObject({ busy: 2, queued: 1, rejected: 1 });
    releases[0]!();
    await new Promise((r) => setImmediate(r));
    expect(served).toEqual([1, 2, 3]);
    const { queued, finished } = pool.stop();
    expect(queued).toEqual([]);
    for (const release of releases) release();
    await finished;
    expect(pool.stats.completed).toBe(3);
  });
});

describe('WorkerPool with done callbacks', () => {
  it('frees a slot when `done` is called (once, however often), hands it to the oldest queued job, and stop() waits for the running ones', async () => {
    const dones: Array<() => void> = [];
    const served: string[] = [];
    const pool = new WorkerPool<string>(1, 2, (job, done) => {
      served.push(job);
      dones.push(done);
    });
    expect([pool.submit('a'), pool.submit('b'), pool.submit('c'), pool.submit('d')]).toEqual([true, true, true, false]);
    expect(served).toEqual([]); // a job starts in a microtask, never inside submit()
    await Promise.resolve();
    expect(served).toEqual(['a']);
    dones[0]!();
    dones[0]!(); // a second call is ignored: 'c' must still wait for 'b'
    await Promise.resolve();
    expect(served).toEqual(['a', 'b']);
    expect(pool.stats).toMatchObject({ busy: 1, queued: 1, completed: 1, dispatched: 2 });
    const { queued, finished } = pool.stop();
    expect(queued).toEqual(['c']);
    let stopped = false;
    void finished.then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    dones[1]!();
    await finished;
    expect(pool.stats).toMatchObject({ busy: 0, completed: 2 });
  });

  it('a job that throws or rejects frees its slot and reaches onError', async () => {
    const errors: unknown[] = [];
    const pool = new WorkerPool<number>(
      1,
      5,
      (job) => {
        if (job === 1) throw new Error('sync');
        if (job === 2) return Promise.reject(new Error('async'));
        return Promise.resolve();
      },
      (e) => errors.push((e as Error).message),
    );
    pool.submit(1);
    pool.submit(2);
    pool.submit(3);
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual(['sync', 'async']);
    expect(pool.stats).toMatchObject({ busy: 0, completed: 3 });
  });
});

describe('WorkerPool holds and caller-ended jobs', () => {
  it('a job submitted inside holdStarts starts at the outermost releaseStarts, not in a microtask', async () => {
    const served: string[] = [];
    const pool = new WorkerPool<string>(2, 1, (job) => void served.push(job), undefined, { endsByCall: true });
    pool.holdStarts();
    pool.holdStarts();
    expect([pool.submit('a'), pool.submit('b'), pool.submit('c')]).toEqual([true, true, true]);
    pool.releaseStarts();
    expect(served).toEqual([]); // an inner release starts nothing
    pool.releaseStarts();
    expect(served).toEqual(['a', 'b']); // 'c' waits for a slot
    expect(pool.stats).toMatchObject({ busy: 2, queued: 1, dispatched: 2 });
    expect(() => pool.releaseStarts()).toThrow(Error);
    // A slot freed outside any hold goes to the queued job in a microtask, as without holds.
    pool.jobDone();
    expect(served).toEqual(['a', 'b']);
    await Promise.resolve();
    expect(served).toEqual(['a', 'b', 'c']);
    expect(pool.stats).toMatchObject({ busy: 2, queued: 0, completed: 1 });
  });

  it('a job whose slot frees while a batch starts runs in that batch, after the job that freed it returned', () => {
    const log: string[] = [];
    let depth = 0;
    const pool = new WorkerPool<string>(
      1,
      2,
      (job) => {
        depth++;
        log.push(`${job}@${depth}`);
        if (job !== 'z') pool.jobDone(); // ends at once, inside its own serve
        depth--;
      },
      undefined,
      { endsByCall: true },
    );
    pool.holdStarts();
    pool.submit('x');
    pool.submit('y');
    pool.submit('z');
    pool.releaseStarts();
    // Each one starts after the one before returned (depth 1), in the order they were submitted.
    expect(log).toEqual(['x@1', 'y@1', 'z@1']);
    expect(pool.stats).toMatchObject({ busy: 1, queued: 0, completed: 2, dispatched: 3 });
  });

  it('endsByCall: serve gets no done of its own; a throw reaches onError and leaves the job to the caller; jobDone needs the option', async () => {
    const errors: unknown[] = [];
    const dones: Array<() => void> = [];
    const pool = new WorkerPool<number>(
      1,
      1,
      (job, done) => {
        dones.push(done);
        if (job === 1) throw new Error('sync');
      },
      (e) => errors.push((e as Error).message),
      { endsByCall: true },
    );
    pool.submit(1);
    pool.submit(2);
    await Promise.resolve();
    expect(errors).toEqual(['sync']);
    dones[0]!(); // not the end: the caller ends jobs with jobDone
    await new Promise((r) => setImmediate(r));
    expect(pool.stats).toMatchObject({ busy: 1, queued: 1, completed: 0 });
    pool.jobDone();
    await Promise.resolve();
    expect(pool.stats).toMatchObject({ busy: 1, queued: 0, completed: 1, dispatched: 2 });
    expect(() => new WorkerPool<number>(1, 0, () => undefined).jobDone()).toThrow(Error);
  });
});

describe('schedulerClock', () => {
  /** A host clock (not virtual) that counts its readings and moves only when told. */
  function countingClock(): Clock & { reads: number; time: number } {
    return {
      virtual: false,
      reads: 0,
      time: 5,
      now() {
        this.reads++;
        return this.time;
      },
    };
  }

  it('on a host clock reads the scheduler: once per scheduler run inside one, at every call outside', () => {
    const host = countingClock();
    let wallReads = 0;
    const scheduler = new Scheduler({ clock: host });
    const clock = schedulerClock(scheduler, () => 1_000_000 + ++wallReads);
    // Outside a run nothing is kept: each call reads, and a later reading sees the clock move.
    expect([clock.now(), clock.now(), clock.wallTime!()]).toEqual([5, 5, 1_000_001]);
    expect([host.reads, wallReads]).toEqual([2, 1]);
    host.time = 9;
    expect(clock.now()).toBe(9);
    // Inside a run the scheduler reads its clock once, and the server's reads get that reading.
    const inRun: number[] = [];
    scheduler.defer(() => {
      const before = host.reads;
      inRun.push(clock.now());
      host.time = 12;
      inRun.push(clock.now(), clock.now(), host.reads - before);
    });
    scheduler.runPending();
    expect(inRun).toEqual([9, 9, 9, 1]);
    expect(clock.now()).toBe(12);
  });

  it('on a host clock without a wall time has no wallTime (no Date header)', () => {
    expect(schedulerClock(new Scheduler({ clock: countingClock() })).wallTime).toBeUndefined();
  });

  it('on a virtual clock reads the scheduler every time (an advance shows at once)', () => {
    const scheduler = new Scheduler();
    const clock = schedulerClock(scheduler);
    const before = clock.now();
    scheduler.advance(250);
    expect(clock.now()).toBe(before + 250);
  });
});

describe('HttpResponse headers', () => {
  function channel(out: Uint8Array[]): ResponseChannel {
    return {
      transmit: (data) => (out.push(data), true),
      writable: true,
      waitDrain: () => Promise.resolve(),
      responseDone: () => {},
      closesAfter: () => false,
      dateValue: () => undefined,
    };
  }

  it('names are matched in any case; set replaces, append adds, remove drops; the head keeps the case given', () => {
    const out: Uint8Array[] = [];
    const res = new HttpResponse(channel(out), { isHead: false, http10: false, keepAlive: true });
    res
      .setHeader('X-Tag', 'one')
      .setHeader('x-tag', 'two')
      .appendHeader('Set-Cookie', 'a=1')
      .appendHeader('set-cookie', 'b=2');
    res.setHeader('X-Gone', 1).removeHeader('X-GONE').setHeader('Vary', ['Accept', 'Origin']);
    expect(res.getHeader('X-TAG')).toBe('two');
    expect(res.getHeader('Set-Cookie')).toBe('a=1, b=2');
    expect([res.hasHeader('x-gone'), res.hasHeader('VARY')]).toEqual([false, true]);
    res.activate();
    res.end('hi');
    expect(Buffer.concat(out).toString('latin1')).toBe(
      'HTTP/1.1 200 OK\r\nx-tag: two\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nVary: Accept\r\nVary: Origin\r\nContent-Length: 2\r\n\r\nhi',
    );
  });

  it('an invalid name or value is refused every time it is set, not only the first', () => {
    const res = new HttpResponse(channel([]), { isHead: false, http10: false, keepAlive: true });
    for (let i = 0; i < 2; i++) {
      expect(() => res.setHeader('Bad Name', 'x')).toThrow(/invalid field name/);
      expect(() => res.appendHeader('Bad Name', 'x')).toThrow(/invalid field name/);
      expect(() => res.setHeader('X-Ok', 'a\r\nb')).toThrow(/invalid value/);
    }
    expect(res.hasHeader('x-ok')).toBe(false);
  });
});

describe('TokenBucketLimiter', () => {
  it('allows the burst, then refills at the rate, with a bounded table', () => {
    const limiter = new TokenBucketLimiter({ burst: 2, perSecond: 1, maxClients: 2 });
    expect([limiter.take('a', 0), limiter.take('a', 0), limiter.take('a', 0)]).toEqual([0, 0, 1]);
    expect(limiter.take('a', 1000)).toBe(0);
    limiter.take('b', 1000);
    limiter.take('c', 1000);
    expect(limiter.stats).toMatchObject({ clients: 2, evictions: 1, limited: 1 });
    // 'a' was evicted: it starts with a full bucket again.
    expect(limiter.take('a', 1000)).toBe(0);
  });
});

describe('resolveStaticPath', () => {
  it('decodes plain paths and refuses traversal forms', () => {
    expect(resolveStaticPath('docs/a%20b.txt')).toEqual({ ok: true, segments: ['docs', 'a b.txt'] });
    expect(resolveStaticPath('a/../b')).toEqual({ ok: false, status: 403 });
    expect(resolveStaticPath('%2E%2e/b')).toEqual({ ok: false, status: 403 });
    expect(resolveStaticPath('a%2Fb')).toEqual({ ok: false, status: 400 });
    expect(resolveStaticPath('a\\b')).toEqual({ ok: false, status: 400 });
    expect(resolveStaticPath('%252e%252e')).toEqual({ ok: false, status: 400 });
  });
});
