import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  awaitOnVirtualClock,
  flushMicrotasks,
  outcomeOnVirtualClock,
  patternBytes,
  sha256Hex,
  sha256OfChunks,
  sha256OfFile,
  waitFor,
  type AdvanceableClock,
} from '../src/index.js';

/** xorshift32 written independently (BigInt, masked to 32 bits): the reference patternBytes must match. */
function referenceXorshift(length: number, seed: number): number[] {
  const mask = 0xffff_ffffn;
  let x = BigInt(seed >>> 0 || 1);
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    x = (x ^ (x << 13n)) & mask;
    x = x ^ (x >> 17n);
    x = (x ^ (x << 5n)) & mask;
    out.push(Number(x & 0xffn));
  }
  return out;
}

/** A virtual clock that fires callbacks at their due time as it advances. */
class FakeClock implements AdvanceableClock {
  now = 0;
  private readonly due: Array<{ at: number; run: () => void }> = [];
  after(ms: number, run: () => void): void {
    this.due.push({ at: this.now + ms, run });
  }
  advance(ms: number): void {
    this.now += ms;
    for (const d of this.due.filter((x) => x.at <= this.now)) {
      this.due.splice(this.due.indexOf(d), 1);
      d.run();
    }
  }
  sleep<T>(ms: number, value: T): Promise<T> {
    return new Promise((resolve) => this.after(ms, () => resolve(value)));
  }
}

describe('patternBytes', () => {
  it('is xorshift32, one step per byte, low 8 bits', () => {
    expect([...patternBytes(1000, 12345)]).toEqual(referenceXorshift(1000, 12345));
    expect([...patternBytes(64, 0xdead_beef)]).toEqual(referenceXorshift(64, 0xdead_beef));
  });

  it('gives the same bytes for the same seed, other bytes for another, and a prefix for a shorter length', () => {
    expect(patternBytes(4096, 7)).toEqual(patternBytes(4096, 7));
    expect(patternBytes(4096, 7)).not.toEqual(patternBytes(4096, 8));
    expect(patternBytes(100, 7)).toEqual(patternBytes(4096, 7).subarray(0, 100));
    expect(patternBytes(0, 7).byteLength).toBe(0);
  });

  it('takes seed 0 as 1 (xorshift never leaves 0) and spreads values over every byte', () => {
    expect(patternBytes(32, 0)).toEqual(patternBytes(32, 1));
    expect(new Set(patternBytes(65_536, 3)).size).toBe(256);
  });

  it('rejects a negative length', () => {
    expect(() => patternBytes(-1, 1)).toThrow(RangeError);
  });
});

describe('sha256Hex, sha256OfChunks and sha256OfFile', () => {
  it('hash chunks to the digest of their concatenation, counting the bytes', async () => {
    const whole = patternBytes(10_000, 9);
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < whole.byteLength; at += 3001) yield whole.subarray(at, at + 3001);
    }
    expect(await sha256OfChunks(pieces())).toEqual({ sha256: sha256Hex(whole), bytes: 10_000 });
  });

  it('hash bytes and text to the known SHA-256 test vectors', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(sha256Hex('abc'));
  });

  it('hashes a file read in pieces to the digest of its bytes, and rejects for a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pst-kit-'));
    try {
      const bytes = patternBytes(300_000, 5); // several stream chunks
      await writeFile(join(dir, 'f.bin'), bytes);
      expect(await sha256OfFile(join(dir, 'f.bin'))).toBe(sha256Hex(bytes));
      await expect(sha256OfFile(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('waitFor', () => {
  it('resolves once the predicate holds', async () => {
    let calls = 0;
    await waitFor('the third call', () => ++calls >= 3, 1000);
    expect(calls).toBe(3);
  });

  it('rejects naming what it waited for when the budget runs out', async () => {
    await expect(waitFor('the moon', () => false, 20)).rejects.toThrow('timed out after 20 ms waiting for the moon');
  });
});

describe('outcomeOnVirtualClock', () => {
  it('advances the clock until the promise fulfils and reports the value', async () => {
    const clock = new FakeClock();
    expect(await outcomeOnVirtualClock(clock, clock.sleep(250, 'v'))).toEqual({ value: 'v' });
    expect(clock.now).toBe(250);
  });

  it('reports a rejection without throwing', async () => {
    const clock = new FakeClock();
    const failing = clock.sleep(30, 0).then(() => Promise.reject(new Error('no route')));
    const outcome = await outcomeOnVirtualClock(clock, failing);
    expect(outcome.value).toBeUndefined();
    expect((outcome.error as Error).message).toBe('no route');
  });

  it('reports nothing when the promise does not settle within the limit, having spent the limit', async () => {
    const clock = new FakeClock();
    expect(await outcomeOnVirtualClock(clock, clock.sleep(5000, 1), 1000)).toEqual({});
    expect(clock.now).toBe(1000);
  });
});

describe('awaitOnVirtualClock', () => {
  it('resolves with the value, advancing in steps of stepMs', async () => {
    const clock = new FakeClock();
    expect(await awaitOnVirtualClock(clock, clock.sleep(7, 'seven'))).toBe('seven');
    expect(clock.now).toBe(7);
    expect(await awaitOnVirtualClock(clock, clock.sleep(7, 'again'), 1000, 5)).toBe('again');
    expect(clock.now).toBe(17);
  });

  it("throws the promise's own error", async () => {
    const clock = new FakeClock();
    await expect(
      awaitOnVirtualClock(
        clock,
        clock.sleep(3, 0).then(() => Promise.reject(new Error('reset'))),
      ),
    ).rejects.toThrow('reset');
  });

  it('throws when the promise does not settle within the limit', async () => {
    const clock = new FakeClock();
    await expect(awaitOnVirtualClock(clock, clock.sleep(500, 0), 100)).rejects.toThrow(
      'promise did not settle within 100 virtual ms',
    );
  });

  it('does not advance the clock for a promise that is already settled', async () => {
    const clock = new FakeClock();
    expect(await awaitOnVirtualClock(clock, Promise.resolve(1))).toBe(1);
    expect(clock.now).toBe(0);
  });
});

describe('flushMicrotasks', () => {
  it('lets a short chain of promise callbacks run', async () => {
    let reached = false;
    void Promise.resolve()
      .then(() => undefined)
      .then(() => (reached = true));
    await flushMicrotasks();
    expect(reached).toBe(true);
  });
});
