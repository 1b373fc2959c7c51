/**
 * The lab of this package's interop tests against the Linux kernel: `@postern/netlab`'s
 * {@link NetLab} (namespaces with IPv6 off) plus {@link KernelLab.attachTap}, which puts a
 * {@link Stack} interface on a TAP device whose kernel side lives in a namespace.
 */
import { NetLab, uniqueName } from '@postern/netlab';
import { NetDevice, TapNicDriver, type NetDeviceOptions, type NicDriver } from '@postern/nic';
import { parseIpv4, parseMac, type MacAddress } from '@postern/wire';
import type { NetInterface, Stack } from '../../src/index.js';

/** One stack interface on a TAP device whose kernel side is configured in a namespace. */
export interface TapAttachment {
  /** The namespace holding the kernel side. */
  readonly ns: string;
  /** The TAP device's name (the same inside the namespace). */
  readonly ifname: string;
  /** The driver (its descriptor stays in this process). */
  readonly driver: TapNicDriver;
  /** The device the stack's interface sits on. */
  readonly device: NetDevice;
  /** The stack's interface. */
  readonly iface: NetInterface;
  /** The kernel side's MAC address. */
  readonly kernelMac: MacAddress;
}

/** How {@link KernelLab.attachTap} sets up one link. */
export interface TapLinkOptions {
  /** The namespace for the kernel side. */
  ns: string;
  /** The kernel's address, dotted (198.18.0.0/15 only). */
  kernelIp: string;
  /** The stack's address, dotted. */
  stackIp: string;
  /** Prefix length of both. */
  prefixLength: number;
  /** The stack's MAC, `02:..` form. */
  mac: string;
  /** IP MTU of the kernel device and of the stack's interface. Default: the TAP's 1500. */
  mtu?: number;
  /** Wraps the TAP driver before the device is made (e.g. in a `FaultInjectionDriver`). Default: none. */
  wrapDriver?: (tap: TapNicDriver) => NicDriver;
  /** Options of the `NetDevice` (e.g. a larger RX ring for bulk transfers). */
  deviceOptions?: NetDeviceOptions;
}

/** A {@link NetLab} whose namespaces have IPv6 off and which also closes the devices it attached. */
export class KernelLab extends NetLab {
  private readonly devices: NetDevice[] = [];

  constructor() {
    super({ disableIpv6: true });
  }

  /**
   * Creates a TAP device, opens it as a {@link NetDevice} on `stack`'s scheduler, moves its kernel
   * side into `options.ns` and configures it there (MTU, address, up), then adds the interface to
   * `stack` with its address (so the gratuitous ARP reaches a kernel that is listening). The device
   * is closed by {@link KernelLab.cleanup}.
   */
  async attachTap(stack: Stack, options: TapLinkOptions): Promise<TapAttachment> {
    const { ns } = options;
    const ifname = uniqueName('t');
    const driver = new TapNicDriver({ ifname, create: true, mac: parseMac(options.mac) });
    const device = new NetDevice(options.wrapDriver?.(driver) ?? driver, stack.scheduler, options.deviceOptions);
    this.devices.push(device);
    await device.open();
    const kernelMac = parseMac(await this.moveAndConfigure(ifname, ns, {
      address: `${options.kernelIp}/${options.prefixLength}`,
      ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
    }));
    const iface = stack.addInterface(device, options.mtu === undefined ? {} : { mtu: options.mtu });
    iface.addAddress(parseIpv4(options.stackIp), options.prefixLength);
    return { ns, ifname, driver, device, iface, kernelMac };
  }

  /** Closes every device this lab attached, then removes namespaces and links (the TAPs go with them). Never throws. */
  override async cleanup(): Promise<string[]> {
    for (const d of this.devices.splice(0)) await d.close().catch(() => undefined);
    return super.cleanup();
  }
}
