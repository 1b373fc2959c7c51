/**
 * The NAT mapping table: which internal endpoint (address, port or ICMP echo identifier) is seen
 * outside as which external port of which external interface.
 *
 * - Endpoint-independent mapping (RFC 4787 REQ-1, RFC 5382 REQ-1): one mapping per internal
 *   endpoint and external interface, whatever the remote; every remote the internal endpoint
 *   talks to sees the same external port.
 * - Address-dependent filtering (RFC 4787 REQ-8, RFC 5382 REQ-3's "address-dependent"): an
 *   inbound packet uses a dynamic mapping only when it comes from an address the internal
 *   endpoint sent to (up to {@link MAX_REMOTES} remembered per mapping, oldest forgotten first).
 *   Static mappings (port forwards) accept any remote.
 * - Port preservation (RFC 4787 REQ-3/4): the external port is the internal port when free;
 *   otherwise a free port of the same range (1-1023 or 1024-65535; ICMP identifiers 0-65535) is
 *   searched from a seeded starting point (the seed comes from the scheduler's random source).
 *   A port the gateway itself uses on the external address for that protocol ({@link NatTable.localUse},
 *   asked only when a mapping is made) is never chosen: local sockets win, as with Linux's nf_nat.
 * - Timeouts per state, refreshed by traffic in either direction: TCP established 2 h 4 min
 *   (RFC 5382 REQ-5), TCP transitory 4 min (SYN not yet answered, or FIN/RST seen), UDP 5 min
 *   (RFC 4787 REQ-5: at least 2 min, 5 recommended), ICMP query 60 s (RFC 5508 REQ-1). A mapping
 *   shared by several TCP connections follows the last packet's state. Expiry takes `now` from
 *   the caller (the scheduler clock): lazily on lookup plus {@link NatTable.expire}.
 * - Bound: at most `maxMappings` dynamic mappings; a new one beyond it is refused (the caller
 *   drops the packet and counts `tableFull`); existing mappings are never pushed out.
 */
import { ipv4ToString, type Ipv4Address } from '@postern/wire';

/** Transports NAT translates. */
export type NatProtocol = 'tcp' | 'udp' | 'icmp';

/** Timeouts in milliseconds. */
export interface NatTimeouts {
  /** TCP after the handshake completed. Default 7,440,000 (2 h 4 min, RFC 5382 REQ-5). */
  tcpEstablished: number;
  /** TCP before the handshake completes or after a FIN or RST. Default 240,000 (RFC 5382 REQ-5). */
  tcpTransitory: number;
  /** UDP. Default 300,000 (RFC 4787 REQ-5). */
  udp: number;
  /** ICMP query (echo). Default 60,000 (RFC 5508 REQ-1). */
  icmp: number;
}

/** Defaults for {@link NatTimeouts}. */
export const DEFAULT_NAT_TIMEOUTS: Readonly<NatTimeouts> = Object.freeze({
  tcpEstablished: 7_440_000,
  tcpTransitory: 240_000,
  udp: 300_000,
  icmp: 60_000,
});

/** Default most dynamic mappings held at once. */
export const DEFAULT_MAX_NAT_MAPPINGS = 16_384;

/** Most remote addresses a dynamic mapping remembers for its filtering. */
export const MAX_REMOTES = 16;

/** Protocol index used in keys: tcp 0, udp 1, icmp 2; -1 for others. */
export function natProtocolIndex(protocol: number): number {
  return protocol === 6 ? 0 : protocol === 17 ? 1 : protocol === 1 ? 2 : -1;
}

const PROTOCOL_NAMES: readonly NatProtocol[] = ['tcp', 'udp', 'icmp'];
const PROTOCOL_NUMBERS = [6, 17, 1];

/** One mapping. Mutable fields are the table's and the engine's; read-only for everyone else. */
export class NatMapping {
  /** The mapping's TCP state (`undefined` for UDP and ICMP). */
  tcpState: 'transitory' | 'established' | undefined;
  /** TCP: bit 0 a SYN went out, bit 1 a SYN came in. */
  synSeen = 0;
  /** When it expires if idle (`Infinity` for static mappings). */
  expiresAt = 0;
  /** Packets translated outbound then inbound. */
  readonly packets: [number, number] = [0, 0];
  /** Remote addresses seen outbound (address-dependent filtering), oldest first. */
  readonly remotes: number[] = [];

  constructor(
    /** Protocol index (see {@link natProtocolIndex}). */
    readonly protocolIndex: number,
    /** The external interface's index. */
    readonly ifIndex: number,
    /** Internal address. */
    readonly internalAddress: Ipv4Address,
    /** Internal port (or ICMP echo identifier). */
    readonly internalPort: number,
    /** External port (or identifier). */
    readonly externalPort: number,
    /** True for a port forward: never expires, accepts any remote. */
    readonly isStatic: boolean,
  ) {
    this.tcpState = protocolIndex === 0 ? 'transitory' : undefined;
  }

  /** True when `remote` may use this mapping inbound. */
  allows(remote: number): boolean {
    if (this.isStatic) return true;
    const r = this.remotes;
    for (let i = 0; i < r.length; i++) if (r[i] === remote) return true;
    return false;
  }

  /** Remembers `remote` for the inbound filter (bounded; allocation only for a new remote). */
  addRemote(remote: number): void {
    if (this.isStatic || this.allows(remote)) return;
    if (this.remotes.length >= MAX_REMOTES) this.remotes.shift();
    this.remotes.push(remote);
  }
}

/** One mapping as the admin API lists it. */
export interface NatMappingInfo {
  /** `tcp`, `udp` or `icmp`. */
  readonly protocol: NatProtocol;
  /** Name of the external interface. */
  readonly interface: string;
  /** `a.b.c.d:port` inside. */
  readonly internal: string;
  /** External port (or ICMP identifier). */
  readonly externalPort: number;
  /** `static` (a port forward) or `dynamic` (masquerade). */
  readonly kind: 'static' | 'dynamic';
  /** TCP mapping state. */
  readonly tcpState: 'transitory' | 'established' | undefined;
  /** Remotes allowed inbound (dynamic mappings). */
  readonly remotes: readonly string[];
  /** Milliseconds until it expires if idle, or `null` for a static mapping. */
  readonly expiresIn: number | null;
  /** Packets translated: outbound, inbound. */
  readonly packets: readonly [number, number];
}

function internalKey(pi: number, address: number, port: number): number {
  return (pi * 0x1_0000_0000 + address) * 0x1_0000 + port;
}

/** The mappings of one external interface. */
class InterfaceMappings {
  readonly byInternal = new Map<number, NatMapping>();
  readonly byExternal = new Map<number, NatMapping>();
}

/**
 * Whether the gateway itself uses `port` for protocol index `pi` on the external address of
 * interface `ifIndex` (a listener, a connection, a TIME-WAIT record, a bound socket; for ICMP, `port`
 * is an echo identifier of the gateway's own echo requests). See {@link NatTable.localUse}.
 */
export type NatLocalPortQuery = (pi: number, ifIndex: number, port: number) => boolean;

/** The outcome of {@link NatTable.obtain} when no mapping could be made. */
export type NatRefusal = 'tableFull' | 'portsExhausted';

/** The mapping table. See the module comment for the behaviour. */
export class NatTable {
  /** Timeouts in force. */
  readonly timeouts: Readonly<NatTimeouts>;
  /** Most dynamic mappings. */
  readonly maxMappings: number;
  /** Why the last {@link obtain} returned `undefined`. */
  lastRefusal: NatRefusal = 'tableFull';
  /**
   * Ports the local stack uses on an external address: a new mapping never takes one. Asked only
   * while a new mapping's port is chosen, never per translated packet. `undefined`: none reserved.
   */
  localUse: NatLocalPortQuery | undefined = undefined;
  private readonly ifaces = new Map<number, InterfaceMappings>();
  private dynamicCount = 0;
  private seed: number;

  constructor(options: { timeouts?: Partial<NatTimeouts>; maxMappings?: number; seed?: number } = {}) {
    this.timeouts = Object.freeze({ ...DEFAULT_NAT_TIMEOUTS, ...options.timeouts });
    this.maxMappings = options.maxMappings ?? DEFAULT_MAX_NAT_MAPPINGS;
    this.seed = (options.seed ?? 0) >>> 0;
  }

  /** Dynamic mappings held (some may have expired and not been reclaimed yet). */
  get dynamicSize(): number {
    return this.dynamicCount;
  }

  /** Every mapping held, static ones included. */
  get size(): number {
    let n = 0;
    for (const t of this.ifaces.values()) n += t.byExternal.size;
    return n;
  }

  /**
   * Adds a static mapping (a port forward). Returns false when its external port is taken on that
   * interface (by another static mapping) or its internal endpoint already has one there.
   */
  addStatic(pi: number, ifIndex: number, externalPort: number, internalAddress: number, internalPort: number): boolean {
    const t = this.table(ifIndex);
    const ek = pi * 0x1_0000 + externalPort;
    const ik = internalKey(pi, internalAddress, internalPort);
    const taken = t.byExternal.get(ek);
    if ((taken !== undefined && taken.isStatic) || t.byInternal.get(ik)?.isStatic === true) return false;
    if (taken !== undefined) this.remove(t, taken);
    const old = t.byInternal.get(ik);
    if (old !== undefined) this.remove(t, old);
    const m = new NatMapping(pi, ifIndex, internalAddress, internalPort, externalPort, true);
    m.expiresAt = Infinity;
    t.byExternal.set(ek, m);
    t.byInternal.set(ik, m);
    return true;
  }

  /** The mapping for an internal endpoint on `ifIndex`, if live at `now`. */
  lookupInternal(pi: number, ifIndex: number, address: number, port: number, now: number): NatMapping | undefined {
    const t = this.ifaces.get(ifIndex);
    if (t === undefined) return undefined;
    return this.live(t, t.byInternal.get(internalKey(pi, address, port)), now);
  }

  /** The mapping owning an external port on `ifIndex`, if live at `now`. */
  lookupExternal(pi: number, ifIndex: number, port: number, now: number): NatMapping | undefined {
    const t = this.ifaces.get(ifIndex);
    if (t === undefined) return undefined;
    return this.live(t, t.byExternal.get(pi * 0x1_0000 + port), now);
  }

  /**
   * The mapping for an internal endpoint, made if missing (port preserved when free). `undefined`
   * when the table is full or no port is free; {@link lastRefusal} says which.
   */
  obtain(pi: number, ifIndex: number, address: number, port: number, now: number): NatMapping | undefined {
    const found = this.lookupInternal(pi, ifIndex, address, port, now);
    if (found !== undefined) return found;
    if (this.dynamicCount >= this.maxMappings && this.expire(now) === 0) {
      this.lastRefusal = 'tableFull';
      return undefined;
    }
    const t = this.table(ifIndex);
    const external = this.freePort(t, ifIndex, pi, port, now);
    if (external < 0) {
      this.lastRefusal = 'portsExhausted';
      return undefined;
    }
    const m = new NatMapping(pi, ifIndex, address, port, external, false);
    t.byInternal.set(internalKey(pi, address, port), m);
    t.byExternal.set(pi * 0x1_0000 + external, m);
    this.dynamicCount++;
    return m;
  }

  /** Sets `m`'s expiry from its protocol and state at `now`. */
  refresh(m: NatMapping, now: number): void {
    if (m.isStatic) return;
    const t = this.timeouts;
    m.expiresAt =
      now +
      (m.protocolIndex === 0
        ? m.tcpState === 'established'
          ? t.tcpEstablished
          : t.tcpTransitory
        : m.protocolIndex === 1
          ? t.udp
          : t.icmp);
  }

  /** Removes every dynamic mapping idle past its timeout at `now`; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const t of this.ifaces.values()) {
      for (const m of t.byExternal.values()) {
        if (m.expiresAt <= now) {
          this.remove(t, m);
          n++;
        }
      }
    }
    return n;
  }

  /** Removes every dynamic mapping (static ones stay). */
  clearDynamic(): void {
    for (const t of this.ifaces.values()) for (const m of t.byExternal.values()) if (!m.isStatic) this.remove(t, m);
  }

  /** Every live mapping at `now`, with interface names from `nameOf`. */
  list(now: number, nameOf: (ifIndex: number) => string): NatMappingInfo[] {
    const out: NatMappingInfo[] = [];
    for (const t of this.ifaces.values()) {
      for (const m of t.byExternal.values()) {
        if (m.expiresAt <= now) continue;
        out.push({
          protocol: PROTOCOL_NAMES[m.protocolIndex]!,
          interface: nameOf(m.ifIndex),
          internal: `${ipv4ToString(m.internalAddress)}:${m.internalPort}`,
          externalPort: m.externalPort,
          kind: m.isStatic ? 'static' : 'dynamic',
          tcpState: m.tcpState,
          remotes: m.remotes.map(ipv4ToString),
          expiresIn: m.isStatic ? null : m.expiresAt - now,
          packets: [m.packets[0], m.packets[1]],
        });
      }
    }
    return out;
  }

  /** The IP protocol number of a protocol index. */
  static protocolNumber(pi: number): number {
    return PROTOCOL_NUMBERS[pi]!;
  }

  private table(ifIndex: number): InterfaceMappings {
    let t = this.ifaces.get(ifIndex);
    if (t === undefined) {
      t = new InterfaceMappings();
      this.ifaces.set(ifIndex, t);
    }
    return t;
  }

  private live(t: InterfaceMappings, m: NatMapping | undefined, now: number): NatMapping | undefined {
    if (m === undefined || m.expiresAt > now) return m;
    this.remove(t, m);
    return undefined;
  }

  private remove(t: InterfaceMappings, m: NatMapping): void {
    t.byExternal.delete(m.protocolIndex * 0x1_0000 + m.externalPort);
    t.byInternal.delete(internalKey(m.protocolIndex, m.internalAddress, m.internalPort));
    if (!m.isStatic) this.dynamicCount--;
  }

  /** A free external port for `pi` near `wanted`'s range (neither mapped nor used locally), or -1. */
  private freePort(t: InterfaceMappings, ifIndex: number, pi: number, wanted: number, now: number): number {
    const local = this.localUse;
    const free = (p: number) => {
      const m = t.byExternal.get(pi * 0x1_0000 + p);
      if (m !== undefined && this.live(t, m, now) !== undefined) return false;
      return local === undefined || !local(pi, ifIndex, p);
    };
    if (free(wanted) && (pi === 2 || wanted !== 0)) return wanted;
    const [lo, hi] = pi === 2 ? [0, 65535] : wanted < 1024 ? [1, 1023] : [1024, 65535];
    const span = hi - lo + 1;
    this.seed = (Math.imul(this.seed ^ (this.seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    const start = this.seed % span;
    for (let i = 0; i < span; i++) {
      const p = lo + ((start + i) % span);
      if (free(p)) return p;
    }
    return -1;
  }
}
