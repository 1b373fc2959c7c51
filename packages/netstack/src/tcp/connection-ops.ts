/**
 * What the application's calls on a connection do (`ConnectionHost`'s operations, reached
 * through `TcpConnection`): writing, reading's window updates, buffer sizes, half-close, close,
 * abort, Nagle and keep-alive; and the clamping of every buffer size an application asks for.
 */
import { TcpFlag } from '@postern/wire';
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { TCP_MIN_BUFFER_SIZE } from './options.js';
import { unsentBytes, windowOpening } from './output.js';
import { seqSub } from './seq.js';
import { canSendData } from './state.js';
import { AckUrgency, type Tcb } from './tcb.js';

/**
 * A buffer size an application asked for, as it takes effect: clamped to
 * `TCP_MIN_BUFFER_SIZE..maxBufferSize`. Not doubled (Linux doubles `SO_RCVBUF` to cover its
 * bookkeeping; here the size is exactly the bytes the buffer holds).
 * @throws {@link TcpError} `EINVAL` unless `bytes` is a positive integer.
 */
export function effectiveBufferSize(ctx: TcpContext, bytes: number): number {
  if (!(Number.isInteger(bytes) && bytes > 0))
    throw new TcpError('EINVAL', `a buffer size must be a positive integer, got ${bytes}`);
  return Math.min(ctx.settings.maxBufferSize, Math.max(TCP_MIN_BUFFER_SIZE, bytes));
}

/**
 * `TcpConnection.write`: queues what fits and sends what may go. A corked connection only queues,
 * unless the send buffer filled (then output runs, so that acknowledgements can free space).
 */
export function write(ctx: TcpContext, tcb: Tcb, data: Uint8Array): number {
  if (tcb.finQueued || tcb.released || !canSendData(tcb.state))
    throw new TcpError('EPIPE', 'the sending side is shut down');
  const conn = ctx.connectionOf(tcb);
  const n = tcb.sendBuffer.write(data);
  const full = n < data.length;
  if (full) conn.writeBlocked = true;
  if (n > 0 && (!conn.corked || full) && tcb.state !== 'SYN-SENT' && tcb.state !== 'SYN-RECEIVED') ctx.output(tcb);
  return n;
}

/** `TcpConnection.setCork`: uncorking sends what the cork held. */
export function setCork(ctx: TcpContext, tcb: Tcb, on: boolean): void {
  const conn = ctx.connectionOf(tcb);
  if (conn.corked === on) return;
  conn.corked = on;
  if (!on && !tcb.released && tcb.state !== 'SYN-SENT' && tcb.state !== 'SYN-RECEIVED') ctx.output(tcb);
}

/** `TcpConnection.setSendBufferSize` and `setReceiveBufferSize`: returns the size in effect. */
export function setBufferSize(ctx: TcpContext, tcb: Tcb, direction: 'send' | 'receive', bytes: number): number {
  const size = effectiveBufferSize(ctx, bytes);
  if (direction === 'send') {
    tcb.sendBuffer.resize(size);
    return size;
  }
  tcb.rcvBufSize = size;
  fitReceiveBuffer(tcb);
  afterRead(ctx, tcb); // a window update if the window opened enough
  return size;
}

/**
 * Brings the receive buffer's capacity to the size set, except that it never goes below the bytes
 * held plus the window already advertised (RFC 9293 §3.8.6.2.2: the right edge does not move
 * left). After a shrink the window stays closed until reads bring the capacity down.
 */
function fitReceiveBuffer(tcb: Tcb): void {
  const b = tcb.recvBuffer;
  const promised = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  b.resize(Math.max(tcb.rcvBufSize, b.readable + promised, b.heldExtent));
}

/** After the application read: the receive buffer shrinks to its size, and a window update goes when worth it. */
export function afterRead(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.released) return;
  if (tcb.recvBuffer.capacity > tcb.rcvBufSize) fitReceiveBuffer(tcb);
  if (tcb.state !== 'ESTABLISHED' && tcb.state !== 'FIN-WAIT-1' && tcb.state !== 'FIN-WAIT-2') return;
  // Window update when the window opened enough to matter (receiver SWS avoidance).
  const current = Math.max(0, seqSub(tcb.rcvAdvRight, tcb.rcvNxt));
  const opening = windowOpening(tcb);
  const step = Math.min(tcb.recvBuffer.capacity >>> 1, 2 * tcb.advertisedMss);
  // The first read of a connection opens the handshake's unscaled window (at most 64 KiB, and
  // nothing wider advertised since): while the peer still has a segment's worth of it and an ACK
  // is already owed at the end of this receive batch (on the flush list), that ACK, or the reply
  // the application writes in its turn, carries the wider window; no frame of its own.
  if (
    tcb.flushQueued &&
    tcb.ackUrgency === AckUrgency.SOON &&
    current >= tcb.advertisedMss &&
    seqSub(tcb.rcvAdvRight, tcb.irs) <= 0x10000
  )
    return;
  if (opening >= step || (current < tcb.advertisedMss && opening >= tcb.advertisedMss)) {
    tcb.owe(AckUrgency.NOW);
    ctx.output(tcb);
  }
}

/** `TcpConnection.shutdownWrite`: a FIN follows the data written. */
export function shutdownWrite(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.finQueued || tcb.released) return;
  switch (tcb.state) {
    case 'SYN-SENT':
      ctx.release(tcb, 'normal');
      return;
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      tcb.finQueued = true;
      if (tcb.state === 'ESTABLISHED') {
        tcb.state = 'FIN-WAIT-1';
        ctx.output(tcb);
      }
      return;
    case 'CLOSE-WAIT':
      tcb.finQueued = true;
      tcb.state = 'LAST-ACK';
      ctx.output(tcb);
      return;
    default:
      return;
  }
}

/** `TcpConnection.close`: a FIN, or a reset when unread data is left (RFC 2525 §2.17). */
export function close(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.released) return;
  tcb.appClosed = true;
  if (tcb.recvBuffer.readable > 0 && tcb.state !== 'TIME-WAIT') {
    abort(ctx, tcb);
    return;
  }
  shutdownWrite(ctx, tcb);
  if (tcb.state === 'FIN-WAIT-2') ctx.armFinWait2(tcb);
}

/** `TcpConnection.abort`: RST (unless nothing was synchronized) and the connection ends now. */
export function abort(ctx: TcpContext, tcb: Tcb): void {
  if (tcb.released) return;
  if (tcb.state !== 'SYN-SENT' && tcb.state !== 'TIME-WAIT' && tcb.state !== 'CLOSED') {
    ctx.builder.send(ctx, tcb, tcb.sndMax, TcpFlag.RST, 0, 0);
  }
  tcb.recvBuffer.clear();
  ctx.counters.inc('aborts');
  ctx.closeTcb(tcb, 'aborted');
}

/**
 * `TcpConnection.setNoDelay`. Turning Nagle off sends what it held back: output runs only then (bytes
 * or a FIN not sent yet), not on every call (a listener's accepted connections each get the call).
 */
export function setNoDelay(ctx: TcpContext, tcb: Tcb, on: boolean): void {
  const was = tcb.noDelay;
  tcb.noDelay = on;
  if (on && !was && !tcb.released && (unsentBytes(tcb) > 0 || (tcb.finQueued && !tcb.finSent))) ctx.output(tcb);
}

/** `TcpConnection.setKeepAlive`. */
export function setKeepAlive(ctx: TcpContext, tcb: Tcb, on: boolean, idleMs: number | undefined): void {
  tcb.keepAlive = on;
  if (idleMs !== undefined && idleMs > 0) tcb.keepAliveIdleMs = idleMs;
  if (on) ctx.touchKeepAlive(tcb);
  else if (tcb.state === 'ESTABLISHED' || tcb.state === 'CLOSE-WAIT') tcb.idleTimer?.cancel();
}
