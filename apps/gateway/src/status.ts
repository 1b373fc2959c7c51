/**
 * The admin API's read side: plain JSON pictures of the running gateway (addresses and MACs as
 * text), built from `Stack.snapshot()`, the TCP module, the scheduler's stats and the HTTP
 * server's counters. Every function here only reads.
 */
import type { SchedulerStats } from '@postern/irq';
import type { RuleInfo, Stack, StackSnapshot, Tcp } from '@postern/netstack';
import { ipv4ToString, macToString } from '@postern/wire';
import { formatPrefix } from './addresses.js';
import type { TrafficHistory, TrafficSample } from './traffic.js';

/** One TCP connection with its 4-tuple and state. */
export interface TcpConnectionInfo {
  /** Local address, dotted quad. */
  readonly localAddress: string;
  /** Local port. */
  readonly localPort: number;
  /** Remote address, dotted quad. */
  readonly remoteAddress: string;
  /** Remote port. */
  readonly remotePort: number;
  /** RFC 9293 state name, e.g. `ESTABLISHED`. */
  readonly state: string;
}

/** What the status builders read besides the stack. */
export interface StatusSources {
  /** The gateway's IP stack. */
  readonly stack: Stack;
  /** Its TCP module. */
  readonly tcp: Tcp;
  /** The scheduler's live stats. */
  readonly schedulerStats: SchedulerStats;
  /** The rx/tx rate history. */
  readonly traffic: TrafficHistory;
  /** Scheduler time the gateway started at, ms. */
  readonly startedAt: number;
  /** Responses sent by the HTTP server, by status code (`"200"`, `"404"`...). */
  httpStatusCounts(): Readonly<Record<string, number>>;
  /** Other HTTP server counters (requests, errors, workers...), by name. */
  httpCounters(): Readonly<Record<string, number>>;
  /** The open TCP connections; see `gateway.ts` for where they come from. */
  tcpConnections(): readonly TcpConnectionInfo[];
  /** Extra facts about the gateway shown on the overview (NIC specs, HTTP port...). */
  info(): Readonly<Record<string, unknown>>;
  /** Each interface's device connection, by the stack interface's name as `interfaces[].name` shows it (see {@link InterfaceConnection}); absent: not shown. */
  connections?(): Readonly<Record<string, InterfaceConnection>>;
}

/**
 * How an interface's device is connected, as `GET /api/` shows it under each interface's
 * `connection`: `up` (a session with the device and carrier), `down` (no carrier, or closed),
 * `reconnecting` (the device went away or restarted; the driver is getting it back).
 */
export interface InterfaceConnection {
  /** `up`, `down` or `reconnecting`. */
  readonly state: 'up' | 'down' | 'reconnecting';
  /**
   * The link state the NIC's driver itself reports (`up`/`down`): carrier for a TAP device, a session
   * with the device and its PHY's link for a serial one. `state` differs from it only while reconnecting.
   */
  readonly reported: 'up' | 'down';
  /** Attempts since the device was last lost (while up: how many the last reconnection took). */
  readonly attempts: number;
  /** Why the device was last lost or the last attempt failed, else null. */
  readonly lastError: string | null;
  /** Scheduler time of the next attempt while waiting in backoff, else null. */
  readonly nextAttemptAt: number | null;
  /** Reconnection counters (serial devices): disconnects, reconnectAttempts, reconnects, reHellos, txDroppedDisconnect; null for others. */
  readonly counters: Readonly<Record<string, number>> | null;
}

/** An interface as the API shows it. */
export function interfacesJson(snap: StackSnapshot): unknown[] {
  return snap.interfaces.map((i) => ({
    index: i.index,
    name: i.name,
    mac: macToString(i.mac),
    mtu: i.mtu,
    link: i.link,
    addresses: i.addresses.map((a) => formatPrefix(a.address, a.prefixLength)),
    counters: { ...i.device, driver: undefined },
    driver: { ...i.device.driver },
  }));
}

/** Adds each interface's `connection` (by name; null when unknown) to the {@link interfacesJson} entries. */
export function withConnections(
  interfaces: unknown[],
  connections: Readonly<Record<string, InterfaceConnection>> | undefined,
): unknown[] {
  if (connections === undefined) return interfaces;
  return interfaces.map((i) => {
    const entry = i as { name: string };
    return { ...entry, connection: connections[entry.name] ?? null };
  });
}

/** Every interface's ARP entries, with the interface name. */
export function arpJson(snap: StackSnapshot): unknown[] {
  return snap.interfaces.flatMap((i) =>
    i.arp.map((e) => ({
      interface: i.name,
      ip: ipv4ToString(e.ip),
      mac: e.mac === undefined ? null : macToString(e.mac),
      state: e.state,
      queued: e.queued,
      probing: e.probing,
      expiresAt: e.nextEventAt ?? null,
    })),
  );
}

/** The routing table, with interface names. */
export function routesJson(snap: StackSnapshot): unknown[] {
  return snap.routes.map((r) => ({
    to: r.prefixLength === 0 ? 'default' : formatPrefix(r.prefix, r.prefixLength),
    via: r.gateway === undefined ? null : ipv4ToString(r.gateway),
    interface: snap.interfaces[r.ifIndex]?.name ?? `#${r.ifIndex}`,
    kind: r.kind,
    metric: r.metric,
    source: r.source === undefined ? null : ipv4ToString(r.source),
  }));
}

function ruleJson(r: RuleInfo): unknown {
  const s = r.spec;
  const prefix = (p: { prefix: number; length: number } | undefined) =>
    p === undefined ? null : formatPrefix(p.prefix, p.length);
  const ports = (p: { from: number; to: number } | undefined) =>
    p === undefined ? null : p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`;
  return {
    id: r.id,
    chain: r.chain,
    position: r.position,
    action: s.action,
    protocol: s.protocol === 6 ? 'tcp' : s.protocol === 17 ? 'udp' : s.protocol === 1 ? 'icmp' : (s.protocol ?? null),
    src: prefix(s.src),
    dst: prefix(s.dst),
    srcPort: ports(s.srcPorts),
    dstPort: ports(s.dstPorts),
    rejectWith: s.action === 'reject' ? (s.rejectWith?.kind === 'tcp-reset' ? 'tcp-reset' : 'icmp') : null,
    comment: s.comment ?? null,
    packets: r.packets,
    bytes: r.bytes,
  };
}

/** The filter: mode, policies with their counts, rules with hit counts, tracked connections. */
export function filterJson(snap: StackSnapshot): unknown {
  return {
    enabled: snap.firewall,
    policies: snap.filter.policies,
    rules: snap.filter.rules.map(ruleJson),
    trackedConnections: snap.filter.connections,
  };
}

/** TCP: module counters, connection counts and the connection list. */
export function tcpJson(src: StatusSources): unknown {
  return {
    connectionCount: src.tcp.connectionCount,
    timeWait: src.tcp.timeWaitCount,
    counters: src.tcp.counters.snapshot(),
    connections: src.tcpConnections(),
  };
}

/**
 * The scheduler: per-IRQ-line counters, deferred work (bottom halves), timers, tasklets, errors, and
 * the host turns it took by kind (`hostTurns`: microtask, immediate, timer, timers held for a stall;
 * divided by the frames received, the turns each frame cost).
 */
export function schedulerJson(stats: SchedulerStats): unknown {
  return {
    irq: [...stats.irq].map(([name, s]) => ({ name, ...s })),
    deferred: { ...stats.deferred },
    hostTurns: { ...stats.hostTurns },
    timersFired: stats.timersFired,
    taskletsRun: stats.taskletsRun,
    errors: stats.errors,
  };
}

/** Everything the admin UI shows, in one document (what `GET /api/` returns). */
export function statusJson(src: StatusSources): Record<string, unknown> {
  const snap = src.stack.snapshot();
  return {
    now: snap.now,
    uptimeMs: snap.now - src.startedAt,
    info: src.info(),
    settings: { forwarding: snap.forwarding, firewall: snap.firewall },
    interfaces: withConnections(interfacesJson(snap), src.connections?.()),
    arp: arpJson(snap),
    routes: routesJson(snap),
    filter: filterJson(snap),
    tcp: tcpJson(src),
    udp: snap.udpBindings.map((b) => ({
      port: b.port,
      address: b.address === undefined ? null : ipv4ToString(b.address),
    })),
    scheduler: schedulerJson(src.schedulerStats),
    http: { byStatus: src.httpStatusCounts(), counters: src.httpCounters() },
    traffic: src.traffic.list() satisfies TrafficSample[],
    counters: snap.counters,
  };
}
