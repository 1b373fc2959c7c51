/**
 * Network address translation for the forward path: masquerade (source NAT out of an external
 * interface, to that interface's address) and port forwards (destination NAT of an external
 * interface's port to an inside address and port), over the {@link NatTable} of mappings.
 *
 * Where it runs (Linux's order): {@link NatEngine.inbound} sees a packet addressed to an external
 * interface's address before local delivery (PREROUTING); when a mapping owns its destination port
 * (or ICMP identifier, or the datagram quoted by an ICMP error) it rewrites the destination and
 * the stack forwards it instead of delivering it. The forward filter then sees the inside
 * addresses. {@link NatEngine.outbound} runs after the forward filter (POSTROUTING) and rewrites
 * the source of a packet leaving through a masquerade interface (making the mapping on a TCP SYN,
 * any UDP datagram or an ICMP echo request), of a reply from a port-forward target, and of a
 * hairpinned packet (an inside host reaching an external address: its source becomes its own
 * mapping on that interface, so the target replies through the gateway, RFC 4787 REQ-9,
 * RFC 5382 REQ-8).
 *
 * ICMP: echo requests are mapped by identifier (RFC 5508 query mapping); ICMP errors about a
 * mapped flow are translated both ways, the quoted datagram included (its addresses, ports or
 * identifier, its header checksum and transport checksum) with every checksum updated
 * incrementally (RFC 1624, RFC 5508 REQ-4).
 *
 * Fragments: the engine translates whole datagrams only (a later fragment has no ports to map by).
 * The stack reassembles first, as Linux's connection tracking defragments before NAT: fragments
 * addressed to an external address go through the local reassembler before {@link NatEngine.inbound},
 * and fragments leaving through an interface {@link NatEngine.translates} names through the forward
 * reassembler before {@link NatEngine.outbound}; the translated datagram leaves as fragments again.
 * A fragment that reaches {@link NatEngine.outbound} all the same is dropped (counted `fragment`,
 * never leaked with an inside address); {@link NatEngine.inbound} leaves one to local delivery.
 *
 * The gateway's own ports: a new mapping never takes a port this host uses on the external address
 * for that protocol, a TIME-WAIT record's included, nor an ICMP echo identifier of the host's own
 * echo requests ({@link NatAddressSource.localPortInUse}, counted `localPortAvoided`), and the
 * host's ephemeral allocation and echo identifier ask {@link NatEngine.ownsPort} to skip ports a
 * live mapping owns (counted `mappedPortAvoided`), so neither side's replies are delivered to the
 * other. A port the host starts to use while a mapping owns it (an explicit bind or listen) is not
 * refused: as a Linux connection-tracking entry does, the mapping keeps its flows (packets from the
 * remotes its inside endpoint sent to, or any remote for a port forward) until it expires or is
 * removed, while packets from other remotes are delivered locally; a mapping made after that never
 * takes the port again.
 *
 * Bad input never throws: every drop is counted in {@link NatEngine.stats} (`truncated`,
 * `icmpQuoteShort`, `noMapping`, `tableFull`, `portsExhausted`, `unsupportedProtocol`,
 * `fragment`, `noAddress`). Nothing is allocated per packet except when a mapping is made or
 * learns a new remote.
 */
import type { Ipv4Address } from '@postern/wire';
import { Counters } from '../counters.js';
import { isIcmpError } from '../filter/packet-meta.js';
import {
  DEFAULT_MAX_NAT_MAPPINGS,
  type NatMapping,
  type NatMappingInfo,
  NatTable,
  type NatTimeouts,
  natProtocolIndex,
} from './nat-table.js';
import { adjustFor, rd16, rd32, rewriteAddress, rewriteWord, transportChecksumOffset } from './rewrite.js';

/** A port forward: `protocol` traffic to `port` on the address of interface `inIfIndex` goes to `toAddress:toPort`. */
export interface PortForwardSpec {
  /** Index of the external interface whose address receives it. */
  readonly inIfIndex: number;
  /** `tcp` or `udp`. */
  readonly protocol: 'tcp' | 'udp';
  /** External port. */
  readonly port: number;
  /** Inside address. */
  readonly toAddress: Ipv4Address;
  /** Inside port. */
  readonly toPort: number;
}

/** How the engine learns the interfaces' addresses (a stack supplies it). */
export interface NatAddressSource {
  /** The address NAT uses on interface `ifIndex` (its first), or `undefined` without one. */
  addressOf(ifIndex: number): Ipv4Address | undefined;
  /**
   * True when this host itself uses `port` of IP protocol `protocol` on `address`: for 6 or 17 a
   * listener, a connection, a TIME-WAIT record, a bound socket; for 1 (ICMP) `port` is an echo
   * identifier the host's own echo requests use. A new mapping then takes another port (or
   * identifier), so the host's own traffic on it keeps reaching it. Asked only when a mapping is
   * made. Optional.
   */
  localPortInUse?(protocol: number, address: Ipv4Address, port: number): boolean;
}

/** Configuration of a {@link NatEngine}. */
export interface NatOptions {
  /** Indexes of the interfaces traffic is masqueraded out of. */
  readonly masquerade?: readonly number[];
  /** Port forwards. */
  readonly portForwards?: readonly PortForwardSpec[];
  /** Timeouts overriding the defaults. */
  readonly timeouts?: Partial<NatTimeouts>;
  /** Most dynamic mappings. Default {@link DEFAULT_MAX_NAT_MAPPINGS}. */
  readonly maxMappings?: number;
  /** Seed of the port search (the scheduler's `randomUint32()`). */
  readonly seed?: number;
}

/** Names of the NAT counters. */
export type NatCounterName =
  | 'translatedOut'
  | 'translatedIn'
  | 'hairpin'
  | 'icmpErrorsTranslated'
  | 'mappingsCreated'
  | 'truncated'
  | 'icmpQuoteShort'
  | 'noMapping'
  | 'tableFull'
  | 'portsExhausted'
  | 'unsupportedProtocol'
  | 'fragment'
  | 'noAddress'
  | 'localPortAvoided'
  | 'mappedPortAvoided';

const NAT_COUNTERS: readonly NatCounterName[] = [
  'translatedOut',
  'translatedIn',
  'hairpin',
  'icmpErrorsTranslated',
  'mappingsCreated',
  'truncated',
  'icmpQuoteShort',
  'noMapping',
  'tableFull',
  'portsExhausted',
  'unsupportedProtocol',
  'fragment',
  'noAddress',
  'localPortAvoided',
  'mappedPortAvoided',
];

/** A NAT configuration the engine cannot take. */
export class NatError extends Error {
  /** `PORT_FORWARD_CONFLICT`: two forwards share an external port or an inside endpoint. */
  readonly code = 'PORT_FORWARD_CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'NatError';
  }
}

/** {@link NatEngine.inbound}: not for NAT, deliver the packet locally. */
export const NAT_NOT_MINE = -1;
/** {@link NatEngine.inbound}: dropped (counted). */
export const NAT_DROPPED = -2;

const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_FIN = 0x01;
const TCP_ACK = 0x10;

/** The translator. See the module comment. */
export class NatEngine {
  /** The mappings. */
  readonly table: NatTable;
  /** Translations and counted drops. */
  readonly stats = new Counters<NatCounterName>('nat', NAT_COUNTERS);
  /** The port forwards in force. */
  readonly portForwards: readonly PortForwardSpec[];
  private readonly masq: readonly number[];
  /** Interfaces with an external address: masquerade and port-forward ones. */
  private readonly external: readonly number[];
  private readonly addresses: NatAddressSource;

  constructor(addresses: NatAddressSource, options: NatOptions = {}) {
    this.addresses = addresses;
    this.masq = [...(options.masquerade ?? [])];
    this.portForwards = [...(options.portForwards ?? [])];
    this.external = [...new Set([...this.masq, ...this.portForwards.map((f) => f.inIfIndex)])];
    this.table = new NatTable({
      timeouts: options.timeouts,
      maxMappings: options.maxMappings ?? DEFAULT_MAX_NAT_MAPPINGS,
      seed: options.seed,
    });
    const local = addresses.localPortInUse;
    if (local !== undefined) {
      this.table.localUse = (pi, ifIndex, port) => {
        const address = addresses.addressOf(ifIndex);
        if (address === undefined || !local.call(addresses, NatTable.protocolNumber(pi), address, port)) return false;
        this.stats.inc('localPortAvoided');
        return true;
      };
    }
    for (const f of this.portForwards) {
      if (
        !this.table.addStatic(
          natProtocolIndex(f.protocol === 'tcp' ? 6 : 17),
          f.inIfIndex,
          f.port,
          f.toAddress,
          f.toPort,
        )
      ) {
        throw new NatError(`port forward ${f.protocol} ${f.port}: its port or its target is already forwarded`);
      }
    }
  }

  /** True when `ifIndex` is masqueraded out of. */
  masquerades(ifIndex: number): boolean {
    return this.masq.includes(ifIndex);
  }

  /**
   * True when {@link NatEngine.outbound} may rewrite a packet leaving through `ifIndex` (a
   * masquerade or port-forward interface): a fragmented datagram leaving there must be
   * reassembled first.
   */
  translates(ifIndex: number): boolean {
    return this.external.includes(ifIndex);
  }

  /**
   * True when a live mapping (dynamic or a port forward) owns `port` of IP protocol `protocol` (6
   * or 17; for 1, ICMP, `port` is an echo identifier) on `address`, or on any external address
   * when `address` is `undefined` (a socket bound to every address): the host's own ephemeral
   * allocation and its echo identifier skip such a port (counted `mappedPortAvoided`). False for
   * an address NAT does not translate on.
   */
  ownsPort(protocol: number, address: Ipv4Address | undefined, port: number, now: number): boolean {
    const pi = natProtocolIndex(protocol);
    if (pi < 0) return false;
    const ext = this.external;
    for (let i = 0; i < ext.length; i++) {
      const x = ext[i]!;
      if (address !== undefined && this.addresses.addressOf(x) !== address) continue;
      if (this.table.lookupExternal(pi, x, port, now) !== undefined) {
        this.stats.inc('mappedPortAvoided');
        return true;
      }
    }
    return false;
  }

  /** Every live mapping at `now`. */
  list(now: number, nameOf: (ifIndex: number) => string): NatMappingInfo[] {
    return this.table.list(now, nameOf);
  }

  /** Reclaims expired mappings; returns how many. */
  expire(now: number): number {
    return this.table.expire(now);
  }

  /**
   * A packet (header at `ip[0]`, checked, `ip` holding at least its total length) addressed to
   * this host: when it belongs to a mapping of an external interface, rewrites its destination in
   * place and returns that interface's index (the caller forwards it); otherwise
   * {@link NAT_NOT_MINE} (deliver locally) or {@link NAT_DROPPED} (counted).
   */
  inbound(ip: Uint8Array, now: number): number {
    const proto = ip[9]!;
    const pi = natProtocolIndex(proto);
    if (pi < 0 || (rd16(ip, 6) & 0x3fff) !== 0) return NAT_NOT_MINE;
    const dst = rd32(ip, 16);
    const x = this.externalOwning(dst);
    if (x < 0) return NAT_NOT_MINE;
    const hl = (ip[0]! & 0x0f) * 4;
    const end = rd16(ip, 2);
    const src = rd32(ip, 12);
    if (pi === 2) {
      if (end - hl < 8) return this.drop('truncated');
      const type = ip[hl]!;
      if (isIcmpError(type)) return this.inboundIcmpError(ip, x, hl, end, now);
      if (type !== 0) return NAT_NOT_MINE;
      const m = this.table.lookupExternal(2, x, rd16(ip, hl + 4), now);
      if (m === undefined || !m.allows(src)) return NAT_NOT_MINE;
      rewriteAddress(ip, 16, m.internalAddress, 10, -1, false);
      rewriteWord(ip, hl + 4, m.internalPort, hl + 2, false);
      return this.translatedIn(m, x, now);
    }
    if (end - hl < (pi === 0 ? 20 : 8)) return this.drop('truncated');
    const m = this.table.lookupExternal(pi, x, rd16(ip, hl + 2), now);
    if (m === undefined || !m.allows(src)) return NAT_NOT_MINE;
    const csum = hl + transportChecksumOffset(proto);
    rewriteAddress(ip, 16, m.internalAddress, 10, csum, pi === 1);
    rewriteWord(ip, hl + 2, m.internalPort, csum, pi === 1);
    if (pi === 0) trackTcp(m, ip[hl + 13]!, 2);
    return this.translatedIn(m, x, now);
  }

  /**
   * A packet being forwarded from `inIf` to `outIf`, after the forward filter. `dnatFrom` is the
   * external interface {@link inbound} translated it for, or -1. Rewrites the source when
   * required and returns true to send it, false when it must be dropped (counted).
   */
  outbound(ip: Uint8Array, inIf: number, outIf: number, dnatFrom: number, now: number): boolean {
    let x: number;
    let create: boolean;
    let hairpin = false;
    if (dnatFrom >= 0 && inIf !== dnatFrom) {
      x = dnatFrom;
      create = true;
      hairpin = true;
    } else if (this.masq.includes(outIf)) {
      x = outIf;
      create = true;
    } else if (this.external.includes(outIf)) {
      x = outIf;
      create = false;
    } else {
      return true;
    }
    const ext = this.addresses.addressOf(x);
    if (ext === undefined) return create ? this.dropOut('noAddress') : true;
    const src = rd32(ip, 12);
    if (src === ext) return true;
    const proto = ip[9]!;
    const pi = natProtocolIndex(proto);
    if ((rd16(ip, 6) & 0x3fff) !== 0) return create ? this.dropOut('fragment') : true;
    if (pi < 0) return create ? this.dropOut('unsupportedProtocol') : true;
    const hl = (ip[0]! & 0x0f) * 4;
    const end = rd16(ip, 2);
    const dst = rd32(ip, 16);
    let m: NatMapping | undefined;
    if (pi === 2) {
      if (end - hl < 8) return create ? this.dropOut('truncated') : true;
      const type = ip[hl]!;
      if (isIcmpError(type)) return this.outboundIcmpError(ip, x, ext, hl, end, create, now);
      if (type !== 8 && type !== 0) return create ? this.dropOut('unsupportedProtocol') : true;
      const id = rd16(ip, hl + 4);
      m = type === 8 && create ? this.table.obtain(2, x, src, id, now) : this.table.lookupInternal(2, x, src, id, now);
      if (m === undefined) return this.refused(create, type === 8);
      rewriteAddress(ip, 12, ext, 10, -1, false);
      rewriteWord(ip, hl + 4, m.externalPort, hl + 2, false);
    } else {
      if (end - hl < (pi === 0 ? 20 : 8)) return create ? this.dropOut('truncated') : true;
      const sport = rd16(ip, hl);
      const flags = pi === 0 ? ip[hl + 13]! : 0;
      const opens = pi === 1 || (flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) === TCP_SYN;
      m =
        create && opens ? this.table.obtain(pi, x, src, sport, now) : this.table.lookupInternal(pi, x, src, sport, now);
      if (m === undefined) return this.refused(create, opens);
      const csum = hl + transportChecksumOffset(proto);
      rewriteAddress(ip, 12, ext, 10, csum, pi === 1);
      rewriteWord(ip, hl, m.externalPort, csum, pi === 1);
      if (pi === 0) trackTcp(m, flags, 1);
    }
    m.addRemote(dst);
    m.packets[0]++;
    this.table.refresh(m, now);
    this.stats.inc('translatedOut');
    if (hairpin) this.stats.inc('hairpin');
    return true;
  }

  /**
   * Undoes {@link NatEngine.inbound}'s rewrite of the packet at `ip[0]` (translated for external
   * interface `x`) in place: its destination becomes the external address and port (or echo
   * identifier) again. The stack calls it on a translated packet it refuses (TTL exceeded,
   * fragmentation needed, a filter reject) before it quotes the packet in an ICMP error or answers
   * it with a reset: the sender must see what it sent, not the inside endpoint. Returns false (the
   * packet unchanged) when no mapping matches, or for an ICMP error (never answered by one).
   */
  revertInbound(ip: Uint8Array, x: number, now: number): boolean {
    const proto = ip[9]!;
    const pi = natProtocolIndex(proto);
    const ext = this.addresses.addressOf(x);
    if (pi < 0 || ext === undefined || (rd16(ip, 6) & 0x3fff) !== 0) return false;
    const hl = (ip[0]! & 0x0f) * 4;
    const end = rd16(ip, 2);
    const dst = rd32(ip, 16);
    if (pi === 2) {
      if (end - hl < 8 || ip[hl] !== 0) return false;
      const m = this.table.lookupInternal(2, x, dst, rd16(ip, hl + 4), now);
      if (m === undefined) return false;
      rewriteAddress(ip, 16, ext, 10, -1, false);
      rewriteWord(ip, hl + 4, m.externalPort, hl + 2, false);
      return true;
    }
    if (end - hl < (pi === 0 ? 20 : 8)) return false;
    const m = this.table.lookupInternal(pi, x, dst, rd16(ip, hl + 2), now);
    if (m === undefined) return false;
    const csum = hl + transportChecksumOffset(proto);
    rewriteAddress(ip, 16, ext, 10, csum, pi === 1);
    rewriteWord(ip, hl + 2, m.externalPort, csum, pi === 1);
    return true;
  }

  /** The external interface whose NAT address is `address`, or -1. */
  private externalOwning(address: number): number {
    const ext = this.external;
    for (let i = 0; i < ext.length; i++) if (this.addresses.addressOf(ext[i]!) === address) return ext[i]!;
    return -1;
  }

  private translatedIn(m: NatMapping, x: number, now: number): number {
    m.packets[1]++;
    this.table.refresh(m, now);
    this.stats.inc('translatedIn');
    return x;
  }

  private drop(name: NatCounterName): number {
    this.stats.inc(name);
    return NAT_DROPPED;
  }

  private dropOut(name: NatCounterName): boolean {
    this.stats.inc(name);
    return false;
  }

  /** No mapping: pass (not ours to translate) or drop. */
  private refused(create: boolean, opens: boolean): boolean {
    if (!create) return true;
    if (!opens) return this.dropOut('noMapping');
    return this.dropOut(this.table.lastRefusal);
  }

  /**
   * Checks the datagram quoted by the ICMP error at `ip[hl]`: its header and 8 bytes of its
   * payload must be there. Returns the quoted transport offset, or -1 when it is too short.
   */
  private quoted(ip: Uint8Array, hl: number, end: number): number {
    const q = hl + 8;
    if (end - q < 20 || ip[q]! >>> 4 !== 4) return -1;
    const qhl = (ip[q]! & 0x0f) * 4;
    if (qhl < 20 || end - (q + qhl) < 8) return -1;
    return q + qhl;
  }

  private inboundIcmpError(ip: Uint8Array, x: number, hl: number, end: number, now: number): number {
    const qt = this.quoted(ip, hl, end);
    if (qt < 0) return this.drop('icmpQuoteShort');
    const q = hl + 8;
    // The quoted datagram is one we sent: its source is the external address and port.
    if (rd32(ip, q + 12) !== rd32(ip, 16) || (rd16(ip, q + 6) & 0x1fff) !== 0) return NAT_NOT_MINE;
    const qproto = ip[q + 9]!;
    const qpi = natProtocolIndex(qproto);
    if (qpi < 0 || (qpi === 2 && ip[qt] !== 8)) return NAT_NOT_MINE;
    const m = this.table.lookupExternal(qpi, x, rd16(ip, qpi === 2 ? qt + 4 : qt), now);
    if (m === undefined) return NAT_NOT_MINE;
    rewriteAddress(ip, 16, m.internalAddress, 10, -1, false);
    rewriteQuoted(ip, hl + 2, q, qt, end, qproto, q + 12, m.internalAddress, qpi === 2 ? qt + 4 : qt, m.internalPort);
    this.stats.inc('icmpErrorsTranslated');
    return this.translatedIn(m, x, now);
  }

  private outboundIcmpError(
    ip: Uint8Array,
    x: number,
    ext: number,
    hl: number,
    end: number,
    create: boolean,
    now: number,
  ): boolean {
    const qt = this.quoted(ip, hl, end);
    if (qt < 0) return create ? this.dropOut('icmpQuoteShort') : true;
    const q = hl + 8;
    const qproto = ip[q + 9]!;
    const qpi = natProtocolIndex(qproto);
    // The quoted datagram came to the inside host: its destination is the inside endpoint.
    const echo = qpi === 2 && ip[qt] === 0;
    if (qpi < 0 || (qpi === 2 && !echo)) return create ? this.dropOut('unsupportedProtocol') : true;
    const m = this.table.lookupInternal(qpi, x, rd32(ip, q + 16), rd16(ip, echo ? qt + 4 : qt + 2), now);
    if (m === undefined) return create ? this.dropOut('noMapping') : true;
    rewriteAddress(ip, 12, ext, 10, -1, false);
    rewriteQuoted(ip, hl + 2, q, qt, end, qproto, q + 16, ext, echo ? qt + 4 : qt + 2, m.externalPort);
    m.packets[0]++;
    this.table.refresh(m, now);
    this.stats.inc('icmpErrorsTranslated');
    this.stats.inc('translatedOut');
    return true;
  }
}

/**
 * Rewrites one address (at `addrAt`) and one port or identifier (at `portAt`) of the datagram
 * quoted at `ip[q]` (transport at `qt`, the message ending at `end`), fixing the quoted header
 * checksum, the quoted transport checksum when quoted, and the ICMP checksum at `icmpCsum`.
 */
function rewriteQuoted(
  ip: Uint8Array,
  icmpCsum: number,
  q: number,
  qt: number,
  end: number,
  qproto: number,
  addrAt: number,
  address: number,
  portAt: number,
  port: number,
): void {
  const off = qproto === 1 ? 2 : transportChecksumOffset(qproto);
  const l4 = qt + off + 2 <= end ? qt + off : -1;
  const udp = qproto === 17;
  const a0 = rd16(ip, addrAt);
  const a1 = rd16(ip, addrAt + 2);
  const hc = rd16(ip, q + 10);
  let lc = l4 >= 0 ? rd16(ip, l4) : 0;
  rewriteAddress(ip, addrAt, address, q + 10, qproto === 1 ? -1 : l4, udp);
  adjustFor(ip, icmpCsum, addrAt, a0);
  adjustFor(ip, icmpCsum, addrAt + 2, a1);
  adjustFor(ip, icmpCsum, q + 10, hc);
  if (l4 >= 0) {
    adjustFor(ip, icmpCsum, l4, lc);
    lc = rd16(ip, l4);
  }
  const p0 = rd16(ip, portAt);
  rewriteWord(ip, portAt, port, l4, udp);
  adjustFor(ip, icmpCsum, portAt, p0);
  if (l4 >= 0) adjustFor(ip, icmpCsum, l4, lc);
}

/** Advances a mapping's TCP state by one segment's flags (`dirBit` 1 outbound, 2 inbound). */
function trackTcp(m: NatMapping, flags: number, dirBit: number): void {
  if ((flags & (TCP_RST | TCP_FIN)) !== 0) {
    m.tcpState = 'transitory';
    if ((flags & TCP_RST) !== 0) m.synSeen = 0;
  } else if ((flags & TCP_SYN) !== 0) {
    m.synSeen |= dirBit;
  } else if (m.synSeen === 3) {
    m.tcpState = 'established';
  }
}
