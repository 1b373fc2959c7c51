/**
 * The tests' most used topology: two stacks on one in-memory link, a = 198.18.0.1/24 and
 * b = 198.18.0.2/24 (unless told), devices open, ARP resolved both ways (unless told otherwise),
 * on the caller's scheduler.
 *
 * The kit imports no package of the stack (their own tests import the kit, and an import back would
 * make a circle of projects), so the test hands in the constructors it builds from as
 * {@link PairParts} — `{ createMemoryLink, NetDevice, Stack, parseIpv4 }` as the NIC, netstack and
 * wire packages export them — and everything else is typed by shape.
 */
import type { LabDevice, LabInterface } from './kernel-lab.js';

/** Host a's address in {@link memoryPair} unless told. */
export const PAIR_A_IP = '198.18.0.1';
/** Host b's address in {@link memoryPair} unless told. */
export const PAIR_B_IP = '198.18.0.2';
/** The prefix length of both. */
export const PAIR_PREFIX_LENGTH = 24;

/** What {@link memoryPair} needs of a scheduler. */
export interface PairScheduler {
  /** Whether the clock is virtual (advanced by the test) or real. */
  readonly clock: { readonly virtual: boolean };
  /** Runs what is due now (virtual clock). */
  runPending(): void;
  /** Advances the virtual clock. */
  advance(ms: number): void;
  /** Starts a real-clock scheduler (idempotent). */
  start(): void;
}

/** What {@link memoryPair} needs of a stack: interfaces, a UDP socket and ping (to resolve ARP). */
export interface PairStack<Device> {
  /** Adds an interface on `device`. */
  addInterface(device: Device): LabInterface;
  /** The UDP layer: {@link memoryPair} sends one datagram to a closed port to resolve ARP on a virtual clock. */
  readonly udp: {
    bind(
      port: number,
      onDatagram: () => void,
    ): { send(to: number, port: number, data: Uint8Array): unknown; close(): void };
  };
  /** An ICMP echo; {@link memoryPair} awaits one to resolve ARP on a real clock. */
  ping(options: { dst: number; timeoutMs?: number }): Promise<unknown>;
}

/** The shape of the in-memory link's options that {@link memoryPair} sets. */
export interface PairLinkOptions {
  /** Device names, unique per pair. */
  names: [string, string];
  /** MAC of end a, unique per pair. */
  macA: number;
  /** MAC of end b. */
  macB: number;
  /** Link MTU. */
  mtu: number;
  /** One-way latency, ms. */
  latencyMs: number;
}

/**
 * The constructors {@link memoryPair} builds from, handed in as the packages export them:
 * `{ createMemoryLink, NetDevice, Stack, parseIpv4 }`.
 */
export interface PairParts<
  Sched,
  Link extends { a: Driver; b: Driver },
  Driver,
  Device extends LabDevice,
  S extends PairStack<Device>,
  StackOptions,
> {
  /** The in-memory link (two drivers joined back to back). */
  createMemoryLink(scheduler: Sched, options: PairLinkOptions): Link;
  /** A device over a driver. */
  NetDevice: new (driver: Driver, scheduler: Sched, options?: { rxRingCapacity?: number }) => Device;
  /** A stack. */
  Stack: new (scheduler: Sched, options?: StackOptions) => S;
  /** Dotted IPv4 to the number form. */
  parseIpv4(text: string): number;
}

/** How {@link memoryPair} builds the pair; every field has a default. */
export interface PairOptions<Driver, StackOptions> {
  /** Options of stack a. Default: none. */
  a?: StackOptions;
  /** Options of stack b. Default: none. */
  b?: StackOptions;
  /** Addresses of a and b, dotted, both /24. Default: {@link PAIR_A_IP}, {@link PAIR_B_IP}. */
  addresses?: readonly [string, string];
  /** Link MTU. Default 1500. */
  mtu?: number;
  /** One-way link latency, ms. Default 0. */
  latencyMs?: number;
  /** RX ring of both devices. Default: the device's own. */
  rxRingCapacity?: number;
  /** Puts drivers between the link and the devices (e.g. fault injection); returns a's and b's. Default: none. */
  wrapDrivers?: (a: NoInfer<Driver>, b: NoInfer<Driver>) => readonly [NoInfer<Driver>, NoInfer<Driver>];
  /**
   * Resolve ARP both ways before returning. Virtual clock: a datagram from a to a closed port of b
   * and b's port unreachable, 20 virtual ms; real clock (started here): one ping from a to b.
   * Default true; with false nothing runs and nothing starts here (the caller drives the clock).
   */
  resolveArp?: boolean;
}

/** The interface type a stack's `addInterface` returns. */
export type InterfaceOf<S> = S extends { addInterface(device: never): infer I } ? I : never;

/** The pair {@link memoryPair} built. */
export interface MemoryPair<Link, Driver, Device, S> {
  /** The in-memory link. */
  readonly link: Link;
  /** Stack a. */
  readonly a: S;
  /** Stack b. */
  readonly b: S;
  /** a's device. */
  readonly devA: Device;
  /** b's device. */
  readonly devB: Device;
  /** a's interface, with its address. */
  readonly ifA: InterfaceOf<S>;
  /** b's interface, with its address. */
  readonly ifB: InterfaceOf<S>;
  /** The driver under a's device (the link's end a, or what `wrapDrivers` made of it). */
  readonly driverA: Driver;
  /** The driver under b's device. */
  readonly driverB: Driver;
}

let pairs = 0;

/**
 * Builds two stacks on one fresh in-memory link on `scheduler` (names `<tag><n>a`/`<tag><n>b` and
 * MACs unique in this process), opens both devices and, unless told, resolves ARP both ways (see
 * {@link PairOptions.resolveArp}; that starts a real-clock scheduler). Rejects when the ping of a
 * real-clock pair gets no answer in 3 s.
 */
export async function memoryPair<
  Sched extends PairScheduler,
  Link extends { a: Driver; b: Driver },
  Driver,
  Device extends LabDevice,
  S extends PairStack<Device>,
  StackOptions,
>(
  parts: PairParts<Sched, Link, Driver, Device, S, StackOptions>,
  scheduler: Sched,
  options: PairOptions<Driver, StackOptions> & { tag?: string } = {},
): Promise<MemoryPair<Link, Driver, Device, S>> {
  const n = ++pairs;
  const tag = options.tag ?? 'm';
  const link = parts.createMemoryLink(scheduler, {
    names: [`${tag}${n}a`, `${tag}${n}b`],
    macA: 0x02_00_00_00_00_00 + n * 16 + 1,
    macB: 0x02_00_00_00_00_00 + n * 16 + 2,
    mtu: options.mtu ?? 1500,
    latencyMs: options.latencyMs ?? 0,
  });
  const [driverA, driverB] = options.wrapDrivers?.(link.a, link.b) ?? [link.a, link.b];
  const ring = options.rxRingCapacity === undefined ? undefined : { rxRingCapacity: options.rxRingCapacity };
  const devA = new parts.NetDevice(driverA, scheduler, ring);
  const devB = new parts.NetDevice(driverB, scheduler, ring);
  const a = new parts.Stack(scheduler, options.a);
  const b = new parts.Stack(scheduler, options.b);
  const [ipA, ipB] = (options.addresses ?? [PAIR_A_IP, PAIR_B_IP]).map((t) => parts.parseIpv4(t)) as [number, number];
  const ifA = a.addInterface(devA) as InterfaceOf<S>;
  const ifB = b.addInterface(devB) as InterfaceOf<S>;
  (ifA as LabInterface).addAddress(ipA, PAIR_PREFIX_LENGTH);
  (ifB as LabInterface).addAddress(ipB, PAIR_PREFIX_LENGTH);
  await devA.open();
  await devB.open();
  if (!(options.resolveArp ?? true)) return { link, a, b, devA, devB, ifA, ifB, driverA, driverB };
  if (scheduler.clock.virtual) {
    scheduler.runPending();
    const udp = a.udp.bind(0, () => undefined);
    udp.send(ipB, 9, new Uint8Array(1));
    scheduler.advance(20);
    udp.close();
  } else {
    scheduler.start();
    await a.ping({ dst: ipB, timeoutMs: 3000 });
  }
  return { link, a, b, devA, devB, ifA, ifB, driverA, driverB };
}
