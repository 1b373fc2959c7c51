/**
 * The lazily restarted retransmission timer: a later deadline is only stored (the heap entry stays
 * where it was and re-arms itself when it fires early), an earlier one moves the entry, a stopped
 * timer's entry fires once and does nothing, and cancel takes the entry off the heap.
 */
import { Scheduler, type Millis } from '@postern/irq';
import { describe, expect, it } from 'vitest';
import { LazyTimer } from '../src/tcp/lazy-timer.js';

/** A lazy timer that records the times it expired at. */
class RecordingTimer extends LazyTimer {
  readonly fired: number[] = [];
  protected expired(now: Millis): void {
    this.fired.push(now);
  }
}

function setup() {
  const sched = new Scheduler();
  const timer = new RecordingTimer(sched);
  return { sched, fired: timer.fired, timer };
}

describe('LazyTimer', () => {
  it('moved later, fires at the later deadline: the heap entry stays early and re-arms itself once', () => {
    const { sched, fired, timer } = setup();
    timer.reset(100);
    sched.advance(50);
    timer.resetAfter(200); // deadline 250
    expect(timer.deadline).toBe(250);
    expect(sched.nextDeadline()).toBe(100); // not touched
    const before = sched.stats.timersFired;
    sched.advance(100); // t = 150: the entry fired early and re-armed
    expect(fired).toEqual([]);
    expect(sched.nextDeadline()).toBe(250);
    sched.advance(100);
    expect(fired).toEqual([250]);
    expect(sched.stats.timersFired - before).toBe(2);
    expect(timer.active).toBe(false);
    expect(sched.idle).toBe(true);
  });

  it('moved earlier, moves its heap entry', () => {
    const { sched, fired, timer } = setup();
    timer.reset(100);
    timer.reset(30);
    expect(sched.nextDeadline()).toBe(30);
    sched.advance(100);
    expect(fired).toEqual([30]);
  });

  it('stopped, its entry fires once and does nothing; restarted before that, it fires at the new deadline', () => {
    const { sched, fired, timer } = setup();
    timer.reset(100);
    timer.stop();
    expect(timer.active).toBe(false);
    expect(sched.nextDeadline()).toBe(100);
    sched.advance(200);
    expect(fired).toEqual([]);
    expect(sched.idle).toBe(true);

    timer.reset(300);
    timer.stop();
    timer.reset(350);
    sched.runUntilIdle();
    expect(fired).toEqual([350]);
  });

  it('cancelled, leaves nothing on the heap; a deadline that is not finite throws', () => {
    const { sched, fired, timer } = setup();
    timer.reset(100);
    timer.cancel();
    expect(sched.nextDeadline()).toBeUndefined();
    expect(sched.idle).toBe(true);
    sched.advance(200);
    expect(fired).toEqual([]);
    expect(() => timer.reset(Number.NaN)).toThrow(RangeError);
  });
});
