/**
 * Opening: a listener ({@link listen}) and an active open ({@link connect}), with every check of
 * what the application asked for (ports, backlogs, buffer sizes, the address, the route, the
 * 4-tuple, the connection limit) made before anything is created.
 */
import { TcpFlag, ipv4ToString } from '@postern/wire';
import type { TcpConnection } from './connection.js';
import type { TcpContext } from './context.js';
import { TcpError } from './errors.js';
import { makeRoom, newTcb, startSendSequence } from './lifecycle.js';
import { TcpListener } from './listener.js';
import type { TcpConnectOptions, TcpListenOptions } from './options.js';

/**
 * `Tcp.listen`: opens a listener on `address:port` (0.0.0.0 by default).
 * @throws {@link TcpError} `EINVAL` for a bad port, backlog or buffer size, `EADDRINUSE` when a listener holds
 *   the port on an overlapping address, `EADDRNOTAVAIL` for an address that is not ours.
 */
export function listen(ctx: TcpContext, options: TcpListenOptions): TcpListener {
  const address = options.address ?? 0;
  const { port } = options;
  if (!(Number.isInteger(port) && port >= 1 && port <= 65_535))
    throw new TcpError('EINVAL', `port must be 1..65535, got ${port}`);
  const backlog = options.backlog ?? ctx.settings.acceptBacklog;
  const synBacklog = options.synBacklog ?? ctx.settings.synBacklog;
  if (!(Number.isInteger(backlog) && backlog >= 1) || !(Number.isInteger(synBacklog) && synBacklog >= 1)) {
    throw new TcpError('EINVAL', `backlogs must be positive integers, got ${backlog} and ${synBacklog}`);
  }
  if (address !== 0 && !ctx.port.isLocalAddress(address))
    throw new TcpError('EADDRNOTAVAIL', `${ipv4ToString(address)} is not a local address`);
  if (ctx.listeners.conflicts(address, port)) throw new TcpError('EADDRINUSE', `port ${port} is already listening`);
  const sendSize =
    options.sendBufferSize === undefined
      ? ctx.settings.sendBufferSize
      : ctx.effectiveBufferSize(options.sendBufferSize);
  const receiveSize =
    options.receiveBufferSize === undefined
      ? ctx.settings.receiveBufferSize
      : ctx.effectiveBufferSize(options.receiveBufferSize);
  const listener = new TcpListener(ctx, address, port, synBacklog, backlog, sendSize, receiveSize);
  ctx.listeners.add(listener);
  return listener;
}

/**
 * `Tcp.connect`: starts an active open (SYN sent at once). Completion arrives as `onConnect`, failure as
 * `onError` + `onClose`.
 * @throws {@link TcpError} `EINVAL` (bad port or buffer size), `ENETUNREACH` (no route), `EADDRINUSE` (4-tuple
 *   taken), `EADDRNOTAVAIL` (no ephemeral port), `EMFILE` (connection limit).
 */
export function connect(ctx: TcpContext, options: TcpConnectOptions): TcpConnection {
  const { remoteAddress, remotePort } = options;
  if (!(Number.isInteger(remotePort) && remotePort >= 1 && remotePort <= 65_535))
    throw new TcpError('EINVAL', `remote port must be 1..65535, got ${remotePort}`);
  const sendSize =
    options.sendBufferSize === undefined
      ? ctx.settings.sendBufferSize
      : ctx.effectiveBufferSize(options.sendBufferSize);
  const receiveSize =
    options.receiveBufferSize === undefined
      ? ctx.settings.receiveBufferSize
      : ctx.effectiveBufferSize(options.receiveBufferSize);
  const route = ctx.port.route(remoteAddress, options.localAddress ?? 0);
  if (route === undefined) throw new TcpError('ENETUNREACH', `no route to ${ipv4ToString(remoteAddress)}`);
  const local = options.localAddress !== undefined && options.localAddress !== 0 ? options.localAddress : route.source;
  let localPort = options.localPort ?? 0;
  if (localPort !== 0) {
    if (!(Number.isInteger(localPort) && localPort >= 1 && localPort <= 65_535))
      throw new TcpError('EINVAL', `local port must be 1..65535, got ${localPort}`);
    const existing = ctx.table.find(local, localPort, remoteAddress, remotePort);
    if (existing !== undefined) {
      if (existing.state !== 'TIME-WAIT')
        throw new TcpError(
          'EADDRINUSE',
          `${ipv4ToString(local)}:${localPort} -> ${ipv4ToString(remoteAddress)}:${remotePort} is in use`,
        );
      ctx.release(existing, 'normal');
      ctx.counters.inc('timeWaitRecycled');
    } else {
      const record = ctx.table.findTimeWait(local, localPort, remoteAddress, remotePort);
      if (record !== undefined) {
        ctx.timeWaitRecords.end(record);
        ctx.counters.inc('timeWaitRecycled');
      }
    }
  } else {
    localPort = ctx.ephemeralPorts.pick(ctx.table, ctx.listeners, local, remoteAddress, remotePort, ctx.port);
  }
  if (!makeRoom(ctx)) {
    ctx.counters.inc('connectionLimit');
    throw new TcpError('EMFILE', `connection limit ${ctx.settings.maxConnections} reached`);
  }
  const tcb = newTcb(ctx, local, localPort, remoteAddress, remotePort, false, route.mtu, sendSize, receiveSize);
  const conn = ctx.connectionOf(tcb);
  startSendSequence(tcb, ctx.isn.isn(ctx.now(), local, localPort, remoteAddress, remotePort));
  tcb.state = 'SYN-SENT';
  ctx.table.add(tcb);
  ctx.counters.inc('activeOpens');
  tcb.rttSeq = tcb.iss;
  tcb.rttSentAt = ctx.now();
  ctx.builder.send(ctx, tcb, tcb.iss, TcpFlag.SYN, 0, 0);
  ctx.restartRetransmit(tcb);
  return conn;
}
