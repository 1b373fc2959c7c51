/**
 * {@link ReadAhead}: when the event-loop port reads past the one frame its wake-up announced.
 *
 * libuv reads a TAP descriptor once per readiness report (a read that does not fill its buffer
 * tells libuv the descriptor is drained, and one frame never fills it), so without help every frame
 * costs one `epoll_wait`, one read and one call into JavaScript. Under load several frames wait in
 * the kernel's queue at each wake-up; reading them with `readSync` in the same callback (until the
 * read reports `EAGAIN`) serves them all from one wake-up and hands the stack one batch. The read
 * that finds the queue empty is the price: a system call plus a thrown error, several times the
 * cost of a frame's own read, wasted whenever the queue held only the announced frame (one
 * request at a time, a ping).
 *
 * So the port reads ahead only while it pays: after a read-ahead that found nothing it skips the
 * next 1, 2, 4, ... up to {@link READ_AHEAD_MAX_SKIP} wake-ups before trying again, and a
 * read-ahead that finds a frame starts the count over. An idle or ping-pong link thus pays at most
 * one empty read per {@link READ_AHEAD_MAX_SKIP} wake-ups; a busy one reads every waiting frame.
 * The policy counts wake-ups, not time: it reads no clock.
 */

/** Most wake-ups skipped after a read-ahead that found the queue empty. */
export const READ_AHEAD_MAX_SKIP = 32;

/** The read-ahead decision of one port (see the module documentation). */
export class ReadAhead {
  /** Wake-ups still to skip. */
  private skip = 0;
  /** Wake-ups skipped after the last empty read-ahead (0: the last one found frames). */
  private backoff = 0;

  /** Called once per wake-up: whether to read ahead this time. */
  wanted(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** Reports how many frames the read-ahead of this wake-up found. */
  found(frames: number): void {
    if (frames > 0) {
      this.backoff = 0;
      return;
    }
    this.backoff = this.backoff === 0 ? 1 : Math.min(this.backoff * 2, READ_AHEAD_MAX_SKIP);
    this.skip = this.backoff;
  }
}
