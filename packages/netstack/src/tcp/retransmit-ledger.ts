/**
 * The retransmissions of one loss episode, for D-SACK based undo in the manner of RFC 3708: a
 * loss response is spurious only when every retransmission of the episode is reported received
 * twice. A D-SACK counts only when it covers a range that was retransmitted, and each
 * retransmission counts once: a frame duplicated by the network (never retransmitted, or reported
 * a second time) proves nothing about the retransmissions.
 *
 * Bounded: at most {@link RETRANSMIT_LEDGER_SLOTS} ranges; retransmissions beyond them are not
 * recorded, so they can never be claimed and the episode is never undone by D-SACKs (the safe
 * side: an undo needs proof for every retransmission). The arrays are made with the first
 * retransmission of a connection, never per segment.
 */
import { seqLt } from './seq.js';

/** Most retransmitted ranges one episode records. */
export const RETRANSMIT_LEDGER_SLOTS = 16;

const NO_SLOTS = new Float64Array(0);

/** The ranges retransmitted since the ledger was last cleared. */
export class RetransmitLedger {
  private starts: Float64Array = NO_SLOTS;
  private ends: Float64Array = NO_SLOTS;
  private n = 0;

  /** Ranges recorded and not yet claimed. */
  get count(): number {
    return this.n;
  }

  /** Forgets every range (a new episode begins). */
  clear(): void {
    this.n = 0;
  }

  /** Records that `[seq, end)` was retransmitted (ignored once the ledger is full). */
  note(seq: number, end: number): void {
    if (this.n === RETRANSMIT_LEDGER_SLOTS) return;
    if (this.starts.length === 0) {
      this.starts = new Float64Array(RETRANSMIT_LEDGER_SLOTS);
      this.ends = new Float64Array(RETRANSMIT_LEDGER_SLOTS);
    }
    this.starts[this.n] = seq;
    this.ends[this.n] = end;
    this.n++;
  }

  /**
   * A D-SACK reported `[left, right)` received twice: removes every recorded range overlapping it
   * and returns how many there were (0: the duplicate was not one of this episode's retransmissions).
   */
  claim(left: number, right: number): number {
    let claimed = 0;
    let kept = 0;
    for (let i = 0; i < this.n; i++) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (seqLt(s, right) && seqLt(left, e)) {
        claimed++;
        continue;
      }
      this.starts[kept] = s;
      this.ends[kept] = e;
      kept++;
    }
    this.n = kept;
    return claimed;
  }
}
