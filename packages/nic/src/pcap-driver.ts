/**
 * {@link PcapCaptureDriver}: a driver that wraps another and records every frame crossing it, in both
 * directions, into a pcap file (smoltcp's `PcapWriter` device plays the same part), so any link can be
 * opened in Wireshark or read by tshark.
 *
 * Records hold the Ethernet frame without its FCS (link type `LINKTYPE_ETHERNET`, as libpcap captures
 * on Linux), stamped with the scheduler's time. A transmitted frame is recorded once the inner driver
 * has accepted it; a received frame is recorded as the inner driver hands it up, before any check
 * (a frame with a bad FCS is still recorded: the capture shows what was on the wire).
 */
import type { SchedulerApi } from '@postern/irq';
import { LINKTYPE_ETHERNET, PCAP_UNITS_PER_SECOND } from '@postern/wire';
import type { PcapSink } from '@postern/wire';
import { FCS_LENGTH, NicError } from './driver.js';
import type { NicDriver } from './driver.js';
import { ForwardingDriver } from './forwarding-driver.js';

/** Options of a {@link PcapCaptureDriver}. */
export interface PcapCaptureOptions {
  /**
   * Wall-clock time in ms since the Unix epoch that scheduler time 0 maps to in the file. Default 0
   * (a virtual clock's run then starts at 1970-01-01, and timestamps read as offsets into the run).
   */
  timeOriginMs?: number;
}

/** Counters of a {@link PcapCaptureDriver}. */
export interface PcapCaptureStats {
  /** Transmitted frames recorded. */
  txRecords: number;
  /** Received frames recorded. */
  rxRecords: number;
  /** Frames not recorded because the sink threw (the frame itself still went through). */
  errors: number;
}

/**
 * A transparent driver: every call goes to `inner`, and every frame crossing is also written to
 * `sink`. Its {@link PcapCaptureDriver.stats} are the inner driver's; capture counters are in
 * {@link PcapCaptureDriver.capture}. The wrapper takes over `inner`'s receiver.
 */
export class PcapCaptureDriver extends ForwardingDriver {
  /** Counters of the capture itself. */
  readonly capture: PcapCaptureStats = { txRecords: 0, rxRecords: 0, errors: 0 };
  private readonly unitsPerMs: number;
  private readonly unitsPerSecond: number;
  private readonly timeOriginMs: number;

  /**
   * @param inner the driver to capture.
   * @param sink where records go; its writer must use link type Ethernet.
   * @param scheduler the source of timestamps.
   * @throws {@link NicError} `BAD_ARGUMENT` when the sink's link type is not Ethernet.
   */
  constructor(
    inner: NicDriver,
    private readonly sink: PcapSink,
    private readonly scheduler: SchedulerApi,
    options: PcapCaptureOptions = {},
  ) {
    // Checked before super(), which takes over inner's receiver: a refused sink leaves inner as it was.
    if (sink.writer.fileHeader.linkType !== LINKTYPE_ETHERNET) {
      throw new NicError(
        'BAD_ARGUMENT',
        inner.name,
        `pcap sink has link type ${sink.writer.fileHeader.linkType}, need Ethernet (${LINKTYPE_ETHERNET})`,
      );
    }
    super(inner);
    this.unitsPerSecond = PCAP_UNITS_PER_SECOND[sink.writer.fileHeader.precision];
    this.unitsPerMs = this.unitsPerSecond / 1000;
    this.timeOriginMs = options.timeOriginMs ?? 0;
  }

  /** Passes `frame` to the inner driver and records it if accepted. */
  override transmit(frame: Uint8Array): boolean {
    // The inner driver owns the frame once it accepts it, but drivers never rewrite a frame they are
    // given (the fault injector corrupts a copy), so the bytes recorded are the bytes sent.
    const accepted = this.inner.transmit(frame);
    if (accepted) this.record(frame, 'tx');
    return accepted;
  }

  /** Records a frame the inner driver handed up, then passes it on. */
  protected override received(frame: Uint8Array): void {
    this.record(frame, this.inner.fcs === 'none' ? 'rx-no-fcs' : 'rx');
    this.deliver(frame);
  }

  private record(frame: Uint8Array, direction: 'tx' | 'rx' | 'rx-no-fcs'): void {
    const data =
      direction !== 'rx-no-fcs' && frame.length >= FCS_LENGTH ? frame.subarray(0, frame.length - FCS_LENGTH) : frame;
    const ms = Math.max(0, this.timeOriginMs + this.scheduler.now);
    const seconds = Math.floor(ms / 1000);
    const fraction = Math.min(this.unitsPerSecond - 1, Math.floor((ms - seconds * 1000) * this.unitsPerMs));
    try {
      this.sink.write({ seconds, fraction, data });
      if (direction === 'tx') this.capture.txRecords++;
      else this.capture.rxRecords++;
    } catch {
      this.capture.errors++;
    }
  }
}
