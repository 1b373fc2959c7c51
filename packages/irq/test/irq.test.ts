import { describe, expect, it } from 'vitest';
import { Scheduler, SchedulerError, VirtualClock, type IrqLine } from '../src/index.js';

describe('IRQ lines', () => {
  it('runs pending handlers by priority (lower number first), ties by line number', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    const log = (line: IrqLine): void => void trace.push(line.name);
    const low = s.requestIrq('low', 5, log);
    const highA = s.requestIrq('highA', 1, log);
    const mid = s.requestIrq('mid', 3, log);
    const highB = s.requestIrq('highB', 1, log);
    low.raise();
    highB.raise();
    mid.raise();
    highA.raise();
    s.runPending();
    expect(trace).toEqual(['highA', 'highB', 'mid', 'low']);
    expect([low.number, highA.number, mid.number, highB.number]).toEqual([0, 1, 2, 3]);
  });

  it('a higher-priority line raised by a handler runs next, before lower pending lines (preemption at yield points)', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    const urgent = s.requestIrq('urgent', 0, () => trace.push('urgent'));
    const a = s.requestIrq('a', 2, () => {
      trace.push('a:start');
      urgent.raise();
      trace.push('a:end'); // a handler is never interrupted
    });
    s.requestIrq('b', 3, () => trace.push('b')).raise();
    a.raise();
    s.runPending();
    expect(trace).toEqual(['a:start', 'a:end', 'urgent', 'b']);
  });

  it('coalesces raises while pending into one handler run, and counts every raise', () => {
    const s = new Scheduler();
    let runs = 0;
    const line = s.requestIrq('eth0', 1, () => runs++);
    line.raise();
    line.raise();
    line.raise();
    expect(line.pending).toBe(true);
    s.runPending();
    expect(runs).toBe(1);
    expect(line.pending).toBe(false);
    expect(line.stats.raised).toBe(3);
    expect(line.stats.handled).toBe(1);
    line.raise();
    s.runPending();
    expect(runs).toBe(2);
    expect(s.stats.irq.get('eth0')).toMatchObject({ raised: 4, handled: 2 });
  });

  it('a raise from inside its own handler pends the line again (the pending bit is cleared before the handler)', () => {
    const s = new Scheduler();
    let runs = 0;
    const line = s.requestIrq('again', 1, (l) => {
      if (++runs < 3) l.raise();
    });
    line.raise();
    s.runPending();
    expect(runs).toBe(3);
  });

  it('masking holds a pending line back; unmasking delivers it once', () => {
    const s = new Scheduler();
    let runs = 0;
    const line = s.requestIrq('rx', 1, () => runs++);
    line.mask();
    line.raise();
    line.raise();
    s.runPending();
    expect(runs).toBe(0);
    expect(line.pending).toBe(true);
    expect(line.masked).toBe(true);
    expect(s.idle).toBe(true); // a masked line cannot run, so it does not keep the scheduler busy
    line.unmask();
    expect(s.idle).toBe(false);
    s.runPending();
    expect(runs).toBe(1);
    expect(line.masked).toBe(false);
    line.unmask(); // idempotent
    line.mask();
    line.mask();
    line.unmask();
    s.runPending();
    expect(runs).toBe(1);
  });

  it('a handler can mask a lower-priority line before it runs', () => {
    const s = new Scheduler();
    const trace: string[] = [];
    const low = s.requestIrq('low', 9, () => trace.push('low'));
    s.requestIrq('high', 0, () => {
      trace.push('high');
      low.mask();
    }).raise();
    low.raise();
    s.runPending();
    expect(trace).toEqual(['high']);
    low.unmask();
    s.runPending();
    expect(trace).toEqual(['high', 'low']);
  });

  it('free() removes the line: pending work is dropped, later raises are ignored and counted, the name is reusable', () => {
    const s = new Scheduler();
    let runs = 0;
    const line = s.requestIrq('tap0', 1, () => runs++);
    line.raise();
    line.free();
    line.free();
    s.runPending();
    expect(runs).toBe(0);
    expect(line.pending).toBe(false);
    line.raise();
    expect(line.stats.ignored).toBe(1);
    expect(s.stats.irq.has('tap0')).toBe(false);
    expect(s.idle).toBe(true);
    const again = s.requestIrq('tap0', 1, () => runs++);
    again.raise();
    s.runPending();
    expect(runs).toBe(1);
  });

  it('rejects a duplicate name and a non-finite priority with typed errors', () => {
    const s = new Scheduler();
    s.requestIrq('x', 1, () => {});
    expect(() => s.requestIrq('x', 2, () => {})).toThrow(expect.objectContaining({ code: 'DUPLICATE_IRQ' }));
    expect(() => s.requestIrq('y', Number.NaN, () => {})).toThrow(SchedulerError);
  });

  it('measures raise-to-handler latency and handler duration on the scheduler clock', () => {
    const clock = new VirtualClock();
    const s = new Scheduler({ clock });
    const line = s.requestIrq('slow', 1, () => clock.advanceBy(2)); // the handler "takes" 2 ms
    line.mask();
    line.raise();
    s.advance(5);
    line.unmask();
    s.runPending();
    expect(line.stats).toMatchObject({ latencyTotalMs: 5, latencyMaxMs: 5, handlerTimeMs: 2, handlerMaxMs: 2 });
    line.raise();
    s.runPending();
    expect(line.stats).toMatchObject({
      latencyTotalMs: 5,
      latencyMaxMs: 5,
      handlerTimeMs: 4,
      handlerMaxMs: 2,
      handled: 2,
    });
  });

  it('latency and duration stay 0 on a virtual clock when time does not move', () => {
    const s = new Scheduler();
    const line = s.requestIrq('fast', 1, () => {});
    line.raise();
    s.runPending();
    expect(line.stats).toMatchObject({ handled: 1, latencyTotalMs: 0, handlerTimeMs: 0 });
  });
});
