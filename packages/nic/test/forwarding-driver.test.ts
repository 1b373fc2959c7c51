import { describe, expect, it } from 'vitest';
import { ForwardingDriver } from '../src/index.js';
import type { LinkState } from '../src/index.js';
import { FakeDriver } from './fake-driver.js';

/** Counts frames on the way in and drops odd-length ones: a minimal middleware. */
class EvenOnly extends ForwardingDriver {
  seen = 0;
  protected override received(frame: Uint8Array): void {
    this.seen++;
    if (frame.byteLength % 2 === 0) this.deliver(frame);
  }
}

describe('ForwardingDriver', () => {
  it('is the inner driver in every respect: identity, counters, open/close, transmit, link, filter', async () => {
    const inner = new FakeDriver('fake0', 0x02_00_00_00_00_01, 1400);
    const wrapped = new ForwardingDriver(inner);
    expect([wrapped.name, wrapped.mac, wrapped.mtu, wrapped.linkState]).toEqual([
      'fake0',
      0x02_00_00_00_00_01,
      1400,
      'down',
    ]);
    expect(wrapped.stats).toBe(inner.stats);
    const states: LinkState[] = [];
    wrapped.onLinkChange((s) => states.push(s));
    await wrapped.open();
    expect(wrapped.linkState).toBe('up');
    const frame = new Uint8Array(64);
    expect(wrapped.transmit(frame)).toBe(true);
    expect(inner.sent).toEqual([frame]);
    inner.refuseTransmit = true;
    expect(wrapped.transmit(frame)).toBe(false);
    const filter = { promiscuous: true, allMulticast: false, multicast: new Set<number>() };
    wrapped.setReceiveFilter(filter);
    expect(inner.filters).toEqual([filter]);
    await wrapped.close();
    expect(states).toEqual(['up', 'down']);
  });

  it('takes over the inner receiver: frames go through received() to the latest receiver, none without one', () => {
    const inner = new FakeDriver('fake1', 0x02_00_00_00_00_02);
    const wrapped = new EvenOnly(inner);
    inner.inject(new Uint8Array(60)); // no receiver yet: dropped, no crash
    const got: number[] = [];
    wrapped.onReceive(() => got.push(-1));
    wrapped.onReceive((f) => got.push(f.byteLength));
    inner.inject(new Uint8Array(60));
    inner.inject(new Uint8Array(61));
    inner.inject(new Uint8Array(62));
    expect(got).toEqual([60, 62]);
    expect(wrapped.seen).toBe(4);
  });
});
