/**
 * {@link DhcpServer}: a DHCP server (RFC 2131, options of RFC 2132) for one or more interfaces of a
 * stack ("scopes"), over the stack's UDP port 67.
 *
 * Per scope: an address range, static leases by MAC, the lease time, and the options every answer
 * carries (subnet mask and broadcast from the interface's prefix, router and DNS servers, default
 * the interface's own address). Clients are known by their hardware address (chaddr).
 *
 * - DISCOVER: the client's static address, else its current or last address, else the address it
 *   asks for (option 50) when free, else the first free address of the range, else the longest
 *   expired one. An address new to the client is probed first through the interface's ARP cache
 *   (an ARP request from the server's address; an answer within {@link DhcpServerOptions.probeMs}
 *   means it is in use: it is set aside for `conflictHoldMs` and the next is tried). The OFFER
 *   holds the address for `offerHoldMs`.
 * - REQUEST: SELECTING (server id ours: ACK the offer, else forget it), INIT-REBOOT (requested
 *   address: ACK when it is the client's or free, NAK when it is off the network or another's),
 *   RENEWING/REBINDING (ciaddr: ACK when still the client's or free, else NAK).
 * - DECLINE sets the address aside like a conflict; RELEASE ends the lease now (the address stays
 *   the client's next choice); INFORM is answered with the options and no lease.
 *
 * Answers go (RFC 2131 §4.1) to ciaddr when set, broadcast when the client set the broadcast bit or
 * for a NAK, else to yiaddr at the client's hardware address (a frame built here: the client cannot
 * answer ARP yet). Relayed requests (giaddr set) are not served (counted `relayed`).
 *
 * Leases survive a restart through a {@link DhcpLeaseStore}: every change hands the bound and
 * set-aside leases to `store.save` (expiry as wall-clock ms: `epochMs` + scheduler time), and the
 * server starts from `initialLeases`. Time comes from the scheduler only. Bad input is counted
 * (`counters`), never thrown.
 */
import type { Timer } from '@postern/irq';
import {
  BOOTP_REPLY,
  BOOTP_REQUEST,
  DHCP_ACK,
  DHCP_CLIENT_PORT,
  DHCP_DECLINE,
  DHCP_DISCOVER,
  DHCP_FLAG_BROADCAST,
  DHCP_INFORM,
  DHCP_NAK,
  DHCP_OFFER,
  DHCP_OPT,
  DHCP_RELEASE,
  DHCP_REQUEST,
  DHCP_SERVER_PORT,
  DecodeError,
  IPV4_BROADCAST,
  dhcpAddressBytes,
  dhcpAddressOption,
  dhcpBufferLength,
  dhcpMessageType,
  dhcpUint32Bytes,
  emitDhcp,
  ipv4InPrefix,
  isMulticastMac,
  parseDhcp,
  type DhcpRepr,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';
import { Counters } from '../counters.js';
import type { NetInterface } from '../link/interface.js';
import { prefixMask } from '../ipv4/prefix.js';
import type { Stack } from '../stack.js';
import type { UdpMessageInfo, UdpSocket } from '../udp/udp.js';
import { sendRawUdp } from './raw-udp.js';

/** A static lease: this MAC always gets this address. */
export interface DhcpStaticLease {
  /** The client's hardware address. */
  readonly mac: MacAddress;
  /** Its address (on the scope's network; need not be in the range). */
  readonly ip: Ipv4Address;
}

/** One interface served. */
export interface DhcpScopeOptions {
  /** The interface (it must have an address when the server starts). */
  readonly iface: NetInterface;
  /** First address of the range. */
  readonly rangeFirst: Ipv4Address;
  /** Last address of the range (inclusive). */
  readonly rangeLast: Ipv4Address;
  /** Lease time, seconds. */
  readonly leaseSeconds: number;
  /** Static leases. */
  readonly static?: readonly DhcpStaticLease[];
  /** Router option; default the interface's address. */
  readonly router?: Ipv4Address;
  /** DNS servers option; default the interface's address; empty: no option. */
  readonly dnsServers?: readonly Ipv4Address[];
}

/** A lease as stored (wall-clock expiry) and as {@link DhcpServer.leases} lists it. */
export interface DhcpLeaseRecord {
  /** The interface's name. */
  readonly iface: string;
  /** The client's hardware address; 0 for an address set aside after a DECLINE or a conflict. */
  readonly mac: MacAddress;
  /** The address. */
  readonly ip: Ipv4Address;
  /** `bound`, or `declined` (set aside: a DECLINE or an ARP conflict). */
  readonly state: 'bound' | 'declined';
  /** Expiry, wall-clock ms since the epoch. */
  readonly expires: number;
  /** The host name the client gave (option 12), if any. */
  readonly hostname?: string;
}

/** A lease as {@link DhcpServer.leases} lists it: offers and released leases too, and whether it expired. */
export interface DhcpLeaseInfo extends Omit<DhcpLeaseRecord, 'state'> {
  /** `offered` (held for a REQUEST), `bound`, `released`, or `declined` (set aside). */
  readonly state: 'offered' | 'bound' | 'released' | 'declined';
  /** True once the expiry passed. */
  readonly expired: boolean;
}

/** Where leases are kept across restarts. `save` gets every lease worth keeping, each time one changes. */
export interface DhcpLeaseStore {
  /** Keeps `records` (the whole set: it replaces what was saved). Must not throw. */
  save(records: readonly DhcpLeaseRecord[]): void;
}

/** Options of a {@link DhcpServer}. */
export interface DhcpServerOptions {
  /** The interfaces served. */
  readonly scopes: readonly DhcpScopeOptions[];
  /** Where leases are saved; default nowhere. */
  readonly store?: DhcpLeaseStore;
  /** Leases to start from (what the store saved before). */
  readonly initialLeases?: readonly DhcpLeaseRecord[];
  /** Wall-clock ms at scheduler time 0 (to store expiries that mean something after a restart). Default 0. */
  readonly epochMs?: number;
  /** How long an ARP probe waits for an answer, ms. Default 500. */
  readonly probeMs?: number;
  /** How long an offer holds its address, ms. Default 60 000. */
  readonly offerHoldMs?: number;
  /** How long a declined or conflicting address is set aside, ms. Default 600 000. */
  readonly conflictHoldMs?: number;
}

/** Counter names of a {@link DhcpServer}. */
export type DhcpServerCounterName =
  | 'received'
  | 'malformed'
  | 'notRequest'
  | 'noScope'
  | 'relayed'
  | 'badType'
  | 'discovers'
  | 'requests'
  | 'declines'
  | 'releases'
  | 'informs'
  | 'offers'
  | 'acks'
  | 'naks'
  | 'probes'
  | 'conflicts'
  | 'noFreeAddress'
  | 'otherServer'
  | 'ignored'
  | 'sendFailed';

const COUNTER_NAMES: readonly DhcpServerCounterName[] = [
  'received',
  'malformed',
  'notRequest',
  'noScope',
  'relayed',
  'badType',
  'discovers',
  'requests',
  'declines',
  'releases',
  'informs',
  'offers',
  'acks',
  'naks',
  'probes',
  'conflicts',
  'noFreeAddress',
  'otherServer',
  'ignored',
  'sendFailed',
];

/** A lease the server holds, by address. */
interface Entry {
  ip: Ipv4Address;
  /** 0 when set aside. */
  mac: MacAddress;
  state: 'offered' | 'bound' | 'released' | 'declined';
  /** Scheduler time. */
  expiresAt: number;
  hostname: string | undefined;
}

interface Scope {
  readonly options: DhcpScopeOptions;
  readonly server: Ipv4Address;
  readonly prefixLength: number;
  readonly byIp: Map<Ipv4Address, Entry>;
  readonly byMac: Map<MacAddress, Entry>;
  readonly staticByMac: Map<MacAddress, Ipv4Address>;
  readonly staticIps: Set<Ipv4Address>;
  /** MACs whose DISCOVER waits for an ARP probe. */
  readonly probing: Map<MacAddress, Timer>;
}

/** Most addresses one DISCOVER probes before giving up. */
const MAX_PROBES_PER_DISCOVER = 4;

/** The DHCP server. See the module comment. */
export class DhcpServer {
  /** What the server did and dropped. */
  readonly counters = new Counters<DhcpServerCounterName>('dhcpServer', COUNTER_NAMES);
  private readonly stack: Stack;
  private readonly scopes = new Map<number, Scope>();
  private readonly socket: UdpSocket;
  private readonly store: DhcpLeaseStore | undefined;
  private readonly epochMs: number;
  private readonly probeMs: number;
  private readonly offerHoldMs: number;
  private readonly conflictHoldMs: number;

  /**
   * Binds UDP port 67 (all addresses) and starts serving.
   * @throws `BindError` when port 67 is taken; `RangeError` for a scope whose interface has no
   *   address, a range off its network or reversed, or a non-positive lease time.
   */
  constructor(stack: Stack, options: DhcpServerOptions) {
    this.stack = stack;
    this.store = options.store;
    this.epochMs = options.epochMs ?? 0;
    this.probeMs = options.probeMs ?? 500;
    this.offerHoldMs = options.offerHoldMs ?? 60_000;
    this.conflictHoldMs = options.conflictHoldMs ?? 600_000;
    for (const o of options.scopes) this.scopes.set(o.iface.index, makeScope(o));
    for (const r of options.initialLeases ?? []) {
      const scope = [...this.scopes.values()].find((s) => s.options.iface.name === r.iface);
      const expiresAt = r.expires - this.epochMs;
      if (scope === undefined || expiresAt <= stack.now || !ipv4InPrefix(r.ip, scope.server, scope.prefixLength))
        continue;
      this.put(scope, {
        ip: r.ip,
        mac: r.state === 'bound' ? r.mac : 0,
        state: r.state,
        expiresAt,
        hostname: r.hostname,
      });
    }
    this.socket = stack.udp.bind(DHCP_SERVER_PORT, undefined, (payload, info) => this.input(payload, info));
  }

  /** Every lease held (offers included), by interface then address, expiry as wall-clock ms. */
  leases(): DhcpLeaseInfo[] {
    const now = this.stack.now;
    const out: DhcpLeaseInfo[] = [];
    for (const s of this.scopes.values()) {
      for (const e of [...s.byIp.values()].sort((a, b) => a.ip - b.ip)) {
        out.push({
          iface: s.options.iface.name,
          mac: e.mac,
          ip: e.ip,
          state: e.state,
          expires: e.expiresAt + this.epochMs,
          expired: e.expiresAt <= now,
          ...(e.hostname === undefined ? {} : { hostname: e.hostname }),
        });
      }
    }
    return out;
  }

  /** Stops serving: releases port 67 and cancels pending probes. Idempotent. */
  close(): void {
    this.socket.close();
    for (const s of this.scopes.values()) {
      for (const t of s.probing.values()) t.cancel();
      s.probing.clear();
    }
  }

  private input(payload: Uint8Array, info: UdpMessageInfo): void {
    const c = this.counters;
    c.inc('received');
    const scope = this.scopes.get(info.iface.index);
    if (scope === undefined) return c.inc('noScope');
    let msg: DhcpRepr;
    try {
      msg = parseDhcp(payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return c.inc('malformed');
    }
    if (msg.op !== BOOTP_REQUEST || msg.chaddr === 0 || isMulticastMac(msg.chaddr)) return c.inc('notRequest');
    if (msg.giaddr !== 0) return c.inc('relayed');
    // The options map is a view into a receive buffer: keep nothing of it past this call but copies.
    switch (dhcpMessageType(msg)) {
      case DHCP_DISCOVER:
        c.inc('discovers');
        return this.discover(scope, msg, 0);
      case DHCP_REQUEST:
        c.inc('requests');
        return this.request(scope, msg);
      case DHCP_DECLINE:
        c.inc('declines');
        return this.decline(scope, msg);
      case DHCP_RELEASE:
        c.inc('releases');
        return this.release(scope, msg);
      case DHCP_INFORM:
        c.inc('informs');
        return this.inform(scope, msg);
      default:
        return c.inc('badType');
    }
  }

  private discover(scope: Scope, msg: DhcpRepr, probes: number): void {
    const now = this.stack.now;
    if (scope.probing.has(msg.chaddr)) return this.counters.inc('ignored'); // a retransmission while we probe
    const ip = this.choose(scope, msg, now);
    if (ip === undefined) return this.counters.inc('noFreeAddress');
    const known = scope.byMac.get(msg.chaddr)?.ip === ip || scope.staticByMac.get(msg.chaddr) === ip;
    if (known || probes >= MAX_PROBES_PER_DISCOVER) return this.offer(scope, msg, ip);
    // Probe: a fresh ARP resolution of the address from the server's address.
    const iface = scope.options.iface;
    // Held for this client while the probe runs, so a DISCOVER from another is not given it too.
    this.put(scope, {
      ip,
      mac: msg.chaddr,
      state: 'offered',
      expiresAt: now + this.probeMs + this.offerHoldMs,
      hostname: hostnameOf(msg),
    });
    // A fresh resolution: a leftover entry (a client gone since) must not count as an answer. A
    // static entry stays and answers the lookup below.
    if (iface.arp.lookup(ip) !== undefined && iface.arp.list().find((e) => e.ip === ip)?.state !== 'static')
      iface.arp.remove(ip);
    iface.arp.resolve(now, ip);
    this.stack.link.runArpActions(iface);
    this.counters.inc('probes');
    const copy = copyRepr(msg);
    scope.probing.set(
      msg.chaddr,
      this.stack.scheduler.timerAfter(this.probeMs, () => {
        scope.probing.delete(copy.chaddr);
        const owner = iface.arp.lookup(ip);
        if (owner !== undefined && owner !== copy.chaddr) {
          this.counters.inc('conflicts');
          this.setAside(scope, ip);
          this.discover(scope, copy, probes + 1);
          return;
        }
        this.offer(scope, copy, ip);
      }),
    );
  }

  private offer(scope: Scope, msg: DhcpRepr, ip: Ipv4Address): void {
    const now = this.stack.now;
    const current = scope.byMac.get(msg.chaddr);
    if (current === undefined || current.ip !== ip) {
      this.put(scope, {
        ip,
        mac: msg.chaddr,
        state: 'offered',
        expiresAt: now + this.offerHoldMs,
        hostname: hostnameOf(msg),
      });
    } else if (current.state !== 'bound' || current.expiresAt <= now) {
      current.state = 'offered';
      current.expiresAt = now + this.offerHoldMs;
    }
    this.counters.inc('offers');
    this.reply(scope, msg, DHCP_OFFER, ip, true);
  }

  private request(scope: Scope, msg: DhcpRepr): void {
    const now = this.stack.now;
    const serverId = dhcpAddressOption(msg, DHCP_OPT.SERVER_ID);
    const requested = dhcpAddressOption(msg, DHCP_OPT.REQUESTED_IP);
    const mine = scope.byMac.get(msg.chaddr);
    if (serverId !== undefined) {
      if (serverId !== scope.server) {
        // SELECTING another server: forget our offer.
        if (mine?.state === 'offered') this.remove(scope, mine);
        return this.counters.inc('otherServer');
      }
      const ip = requested ?? msg.ciaddr;
      if (mine !== undefined && mine.ip === ip && (mine.state === 'offered' || mine.state === 'bound'))
        return this.bind(scope, msg, ip);
      return this.nak(scope, msg);
    }
    const ip = requested ?? msg.ciaddr;
    if (ip === 0) return this.counters.inc('ignored');
    if (!ipv4InPrefix(ip, scope.server, scope.prefixLength)) return this.nak(scope, msg);
    const staticIp = scope.staticByMac.get(msg.chaddr);
    if (staticIp !== undefined) return staticIp === ip ? this.bind(scope, msg, ip) : this.nak(scope, msg);
    if ((mine !== undefined && mine.ip === ip) || (this.inRange(scope, ip) && this.isFree(scope, ip, msg.chaddr, now)))
      return this.bind(scope, msg, ip);
    return this.nak(scope, msg);
  }

  private bind(scope: Scope, msg: DhcpRepr, ip: Ipv4Address): void {
    const expiresAt = this.stack.now + scope.options.leaseSeconds * 1000;
    const current = scope.byMac.get(msg.chaddr);
    if (current !== undefined && current.ip === ip) {
      current.state = 'bound';
      current.expiresAt = expiresAt;
      current.hostname = hostnameOf(msg) ?? current.hostname;
    } else {
      this.put(scope, { ip, mac: msg.chaddr, state: 'bound', expiresAt, hostname: hostnameOf(msg) });
    }
    this.counters.inc('acks');
    this.reply(scope, msg, DHCP_ACK, ip, true);
    this.save();
  }

  private nak(scope: Scope, msg: DhcpRepr): void {
    this.counters.inc('naks');
    this.reply(scope, msg, DHCP_NAK, 0, false);
  }

  private decline(scope: Scope, msg: DhcpRepr): void {
    const ip = dhcpAddressOption(msg, DHCP_OPT.REQUESTED_IP);
    const mine = scope.byMac.get(msg.chaddr);
    if (ip === undefined || mine === undefined || mine.ip !== ip) return this.counters.inc('ignored');
    this.setAside(scope, ip);
    this.save();
  }

  private release(scope: Scope, msg: DhcpRepr): void {
    const mine = scope.byMac.get(msg.chaddr);
    if (mine === undefined || mine.ip !== msg.ciaddr || mine.state !== 'bound') return this.counters.inc('ignored');
    mine.state = 'released';
    mine.expiresAt = this.stack.now;
    this.save();
  }

  private inform(scope: Scope, msg: DhcpRepr): void {
    if (msg.ciaddr === 0) return this.counters.inc('ignored');
    this.counters.inc('acks');
    this.reply(scope, msg, DHCP_ACK, 0, false);
  }

  /** The address to offer `msg`'s client, or `undefined` when none is free. */
  private choose(scope: Scope, msg: DhcpRepr, now: number): Ipv4Address | undefined {
    const mac = msg.chaddr;
    const staticIp = scope.staticByMac.get(mac);
    if (staticIp !== undefined) return staticIp;
    const mine = scope.byMac.get(mac);
    if (mine !== undefined && this.isFree(scope, mine.ip, mac, now)) return mine.ip;
    const requested = dhcpAddressOption(msg, DHCP_OPT.REQUESTED_IP);
    if (requested !== undefined && this.inRange(scope, requested) && this.isFree(scope, requested, mac, now))
      return requested;
    const { rangeFirst, rangeLast } = scope.options;
    let oldest: Entry | undefined;
    for (let ip = rangeFirst; ip <= rangeLast; ip++) {
      const e = scope.byIp.get(ip);
      if (e === undefined) {
        if (this.isFree(scope, ip, mac, now)) return ip;
        continue;
      }
      if (this.isFree(scope, ip, mac, now) && (oldest === undefined || e.expiresAt < oldest.expiresAt)) oldest = e;
    }
    return oldest?.ip;
  }

  private inRange(scope: Scope, ip: Ipv4Address): boolean {
    return ip >= scope.options.rangeFirst && ip <= scope.options.rangeLast;
  }

  private isFree(scope: Scope, ip: Ipv4Address, mac: MacAddress, now: number): boolean {
    if (this.stack.isLocalAddress(ip) || (scope.staticIps.has(ip) && scope.staticByMac.get(mac) !== ip)) return false;
    const e = scope.byIp.get(ip);
    if (e === undefined || (e.mac === mac && e.state !== 'declined')) return true;
    return e.state === 'released' || e.expiresAt <= now;
  }

  private setAside(scope: Scope, ip: Ipv4Address): void {
    const e = scope.byIp.get(ip);
    if (e !== undefined) this.remove(scope, e);
    this.put(scope, {
      ip,
      mac: 0,
      state: 'declined',
      expiresAt: this.stack.now + this.conflictHoldMs,
      hostname: undefined,
    });
  }

  private put(scope: Scope, entry: Entry): void {
    const old = scope.byIp.get(entry.ip);
    if (old !== undefined) this.remove(scope, old);
    const mine = entry.mac === 0 ? undefined : scope.byMac.get(entry.mac);
    if (mine !== undefined) this.remove(scope, mine);
    scope.byIp.set(entry.ip, entry);
    if (entry.mac !== 0) scope.byMac.set(entry.mac, entry);
  }

  private remove(scope: Scope, entry: Entry): void {
    if (scope.byIp.get(entry.ip) === entry) scope.byIp.delete(entry.ip);
    if (entry.mac !== 0 && scope.byMac.get(entry.mac) === entry) scope.byMac.delete(entry.mac);
  }

  private save(): void {
    if (this.store === undefined) return;
    const now = this.stack.now;
    const records: DhcpLeaseRecord[] = [];
    for (const s of this.scopes.values()) {
      for (const e of s.byIp.values()) {
        if ((e.state !== 'bound' && e.state !== 'declined') || e.expiresAt <= now) continue;
        records.push({
          iface: s.options.iface.name,
          mac: e.mac,
          ip: e.ip,
          state: e.state,
          expires: e.expiresAt + this.epochMs,
          ...(e.hostname === undefined ? {} : { hostname: e.hostname }),
        });
      }
    }
    this.store.save(records);
  }

  private reply(scope: Scope, req: DhcpRepr, type: number, yiaddr: Ipv4Address, lease: boolean): void {
    const o = scope.options;
    const options = new Map<number, Uint8Array>([
      [DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(type)],
      [DHCP_OPT.SERVER_ID, dhcpAddressBytes(scope.server)],
    ]);
    if (type !== DHCP_NAK) {
      if (lease) {
        options.set(DHCP_OPT.LEASE_TIME, dhcpUint32Bytes(o.leaseSeconds));
        options.set(DHCP_OPT.RENEWAL_TIME, dhcpUint32Bytes(Math.floor(o.leaseSeconds / 2)));
        options.set(DHCP_OPT.REBINDING_TIME, dhcpUint32Bytes(Math.floor((o.leaseSeconds * 7) / 8)));
      }
      const mask = prefixMask(scope.prefixLength) >>> 0;
      options.set(DHCP_OPT.SUBNET_MASK, dhcpAddressBytes(mask));
      options.set(DHCP_OPT.BROADCAST, dhcpAddressBytes((scope.server | ~mask) >>> 0));
      options.set(DHCP_OPT.ROUTER, dhcpAddressBytes(o.router ?? scope.server));
      const dns = o.dnsServers ?? [scope.server];
      if (dns.length > 0) options.set(DHCP_OPT.DNS_SERVERS, dhcpAddressBytes(...dns));
    }
    const repr: DhcpRepr = {
      op: BOOTP_REPLY,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: type === DHCP_ACK && !lease ? req.ciaddr : 0,
      yiaddr,
      siaddr: 0,
      giaddr: 0,
      chaddr: req.chaddr,
      options,
    };
    const bytes = new Uint8Array(dhcpBufferLength(repr));
    emitDhcp(repr, bytes);
    const iface = o.iface;
    try {
      if (type !== DHCP_NAK && req.ciaddr !== 0) {
        this.stack.udp.send(
          { src: scope.server, srcPort: DHCP_SERVER_PORT, dst: req.ciaddr, dstPort: DHCP_CLIENT_PORT },
          bytes,
        );
      } else if (type === DHCP_NAK || (req.flags & DHCP_FLAG_BROADCAST) !== 0 || yiaddr === 0) {
        this.stack.udp.send(
          {
            src: scope.server,
            srcPort: DHCP_SERVER_PORT,
            dst: IPV4_BROADCAST,
            dstPort: DHCP_CLIENT_PORT,
            ifIndex: iface.index,
          },
          bytes,
        );
      } else if (
        !sendRawUdp(
          iface,
          { dstMac: req.chaddr, src: scope.server, dst: yiaddr, srcPort: DHCP_SERVER_PORT, dstPort: DHCP_CLIENT_PORT },
          bytes,
        )
      ) {
        this.counters.inc('sendFailed');
      }
    } catch {
      this.counters.inc('sendFailed');
    }
  }
}

function makeScope(o: DhcpScopeOptions): Scope {
  const entry = o.iface.addresses[0];
  if (entry === undefined) throw new RangeError(`DHCP server on ${o.iface.name}: the interface has no address`);
  const { address: server, prefixLength } = entry;
  if (
    !ipv4InPrefix(o.rangeFirst, server, prefixLength) ||
    !ipv4InPrefix(o.rangeLast, server, prefixLength) ||
    o.rangeFirst > o.rangeLast
  ) {
    throw new RangeError(
      `DHCP server on ${o.iface.name}: the range must lie in the interface's network, first <= last`,
    );
  }
  if (!Number.isInteger(o.leaseSeconds) || o.leaseSeconds < 1)
    throw new RangeError(`DHCP server on ${o.iface.name}: lease time must be a positive integer`);
  const staticByMac = new Map<MacAddress, Ipv4Address>();
  for (const s of o.static ?? []) staticByMac.set(s.mac, s.ip);
  return {
    options: o,
    server,
    prefixLength,
    byIp: new Map(),
    byMac: new Map(),
    staticByMac,
    staticIps: new Set(staticByMac.values()),
    probing: new Map(),
  };
}

function hostnameOf(msg: DhcpRepr): string | undefined {
  const v = msg.options.get(DHCP_OPT.HOST_NAME);
  if (v === undefined || v.length === 0) return undefined;
  let s = '';
  for (const c of v) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  return s;
}

/** A copy of `msg` that outlives the receive buffer (the options are views into it). */
function copyRepr(msg: DhcpRepr): DhcpRepr {
  return { ...msg, options: new Map([...msg.options].map(([k, v]) => [k, v.slice()])) };
}
