/**
 * {@link SimulatedHost}: a host on the virtual segment running Postern's own stack (IPv4, ARP, ICMP,
 * UDP and TCP). It is cabled to the switch with an in-memory link: one end is a switch port, the
 * other sits under the host's {@link NetDevice}.
 */
import type { SchedulerApi } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import type { MemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import type { Tcp, TcpOptions } from '@postern/netstack';
import type { Ipv4Address, MacAddress } from '@postern/wire';
import type { EthernetSwitch } from './switch.js';

/** How to build a {@link SimulatedHost}. */
export interface SimulatedHostOptions {
  /** Name, for the devices and IRQ lines (unique per scheduler). */
  name: string;
  /** The host's address. */
  address: Ipv4Address;
  /** Prefix length of the segment. */
  prefixLength: number;
  /** The host's MAC. */
  mac: MacAddress;
  /** Default route (the gateway), if any: lets the host reach networks behind the gateway. */
  defaultGateway?: Ipv4Address;
  /** TCP limits; defaults are the `Tcp` module's. */
  tcp?: TcpOptions;
}

/** A simulated host. Build with {@link SimulatedHost.create}. */
export class SimulatedHost {
  private constructor(
    /** The host's name. */
    readonly name: string,
    /** Its IPv4 address. */
    readonly address: Ipv4Address,
    /** Its IP stack. */
    readonly stack: Stack,
    /** Its TCP module. */
    readonly tcp: Tcp,
    /** Its network device. */
    readonly device: NetDevice,
    /** The cable to the switch (`a` is the switch port, `b` the host's NIC). */
    readonly cable: MemoryLink,
  ) {}

  /** Builds the host, cables it to `segment` and brings both ends up. */
  static async create(
    scheduler: SchedulerApi,
    segment: EthernetSwitch,
    options: SimulatedHostOptions,
  ): Promise<SimulatedHost> {
    // The switch end gets a MAC of its own (never used as a source) so the two ends differ.
    const cable = createMemoryLink(scheduler, {
      names: [`${options.name}:port`, options.name],
      macA: 0x02_00_00_00_00_00 + (options.mac % 0x1_0000_0000) + 0x10_0000_0000,
      macB: options.mac,
    });
    segment.attach(cable.a);
    const device = new NetDevice(cable.b, scheduler, { irqName: `sim:${options.name}` });
    const stack = new Stack(scheduler);
    stack.addInterface(device).addAddress(options.address, options.prefixLength);
    if (options.defaultGateway !== undefined) stack.routes.setDefaultRoute(options.defaultGateway);
    const tcp = attachTcp(stack, options.tcp);
    await cable.a.open();
    await device.open();
    return new SimulatedHost(options.name, options.address, stack, tcp, device, cable);
  }

  /** Takes the host off the segment (closes its NIC and its switch port). */
  async close(): Promise<void> {
    await this.device.close();
    await this.cable.a.close();
  }
}
