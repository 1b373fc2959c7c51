/**
 * Passive open: what a listener does with the segments that reach it (SYN-RECEIVED copies, SYN
 * cookies under a full SYN backlog), how a finished handshake reaches the application (the
 * listener's `onConnection` or its bounded accept queue), and closing a listener. The model and
 * the limits are described in {@link ./listener.ts}.
 */
import { TcpFlag } from '@postern/wire';
import type { TcpContext } from './context.js';
import { negotiateOptions } from './handshake-input.js';
import { segmentArrives } from './input.js';
import { makeRoom, newTcb, startSendSequence, windowShiftFor } from './lifecycle.js';
import type { TcpListener } from './listener.js';
import { TCP_HEADER, TCP_TIMESTAMP_OPTION_SPACE, tsClock } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd } from './seq.js';
import { cookieTimestamp, decodeCookieTimestamp } from './syn-cookies.js';
import type { Tcb } from './tcb.js';

/**
 * A segment for no connection reached `listener` (RFC 9293 §3.10.7.2): a SYN makes a SYN-RECEIVED
 * copy (or, with the SYN backlog full, a cookie SYN-ACK); an ACK may carry a valid cookie; anything
 * else with an ACK is answered with RST. Every drop is counted in the listener's stats.
 */
export function listenerInput(ctx: TcpContext, listener: TcpListener, seg: Segment): void {
  if (seg.rst) return;
  if (seg.hasAck) {
    if (!seg.syn && ctx.settings.synCookies && acceptCookie(ctx, listener, seg)) return;
    ctx.sendResetFor(seg);
    return;
  }
  if (!seg.syn) return;
  if (!listener.hasAcceptRoom()) {
    listener.stats.acceptQueueDrops++;
    return;
  }
  if (!listener.hasSynRoom()) {
    if (!ctx.settings.synCookies) {
      listener.stats.synBacklogDrops++;
      return;
    }
    sendCookie(ctx, listener, seg);
    return;
  }
  if (!makeRoom(ctx)) {
    listener.stats.connectionLimitDrops++;
    ctx.counters.inc('connectionLimit');
    return;
  }
  const tcb = childTcb(ctx, listener, seg);
  if (tcb === undefined) return;
  const now = ctx.now();
  tcb.irs = seg.seq;
  tcb.rcvNxt = seqAdd(seg.seq, 1);
  tcb.rcvAdvRight = tcb.rcvNxt;
  startSendSequence(tcb, ctx.isn.isn(now, seg.destination, seg.dstPort, seg.source, seg.srcPort));
  negotiateOptions(tcb, seg, now);
  tcb.sndWnd = seg.window;
  tcb.sndWl1 = seg.seq;
  tcb.maxSndWnd = seg.window;
  tcb.state = 'SYN-RECEIVED';
  listener.embryos.add(tcb);
  listener.stats.synReceived++;
  ctx.table.add(tcb);
  ctx.counters.incSlot(ctx.slots.passiveOpens);
  tcb.rttSeq = tcb.iss;
  tcb.rttSentAt = now;
  ctx.builder.send(ctx, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
  ctx.restartRetransmit(tcb);
}

/**
 * The listener's copy for the peer of `seg` (a SYN, or an ACK returning a cookie): a passive TCB
 * on the route's MTU with the listener's buffer sizes, remembered as the listener's. Undefined when
 * no route leads back to the peer.
 */
function childTcb(ctx: TcpContext, listener: TcpListener, seg: Segment): Tcb | undefined {
  const route = ctx.port.route(seg.source, seg.destination);
  if (route === undefined) return undefined;
  const tcb = newTcb(
    ctx,
    seg.destination,
    seg.dstPort,
    seg.source,
    seg.srcPort,
    true,
    route.mtu,
    listener.sendBufferSize,
    listener.receiveBufferSize,
  );
  ctx.origins.set(tcb, listener);
  return tcb;
}

/** The 4-tuple of `seg` from our side, in the context's scratch tuple. */
function fillTuple(ctx: TcpContext, seg: Segment): [number, number, number, number] {
  const t = ctx.cookieTuple;
  t[0] = seg.destination;
  t[1] = seg.dstPort;
  t[2] = seg.source;
  t[3] = seg.srcPort;
  return t;
}

/** Answers a SYN with a cookie SYN-ACK and keeps no state (RFC 4987 §3.6). */
function sendCookie(ctx: TcpContext, listener: TcpListener, seg: Segment): void {
  const mss = seg.options.mss > 0 ? seg.options.mss : 536;
  const route = ctx.port.route(seg.source, seg.destination);
  if (route === undefined) return;
  const cookie = ctx.cookies.encode(ctx.now(), fillTuple(ctx, seg), seg.seq, Math.min(mss, route.mtu - 40));
  listener.stats.cookiesSent++;
  // A SYN-ACK from no state: MSS option only (what a cookie can carry).
  const advMss = Math.max(64, route.mtu - 40);
  const r = ctx.cookieSynAck;
  r.srcPort = seg.dstPort;
  r.dstPort = seg.srcPort;
  r.seq = cookie;
  r.ack = seqAdd(seg.seq, 1);
  r.window = Math.min(listener.receiveBufferSize, 0xffff);
  r.mss = advMss;
  const o = seg.options;
  r.timestamps = o.hasTimestamps;
  r.optionBytes = 4;
  if (o.hasTimestamps) {
    // The client's options ride in our TSval (echoed by its ACK): see syn-cookies.ts.
    const offset = ctx.isn.tsOffset(seg.destination, seg.dstPort, seg.source, seg.srcPort);
    r.tsVal = cookieTimestamp(tsClock(ctx.now(), offset), {
      windowScale: o.windowScale >= 0 ? o.windowScale : -1,
      sackPermitted: o.sackPermitted,
    });
    r.tsEcr = o.tsVal;
    r.sackPermitted = o.sackPermitted;
    r.windowShift = o.windowScale >= 0 ? windowShiftFor(ctx.settings.maxBufferSize) : -1;
    r.optionBytes = 4 + 12 + (r.windowShift >= 0 ? 4 : 0);
  }
  if (!ctx.port.send(seg.destination, seg.source, TCP_HEADER + r.optionBytes, r)) ctx.counters.inc('sendFailures');
}

/**
 * An ACK to a listener that may return a cookie: when it checks, the connection is made straight in
 * ESTABLISHED (options from the cookie and the echoed timestamp) and queued for the application.
 * Returns false when the cookie is not valid (the caller answers with RST).
 */
function acceptCookie(ctx: TcpContext, listener: TcpListener, seg: Segment): boolean {
  const clientIsn = seqAdd(seg.seq, -1);
  const decoded = ctx.cookies.decode(ctx.now(), fillTuple(ctx, seg), clientIsn, seqAdd(seg.ack, -1));
  if (decoded === undefined) {
    listener.stats.cookiesRejected++;
    return false;
  }
  if (!listener.hasAcceptRoom() || !makeRoom(ctx)) {
    listener.stats.acceptQueueDrops++;
    return true;
  }
  const tcb = childTcb(ctx, listener, seg);
  if (tcb === undefined) return true;
  tcb.iss = seqAdd(seg.ack, -1);
  tcb.sndUna = seg.ack;
  tcb.sndNxt = seg.ack;
  tcb.sndMax = seg.ack;
  tcb.recover = seg.ack;
  tcb.scoreboard.reset(tcb.sndUna); // offsets count from SND.UNA: never from a stale 0
  tcb.rack.reset(tcb.sndUna);
  tcb.irs = clientIsn;
  tcb.rcvNxt = seg.seq;
  tcb.rcvAdvRight = seqAdd(seg.seq, Math.min(tcb.recvBuffer.capacity, 0xffff));
  const o = seg.options;
  if (o.hasTimestamps && o.tsEcr !== 0) {
    // The client's options came back in the echo of our SYN-ACK's TSval.
    const carried = decodeCookieTimestamp(o.tsEcr);
    tcb.tsEnabled = true;
    tcb.tsRecent = o.tsVal;
    tcb.tsRecentAge = ctx.now();
    tcb.sackEnabled = carried.sackPermitted;
    tcb.wsEnabled = carried.windowScale >= 0;
    tcb.sndWndShift = tcb.wsEnabled ? carried.windowScale : 0;
    if (!tcb.wsEnabled) tcb.rcvWndShift = 0;
  } else {
    tcb.rcvWndShift = 0;
    tcb.sndWndShift = 0;
  }
  if (!tcb.sackEnabled) tcb.cc.onNoRateSamples?.(); // no transmit log: no delivery rate samples
  tcb.sendMss = Math.max(
    64,
    Math.min(decoded.mss, tcb.advertisedMss) - (tcb.tsEnabled ? TCP_TIMESTAMP_OPTION_SPACE : 0),
  );
  tcb.cc.setMss(tcb.sendMss);
  tcb.scoreboard.mss = tcb.sendMss;
  tcb.sndWnd = seg.window << tcb.sndWndShift;
  tcb.sndWl1 = seg.seq;
  tcb.sndWl2 = seg.ack;
  tcb.maxSndWnd = tcb.sndWnd;
  tcb.state = 'ESTABLISHED';
  ctx.table.add(tcb);
  listener.stats.cookiesAccepted++;
  ctx.counters.incSlot(ctx.slots.passiveOpens);
  toAcceptQueue(ctx, listener, tcb);
  // The ACK may carry data: process it like any segment of the new connection.
  if (seg.payloadLength > 0 || seg.fin) {
    segmentArrives(ctx, tcb, seg);
  }
  ctx.afterSegment(tcb);
  return true;
}

/** A passive connection is established: to the application (`onConnection`) or the accept queue. */
function toAcceptQueue(ctx: TcpContext, listener: TcpListener, tcb: Tcb): void {
  const conn = ctx.connectionOf(tcb);
  listener.stats.established++;
  if (listener.onConnection !== undefined) {
    listener.stats.accepted++;
    listener.onConnection(conn);
  } else {
    listener.acceptQueue.push(conn);
    if (listener.acceptQueue.length === 1) listener.onAcceptable?.();
  }
}

/** See {@link TcpContext.passiveEstablished}. */
export function passiveEstablished(ctx: TcpContext, tcb: Tcb): boolean {
  const listener = ctx.origins.get(tcb);
  if (listener === undefined || listener.closed) return true;
  if (!listener.hasAcceptRoom()) {
    listener.stats.acceptQueueDrops++;
    return false;
  }
  listener.embryos.delete(tcb);
  toAcceptQueue(ctx, listener, tcb);
  return true;
}

/** `TcpListener.close`: out of the table; handshakes in progress and queued connections are reset. */
export function closeListener(ctx: TcpContext, listener: TcpListener): void {
  if (listener.closed) return;
  listener.closed = true;
  ctx.listeners.remove(listener);
  for (const tcb of listener.embryos.all()) ctx.abort(tcb);
  for (const conn of listener.acceptQueue.splice(0)) conn.abort();
}
