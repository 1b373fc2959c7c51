/**
 * {@link TcpCore}: the one object that implements {@link TcpContext} for a `Tcp`. It owns the
 * module's state (tables, settings, keys, scratch writers) and gives each operation of the context
 * to the part that does it; it decides nothing itself. Built by the `Tcp` facade, never by an
 * application.
 */
import type { BottomHalf, SchedulerApi } from '@postern/irq';
import { Counters } from '../counters.js';
import type { TcpConnection } from './connection.js';
import * as ops from './connection-ops.js';
import type { TcpContext } from './context.js';
import { CookieSynAckWriter, ResetWriter } from './control-writers.js';
import { ackCarried, afterSegment, deliverEvents, flush, output } from './delivery.js';
import { ConnectionTable, ListenerTable } from './demux.js';
import { resendSyn, sendNewSegment, sendResetFor } from './direct-output.js';
import { EphemeralPorts } from './ephemeral-ports.js';
import type { TcpError } from './errors.js';
import type { TcpIpPort } from './ip-port.js';
import { FlushList } from './flush-list.js';
import { IsnGenerator } from './isn.js';
import { closeTcb, compactTimeWait, connectionOf, enterTimeWait, errorFor, release } from './lifecycle.js';
import type { TcpListener } from './listener.js';
import type { TcpSettings } from './options.js';
import { SegmentBuilder, type TcpLossEventName } from './output.js';
import { closeListener, passiveEstablished } from './passive-open.js';
import { Segment } from './segment.js';
import { SynCookies } from './syn-cookies.js';
import type { Tcb, TcpCloseReason } from './tcb.js';
import { TCP_COUNTER_NAMES, TcpCounterSlots, type TcpCounterName } from './tcp-counters.js';
import { TimeWaitQueue } from './time-wait.js';
import { TcbList } from './tcb-list.js';
import * as timers from './timers.js';

/**
 * {@link TcpContext.origins}: each passive TCB's listener kept in the TCB's own field
 * ({@link Tcb.origin}), so a passive open adds no table entry and its release removes none.
 */
class OriginSlots {
  get(tcb: Tcb): TcpListener | undefined {
    return tcb.origin as TcpListener | undefined;
  }
  set(tcb: Tcb, listener: TcpListener): void {
    tcb.origin = listener;
  }
  delete(tcb: Tcb): void {
    tcb.origin = undefined;
  }
}

/** {@link TcpContext.handles}: each TCB's application handle kept in its own field ({@link Tcb.handle}), not a weak table. */
class HandleSlots {
  get(tcb: Tcb): TcpConnection | undefined {
    return tcb.handle as TcpConnection | undefined;
  }
  set(tcb: Tcb, conn: TcpConnection): void {
    tcb.handle = conn;
  }
}

/** The state of one `Tcp` and the dispatch of its {@link TcpContext} operations. @internal */
export class TcpCore implements TcpContext {
  readonly port: TcpIpPort;
  readonly scheduler: SchedulerApi;
  readonly settings: TcpSettings;
  readonly builder = new SegmentBuilder();
  readonly counters = new Counters<TcpCounterName>('tcp', TCP_COUNTER_NAMES);
  readonly segmentsReceivedSlot = this.counters.slotOf('segmentsReceived');
  readonly slots = new TcpCounterSlots(this.counters);
  readonly table: ConnectionTable;
  readonly listeners = new ListenerTable<TcpListener>();
  readonly timeWait = new TcbList();
  readonly timeWaitRecords: TimeWaitQueue;
  readonly freeTcbs: Tcb[] = [];
  retiredStandIn: Tcb | undefined = undefined;
  readonly origins = new OriginSlots();
  readonly handles = new HandleSlots();
  readonly segment = new Segment();
  readonly isn: IsnGenerator;
  readonly cookies: SynCookies;
  readonly cookieTuple: [number, number, number, number] = [0, 0, 0, 0];
  readonly cookieSynAck = new CookieSynAckWriter();
  readonly resets = new ResetWriter();
  readonly ephemeralPorts: EphemeralPorts;
  readonly flushList = new FlushList();
  readonly flushHalf: BottomHalf;

  /** Draws the keys (ISN and timestamp offsets, one unused, cookies), then the first ephemeral port, from the scheduler. */
  constructor(port: TcpIpPort, settings: TcpSettings) {
    this.port = port;
    this.scheduler = port.scheduler;
    this.settings = settings;
    this.isn = new IsnGenerator(this.secret());
    // The demux hash is keyed by a value derived from the ISN secret (no extra random draw).
    this.table = new ConnectionTable(this.isn.isn(0, 0, 0, 0, 0));
    this.timeWaitRecords = new TimeWaitQueue(this.scheduler, this.table);
    // A 16-byte draw once spent on a separate timestamp-offset key (the offsets are now the ISN hash's
    // other half): still made, so the cookie key and the first ephemeral port are drawn as before.
    this.secret();
    this.cookies = new SynCookies(this.secret());
    this.ephemeralPorts = new EphemeralPorts(settings.ephemeralPorts, this.scheduler.random());
    this.flushHalf = { name: 'tcp:flush', poll: (budget) => flush(this, budget) };
  }

  private secret(): Uint8Array {
    const s = new Uint8Array(16);
    const v = new DataView(s.buffer);
    for (let i = 0; i < 4; i++) v.setUint32(i * 4, this.scheduler.randomUint32());
    return s;
  }

  now(): number {
    return this.scheduler.now;
  }

  // ------------------------------------------------------------ the connection table
  closeTcb(tcb: Tcb, reason: TcpCloseReason, error?: TcpError): void {
    closeTcb(this, tcb, reason, error);
  }
  release(tcb: Tcb, reason: TcpCloseReason): void {
    release(this, tcb, reason);
  }
  enterTimeWait(tcb: Tcb): void {
    enterTimeWait(this, tcb);
  }
  connectionOf(tcb: Tcb): TcpConnection {
    return connectionOf(this, tcb);
  }
  errorFor(reason: 'refused' | 'reset'): TcpError {
    return errorFor(reason);
  }

  // ------------------------------------------------------------ passive open
  passiveEstablished(tcb: Tcb): boolean {
    return passiveEstablished(this, tcb);
  }
  closeListener(listener: TcpListener): void {
    closeListener(this, listener);
  }

  // ------------------------------------------------------------ timers
  armRetransmit(tcb: Tcb, now?: number): void {
    timers.armRetransmit(this, tcb, now);
  }
  restartRetransmit(tcb: Tcb): void {
    timers.restartRetransmit(this, tcb);
  }
  cancelRetransmit(tcb: Tcb): void {
    timers.stopRetransmit(tcb);
  }
  armPersist(tcb: Tcb): void {
    timers.armPersist(this, tcb);
  }
  armReorder(tcb: Tcb, delay: number): void {
    timers.armReorder(this, tcb, delay);
  }
  armDelayedAck(tcb: Tcb): void {
    timers.armDelayedAck(this, tcb);
  }
  ackSent(tcb: Tcb): void {
    timers.cancelDelayedAck(tcb);
    ackCarried(this, tcb);
  }
  armIdle(tcb: Tcb, delay: number): void {
    timers.armIdle(this, tcb, delay);
  }
  armFinWait2(tcb: Tcb): void {
    timers.armFinWait2(this, tcb);
  }
  touchKeepAlive(tcb: Tcb): void {
    timers.touchKeepAlive(this, tcb);
  }

  // ------------------------------------------------------------ segments outside output
  sendResetFor(seg: Segment): void {
    sendResetFor(this, seg);
  }
  resendSyn(tcb: Tcb): void {
    resendSyn(this, tcb);
  }
  sendNewSegment(tcb: Tcb): boolean {
    return sendNewSegment(this, tcb);
  }

  // ------------------------------------------------------------ after a segment or a call
  afterSegment(tcb: Tcb): void {
    try {
      afterSegment(this, tcb);
      if (tcb.state === 'TIME-WAIT') compactTimeWait(this, tcb);
    } finally {
      // Reached FIN-WAIT-2 or TIME-WAIT in this segment and still whole: the wait goes on the timer.
      if (tcb.idleDue >= 0) timers.armPendingIdle(this, tcb);
    }
  }
  output(tcb: Tcb): void {
    output(this, tcb);
  }
  deliverEvents(tcb: Tcb): void {
    deliverEvents(this, tcb);
  }

  // ------------------------------------------------------------ counters
  countSendFailure(): void {
    this.counters.inc('sendFailures');
  }
  countNagleHold(): void {
    this.counters.inc('nagleHeld');
  }
  countLossEvent(name: TcpLossEventName, by = 1): void {
    this.counters.inc(name, by);
  }

  // ------------------------------------------------------------ the application's calls (ConnectionHost, ListenerHost)
  write(tcb: Tcb, data: Uint8Array): number {
    return ops.write(this, tcb, data);
  }
  afterRead(tcb: Tcb): void {
    ops.afterRead(this, tcb);
  }
  shutdownWrite(tcb: Tcb): void {
    ops.shutdownWrite(this, tcb);
  }
  close(tcb: Tcb): void {
    try {
      ops.close(this, tcb);
      if (tcb.state === 'TIME-WAIT') compactTimeWait(this, tcb);
    } finally {
      if (tcb.idleDue >= 0) timers.armPendingIdle(this, tcb);
    }
  }
  abort(tcb: Tcb): void {
    ops.abort(this, tcb);
  }
  setNoDelay(tcb: Tcb, on: boolean): void {
    ops.setNoDelay(this, tcb, on);
  }
  setCork(tcb: Tcb, on: boolean): void {
    ops.setCork(this, tcb, on);
  }
  setKeepAlive(tcb: Tcb, on: boolean, idleMs: number | undefined): void {
    ops.setKeepAlive(this, tcb, on, idleMs);
  }
  setBufferSize(tcb: Tcb, direction: 'send' | 'receive', bytes: number): number {
    return ops.setBufferSize(this, tcb, direction, bytes);
  }
  effectiveBufferSize(bytes: number): number {
    return ops.effectiveBufferSize(this, bytes);
  }
}
