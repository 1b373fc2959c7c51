/**
 * {@link DhcpClient}: the DHCP client of one interface (RFC 2131 §4.4), over the stack's UDP port 68.
 *
 * States: `init` -> `selecting` (DISCOVER broadcast from 0.0.0.0, the first OFFER taken) ->
 * `requesting` (REQUEST broadcast naming the offer and its server) -> `probing` -> `bound` (the
 * address, its prefix from the subnet mask, the default route through the first router, and the
 * DNS servers applied to the stack) -> at T1 `renewing` (REQUEST unicast to the server) -> at T2
 * `rebinding` (REQUEST broadcast) -> at expiry the address and route are removed and it starts
 * over. A NAK also starts over. {@link DhcpClient.stop} sends a RELEASE and removes what the lease
 * put in.
 *
 * INIT-REBOOT (RFC 2131 §3.2): given the address of a lease it held before
 * ({@link DhcpClientOptions.previousAddress}, e.g. from a file kept across restarts), the client
 * starts in `rebooting`: a REQUEST broadcast with that address as the requested IP and no server
 * identifier; an ACK keeps the address (after the probe), a NAK starts over with a DISCOVER, and so
 * does silence after {@link DHCP_REBOOT_TRIES} REQUESTs.
 *
 * The conflict check (RFC 2131 §3.1.5, RFC 5227 §2.1.1): an address newly ACKed is not used until
 * `probeCount` ARP probes (sender 0.0.0.0) {@link DhcpClientOptions.probeIntervalMs} apart went
 * unanswered. An ARP packet from another MAC with the address as its sender, or another host's
 * probe for it, is a conflict: the client sends a DHCPDECLINE and starts over after
 * {@link DHCP_DECLINE_WAIT_MS}. A renewal of the address held is not probed again.
 *
 * Retransmissions (RFC 2131 §4.1): 4 s, 8 s, ... up to 64 s, each ±1 s of jitter; in renewing and
 * rebinding, half the time left to T2 (or expiry), at least 60 s. Transaction ids and jitter come
 * from the scheduler's seeded generator, every delay from its timers: a run on the virtual clock
 * replays from its seed.
 */
import type { Timer } from '@postern/irq';
import {
  BOOTP_REPLY,
  BOOTP_REQUEST,
  DHCP_ACK,
  ARP_OP_REQUEST,
  DHCP_CLIENT_PORT,
  DHCP_DECLINE,
  DHCP_DISCOVER,
  DHCP_FLAG_BROADCAST,
  DHCP_NAK,
  DHCP_OFFER,
  DHCP_OPT,
  DHCP_RELEASE,
  DHCP_REQUEST,
  DHCP_SERVER_PORT,
  DecodeError,
  IPV4_BROADCAST,
  MAC_BROADCAST,
  dhcpAddressBytes,
  dhcpAddressListOption,
  dhcpAddressOption,
  dhcpBufferLength,
  dhcpMessageType,
  dhcpUint32Option,
  emitDhcp,
  parseDhcp,
  type ArpRepr,
  type DhcpRepr,
  type Ipv4Address,
} from '@postern/wire';
import { Counters } from '../counters.js';
import type { NetInterface } from '../link/interface.js';
import type { Stack } from '../stack.js';
import type { UdpMessageInfo, UdpSocket } from '../udp/udp.js';
import { sendArpProbe } from './arp-probe.js';
import { sendRawUdp } from './raw-udp.js';

/** The states of {@link DhcpClient}. */
export type DhcpClientState =
  'init' | 'rebooting' | 'selecting' | 'requesting' | 'probing' | 'bound' | 'renewing' | 'rebinding' | 'stopped';

/** A lease the client holds (times on the scheduler clock, ms). */
export interface DhcpClientLease {
  /** The address. */
  readonly address: Ipv4Address;
  /** Its prefix length (from the subnet mask; 24 without one). */
  readonly prefixLength: number;
  /** The first router, if any. */
  readonly router: Ipv4Address | undefined;
  /** DNS servers. */
  readonly dnsServers: readonly Ipv4Address[];
  /** The server that granted it. */
  readonly server: Ipv4Address;
  /** Lease time, s. */
  readonly leaseSeconds: number;
  /** When it was granted or last renewed. */
  readonly boundAt: number;
  /** Renewal time T1. */
  readonly renewAt: number;
  /** Rebinding time T2. */
  readonly rebindAt: number;
  /** Expiry. */
  readonly expiresAt: number;
}

/** Options of a {@link DhcpClient}. */
export interface DhcpClientOptions {
  /** The interface to configure. It should have no address of its own. */
  readonly iface: NetInterface;
  /** Host name sent in option 12. */
  readonly hostname?: string;
  /** Metric of the default route the lease adds. Default 0. */
  readonly routeMetric?: number;
  /** Called after every change of the lease (`undefined`: none any more). */
  readonly onLease?: (lease: DhcpClientLease | undefined) => void;
  /** The address of a lease held before (a restart): start in INIT-REBOOT asking for it. Default: none, start with a DISCOVER. */
  readonly previousAddress?: Ipv4Address;
  /** ARP probes of an ACKed address before it is used; 0: no check. Default {@link DHCP_PROBE_COUNT}. */
  readonly probeCount?: number;
  /** Time between probes, and after the last one before the address is taken, ms. Default {@link DHCP_PROBE_INTERVAL_MS}. */
  readonly probeIntervalMs?: number;
}

/** Counter names of a {@link DhcpClient}. */
export type DhcpClientCounterName =
  | 'discovers'
  | 'requests'
  | 'releases'
  | 'offers'
  | 'acks'
  | 'naks'
  | 'malformed'
  | 'ignored'
  | 'expired'
  | 'probes'
  | 'conflicts'
  | 'declines'
  | 'configFailed'
  | 'sendFailed';

const COUNTER_NAMES: readonly DhcpClientCounterName[] = [
  'discovers',
  'requests',
  'releases',
  'offers',
  'acks',
  'naks',
  'malformed',
  'ignored',
  'expired',
  'probes',
  'conflicts',
  'declines',
  'configFailed',
  'sendFailed',
];

/** First retransmission delay, ms. */
export const DHCP_BACKOFF_FIRST_MS = 4000;
/** Largest retransmission delay, ms. */
export const DHCP_BACKOFF_MAX_MS = 64_000;
/** Jitter added to each retransmission delay: uniform in ±this, ms. */
export const DHCP_JITTER_MS = 1000;
/** REQUESTs sent in `requesting` before starting over. */
export const DHCP_REQUEST_TRIES = 4;
/** Least time between retransmissions in renewing and rebinding, ms. */
export const DHCP_RENEW_MIN_RETRY_MS = 60_000;
/** Wait after a NAK or a failed request before a new DISCOVER, ms. */
export const DHCP_RESTART_DELAY_MS = 1000;
/** REQUESTs sent in `rebooting` (INIT-REBOOT) before falling back to a DISCOVER. */
export const DHCP_REBOOT_TRIES = 2;
/** ARP probes of an ACKed address (RFC 5227 §2.1.1 asks 3 over 1-2 s each; a gateway starting wants its address sooner). */
export const DHCP_PROBE_COUNT = 2;
/** Time between ARP probes, and after the last one before the address is used, ms. */
export const DHCP_PROBE_INTERVAL_MS = 500;
/** Wait after a DECLINE before a new DISCOVER, ms (RFC 2131 §3.1.5: at least ten seconds). */
export const DHCP_DECLINE_WAIT_MS = 10_000;

const PARAMETERS = Uint8Array.of(
  DHCP_OPT.SUBNET_MASK,
  DHCP_OPT.ROUTER,
  DHCP_OPT.DNS_SERVERS,
  DHCP_OPT.BROADCAST,
  DHCP_OPT.LEASE_TIME,
  DHCP_OPT.RENEWAL_TIME,
  DHCP_OPT.REBINDING_TIME,
);

/** The DHCP client. See the module comment. */
export class DhcpClient {
  /** What the client sent, got and dropped. */
  readonly counters = new Counters<DhcpClientCounterName>('dhcpClient', COUNTER_NAMES);
  private readonly stack: Stack;
  private readonly iface: NetInterface;
  private readonly options: DhcpClientOptions;
  private socket: UdpSocket | undefined;
  private current: DhcpClientState = 'stopped';
  private held: DhcpClientLease | undefined;
  private timer: Timer | undefined;
  private xid = 0;
  private attempt = 0;
  private startedAt = 0;
  private offered: { address: Ipv4Address; server: Ipv4Address } | undefined;
  /** The ACK whose address is being probed, with its server and the probes sent so far. */
  private probing: { ack: DhcpRepr; server: Ipv4Address; at: number; sent: number } | undefined;
  private readonly arpObserver = (arp: ArpRepr): void => this.onArp(arp);
  private routeAdded = false;

  constructor(stack: Stack, options: DhcpClientOptions) {
    this.stack = stack;
    this.iface = options.iface;
    this.options = options;
  }

  /** The current state. */
  get state(): DhcpClientState {
    return this.current;
  }

  /** The lease held, if any. */
  get lease(): DhcpClientLease | undefined {
    return this.held;
  }

  /**
   * Binds UDP port 68 and starts: INIT-REBOOT with {@link DhcpClientOptions.previousAddress}, else a
   * DISCOVER. @throws `BindError` when port 68 is taken. Idempotent while running.
   */
  start(): void {
    if (this.current !== 'stopped') return;
    this.socket = this.stack.udp.bind(DHCP_CLIENT_PORT, undefined, (payload, info) => this.input(payload, info));
    const previous = this.options.previousAddress;
    if (previous === undefined || previous === 0) return this.restart();
    this.begin('rebooting');
    this.offered = { address: previous, server: 0 };
    this.sendRebootRequest();
  }

  /** Sends a RELEASE for a lease held, removes its address and route, and stops. Idempotent. */
  stop(): void {
    if (this.current === 'stopped') return;
    const lease = this.held;
    if (
      lease !== undefined &&
      (this.current === 'bound' || this.current === 'renewing' || this.current === 'rebinding')
    ) {
      this.xid = this.stack.scheduler.randomUint32();
      const msg = this.message(DHCP_RELEASE, lease.address, [[DHCP_OPT.SERVER_ID, dhcpAddressBytes(lease.server)]]);
      this.counters.inc('releases');
      this.sendUdp(lease.address, lease.server, msg);
    }
    this.timer?.cancel();
    this.endProbe();
    this.unconfigure();
    this.socket?.close();
    this.socket = undefined;
    this.current = 'stopped';
  }

  private restart(): void {
    this.begin('selecting');
    this.sendDiscover();
  }

  /** A new exchange: fresh transaction id, attempts and `secs` from now. */
  private begin(state: 'selecting' | 'rebooting'): void {
    this.endProbe();
    this.offered = undefined;
    this.attempt = 0;
    this.startedAt = this.stack.now;
    this.xid = this.stack.scheduler.randomUint32();
    this.current = state;
  }

  /** INIT-REBOOT's REQUEST: the previous address as the requested IP, broadcast, no server identifier. */
  private sendRebootRequest(): void {
    this.counters.inc('requests');
    this.broadcast(
      this.message(DHCP_REQUEST, 0, [
        [DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(this.offered!.address)],
        [DHCP_OPT.PARAMETER_LIST, PARAMETERS],
      ]),
    );
    this.arm(this.stack.now + this.backoff(), () => {
      if (++this.attempt >= DHCP_REBOOT_TRIES) return this.restart();
      this.sendRebootRequest();
    });
  }

  private sendDiscover(): void {
    this.counters.inc('discovers');
    this.broadcast(this.message(DHCP_DISCOVER, 0, [[DHCP_OPT.PARAMETER_LIST, PARAMETERS]]));
    this.arm(this.stack.now + this.backoff(), () => {
      this.attempt++;
      this.sendDiscover();
    });
  }

  private sendRequest(): void {
    const offer = this.offered!;
    this.counters.inc('requests');
    this.broadcast(
      this.message(DHCP_REQUEST, 0, [
        [DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(offer.address)],
        [DHCP_OPT.SERVER_ID, dhcpAddressBytes(offer.server)],
        [DHCP_OPT.PARAMETER_LIST, PARAMETERS],
      ]),
    );
    this.arm(this.stack.now + this.backoff(), () => {
      if (++this.attempt >= DHCP_REQUEST_TRIES) return this.restart();
      this.sendRequest();
    });
  }

  /** RENEWING (unicast to the server) or REBINDING (broadcast), retransmitted until the next deadline. */
  private sendRenewal(): void {
    const lease = this.held!;
    const msg = this.message(DHCP_REQUEST, lease.address, [[DHCP_OPT.PARAMETER_LIST, PARAMETERS]]);
    this.counters.inc('requests');
    if (this.current === 'renewing') this.sendUdp(lease.address, lease.server, msg);
    else this.sendUdp(lease.address, IPV4_BROADCAST, msg);
    const now = this.stack.now;
    const deadline = this.current === 'renewing' ? lease.rebindAt : lease.expiresAt;
    const next = Math.min(deadline, now + Math.max((deadline - now) / 2, DHCP_RENEW_MIN_RETRY_MS));
    this.arm(next, () => this.onLeaseTimer());
  }

  private onLeaseTimer(): void {
    const lease = this.held;
    if (lease === undefined) return this.restart();
    const now = this.stack.now;
    if (now >= lease.expiresAt) {
      this.counters.inc('expired');
      this.unconfigure();
      return this.restart();
    }
    this.current = now >= lease.rebindAt ? 'rebinding' : 'renewing';
    this.xid = this.stack.scheduler.randomUint32();
    this.sendRenewal();
  }

  private input(payload: Uint8Array, info: UdpMessageInfo): void {
    if (info.iface !== this.iface) return this.counters.inc('ignored');
    let msg: DhcpRepr;
    try {
      msg = parseDhcp(payload);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return this.counters.inc('malformed');
    }
    if (msg.op !== BOOTP_REPLY || msg.xid !== this.xid || msg.chaddr !== this.iface.mac)
      return this.counters.inc('ignored');
    const type = dhcpMessageType(msg);
    const server = dhcpAddressOption(msg, DHCP_OPT.SERVER_ID);
    if (type === DHCP_OFFER && this.current === 'selecting' && server !== undefined && msg.yiaddr !== 0) {
      this.counters.inc('offers');
      this.offered = { address: msg.yiaddr, server };
      this.current = 'requesting';
      this.attempt = 0;
      return this.sendRequest();
    }
    const taking = this.current === 'requesting' || this.current === 'rebooting';
    const waiting = taking || this.current === 'renewing' || this.current === 'rebinding';
    if (type === DHCP_ACK && waiting && msg.yiaddr !== 0) {
      this.counters.inc('acks');
      const from = server ?? this.held?.server ?? (this.offered?.server || undefined) ?? info.src;
      if (taking && this.held?.address !== msg.yiaddr) return this.probe(msg, from);
      return this.bind(msg, from);
    }
    if (type === DHCP_NAK && waiting) {
      this.counters.inc('naks');
      this.unconfigure();
      this.current = 'init';
      this.arm(this.stack.now + DHCP_RESTART_DELAY_MS + this.jitter(), () => this.restart());
      return;
    }
    this.counters.inc('ignored');
  }

  /** Checks the address of `ack` with ARP probes before binding it (see the module comment). */
  private probe(ack: DhcpRepr, server: Ipv4Address): void {
    const count = this.options.probeCount ?? DHCP_PROBE_COUNT;
    if (count <= 0) return this.bind(ack, server);
    this.current = 'probing';
    this.probing = { ack, server, at: this.stack.now, sent: 0 };
    this.iface.arpObserver = this.arpObserver;
    this.sendProbe(count);
  }

  private sendProbe(count: number): void {
    const p = this.probing!;
    p.sent++;
    this.counters.inc('probes');
    if (!sendArpProbe(this.iface, p.ack.yiaddr)) this.counters.inc('sendFailed');
    this.arm(this.stack.now + (this.options.probeIntervalMs ?? DHCP_PROBE_INTERVAL_MS), () => {
      if (p.sent < count) return this.sendProbe(count);
      this.endProbe();
      this.bind(p.ack, p.server, p.at);
    });
  }

  /** An ARP packet seen while probing: another host using the address, or probing for it too, is a conflict. */
  private onArp(arp: ArpRepr): void {
    const p = this.probing;
    if (p === undefined || arp.senderHardwareAddress === this.iface.mac) return;
    const address = p.ack.yiaddr;
    const probeToo =
      arp.operation === ARP_OP_REQUEST && arp.senderProtocolAddress === 0 && arp.targetProtocolAddress === address;
    if (arp.senderProtocolAddress !== address && !probeToo) return;
    this.counters.inc('conflicts');
    this.endProbe();
    this.counters.inc('declines');
    this.broadcast(
      this.message(DHCP_DECLINE, 0, [
        [DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(address)],
        [DHCP_OPT.SERVER_ID, dhcpAddressBytes(p.server)],
      ]),
    );
    this.current = 'init';
    this.arm(this.stack.now + DHCP_DECLINE_WAIT_MS + this.jitter(), () => this.restart());
  }

  /** Stops watching ARP (when this client is the one watching). */
  private endProbe(): void {
    if (this.probing === undefined) return;
    this.probing = undefined;
    if (this.iface.arpObserver === this.arpObserver) this.iface.arpObserver = undefined;
  }

  /** Applies the lease of `ack`, its times counted from `now` (when the ACK came). */
  private bind(ack: DhcpRepr, server: Ipv4Address, now = this.stack.now): void {
    const leaseSeconds = dhcpUint32Option(ack, DHCP_OPT.LEASE_TIME) ?? 3600;
    const t1 = dhcpUint32Option(ack, DHCP_OPT.RENEWAL_TIME) ?? leaseSeconds / 2;
    const t2 = dhcpUint32Option(ack, DHCP_OPT.REBINDING_TIME) ?? (leaseSeconds * 7) / 8;
    const mask = dhcpAddressOption(ack, DHCP_OPT.SUBNET_MASK);
    const prefixLength = mask === undefined ? 24 : maskLength(mask);
    const lease: DhcpClientLease = {
      address: ack.yiaddr,
      prefixLength,
      router: dhcpAddressListOption(ack, DHCP_OPT.ROUTER)[0],
      dnsServers: dhcpAddressListOption(ack, DHCP_OPT.DNS_SERVERS),
      server,
      leaseSeconds,
      boundAt: now,
      renewAt: now + Math.min(t1, t2, leaseSeconds) * 1000,
      rebindAt: now + Math.min(t2, leaseSeconds) * 1000,
      expiresAt: now + leaseSeconds * 1000,
    };
    const old = this.held;
    if (
      old === undefined ||
      old.address !== lease.address ||
      old.prefixLength !== lease.prefixLength ||
      old.router !== lease.router
    ) {
      this.unconfigure();
      try {
        this.iface.addAddress(lease.address, lease.prefixLength);
        if (lease.router !== undefined) {
          this.stack.routes.setDefaultRoute(lease.router, this.iface.index, this.options.routeMetric ?? 0);
          this.routeAdded = true;
        }
      } catch {
        this.counters.inc('configFailed');
      }
    }
    this.held = lease;
    this.current = 'bound';
    this.arm(Math.max(lease.renewAt, this.stack.now), () => this.onLeaseTimer());
    this.options.onLease?.(lease);
  }

  /** Removes the lease's address and default route from the stack. */
  private unconfigure(): void {
    const lease = this.held;
    if (lease === undefined) return;
    this.held = undefined;
    if (this.routeAdded) {
      this.routeAdded = false;
      try {
        this.stack.routes.removeStatic(0, 0, this.options.routeMetric ?? 0);
      } catch {
        // already gone
      }
    }
    if (this.iface.hasAddress(lease.address)) this.iface.removeAddress(lease.address);
    this.options.onLease?.(undefined);
  }

  private message(type: number, ciaddr: Ipv4Address, extra: Array<[number, Uint8Array]>): Uint8Array {
    const options = new Map<number, Uint8Array>([[DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(type)]]);
    const mac = this.iface.mac;
    const clientId = new Uint8Array(7);
    clientId[0] = 1;
    for (let i = 0; i < 6; i++) clientId[1 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) & 0xff;
    options.set(DHCP_OPT.CLIENT_ID, clientId);
    if (this.options.hostname !== undefined && type !== DHCP_RELEASE && type !== DHCP_DECLINE)
      options.set(DHCP_OPT.HOST_NAME, new TextEncoder().encode(this.options.hostname));
    for (const [code, value] of extra) options.set(code, value);
    const repr: DhcpRepr = {
      op: BOOTP_REQUEST,
      xid: this.xid,
      secs: Math.min(0xffff, Math.floor((this.stack.now - this.startedAt) / 1000)),
      flags: ciaddr === 0 ? DHCP_FLAG_BROADCAST : 0,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: mac,
      options,
    };
    const bytes = new Uint8Array(dhcpBufferLength(repr));
    emitDhcp(repr, bytes);
    return bytes;
  }

  /** From 0.0.0.0 to 255.255.255.255 in a frame built here (the stack has no source address to send from). */
  private broadcast(msg: Uint8Array): void {
    if (
      !sendRawUdp(
        this.iface,
        { dstMac: MAC_BROADCAST, src: 0, dst: IPV4_BROADCAST, srcPort: DHCP_CLIENT_PORT, dstPort: DHCP_SERVER_PORT },
        msg,
      )
    )
      this.counters.inc('sendFailed');
  }

  private sendUdp(src: Ipv4Address, dst: Ipv4Address, msg: Uint8Array): void {
    try {
      this.stack.udp.send(
        {
          src,
          srcPort: DHCP_CLIENT_PORT,
          dst,
          dstPort: DHCP_SERVER_PORT,
          ...(dst === IPV4_BROADCAST ? { ifIndex: this.iface.index } : {}),
        },
        msg,
      );
    } catch {
      this.counters.inc('sendFailed');
    }
  }

  private backoff(): number {
    return Math.min(DHCP_BACKOFF_FIRST_MS * 2 ** this.attempt, DHCP_BACKOFF_MAX_MS) + this.jitter();
  }

  private jitter(): number {
    return (this.stack.scheduler.random() * 2 - 1) * DHCP_JITTER_MS;
  }

  private arm(at: number, fn: () => void): void {
    this.timer?.cancel();
    this.timer = this.stack.scheduler.timerAt(at, fn);
  }
}

function maskLength(mask: Ipv4Address): number {
  let n = 0;
  while (n < 32 && ((mask >>> (31 - n)) & 1) === 1) n++;
  return n === 0 || n > 30 ? 24 : n;
}
