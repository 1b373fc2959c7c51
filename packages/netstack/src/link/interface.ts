/**
 * {@link NetInterface}: one network interface of a {@link Stack}: a `NetDevice`, its IPv4
 * addresses with their prefix lengths, its IP MTU, its joined multicast groups and its ARP cache.
 *
 * Adding an address adds the connected route and announces the address with a gratuitous ARP;
 * removing it removes the route (and flushes static routes whose gateway it made reachable). The
 * stack does that through the {@link InterfaceHost} it gives the interface.
 */
import type { NetDevice } from '@postern/nic';
import {
  ETHERTYPE_IPV4,
  IPV4_BROADCAST,
  ipv4InPrefix,
  ipv4ToString,
  writeMac,
  type ArpRepr,
  type Ipv4Address,
  type MacAddress,
} from '@postern/wire';
import { ArpCache, type ArpCacheOptions } from '../arp/arp-cache.js';
import { InterfaceError } from '../errors.js';
import { ipv4MulticastMac, isIpv4Multicast } from './frame.js';
import { IPV4_MIN_MTU } from '../ipv4/fragment.js';
import { isIpv4Address, isPrefixLength, networkOf, prefixMask } from '../ipv4/prefix.js';

/** One address of an interface. */
export interface InterfaceAddress {
  /** The address. */
  readonly address: Ipv4Address;
  /** Its prefix length, 0..32. */
  readonly prefixLength: number;
  /** The subnet-directed broadcast address, or `undefined` for a /31 or /32 (which have none). */
  readonly broadcast: Ipv4Address | undefined;
}

/**
 * A packet waiting for ARP: the whole frame buffer (Ethernet header at offset 0, whose destination
 * is written when the address resolves; FCS room at the end), and whether it was being forwarded
 * (then a failed resolution answers its sender with ICMP host unreachable).
 */
export interface PendingFrame {
  /** The frame buffer as `NetDevice.transmit` takes it. */
  readonly frame: Uint8Array;
  /** True for a forwarded packet, false for one this host originated. */
  readonly forwarded: boolean;
}

/** What an interface asks of its stack when its addresses change. @internal */
export interface InterfaceHost {
  /** Throws `DUPLICATE_ADDRESS` if `address` is configured anywhere in the stack. */
  checkAddressFree(address: Ipv4Address): void;
  /** The address was added: add the connected route, remember it as local, announce it. */
  addressAdded(iface: NetInterface, entry: InterfaceAddress): void;
  /** The address was removed: remove its routes and forget it. */
  addressRemoved(iface: NetInterface, entry: InterfaceAddress): void;
}

/** Options of {@link Stack.addInterface}. */
export interface NetInterfaceOptions {
  /** IP MTU; default and upper bound: the device's MTU. */
  mtu?: number;
  /** Limits and timers of the interface's ARP cache. */
  arp?: ArpCacheOptions;
}

/** One interface of a stack. Create it with {@link Stack.addInterface}. */
export class NetInterface {
  /** The interface index (small integer, unique in its stack, used by routes and filter rules). */
  readonly index: number;
  /** The device underneath. */
  readonly device: NetDevice;
  /** The interface's ARP neighbour cache. */
  readonly arp: ArpCache<PendingFrame>;
  /**
   * Sees every well-formed ARP packet received on this interface before the cache takes it; one
   * observer at a time (`undefined`: none). The DHCP client sets it while it checks an offered
   * address for a conflict (RFC 5227 §2.1.1). It must not throw.
   */
  arpObserver: ((arp: ArpRepr) => void) | undefined = undefined;
  /**
   * Bytes 6..13 of the Ethernet header of every IPv4 frame this interface sends: its MAC and the
   * IPv4 EtherType, copied into each frame (see {@link NetInterface.ipv4LinkSource}). A MAC is a
   * 48-bit number: passed to a call that is not inlined, it is boxed afresh each time.
   */
  private readonly linkSource = new Uint8Array(8);
  /** The device MAC {@link NetInterface.linkSource} holds. */
  private linkSourceMac: MacAddress;
  private ipMtu: number;
  private entries: InterfaceAddress[] = [];
  private readonly groups = new Map<Ipv4Address, number>();
  private readonly host: InterfaceHost;

  /** @internal Use {@link Stack.addInterface}. */
  constructor(index: number, device: NetDevice, host: InterfaceHost, options: NetInterfaceOptions = {}) {
    this.index = index;
    this.device = device;
    this.host = host;
    this.arp = new ArpCache<PendingFrame>(options.arp);
    this.linkSourceMac = device.mac;
    writeMac(this.linkSource, 0, this.linkSourceMac);
    this.linkSource[6] = ETHERTYPE_IPV4 >>> 8;
    this.linkSource[7] = ETHERTYPE_IPV4 & 0xff;
    this.ipMtu = device.mtu;
    if (options.mtu !== undefined) this.setMtu(options.mtu);
  }

  /** The device's name. */
  get name(): string {
    return this.device.name;
  }

  /** The device's MAC address. */
  get mac(): MacAddress {
    return this.device.mac;
  }

  /**
   * @internal Bytes 6..13 of the Ethernet header of an IPv4 frame this interface sends now: the
   * device's current MAC and the IPv4 EtherType, to copy into the frame (do not keep or change them).
   * Rewritten when the device's MAC changed: a device may learn it after the interface was made (a
   * serial USB Ethernet device reports its MAC once connected).
   */
  ipv4LinkSource(): Uint8Array {
    const mac = this.device.mac;
    if (mac !== this.linkSourceMac) {
      this.linkSourceMac = mac;
      writeMac(this.linkSource, 0, mac);
    }
    return this.linkSource;
  }

  /** The IP MTU: the largest IPv4 packet sent on this interface unfragmented. */
  get mtu(): number {
    return this.ipMtu;
  }

  /** The device's link state. */
  get linkState(): 'up' | 'down' {
    return this.device.linkState;
  }

  /**
   * Sets the IP MTU. Throws {@link InterfaceError} `INVALID_ARGUMENT` unless it is an integer from
   * 68 (RFC 791's minimum) to the device's MTU.
   */
  setMtu(mtu: number): void {
    if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU || mtu > this.device.mtu) {
      throw new InterfaceError(
        'INVALID_ARGUMENT',
        `${this.name}: MTU must be an integer in ${IPV4_MIN_MTU}..${this.device.mtu}, got ${mtu}`,
      );
    }
    this.ipMtu = mtu;
  }

  /** The addresses, in the order added. */
  get addresses(): readonly InterfaceAddress[] {
    return this.entries;
  }

  /** The first address, or `undefined` when the interface has none. */
  get primaryAddress(): Ipv4Address | undefined {
    return this.entries[0]?.address;
  }

  /**
   * Adds `address/prefixLength`: adds the connected route and sends a gratuitous ARP (again when
   * the link comes up). Throws {@link InterfaceError} `INVALID_ARGUMENT` (not a unicast address,
   * bad length, or the network or broadcast address of its own prefix) or `DUPLICATE_ADDRESS`.
   */
  addAddress(address: Ipv4Address, prefixLength: number): InterfaceAddress {
    if (!isIpv4Address(address) || address === 0 || isIpv4Multicast(address) || address >>> 24 >= 240) {
      throw new InterfaceError('INVALID_ARGUMENT', `${this.name}: not a unicast IPv4 address: ${address}`);
    }
    if (!isPrefixLength(prefixLength))
      throw new InterfaceError(
        'INVALID_ARGUMENT',
        `${this.name}: prefix length must be an integer in 0..32, got ${prefixLength}`,
      );
    const broadcast =
      prefixLength <= 30 ? (networkOf(address, prefixLength) | ~prefixMask(prefixLength)) >>> 0 : undefined;
    if (broadcast !== undefined && (address === broadcast || address === networkOf(address, prefixLength))) {
      throw new InterfaceError(
        'INVALID_ARGUMENT',
        `${this.name}: ${ipv4ToString(address)} is the network or broadcast address of /${prefixLength}`,
      );
    }
    this.host.checkAddressFree(address);
    const entry: InterfaceAddress = Object.freeze({ address, prefixLength, broadcast });
    this.entries = [...this.entries, entry];
    this.host.addressAdded(this, entry);
    return entry;
  }

  /** Removes `address` and its connected route. Throws {@link InterfaceError} `NOT_FOUND`. */
  removeAddress(address: Ipv4Address): void {
    const entry = this.entries.find((e) => e.address === address);
    if (entry === undefined) throw new InterfaceError('NOT_FOUND', `${this.name}: no address ${ipv4ToString(address)}`);
    this.entries = this.entries.filter((e) => e !== entry);
    this.host.addressRemoved(this, entry);
  }

  /** True if `address` is one of this interface's addresses. */
  hasAddress(address: Ipv4Address): boolean {
    for (const e of this.entries) if (e.address === address) return true;
    return false;
  }

  /** True for 255.255.255.255 and for the directed broadcast address of any of this interface's prefixes. */
  isBroadcast(address: Ipv4Address): boolean {
    if (address === IPV4_BROADCAST) return true;
    for (const e of this.entries) if (e.broadcast === address) return true;
    return false;
  }

  /** The source address for talking to `peer` on this link: an address whose prefix covers it, else the first; `undefined` without addresses. */
  sourceFor(peer: Ipv4Address): Ipv4Address | undefined {
    for (const e of this.entries) if (ipv4InPrefix(peer, e.address, e.prefixLength)) return e.address;
    return this.entries[0]?.address;
  }

  /** Joins IPv4 multicast group `group` (counted: each join needs a leave). Throws `INVALID_ARGUMENT` for a non-multicast address. */
  joinMulticast(group: Ipv4Address): void {
    if (!isIpv4Multicast(group))
      throw new InterfaceError(
        'INVALID_ARGUMENT',
        `${this.name}: ${ipv4ToString(group >>> 0)} is not a multicast address`,
      );
    const n = this.groups.get(group) ?? 0;
    this.groups.set(group, n + 1);
    if (n === 0) this.device.joinMulticast(ipv4MulticastMac(group));
  }

  /** Leaves `group` once; false if it was not joined. */
  leaveMulticast(group: Ipv4Address): boolean {
    const n = this.groups.get(group);
    if (n === undefined) return false;
    if (n > 1) this.groups.set(group, n - 1);
    else {
      this.groups.delete(group);
      this.device.leaveMulticast(ipv4MulticastMac(group));
    }
    return true;
  }

  /** True if `group` is joined on this interface. */
  isMember(group: Ipv4Address): boolean {
    return this.groups.has(group);
  }

  /** The joined groups. */
  get multicastGroups(): Ipv4Address[] {
    return [...this.groups.keys()];
  }
}
