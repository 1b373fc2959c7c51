/** Unit tests of the pool, the rate limiter, range/conditional helpers and static path checks. */
import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter, WorkerPool, resolveStaticPath } from '../src/index.js';

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
