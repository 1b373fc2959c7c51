/**
 * The lab of interop tests against the Linux kernel over TAP: a {@link NetLab} with IPv6 off (so
 * the kernel sends nothing unasked), that puts a stack's interface on a TAP device whose kernel side
 * is configured in a namespace ({@link KernelLab.attachTap}), runs commands in its default
 * namespace ({@link KernelLab.run}) and closes the devices it opened on cleanup.
 *
 * The kit imports no package of the stack (their own tests import the kit, and an import back would
 * make a circle of projects), so the test hands in the few constructors it needs as
 * {@link TapParts}; everything else is typed by shape ({@link LabStack}).
 */
import { NetLab } from './lab.js';
import { uniqueName } from './names.js';
import type { CommandResult } from './run.js';

/** Largest output {@link KernelLab.run} keeps from one command (a client may print a whole download). */
export const KERNEL_LAB_MAX_OUTPUT_BYTES = 64 << 20;

/** What {@link KernelLab} needs of a device: opening and closing it. */
export interface LabDevice {
  /** Brings the device up (for a TAP: opens the character device). */
  open(): Promise<void>;
  /** Takes it down and releases it. */
  close(): Promise<void>;
}

/** What {@link KernelLab} needs of a stack interface: an address. */
export interface LabInterface {
  /** Adds `address` (as the stack's number form) with `prefixLength`. */
  addAddress(address: number, prefixLength: number): unknown;
}

/** What {@link KernelLab} needs of a stack: its scheduler and a way to add an interface on a device. */
export interface LabStack<Sched, Device, Iface extends LabInterface> {
  /** The scheduler devices of this stack run on. */
  readonly scheduler: Sched;
  /** Adds an interface on `device` (with an IP MTU when given). */
  addInterface(device: Device, options?: { mtu?: number }): Iface;
}

/**
 * The constructors {@link KernelLab} builds a TAP link from, handed in by the test from the NIC and
 * wire packages as they are: `new KernelLab({ TapNicDriver, NetDevice, parseMac, parseIpv4 })`.
 */
export interface TapParts<Sched, Tap, Driver, Device extends LabDevice, DeviceOptions, Mac> {
  /** The TAP driver; made with `create: true`, so it creates the device `ifname` with the stack's MAC. */
  TapNicDriver: new (options: { ifname: string; create: true; mac: Mac }) => Tap;
  /** The device over a driver (the TAP driver, or what `wrapDriver` made of it) on a stack's scheduler. */
  NetDevice: new (driver: Tap | Driver, scheduler: Sched, options?: DeviceOptions) => Device;
  /** `aa:bb:cc:dd:ee:ff` to the MAC form the driver takes. */
  parseMac(text: string): Mac;
  /** A dotted IPv4 address to the number form interfaces take. */
  parseIpv4(text: string): number;
}

/** How {@link KernelLab.attachTap} sets up one link. */
export interface TapLinkOptions<Tap, Driver, DeviceOptions> {
  /** The namespace for the kernel side. Default: {@link KernelLab.kernelNamespace}. */
  ns?: string;
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
  /** Wraps the TAP driver before the device is made (e.g. in a fault-injecting driver). Default: none. */
  wrapDriver?: (tap: Tap) => Driver;
  /** Options of the device (e.g. a larger RX ring for bulk transfers). */
  deviceOptions?: DeviceOptions;
}

/** One stack interface on a TAP device whose kernel side is configured in a namespace. */
export interface TapAttachment<Tap, Device, Iface, Mac> {
  /** The namespace holding the kernel side. */
  readonly ns: string;
  /** The TAP device's name (the same inside the namespace). */
  readonly ifname: string;
  /** The TAP driver (its descriptor stays in this process). */
  readonly driver: Tap;
  /** The device the stack's interface sits on. */
  readonly device: Device;
  /** The stack's interface. */
  readonly iface: Iface;
  /** The kernel side's MAC address. */
  readonly kernelMac: Mac;
}

/**
 * A {@link NetLab} whose namespaces have IPv6 off, that attaches stacks to the kernel over TAP
 * devices and closes those devices in {@link KernelLab.cleanup} before it removes namespaces and links.
 */
export class KernelLab<Sched, Tap, Driver, Device extends LabDevice, DeviceOptions, Mac> extends NetLab {
  private readonly devices: Device[] = [];
  private kernelSide: Promise<string> | undefined;

  /** `parts`: the constructors of the stack's side (see {@link TapParts}). */
  constructor(private readonly parts: TapParts<Sched, Tap, Driver, Device, DeviceOptions, Mac>) {
    super({ disableIpv6: true });
  }

  /** The lab's default namespace for the kernel side, made on first use (the same one until cleanup). */
  kernelNamespace(): Promise<string> {
    this.kernelSide ??= this.namespace();
    return this.kernelSide;
  }

  /**
   * Creates a TAP device, opens it as a device on `stack`'s scheduler, moves its kernel side into
   * `options.ns` (default {@link KernelLab.kernelNamespace}) and configures it there (MTU, address,
   * up), then adds the interface to `stack` with its address (so the gratuitous ARP reaches a
   * kernel that is listening). The device is closed by {@link KernelLab.cleanup}.
   */
  async attachTap<Iface extends LabInterface>(
    stack: LabStack<Sched, Device, Iface>,
    options: TapLinkOptions<Tap, Driver, DeviceOptions>,
  ): Promise<TapAttachment<Tap, Device, Iface, Mac>> {
    const ns = options.ns ?? (await this.kernelNamespace());
    const ifname = uniqueName('t');
    const { parts } = this;
    const driver = new parts.TapNicDriver({ ifname, create: true, mac: parts.parseMac(options.mac) });
    const device = new parts.NetDevice(options.wrapDriver?.(driver) ?? driver, stack.scheduler, options.deviceOptions);
    this.devices.push(device);
    await device.open();
    const mtu = options.mtu === undefined ? {} : { mtu: options.mtu };
    const kernelMac = parts.parseMac(
      await this.moveAndConfigure(ifname, ns, { address: `${options.kernelIp}/${options.prefixLength}`, ...mtu }),
    );
    const iface = stack.addInterface(device, mtu);
    iface.addAddress(parts.parseIpv4(options.stackIp), options.prefixLength);
    return { ns, ifname, driver, device, iface, kernelMac };
  }

  /**
   * Runs a command in {@link KernelLab.kernelNamespace}, bounded by `timeoutMs` (15 s unless told);
   * rejects (`CommandError`) unless it exits with 0. Output is decoded as latin1, so binary output
   * survives byte for byte (up to {@link KERNEL_LAB_MAX_OUTPUT_BYTES}).
   */
  async run(command: string, args: readonly string[], timeoutMs = 15_000): Promise<CommandResult> {
    return this.exec(await this.kernelNamespace(), command, args, {
      timeoutMs,
      encoding: 'latin1',
      maxBuffer: KERNEL_LAB_MAX_OUTPUT_BYTES,
    });
  }

  /** Closes every device this lab attached, then removes namespaces and links (the TAPs go with them). Never throws. */
  override async cleanup(): Promise<string[]> {
    for (const d of this.devices.splice(0)) await d.close().catch(() => undefined);
    this.kernelSide = undefined;
    return super.cleanup();
  }
}
