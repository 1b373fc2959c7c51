/**
 * {@link Stack}: the IPv4 layer of one host or gateway, tying the pure state machines (routing
 * table, ARP caches, reassembler, packet filter with connection tracking, ICMP rate limiter) to
 * network devices and a scheduler.
 *
 * Execution model: everything runs on the scheduler's thread. Received frames arrive from each
 * device's bottom half (`NetDevice.onEtherType`); sends run synchronously in the caller; the stack
 * reads time only as `scheduler.now`. One stack timer, re-armed to the earliest `pollAt` of its
 * parts (ARP retries and expiries, reassembly timeouts, echo timeouts, the connection-tracking
 * sweep), drives everything time-based. Re-arming is coalesced into one deferred call per round of
 * deferred work, so per-packet paths never scan the tables.
 *
 * Modes: `forwarding` (router mode) forwards packets not addressed to this host by the routing
 * table; `filter.enabled` (firewall mode) runs the `input`, `forward` and `output` chains. Fragments
 * being forwarded are reassembled (`forwardReassembler`) before the `forward` chain in firewall
 * mode and before translation when they leave through an interface NAT translates on; fragments
 * addressed to this host are reassembled first and then offered to NAT whole.
 */
import type { SchedulerApi, Timer } from '@postern/irq';
import type { NetDevice, NetDeviceStats } from '@postern/nic';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ICMP_TIME_EXCEEDED,
  ICMP_TIME_EXCEEDED_REASSEMBLY,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';
import { ArpInput } from './arp/input.js';
import type { ArpEntryInfo } from './arp/arp-cache.js';
import { Counters as CounterSet, listCounters, type CounterEntry, type Counters } from './counters.js';
import { InterfaceError, SendError } from './errors.js';
import {
  PacketFilter,
  CHAINS,
  type Chain,
  type ChainPolicy,
  type PacketFilterOptions,
  type RuleInfo,
} from './filter/filter.js';
import { Ipv4Forwarder, type ForwardingMode } from './ipv4/forward.js';
import { IcmpService, type EchoOptions, type EchoReply, type EchoReplyRateLimit } from './icmp/icmp.js';
import { quoteDatagram, type IcmpErrorSender } from './icmp/icmp-errors.js';
import type { IcmpRateLimiterOptions } from './icmp/icmp-rate-limit.js';
import { NetInterface, type InterfaceAddress, type InterfaceHost, type NetInterfaceOptions } from './link/interface.js';
import { Ipv4Input } from './ipv4/input.js';
import {
  type FramePayloadWriter,
  Ipv4Output,
  type Ipv4SendOptions,
  type PayloadWriter,
  type RouteInfo,
} from './ipv4/output.js';
import type { Ipv4Delivery, TransportHandler } from './ipv4/transport.js';
import { InterfaceTable } from './link/interface-table.js';
import { LinkOutput } from './link/output.js';
import { NatEngine, type NatOptions } from './nat/nat-engine.js';
import { createPacketMeta, type PacketMeta } from './filter/packet-meta.js';
import { Reassembler, type ReassemblyOptions } from './ipv4/reassembly.js';
import { Rejecter } from './filter/reject.js';
import { RoutingTable, type Route, type RoutingTableOptions } from './ipv4/routing.js';
import {
  ARP_IO_COUNTER_NAMES,
  ICMP_COUNTER_NAMES,
  UDP_COUNTER_NAMES,
  newIpv4Counters,
  type ArpIoCounterName,
  type IcmpCounterName,
  type Ipv4CounterName,
  type UdpCounterName,
} from './stack-counters.js';
import { UdpService } from './udp/udp.js';

export type { TransportHandler } from './ipv4/transport.js';

/** How often idle connections are swept from the connection tracker while it holds any, in ms. */
export const CONNTRACK_SWEEP_MS = 1000;

/** Options of a {@link Stack}. */
export interface StackOptions {
  /** Router mode: forward packets not for this host. Default false. */
  forwarding?: boolean;
  /** Firewall mode: run the filter chains. Default false. */
  firewall?: boolean;
  /** Options of the packet filter (policies, limits, connection tracking). */
  filter?: PacketFilterOptions;
  /** Limits of the reassembler. */
  reassembly?: ReassemblyOptions;
  /** Rates of the ICMP error rate limiter. */
  icmpRateLimit?: IcmpRateLimiterOptions;
  /** A global limit on echo replies; default none (as Linux). See {@link EchoReplyRateLimit}. */
  echoReplyRateLimit?: EchoReplyRateLimit;
  /** Limits of the routing table. */
  routing?: RoutingTableOptions;
}

/** One interface as {@link Stack.snapshot} shows it. */
export interface InterfaceSnapshot {
  /** Interface index. */
  readonly index: number;
  /** Device name. */
  readonly name: string;
  /** MAC address. */
  readonly mac: MacAddress;
  /** IP MTU. */
  readonly mtu: number;
  /** Link state. */
  readonly link: 'up' | 'down';
  /** Addresses with prefix lengths. */
  readonly addresses: readonly InterfaceAddress[];
  /** Joined multicast groups. */
  readonly multicastGroups: readonly Ipv4Address[];
  /** The device's counters (a copy), driver counters included. */
  readonly device: NetDeviceStats;
  /** The ARP cache's entries. */
  readonly arp: readonly ArpEntryInfo[];
  /** The ARP cache's counters. */
  readonly arpCounters: readonly CounterEntry[];
}

/** Everything the admin UI shows about a stack, at one instant. Plain data (JSON-serialisable but for numbers as addresses). */
export interface StackSnapshot {
  /** Scheduler time of the snapshot. */
  readonly now: number;
  /** Router mode. */
  readonly forwarding: boolean;
  /** Firewall mode. */
  readonly firewall: boolean;
  /** Interfaces in index order. */
  readonly interfaces: readonly InterfaceSnapshot[];
  /** The routing table, longest prefix first. */
  readonly routes: readonly Route[];
  /** Filter policies (with the packets and bytes they decided) and rules (with hit counts). */
  readonly filter: {
    readonly policies: Readonly<Record<Chain, { policy: ChainPolicy; packets: number; bytes: number }>>;
    readonly rules: readonly RuleInfo[];
    readonly connections: number;
  };
  /** Bound UDP ports. */
  readonly udpBindings: ReadonlyArray<{ port: number; address: Ipv4Address | undefined }>;
  /** Every counter of the stack (IPv4, ARP I/O, ICMP, UDP, routing, reassembly, forward reassembly, filter, conntrack, ICMP rate limit). */
  readonly counters: readonly CounterEntry[];
}

/**
 * The IPv4 layer. See the module comment for its execution model and modes.
 *
 * The composition root: it builds the parts (link output, ARP input, IPv4 output, forwarding,
 * rejects, ICMP, UDP, IPv4 input), hands each only the capabilities its `...Ports` interface
 * names, and owns what they share (interfaces, routes, filter, reassemblers, counters, the timer).
 */
export class Stack {
  /** The scheduler everything runs on; the only source of time. */
  readonly scheduler: SchedulerApi;
  /** The routing table (connected routes come and go with interface addresses). */
  readonly routes: RoutingTable;
  /** The packet filter (firewall mode when `filter.enabled`). */
  readonly filter: PacketFilter;
  /** The fragment reassembler for datagrams addressed to this host. */
  readonly reassembler: Reassembler;
  /**
   * The reassembler for fragments being forwarded in firewall mode or through an interface NAT
   * translates on (counter group `forwardReassembly`), so the forward chain, connection tracking
   * and NAT see whole datagrams, as Linux's conntrack does. Same limits as {@link Stack.reassembler}; an expired datagram is
   * dropped without an ICMP error (only the destination host sends one, RFC 792).
   */
  readonly forwardReassembler: Reassembler;
  /** The ICMP module: echo client, errors. */
  readonly icmp: IcmpService;
  /** The UDP module: bind, send. */
  readonly udp: UdpService;
  /** IPv4 counters (see `Ipv4CounterName`). */
  readonly ipCounters: Counters<Ipv4CounterName> = newIpv4Counters();
  /** ARP input/output counters. */
  readonly arpCounters: Counters<ArpIoCounterName> = new CounterSet('arpIo', ARP_IO_COUNTER_NAMES);
  /** ICMP counters. */
  readonly icmpCounters: Counters<IcmpCounterName> = new CounterSet('icmp', ICMP_COUNTER_NAMES);
  /** UDP counters. */
  readonly udpCounters: Counters<UdpCounterName> = new CounterSet('udp', UDP_COUNTER_NAMES);
  /** @internal The one PacketMeta every filter evaluation fills. */
  readonly meta: PacketMeta = createPacketMeta();
  /** @internal */
  readonly link: LinkOutput;
  /** @internal */
  readonly output: Ipv4Output;
  /** @internal */
  readonly input: Ipv4Input;
  /** @internal */
  readonly reject: Rejecter;
  private readonly arpInput: ArpInput;
  private readonly forwarder: Ipv4Forwarder;
  /** Router mode and NAT, shared by reference with input and forwarding. */
  private readonly mode: ForwardingMode;
  private readonly ifaces = new InterfaceTable();
  private readonly protocols = new Map<number, TransportHandler>();
  /** {@link Stack.protocols} as IPv4 input reads it per datagram: one slot per protocol number. */
  private readonly transports = new Array<TransportHandler | undefined>(256).fill(undefined);
  private timer: Timer | undefined;
  private wakePending = false;
  private nextSweep = 0;
  private readonly host: InterfaceHost;
  private readonly addressWatchers: Array<(iface: NetInterface, address: Ipv4Address, added: boolean) => void> = [];

  constructor(scheduler: SchedulerApi, options: StackOptions = {}) {
    this.scheduler = scheduler;
    this.mode = { forwarding: options.forwarding ?? false, nat: undefined };
    this.routes = new RoutingTable(options.routing);
    this.filter = new PacketFilter({
      ...options.filter,
      conntrack: options.filter?.conntrack ?? { hashSeed: scheduler.randomUint32() },
    });
    this.filter.enabled = options.firewall ?? false;
    this.reassembler = new Reassembler(options.reassembly);
    this.forwardReassembler = new Reassembler({ ...options.reassembly, counterGroup: 'forwardReassembly' });

    // The wiring, built once. The three closures break the construction cycles (link output and
    // the others report through ICMP, which sends through IPv4 output, which loops back into
    // input); they run only to send an ICMP error, loop a datagram back or re-arm the timer, never
    // on the path of a packet forwarded or delivered whole.
    const interfaces = this.ifaces;
    const requestWake = (): void => this.requestWake();
    const icmpErrors: IcmpErrorSender = {
      sendError: (type, code, ip, arrivedOn, linkBroadcast, nextHopMtu) =>
        this.icmp.sendError(type, code, ip, arrivedOn, linkBroadcast, nextHopMtu),
    };
    const { ipCounters, arpCounters, meta, routes, filter } = this;
    this.link = new LinkOutput({ scheduler, ipCounters, arpCounters, icmp: icmpErrors, requestWake });
    this.arpInput = new ArpInput({ scheduler, arpCounters, link: this.link });
    this.output = new Ipv4Output({
      scheduler,
      ipCounters,
      interfaces,
      routes,
      filter,
      meta,
      link: this.link,
      loopback: (iface, bytes, at, ihl, total) =>
        this.input.deliverLocal(iface, bytes, at, ihl, total, 'unicast', false),
    });
    this.reject = new Rejecter({ icmp: icmpErrors, interfaces, output: this.output, ipCounters });
    this.forwarder = new Ipv4Forwarder({
      scheduler,
      ipCounters,
      mode: this.mode,
      routes,
      interfaces,
      filter,
      meta,
      forwardReassembler: this.forwardReassembler,
      icmp: icmpErrors,
      reject: this.reject,
      output: this.output,
      link: this.link,
      requestWake,
    });
    this.udp = new UdpService({
      scheduler,
      udpCounters: this.udpCounters,
      interfaces,
      output: this.output,
      icmp: icmpErrors,
      natOwns: (address, port) => this.mode.nat?.ownsPort(IP_PROTO_UDP, address, port, scheduler.now) ?? false,
    });
    this.icmp = new IcmpService(
      {
        scheduler,
        icmpCounters: this.icmpCounters,
        ipCounters,
        interfaces,
        output: this.output,
        udp: this.udp,
        protocols: this.protocols,
        requestWake,
        natOwns: (identifier) => this.mode.nat?.ownsPort(IP_PROTO_ICMP, undefined, identifier, scheduler.now) ?? false,
      },
      options.icmpRateLimit,
      options.echoReplyRateLimit,
    );
    this.input = new Ipv4Input({
      scheduler,
      ipCounters,
      mode: this.mode,
      interfaces,
      reassembler: this.reassembler,
      filter,
      meta,
      forwarder: this.forwarder,
      reject: this.reject,
      icmpErrors,
      icmp: this.icmp,
      udp: this.udp,
      transports: this.transports,
      requestWake,
    });
    this.host = {
      checkAddressFree: (address) => {
        const owner = interfaces.ownerOf(address);
        if (owner !== undefined)
          throw new InterfaceError('DUPLICATE_ADDRESS', `${formatIp(address)} is already configured on ${owner.name}`);
      },
      addressAdded: (iface, entry) => {
        this.routes.addConnected(iface.index, entry.address, entry.prefixLength);
        interfaces.addLocal(entry.address, iface);
        if (iface.device.isOpen && iface.linkState === 'up') this.link.sendGratuitous(iface, entry.address);
        for (const w of this.addressWatchers.slice()) w(iface, entry.address, true);
      },
      addressRemoved: (iface, entry) => {
        this.routes.removeConnected(iface.index, entry.address, entry.prefixLength);
        interfaces.removeLocal(entry.address);
        for (const w of this.addressWatchers.slice()) w(iface, entry.address, false);
      },
    };
  }

  /** Router mode: forward packets not addressed to this host. */
  get forwarding(): boolean {
    return this.mode.forwarding;
  }

  set forwarding(on: boolean) {
    this.mode.forwarding = on;
  }

  /** NAT on the forward path (see {@link Stack.configureNat}); `undefined` when none is configured (no cost per packet). */
  get nat(): NatEngine | undefined {
    return this.mode.nat;
  }

  set nat(engine: NatEngine | undefined) {
    this.mode.nat = engine;
  }

  /**
   * Sets the NAT configuration (masquerade interfaces and port forwards, by interface index),
   * replacing the previous one and its mappings; `undefined` turns NAT off. Throws `NatError` for
   * conflicting port forwards. NAT applies to forwarded traffic (`forwarding` must be on).
   */
  configureNat(options: NatOptions | undefined): NatEngine | undefined {
    this.nat =
      options === undefined
        ? undefined
        : new NatEngine(
            {
              addressOf: (ifIndex) => this.interfaceAt(ifIndex)?.addresses[0]?.address,
              localPortInUse: (protocol, address, port) => this.localPortInUse(protocol, address, port),
            },
            { seed: this.scheduler.randomUint32(), ...options },
          );
    return this.nat;
  }

  /**
   * True when this host itself uses `port` of IP protocol `protocol` on `address`: a UDP socket bound
   * to it (or to every address), an ICMP echo identifier (protocol 1, `port` the identifier: the
   * host's own or an outstanding request's, whatever the address), or what a plugged-in transport
   * reports (TCP: a listener, a connection or a TIME-WAIT record). NAT asks it before giving a new
   * mapping a port.
   */
  localPortInUse(protocol: number, address: Ipv4Address, port: number): boolean {
    if (protocol === IP_PROTO_UDP) return this.udp.portInUse(address, port);
    if (protocol === IP_PROTO_ICMP) return this.icmp.identifierInUse(port);
    return this.protocols.get(protocol)?.portInUse?.(address, port) ?? false;
  }

  /** The scheduler's current time in ms. */
  get now(): number {
    return this.scheduler.now;
  }

  /** The interfaces, in index order. */
  get interfaces(): readonly NetInterface[] {
    return this.ifaces.all;
  }

  /**
   * Adds an interface on `device` (opened or not; open it yourself) and takes over its IPv4 and
   * ARP EtherTypes. A gratuitous ARP goes out for each address whenever the link comes up.
   * @throws {@link InterfaceError} `DUPLICATE_DEVICE`, or `INVALID_ARGUMENT` for a bad MTU.
   */
  addInterface(device: NetDevice, options: NetInterfaceOptions = {}): NetInterface {
    const all = this.ifaces.all;
    if (all.some((i) => i.device === device))
      throw new InterfaceError('DUPLICATE_DEVICE', `${device.name} already belongs to this stack`);
    const iface = new NetInterface(all.length, device, this.host, options);
    this.ifaces.add(iface);
    const input = this.input;
    const arpInput = this.arpInput;
    device.onEtherType(ETHERTYPE_IPV4, (frame, _dev, headerLength) => input.receive(iface, frame, headerLength));
    device.onEtherType(ETHERTYPE_ARP, (frame, _dev, headerLength) => arpInput.receive(iface, frame, headerLength));
    device.onLinkChange((state) => {
      if (state !== 'up') return;
      for (const a of iface.addresses) this.link.sendGratuitous(iface, a.address);
    });
    return iface;
  }

  /**
   * Calls `watcher` after each address added to (`added` true) or removed from an interface of this
   * stack, its routes already in place or gone; watchers run in the order added and must not throw.
   * Returns the function that stops it.
   */
  watchAddresses(watcher: (iface: NetInterface, address: Ipv4Address, added: boolean) => void): () => void {
    this.addressWatchers.push(watcher);
    return () => {
      const i = this.addressWatchers.indexOf(watcher);
      if (i >= 0) this.addressWatchers.splice(i, 1);
    };
  }

  /** The interface with `index`, or `undefined`. */
  interfaceAt(index: number): NetInterface | undefined {
    return this.ifaces.at(index);
  }

  /** The interface that owns `address`, or `undefined` when it is not ours. */
  interfaceOfAddress(address: Ipv4Address): NetInterface | undefined {
    return this.ifaces.ownerOf(address);
  }

  /** True when `address` is configured on one of the interfaces. */
  isLocalAddress(address: Ipv4Address): boolean {
    return this.ifaces.isLocal(address);
  }

  /** True for 255.255.255.255 and every interface's directed broadcast addresses. */
  isBroadcastAddress(address: Ipv4Address): boolean {
    return this.ifaces.isBroadcast(address);
  }

  /**
   * Plugs a transport in for IP protocol `protocol` (TCP: 6). See {@link TransportHandler} for the
   * contract; a bare function is taken as `receive`. Returns a function that unplugs it.
   * @throws {@link InterfaceError} `PROTOCOL_IN_USE` for 1 (ICMP) and 17 (UDP), which the stack
   *   handles itself, or a protocol that already has a handler; `INVALID_ARGUMENT` outside 0..255.
   */
  registerProtocol(protocol: number, handler: TransportHandler | ((delivery: Ipv4Delivery) => void)): () => void {
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255)
      throw new InterfaceError('INVALID_ARGUMENT', `protocol must be 0..255, got ${protocol}`);
    if (protocol === IP_PROTO_ICMP || protocol === IP_PROTO_UDP || this.protocols.has(protocol)) {
      throw new InterfaceError('PROTOCOL_IN_USE', `IP protocol ${protocol} already has a handler`);
    }
    const h: TransportHandler = typeof handler === 'function' ? { receive: handler } : handler;
    this.protocols.set(protocol, h);
    this.transports[protocol] = h;
    return () => {
      if (this.protocols.get(protocol) !== h) return;
      this.protocols.delete(protocol);
      this.transports[protocol] = undefined;
    };
  }

  /**
   * Sends one IPv4 datagram whose payload the caller writes in place (zero copy).
   *
   * The stack chooses the route and source address, allocates ONE frame buffer (Ethernet header,
   * 20-byte IPv4 header, `payloadLength` payload bytes, padding, FCS room), and calls
   * `write(payload, src, dst)` with the zeroed payload region, right after the IPv4 header: the
   * transport writes its header and data there and may compute its checksum in place
   * (`ipv4PseudoHeaderSum(src, dst, protocol, payloadLength)`). The IPv4 header is then written,
   * the `output` chain evaluated (firewall mode), and the frame sent: to the next hop's MAC (ARP
   * resolution queues it, bounded; a failed resolution drops it and counts `arpUnresolved`), to a
   * broadcast or multicast MAC, or looped back when `dst` is one of our addresses (delivered in
   * the next deferred-work round). A datagram larger than the interface MTU is fragmented (its
   * payload is then copied into each fragment), or refused with `MESSAGE_TOO_LONG` when `df`.
   * `write` runs synchronously, exactly once, before this method returns, and only when the route
   * and arguments are valid; if it throws, nothing is sent and the exception propagates.
   *
   * @returns the source address used.
   * @throws {@link SendError} `INVALID_ARGUMENT`, `NO_ROUTE`, `NO_SOURCE_ADDRESS`,
   *   `ADDRESS_NOT_AVAILABLE`, `MESSAGE_TOO_LONG` (with `mtu`), `FILTERED`. Failures after the frame
   *   left this method (ARP, a full device queue) are counted, not thrown.
   */
  sendIpv4(options: Ipv4SendOptions, payloadLength: number, write: PayloadWriter): Ipv4Address {
    return this.output.send(options, payloadLength, write);
  }

  /**
   * {@link Stack.sendIpv4} with a writer that writes the payload into the frame at an offset
   * (`frame[at]` to `frame[at + length]`) instead of into a view of its own: one typed-array view per
   * datagram instead of two. Same datagrams, same errors, same contract for the writer.
   * @returns the source address used.
   */
  sendIpv4InFrame(options: Ipv4SendOptions, payloadLength: number, writeAt: FramePayloadWriter): Ipv4Address {
    return this.output.sendInFrame(options, payloadLength, writeAt);
  }

  /**
   * Where a datagram to `dst` (from `src`, if given) would go: the interface, next hop, source
   * address and MTU (for TCP's MSS), or `undefined` when there is no route or no usable source.
   */
  routeTo(dst: Ipv4Address, src?: Ipv4Address): RouteInfo | undefined {
    try {
      return this.output.route(dst, src);
    } catch (err) {
      if (err instanceof SendError) return undefined;
      throw err;
    }
  }

  /** Sends an ICMP echo request; see {@link IcmpService.ping}. */
  ping(options: EchoOptions): Promise<EchoReply> {
    return this.icmp.ping(options);
  }

  /** @internal Asks for the stack timer to be re-armed (coalesced into one deferred call). */
  requestWake(): void {
    if (this.wakePending) return;
    this.wakePending = true;
    this.scheduler.defer(() => this.rearm());
  }

  /** The earliest time some part of the stack needs to run, or `undefined`. */
  nextWake(): number | undefined {
    let at: number | undefined;
    const take = (t: number | undefined) => {
      if (t !== undefined && (at === undefined || t < at)) at = t;
    };
    for (const i of this.ifaces.all) take(i.arp.pollAt());
    take(this.reassembler.pollAt());
    take(this.forwardReassembler.pollAt());
    take(this.icmp.pollAt());
    if (this.filter.conntrack.size > 0 || (this.nat !== undefined && this.nat.table.dynamicSize > 0))
      take(Math.max(this.nextSweep, this.now));
    return at;
  }

  private rearm(): void {
    this.wakePending = false;
    const at = this.nextWake();
    if (at === undefined) {
      this.timer?.cancel();
      return;
    }
    if (this.timer === undefined) this.timer = this.scheduler.timerAt(at, () => this.onTimer());
    else if (!this.timer.active || this.timer.deadline !== at) this.timer.reset(at);
  }

  private onTimer(): void {
    const now = this.now;
    for (const i of this.ifaces.all) {
      i.arp.poll(now);
      if (i.arp.pendingActions > 0) this.link.runArpActions(i);
    }
    for (const expired of this.reassembler.poll(now)) {
      this.icmp.sendError(
        ICMP_TIME_EXCEEDED,
        ICMP_TIME_EXCEEDED_REASSEMBLY,
        quoteDatagram(expired.header, expired.firstPayload),
        this.ifaces.ownerOf(expired.header.destination),
      );
    }
    this.forwardReassembler.poll(now);
    this.icmp.poll(now);
    if (
      (this.filter.conntrack.size > 0 || (this.nat !== undefined && this.nat.table.dynamicSize > 0)) &&
      now >= this.nextSweep
    ) {
      this.filter.conntrack.expire(now);
      this.nat?.expire(now);
      this.nextSweep = now + CONNTRACK_SWEEP_MS;
    }
    this.rearm();
  }

  /** Every counter of the stack and its parts, for the admin UI. */
  counters(): CounterEntry[] {
    return listCounters(
      this.ipCounters,
      this.arpCounters,
      this.icmpCounters,
      this.udpCounters,
      this.routes.stats,
      this.reassembler.stats,
      this.forwardReassembler.stats,
      this.filter.stats,
      this.filter.conntrack.stats,
      this.icmp.limiter.stats,
      ...(this.nat === undefined ? [] : [this.nat.stats]),
    );
  }

  /** A plain-data picture of the stack for the admin UI: interfaces with link, counters and ARP tables, routes, filter rules with hit counts, counters. */
  snapshot(): StackSnapshot {
    const policies = {} as Record<Chain, { policy: ChainPolicy; packets: number; bytes: number }>;
    for (const chain of CHAINS) policies[chain] = this.filter.policy(chain);
    return {
      now: this.now,
      forwarding: this.forwarding,
      firewall: this.filter.enabled,
      interfaces: this.ifaces.all.map((i) => ({
        index: i.index,
        name: i.name,
        mac: i.mac,
        mtu: i.mtu,
        link: i.linkState,
        addresses: [...i.addresses],
        multicastGroups: i.multicastGroups,
        device: { ...i.device.stats, driver: { ...i.device.stats.driver } },
        arp: i.arp.list(),
        arpCounters: i.arp.stats.counters(),
      })),
      routes: this.routes.list(),
      filter: { policies, rules: this.filter.listRules(), connections: this.filter.conntrack.size },
      udpBindings: this.udp.list(),
      counters: this.counters(),
    };
  }
}

/**
 * Sends the RST answering `segment` (a TCP segment from `src` to `dst`) on `stack`, from `dst` to
 * `src`, bypassing the output chain. Does nothing for an RST, a truncated segment, or when `dst`
 * is not one of our addresses and no route leads back.
 */
export function sendTcpReset(stack: Stack, src: Ipv4Address, dst: Ipv4Address, segment: Uint8Array): void {
  stack.reject.sendTcpReset(src, dst, segment);
}

function formatIp(a: Ipv4Address): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}
