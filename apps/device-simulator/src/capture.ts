/**
 * {@link SegmentCapture}: writes every frame entering the segment's switch to a pcap file (Ethernet
 * link type, frames without their FCS, as libpcap captures on Linux), stamped with the scheduler's
 * time plus a wall-clock origin the caller supplies.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { SchedulerApi } from '@postern/irq';
import { FCS_LENGTH } from '@postern/nic';
import { PcapSink } from '@postern/wire';
import { SimulatorError } from './errors.js';

/** Records frames into a pcap file. */
export class SegmentCapture {
  /** Frames recorded. */
  records = 0;
  private readonly sink: PcapSink;

  private constructor(
    private readonly out: WriteStream,
    private readonly scheduler: SchedulerApi,
    private readonly timeOriginMs: number,
  ) {
    this.sink = new PcapSink(out);
  }

  /**
   * Creates (truncates) `path`. `timeOriginMs` is the wall time in ms since the epoch that scheduler
   * time 0 maps to (default 0: timestamps read as offsets into the run).
   * @throws {@link SimulatorError} `BAD_ARGUMENT` (or `PERMISSION_DENIED`) when the file cannot be created.
   */
  static open(path: string, scheduler: SchedulerApi, timeOriginMs = 0): Promise<SegmentCapture> {
    const out = createWriteStream(path);
    return new Promise((resolve, reject) => {
      out.once('error', (err: NodeJS.ErrnoException) => {
        const code = err.code === 'EACCES' || err.code === 'EPERM' ? 'PERMISSION_DENIED' : 'BAD_ARGUMENT';
        reject(
          new SimulatorError(code, `--pcap ${path}: cannot create the file (${err.code ?? err.message})`, {
            cause: err,
          }),
        );
      });
      out.once('open', () => {
        out.removeAllListeners('error');
        out.on('error', () => {});
        resolve(new SegmentCapture(out, scheduler, timeOriginMs));
      });
    });
  }

  /** Records `frame` (with FCS; the FCS is not written). Never keeps a reference to it. */
  record(frame: Uint8Array): void {
    const ms = Math.max(0, this.timeOriginMs + this.scheduler.now);
    const seconds = Math.floor(ms / 1000);
    const fraction = Math.min(999_999, Math.floor((ms - seconds * 1000) * 1000));
    this.sink.write({ seconds, fraction, data: frame.subarray(0, frame.byteLength - FCS_LENGTH) });
    this.records++;
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}
