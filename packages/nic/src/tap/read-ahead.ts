/**
 * {@link ReadAhead}: when, and how far, the event-loop port reads past the one frame its wake-up announced.
 *
 * libuv reads a TAP descriptor once per readiness report (a read that does not fill its buffer
 * tells libuv the descriptor is drained, and one frame never fills it), so without help every frame
 * costs one `epoll_wait`, one read and one call into JavaScript. Under load several frames wait in
 * the kernel's queue at each wake-up; reading them with `readSync` in the same callback serves them
 * all from one wake-up and hands the stack one batch. The read that finds the queue empty is the
 * price: a system call plus a thrown `EAGAIN` error (Node builds it in C++, stack walk included,
 * whatever `Error.stackTraceLimit` says), several times the cost of a frame's own read and more than
 * one more wake-up costs (epoll reports a queue that still holds frames again at once).
 *
 * So the port reads ahead only while it pays, and only as far as it expects frames:
 * - after a read-ahead that found nothing it skips the next 1, 2, 4, ... up to
 *   {@link READ_AHEAD_MAX_SKIP} wake-ups before trying again, and a read-ahead that finds a frame
 *   halves that back-off (and reads ahead again at the next wake-up). An idle or ping-pong link thus
 *   pays at most one empty read per {@link READ_AHEAD_MAX_SKIP} wake-ups, and so does one where frames
 *   now and then arrive in pairs (one client's short connections: the ACK and the request, the FIN
 *   and the next SYN): a lucky find there no longer restarts a read-ahead at every wake-up, each
 *   of which would mostly find the queue empty. Under load, where read-aheads keep finding frames,
 *   the back-off is gone after a few of them;
 * - a read-ahead reads at most {@link ReadAhead.limit} frames: as many as the last one found before
 *   the queue ran dry, so a steady batch ends without the failing read. A read-ahead that stops at
 *   its limit with frames possibly left doubles the limit for the next wake-up (the frames left are
 *   not lost: epoll reports them at once): that next read-ahead is a probe. A probe that finds just
 *   the old limit's frames and then the empty queue paid a failing read for nothing, so the limit
 *   then stays put for the next 1, 2, 4, ... up to {@link READ_AHEAD_MAX_SKIP} read-aheads that stop
 *   at it before the next probe; a probe that finds more than the old limit ends that wait. One
 *   client's short connections bring exactly two frames per wake-up (the handshake's ACK and the
 *   request; the last frames of one connection and the next SYN): at a limit of 1 they are read with
 *   no failing read, where doubling at every stop paid one at every other wake-up. Starts unlimited.
 * The policy counts wake-ups and frames, not time: it reads no clock.
 */

/** Most wake-ups skipped after a read-ahead that found the queue empty. */
export const READ_AHEAD_MAX_SKIP = 32;

/** The read-ahead decision of one port (see the module documentation). */
export class ReadAhead {
  /** Wake-ups still to skip. */
  private skip = 0;
  /** Wake-ups the next empty read-ahead doubles into a skip (0: read-aheads have kept finding frames). */
  private backoff = 0;
  /** Most frames the next read-ahead reads. */
  private most = Number.MAX_SAFE_INTEGER;
  /** The limit before the last doubling while the read-ahead it allows is the probe; else 0. */
  private probeFrom = 0;
  /** Read-aheads still to stop at the limit before the next doubling. */
  private probeWait = 0;
  /** What the next wasted probe doubles into {@link probeWait} (0: the last probe paid). */
  private probeBackoff = 0;

  /** Called once per wake-up: whether to read ahead this time. */
  wanted(): boolean {
    if (this.skip === 0) return true;
    this.skip--;
    return false;
  }

  /** Most frames this wake-up's read-ahead should read (at least 1; the port caps it further). */
  get limit(): number {
    return this.most;
  }

  /**
   * Reports how many frames the read-ahead of this wake-up found, and whether it `drained` the
   * queue (its last read found it empty) rather than stopping at its limit.
   */
  found(frames: number, drained = true): void {
    const probe = this.probeFrom;
    this.probeFrom = 0;
    if (frames > 0) {
      this.backoff >>= 1;
      if (drained) {
        if (frames === probe) {
          // The probe found what the old limit would have read, then paid the failing read.
          this.probeBackoff = this.probeBackoff === 0 ? 1 : Math.min(this.probeBackoff * 2, READ_AHEAD_MAX_SKIP);
          this.probeWait = this.probeBackoff;
        } else if (frames > probe && probe > 0) {
          this.probeBackoff = 0;
          this.probeWait = 0;
        }
        this.most = frames;
        return;
      }
      if (probe > 0) {
        // The probe stopped at its doubled limit: it found more than the old one.
        this.probeBackoff = 0;
        this.probeWait = 0;
      }
      if (this.most >= Number.MAX_SAFE_INTEGER / 2) return;
      if (this.probeWait > 0) {
        this.probeWait--;
        return;
      }
      this.probeFrom = this.most;
      this.most *= 2;
      return;
    }
    if (!drained) return;
    this.backoff = this.backoff === 0 ? 1 : Math.min(this.backoff * 2, READ_AHEAD_MAX_SKIP);
    this.skip = this.backoff;
  }
}
