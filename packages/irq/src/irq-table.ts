/**
 * The registered IRQ lines of one scheduler, kept sorted by (priority, line number), with a count of
 * lines that are pending and unmasked so that "is any IRQ runnable?" is O(1) on the hot path.
 *
 * Internal to the package; the public face is the {@link IrqLine} interface.
 */
import type { IrqHandler, IrqLine, IrqLineStats, Millis } from './api.js';
import { SchedulerError, requireFinite } from './errors.js';

/** Hooks the table needs from its scheduler. */
export interface IrqTableHost {
  now(): Millis;
  /** A line just became runnable (pending and unmasked). */
  wake(): void;
}

/** One registered line and its state. */
export class Line implements IrqLine {
  readonly stats: IrqLineStats = {
    raised: 0,
    handled: 0,
    handlerTimeMs: 0,
    handlerMaxMs: 0,
    latencyTotalMs: 0,
    latencyMaxMs: 0,
    ignored: 0,
  };
  /** Time of the raise that made the line pending. */
  raisedAt: Millis = 0;
  private isPending = false;
  private isMasked = false;
  private isFreed = false;

  constructor(
    private readonly table: IrqTable,
    readonly number: number,
    readonly name: string,
    readonly priority: number,
    readonly handler: IrqHandler,
  ) {}

  get pending(): boolean {
    return this.isPending;
  }

  get masked(): boolean {
    return this.isMasked;
  }

  /** True once {@link free} was called. */
  get freed(): boolean {
    return this.isFreed;
  }

  raise(): void {
    if (this.isFreed) {
      this.stats.ignored++;
      return;
    }
    this.stats.raised++;
    if (this.isPending) return; // coalesces into the run already owed
    this.isPending = true;
    this.table.pendingRaises++;
    this.raisedAt = this.table.host.now();
    if (!this.isMasked) this.table.becameRunnable();
  }

  mask(): void {
    if (this.isMasked || this.isFreed) return;
    this.isMasked = true;
    if (this.isPending) this.table.runnable--;
  }

  unmask(): void {
    if (!this.isMasked || this.isFreed) return;
    this.isMasked = false;
    if (this.isPending) this.table.becameRunnable();
  }

  free(): void {
    if (this.isFreed) return;
    if (this.isPending && !this.isMasked) this.table.runnable--;
    this.isPending = false;
    this.isFreed = true;
    this.table.remove(this);
  }

  /** Clears the pending state before the handler runs (a raise from inside the handler pends it again). */
  acknowledge(): void {
    this.isPending = false;
    if (!this.isMasked) this.table.runnable--;
  }
}

/** Lines sorted by (priority, number), lower first. */
export class IrqTable {
  /** Lines that are pending and unmasked. */
  runnable = 0;
  /** Raises that made a line pending, all lines together (a device delivered something). */
  pendingRaises = 0;
  /** Live per-line counters by name (the map behind `SchedulerStats.irq`). */
  readonly statsByName = new Map<string, Readonly<IrqLineStats>>();
  private readonly lines: Line[] = [];
  private nextNumber = 0;

  constructor(readonly host: IrqTableHost) {}

  /** Registers a line; throws `DUPLICATE_IRQ` for a name in use, `BAD_ARGUMENT` for a bad priority or handler. */
  request(name: string, priority: number, handler: IrqHandler): Line {
    requireFinite(`priority of IRQ '${name}'`, priority);
    if (typeof handler !== 'function') {
      throw new SchedulerError('BAD_ARGUMENT', `IRQ '${name}' needs a handler function`);
    }
    if (this.statsByName.has(name)) {
      throw new SchedulerError('DUPLICATE_IRQ', `IRQ line '${name}' is already registered`);
    }
    const line = new Line(this, this.nextNumber++, name, priority, handler);
    // Numbers only grow, so the new line goes after every line of equal or higher priority.
    let at = this.lines.length;
    while (at > 0 && this.lines[at - 1]!.priority > priority) at--;
    this.lines.splice(at, 0, line);
    this.statsByName.set(name, line.stats);
    return line;
  }

  /** The highest-priority line that is pending and unmasked, if any. */
  highestRunnable(): Line | undefined {
    if (this.runnable === 0) return undefined;
    const lines = this.lines;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.pending && !line.masked) return line;
    }
    return undefined;
  }

  /** Called by a line that became pending and unmasked. */
  becameRunnable(): void {
    this.runnable++;
    this.host.wake();
  }

  /** Called by {@link Line.free}. */
  remove(line: Line): void {
    const at = this.lines.indexOf(line);
    if (at >= 0) this.lines.splice(at, 1);
    this.statsByName.delete(line.name);
  }
}
