/**
 * Keeps the `serialport` binding's fd poller from losing wake-ups.
 *
 * `@serialport/bindings-cpp` (13.0.0) waits for a non-blocking fd with one libuv poll handle per port:
 * a read that hits EAGAIN calls `poller.once('readable')`, a write that hits EAGAIN calls
 * `poller.once('writable')`, and each calls `poller.poll(flag)`, whose native side runs
 * `uv_poll_start(handle, flag)` with that one flag. libuv replaces the watched set, so a read that
 * starts waiting while a write waits un-watches writability (and the reverse): the write then sleeps
 * until the peer happens to send a byte. With traffic both ways this shows as erratic throughput;
 * once the peer falls silent (it waits for this very write) the port is stuck for good.
 *
 * {@link keepPendingPollWaits} wraps one poller's `poll` so that every request also asks for each
 * event that still has a waiter: the watched set is always the union of the pending waits. An extra
 * readiness event with no waiter is harmless (the binding emits it to nobody and re-arms the rest).
 *
 * A second fault: when the device hangs up (USB unplug, the master of a PTY closed) a read may see end
 * of file, which the binding's `unixRead` answers by reading again at once, forever: the CPU spins and
 * the port never reports the loss. {@link closeSerialPortOnHangup} keeps a `disconnect` waiter on the
 * poller (libuv reports a hang-up as UV_DISCONNECT while that is watched; with the wrapper above it
 * stays watched under every other wait) and closes the port on it, which ends the read loop.
 */

/** The binding's poll flags (`@serialport/bindings-cpp` EVENTS, libuv's UV_READABLE/UV_WRITABLE/UV_DISCONNECT). */
export const PollFlag = { READABLE: 0b001, WRITABLE: 0b010, DISCONNECT: 0b100 } as const;

/** The parts of the binding's `Poller` (an EventEmitter) the wrapper uses. */
export interface FdPoller {
  poll(eventFlag?: number): void;
  listenerCount(eventName: string): number;
}

const WRAPPED = Symbol('postern.keepPendingPollWaits');

/** The flags of the events that have a waiter on `poller` now. */
export function pendingPollFlags(poller: FdPoller): number {
  return (
    (poller.listenerCount('readable') > 0 ? PollFlag.READABLE : 0) |
    (poller.listenerCount('writable') > 0 ? PollFlag.WRITABLE : 0) |
    (poller.listenerCount('disconnect') > 0 ? PollFlag.DISCONNECT : 0)
  );
}

/**
 * Makes every `poll(flag)` on this poller instance watch `flag` plus every event still waited for
 * (see the module comment). Idempotent; touches only this instance.
 */
export function keepPendingPollWaits(poller: FdPoller): void {
  const marked = poller as FdPoller & { [WRAPPED]?: true };
  if (marked[WRAPPED] === true) return;
  const original = poller.poll;
  poller.poll = function (this: FdPoller, eventFlag = 0): void {
    original.call(this, eventFlag | pendingPollFlags(this));
  };
  marked[WRAPPED] = true;
}

/**
 * Applies {@link keepPendingPollWaits} to the poller of an open `serialport` port, if its binding has
 * one (the Linux and macOS bindings do; Windows has none). Returns true when a poller was wrapped.
 */
export function fixSerialPortPoller(port: { readonly port?: unknown }): boolean {
  const binding = port.port;
  if (typeof binding !== 'object' || binding === null || !('poller' in binding)) return false;
  const poller = (binding as { poller: unknown }).poller;
  if (!isFdPoller(poller)) return false;
  keepPendingPollWaits(poller);
  return true;
}

function isFdPoller(x: unknown): x is FdPoller {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as FdPoller).poll === 'function' &&
    typeof (x as FdPoller).listenerCount === 'function'
  );
}

/** The parts of a `serialport` port {@link closeSerialPortOnHangup} uses. */
export interface HangupWatchedPort {
  readonly port?: unknown;
  readonly isOpen: boolean;
  close(callback?: (err: Error | null) => void, disconnectError?: Error | null): void;
}

/**
 * Closes `port` when its device hangs up (see the module comment), the way the stream closes for a
 * disconnect it sees itself: the `close` event carries an error whose `disconnected` is true. Returns
 * true when the port's binding has a poller to watch (Linux, macOS). Call once, after the open.
 */
export function closeSerialPortOnHangup(port: HangupWatchedPort): boolean {
  const binding = port.port;
  if (typeof binding !== 'object' || binding === null || !('poller' in binding)) return false;
  const poller = (binding as { poller: unknown }).poller as
    { once(event: string, cb: (err: Error | null) => void): unknown } | undefined;
  if (typeof poller?.once !== 'function') return false;
  poller.once('disconnect', (err) => {
    // The binding's own close stops the poller and cancels every waiter with an error: nothing to do then.
    if (!port.isOpen || (err as { canceled?: boolean } | null)?.canceled === true) return;
    port.close(
      () => {},
      Object.assign(new Error(err === null ? 'the device hung up' : `the device hung up (${err.message})`), {
        disconnected: true,
      }),
    );
  });
  return true;
}
