/** Bounded waits for events on real-clock tests: every wait fails after `ms` instead of hanging (polling: `waitFor` of `@postern/netlab`). */
import { once, type EventEmitter } from 'node:events';

/** Resolves with the event's arguments, or rejects after `ms`. */
export async function nextEvent(emitter: EventEmitter, event: string, ms = 5000): Promise<unknown[]> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), ms);
  try {
    return await once(emitter, event, { signal: ac.signal });
  } catch (e) {
    if (ac.signal.aborted) throw new Error(`no '${event}' within ${ms} ms`);
    throw e;
  } finally {
    clearTimeout(t);
  }
}
