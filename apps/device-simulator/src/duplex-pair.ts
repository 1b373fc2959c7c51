/**
 * {@link createDuplexPair}: two connected in-process byte streams, like the two ends of a serial
 * cable. What is written to one end is read from the other, in order. Backpressure is real: a
 * write's callback runs only once the reading end asked for more (its buffer went below the
 * high-water mark), so a slow reader slows the writer. Ending one end ends the other's readable side;
 * destroying one end destroys the other.
 */
import { Duplex } from 'node:stream';

/** Options of {@link createDuplexPair}. */
export interface DuplexPairOptions {
  /** Readable buffer of each end in bytes before the writer waits. Default 64 KiB. */
  highWaterMark?: number;
}

class PairEnd extends Duplex {
  peer!: PairEnd;
  private waiting: (() => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.push(chunk)) callback();
    else this.peer.waiting = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _read(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}

/** Creates two connected duplex byte streams `[a, b]`: bytes written to `a` are read from `b` and back. */
export function createDuplexPair(options: DuplexPairOptions = {}): [Duplex, Duplex] {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const a = new PairEnd({ highWaterMark: hwm });
  const b = new PairEnd({ highWaterMark: hwm });
  a.peer = b;
  b.peer = a;
  return [a, b];
}
