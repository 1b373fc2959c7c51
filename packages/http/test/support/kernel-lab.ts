/**
 * The lab of this package's interop tests against the Linux kernel: `@postern/netlab`'s
 * {@link NetLab} with one namespace (IPv6 off) for the kernel side, TAP devices whose kernel side
 * lives there ({@link KernelLab.attachTap}), and commands run inside it ({@link KernelLab.run}).
 */
import { NetLab, uniqueName, type CommandResult } from '@postern/netlab';
import { NetDevice, TapNicDriver, type NetDeviceOptions } from '@postern/nic';
import type { NetInterface, Stack } from '@postern/netstack';
import { parseIpv4, parseMac } from '@postern/wire';

/** Largest output kept from one command (a client may print a whole download). */
const MAX_OUTPUT_BYTES = 64 << 20;

/** How {@link KernelLab.attachTap} sets up the link. */
export interface TapLinkOptions {
  /** The kernel's address, dotted (198.18.0.0/15 only). */
  kernelIp: string;
  /** The stack's address, dotted. */
  stackIp: string;
  /** Prefix length of both. */
  prefixLength: number;
  /** The stack's MAC, `02:..` form. */
  mac: string;
  /** Options of the `NetDevice` (e.g. a larger RX ring for bulk transfers). */
  deviceOptions?: NetDeviceOptions;
}

/** One namespace and the TAP devices attached to it; {@link KernelLab.cleanup} closes and removes them all. */
export class KernelLab extends NetLab {
  private readonly devices: NetDevice[] = [];
  private kernelSide: Promise<string> | undefined;

  constructor() {
    super({ disableIpv6: true });
  }

  /** The namespace holding the kernel side, made on first use. */
  kernelNamespace(): Promise<string> {
    this.kernelSide ??= this.namespace();
    return this.kernelSide;
  }

  /**
   * Creates a TAP device, opens it as a `NetDevice` on `stack`'s scheduler, moves its kernel side
   * into the namespace and configures it there, then adds the interface with its address to `stack`.
   */
  async attachTap(stack: Stack, options: TapLinkOptions): Promise<NetInterface> {
    const ns = await this.kernelNamespace();
    const ifname = uniqueName('t');
    const device = new NetDevice(new TapNicDriver({ ifname, create: true, mac: parseMac(options.mac) }), stack.scheduler, options.deviceOptions);
    this.devices.push(device);
    await device.open();
    await this.moveAndConfigure(ifname, ns, { address: `${options.kernelIp}/${options.prefixLength}` });
    const iface = stack.addInterface(device);
    iface.addAddress(parseIpv4(options.stackIp), options.prefixLength);
    return iface;
  }

  /**
   * Runs a command in the namespace, bounded by `timeoutMs`; rejects (`CommandError`) unless it
   * exits with 0. Output is decoded as latin1, so binary output survives byte for byte.
   */
  async run(command: string, args: readonly string[], timeoutMs = 15_000): Promise<CommandResult> {
    return this.exec(await this.kernelNamespace(), command, args, { timeoutMs, encoding: 'latin1', maxBuffer: MAX_OUTPUT_BYTES });
  }

  /** Closes every device, then removes the namespace (the TAPs go with it). Never throws. */
  override async cleanup(): Promise<string[]> {
    for (const d of this.devices.splice(0)) await d.close().catch(() => undefined);
    this.kernelSide = undefined;
    return super.cleanup();
  }
}
