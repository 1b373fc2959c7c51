/**
 * The serialport poller wake-up fix (src/serial/poller-wakeups.ts), deterministically: the binding's
 * real JS `Poller` class over a model of its native half (poller.cpp), whose `poll(flags)` replaces the
 * watched set as `uv_poll_start` does, and which fires only watched events.
 */
import { Poller } from '@serialport/bindings-cpp/dist/poller.js';
import { describe, expect, it } from 'vitest';
import { SerialPollFlag, closeSerialPortOnHangup, fixSerialPortPoller, keepPendingPollWaits } from '../src/index.js';

/** poller.cpp's logic: `events |= flags; uv_poll_start(flags)`; on readiness, re-arm `events & ~fired`, then call back. */
class NativePollerModel {
  static last: NativePollerModel | undefined;
  watched = 0;
  private subscribed = 0;
  constructor(
    _fd: number,
    private readonly callback: (err: Error | null, flags: number) => void,
  ) {
    NativePollerModel.last = this;
  }
  poll(flags: number): void {
    this.subscribed |= flags;
    this.watched = flags;
  }
  stop(): void {
    this.watched = 0;
  }
  destroy(): void {}
  /** The fd became ready for `ready`: fires what is watched, as libuv would. */
  ready(ready: number): void {
    const fired = this.watched & ready;
    if (fired === 0) return;
    this.poll(this.subscribed & ~fired);
    this.callback(null, fired);
  }
}

function makePoller(): { poller: Poller; native: NativePollerModel } {
  const poller = new Poller(3, NativePollerModel as unknown as ConstructorParameters<typeof Poller>[1]);
  return { poller, native: NativePollerModel.last! };
}

/** A write waits for writability (EAGAIN), then a read waits for readability (EAGAIN), as in unix-write.js/unix-read.js. */
function writeThenReadWait(poller: Poller): { woke: string[] } {
  const woke: string[] = [];
  poller.once('writable', () => woke.push('writable'));
  poller.once('readable', () => woke.push('readable'));
  return { woke };
}

describe('serialport poller wake-ups', () => {
  it('the unpatched binding loses a waiting write when a read starts waiting (the model reproduces the stall)', () => {
    const { poller, native } = makePoller();
    const { woke } = writeThenReadWait(poller);
    native.ready(SerialPollFlag.WRITABLE);
    expect(woke).toEqual([]);
    expect(native.watched).toBe(SerialPollFlag.READABLE);
  });

  it('with keepPendingPollWaits a waiting write is woken when the fd becomes writable, and the read stays armed', () => {
    const { poller, native } = makePoller();
    keepPendingPollWaits(poller);
    const { woke } = writeThenReadWait(poller);
    expect(native.watched).toBe(SerialPollFlag.READABLE | SerialPollFlag.WRITABLE);
    native.ready(SerialPollFlag.WRITABLE);
    expect(woke).toEqual(['writable']);
    native.ready(SerialPollFlag.READABLE);
    expect(woke).toEqual(['writable', 'readable']);
  });

  it('keeps a waiting read armed when a write starts waiting', () => {
    const { poller, native } = makePoller();
    keepPendingPollWaits(poller);
    const woke: string[] = [];
    poller.once('readable', () => woke.push('readable'));
    poller.once('writable', () => woke.push('writable'));
    native.ready(SerialPollFlag.READABLE);
    expect(woke).toEqual(['readable']);
    native.ready(SerialPollFlag.WRITABLE);
    expect(woke).toEqual(['readable', 'writable']);
  });

  it('adds nothing once no one waits, and wrapping twice does not stack', () => {
    const { poller, native } = makePoller();
    keepPendingPollWaits(poller);
    keepPendingPollWaits(poller);
    poller.once('writable', () => {});
    native.ready(SerialPollFlag.WRITABLE);
    poller.poll(SerialPollFlag.READABLE);
    expect(native.watched).toBe(SerialPollFlag.READABLE);
  });

  it('fixSerialPortPoller wraps the poller of a binding that has one and reports when there is none', () => {
    const { poller, native } = makePoller();
    expect(fixSerialPortPoller({ port: { poller } })).toBe(true);
    writeThenReadWait(poller);
    expect(native.watched).toBe(SerialPollFlag.READABLE | SerialPollFlag.WRITABLE);
    expect(fixSerialPortPoller({ port: {} })).toBe(false);
    expect(fixSerialPortPoller({})).toBe(false);
  });
});

describe('serialport hang-up watch', () => {
  /** A port as closeSerialPortOnHangup sees it, recording each close and its disconnect error. */
  function fakePort(poller: Poller) {
    const closes: Array<Error | null | undefined> = [];
    const port = {
      port: { poller },
      isOpen: true,
      close(callback?: (err: Error | null) => void, disconnectError?: Error | null) {
        closes.push(disconnectError);
        port.isOpen = false;
        callback?.(null);
      },
    };
    return { port, closes };
  }

  it('keeps the disconnect watched under every wait, and a hang-up closes the port as a disconnect', () => {
    const { poller, native } = makePoller();
    fixSerialPortPoller({ port: { poller } });
    const { port, closes } = fakePort(poller);
    expect(closeSerialPortOnHangup(port)).toBe(true);
    let reads = 0;
    poller.once('readable', () => reads++);
    expect(native.watched).toBe(SerialPollFlag.READABLE | SerialPollFlag.DISCONNECT);
    native.ready(SerialPollFlag.READABLE); // data: the read wakes, the disconnect stays watched
    expect(reads).toBe(1);
    expect(native.watched).toBe(SerialPollFlag.DISCONNECT);
    expect(closes).toHaveLength(0);
    // The device hangs up while no read waits (a read that saw end of file re-reads without polling).
    native.ready(SerialPollFlag.READABLE | SerialPollFlag.DISCONNECT);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toMatchObject({ disconnected: true, message: 'the device hung up' });
  });

  it("does nothing when the binding's own close cancels the watch, and reports a port without a poller", () => {
    const { poller } = makePoller();
    const { port, closes } = fakePort(poller);
    expect(closeSerialPortOnHangup(port)).toBe(true);
    poller.stop(); // what the binding's close does: every waiter gets a canceled error
    expect(closes).toHaveLength(0);
    expect(closeSerialPortOnHangup({ ...port, port: {} })).toBe(false);
  });
});
