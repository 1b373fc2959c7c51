/**
 * {@link InterfaceTable}: the interfaces of one stack, by index, and which interface owns each
 * local address. The stack keeps the address index in step with the interfaces' addresses; the
 * parts read it through the few lookups they need (weak host model: an address of any interface
 * is local).
 */
import { IPV4_BROADCAST, type Ipv4Address } from '@postern/wire';
import type { NetInterface } from './interface.js';
import { addressKey } from '../ipv4/prefix.js';

/** The interfaces of a stack and the index of their addresses. */
export class InterfaceTable {
  private readonly ifaces: NetInterface[] = [];
  /** Owners by `addressKey` the address (looked up for every packet sent and received). */
  private readonly local = new Map<number, NetInterface>();
  private changes = 0;
  /**
   * The address {@link InterfaceTable.isLocal} last found local (-1: none), checked before the map:
   * a host receives nearly every packet for one address. Always an address the map holds: cleared
   * whenever an address is removed.
   */
  private lastLocal = -1;

  /**
   * A number that grows whenever an interface or a local address is added or removed, and never
   * otherwise: a caller that remembers what it looked up here (a route cache) drops it when this differs.
   */
  get version(): number {
    return this.changes;
  }

  /** The interfaces, in index order. */
  get all(): readonly NetInterface[] {
    return this.ifaces;
  }

  /** Appends `iface` (its index is its position). */
  add(iface: NetInterface): void {
    this.ifaces.push(iface);
    this.changes++;
  }

  /** The interface with `index`, or `undefined`. */
  at(index: number): NetInterface | undefined {
    return this.ifaces[index];
  }

  /** The interface that owns `address`, or `undefined` when it is not ours. */
  ownerOf(address: Ipv4Address): NetInterface | undefined {
    return this.local.get(addressKey(address));
  }

  /** True when `address` is configured on one of the interfaces. */
  isLocal(address: Ipv4Address): boolean {
    if (address === this.lastLocal) return true;
    if (!this.local.has(addressKey(address))) return false;
    this.lastLocal = address;
    return true;
  }

  /** True for 255.255.255.255 and every interface's directed broadcast addresses. */
  isBroadcast(address: Ipv4Address): boolean {
    if (address === IPV4_BROADCAST) return true;
    for (const i of this.ifaces) if (i.isBroadcast(address)) return true;
    return false;
  }

  /** Records that `iface` owns `address`. */
  addLocal(address: Ipv4Address, iface: NetInterface): void {
    this.local.set(addressKey(address), iface);
    this.changes++;
  }

  /** Forgets `address`. */
  removeLocal(address: Ipv4Address): void {
    this.local.delete(addressKey(address));
    this.lastLocal = -1;
    this.changes++;
  }
}
