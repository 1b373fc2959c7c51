/** The watchers of a socket entry: one kept without a set, more in a set, each removable. */
import { describe, expect, it } from 'vitest';
import { UdpEntry } from '../src/index.js';

describe('SocketEntry watchers', () => {
  it('wakes one watcher, then two, and stops each one its way (stop function or unwatch)', () => {
    const entry = new UdpEntry();
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    const b = (): void => void calls.push('b');
    const stopA = entry.watch(a);
    entry.watch(a); // the same function twice is one watcher
    entry.notify();
    expect(calls).toEqual(['a']);
    entry.watch(b);
    entry.notify();
    expect(calls).toEqual(['a', 'a', 'b']);
    stopA();
    entry.notify();
    expect(calls).toEqual(['a', 'a', 'b', 'b']);
    entry.unwatch(b);
    entry.notify();
    expect(calls).toEqual(['a', 'a', 'b', 'b']);
  });

  it('a watcher removed during a wake-up of several still runs in that one (a snapshot), not after', () => {
    const entry = new UdpEntry();
    const calls: string[] = [];
    const b = (): void => void calls.push('b');
    entry.watch(() => {
      calls.push('a');
      entry.unwatch(b);
    });
    entry.watch(b);
    entry.notify();
    entry.notify();
    expect(calls).toEqual(['a', 'b', 'a']);
  });
});
