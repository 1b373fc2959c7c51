/**
 * The test kit's `KernelLab` (`@postern/netlab`) bound to the NIC package's TAP driver and device,
 * so this package's interop tests write `new KernelLab()`, and its attachments typed with this
 * package's interface. What it does is documented (and unit-tested) in the kit.
 */
import type { SchedulerApi } from '@postern/irq';
import { KernelLab as KitKernelLab, type TapAttachment as KitTapAttachment } from '@postern/netlab';
import { NetDevice, TapNicDriver, type NetDeviceOptions, type NicDriver } from '@postern/nic';
import { parseIpv4, parseMac, type MacAddress } from '@postern/wire';
import type { NetInterface } from '../../src/index.js';

/** One stack interface on a TAP device whose kernel side is configured in a namespace. */
export type TapAttachment = KitTapAttachment<TapNicDriver, NetDevice, NetInterface, MacAddress>;

/** The kit's KernelLab (IPv6 off, `attachTap`, `run`, devices closed on cleanup) on the NIC package's TAP driver. */
export class KernelLab extends KitKernelLab<
  SchedulerApi,
  TapNicDriver,
  NicDriver,
  NetDevice,
  NetDeviceOptions,
  MacAddress
> {
  constructor() {
    super({ TapNicDriver, NetDevice, parseMac, parseIpv4 });
  }
}
