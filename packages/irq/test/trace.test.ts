import { describe, expect, it } from 'vitest';
import { MAX_TRACE_MARKS, PathTrace, Scheduler } from '../src/index.js';

describe('PathTrace', () => {
  it('is off until armed: marks record nothing and there is no capture', () => {
    const s = new Scheduler();
    expect(s.trace.on).toBe(false);
    expect(s.trace.state).toBe('idle');
    s.trace.mark('driver', 'rx', true);
    expect(s.trace.last).toBeUndefined();
  });

  it('keeps the frame that carried the request and every step up to the answer leaving the driver, timed on the scheduler clock', () => {
    const s = new Scheduler();
    const t = s.trace;
    t.arm();
    expect(t.state).toBe('armed');
    t.mark('ip', 'ignored: no frame yet');
    t.mark('driver', 'rx ack', true);
    s.advance(1);
    t.mark('driver', 'rx request', true); // restarts: no request reached HTTP yet
    s.advance(0.5);
    t.mark('ip', 'input');
    t.mark('tcp', 'segment in');
    s.advance(0.25);
    t.mark('http', 'request GET /');
    expect(t.state).toBe('capturing');
    s.advance(0.25);
    t.mark('driver', 'tx frame');
    expect(t.state).toBe('idle');
    expect(t.on).toBe(false);
    const c = t.last!;
    expect(c.complete).toBe(true);
    expect(c.marks.map((m) => [m.layer, m.what, m.atUs])).toEqual([
      ['driver', 'rx request', 0],
      ['ip', 'input', 500],
      ['tcp', 'segment in', 500],
      ['http', 'request GET /', 750],
      ['driver', 'tx frame', 1000],
    ]);
  });

  it(`stops at ${MAX_TRACE_MARKS} marks, and disarm keeps an unfinished capture as incomplete`, () => {
    let now = 0;
    const t = new PathTrace(() => now);
    t.arm();
    t.mark('driver', 'rx', true);
    t.mark('http', 'request');
    for (let i = 0; i < 100; i++) t.mark('ip', `step ${i}`);
    expect(t.last!.marks).toHaveLength(MAX_TRACE_MARKS);
    expect(t.last!.complete).toBe(false);
    t.arm();
    t.mark('driver', 'rx', true);
    now = 2;
    t.mark('ip', 'input');
    t.disarm();
    expect(t.last).toMatchObject({ complete: false, marks: [{ atUs: 0 }, { atUs: 2000 }] });
  });
});
