/**
 * {@link createSimulator}: the hardware and the network around the gateway, in one call.
 *
 * ```
 *  gateway ──serial (pty | socket:// | in-process stream)── SerialBoard ── DeviceWirePort
 *                                                                            │ FaultInjectionDriver (--loss ...)
 *                                                   EthernetSwitch (the segment, --pcap captures it)
 *                                                   │                 │                    │
 *                                       simulated host (Stack+Tcp)   TAP device (--tap)   ...
 *                                                   │
 *                            --hostfwd: 127.0.0.1:PORT (node:net) ──relay── Postern TCP ── gateway
 * ```
 *
 * Everything runs on one scheduler (a real-clock one the simulator starts, unless the caller passes
 * its own: `postern-gateway --nic sim` shares the gateway's). Fault fates come from a generator of
 * their own seeded with `seed`, so a run's losses depend only on the seed and the frames.
 */
import type { Duplex } from 'node:stream';
import { Scheduler } from '@postern/irq';
import type { SchedulerApi } from '@postern/irq';
import { serveUsbEthernet } from '@postern/board';
import { FaultInjectionDriver, NicError, TapNicDriver } from '@postern/nic';
import type { SerialBoard } from '@postern/nic';
import type { FaultProfile } from '@postern/nic';
import type { Ipv4Address, MacAddress } from '@postern/wire';
import { DeviceWirePort } from './board-port.js';
import { SegmentCapture } from './capture.js';
import {
  DEFAULT_DEVICE_MAC,
  DEFAULT_GATEWAY_ADDRESS,
  DEFAULT_HOST_ADDRESS,
  DEFAULT_HOST_MAC,
  DEFAULT_PREFIX_LENGTH,
  DEFAULT_SEED,
} from './defaults.js';
import { SimulatorError } from './errors.js';
import { HostForwarder, parseHostForward } from './hostfwd.js';
import type { HostForwardRule } from './hostfwd.js';
import { withOwnRandom } from './seeded-scheduler.js';
import { offerSerialEndpoint } from './serial-endpoint.js';
import type { SerialEndpointHandle } from './serial-endpoint.js';
import { SimulatedHost } from './sim-host.js';
import { EthernetSwitch } from './switch.js';

/** Faults on the device's wire side, both directions (see `FaultInjectionDriver`). */
export type SimulatorFaults = Pick<
  FaultProfile,
  'lossRate' | 'duplicateRate' | 'reorderRate' | 'reorderHoldMs' | 'corruptRate' | 'latencyMs' | 'bitsPerSecond'
>;

/** Options of {@link createSimulator}. Every field has a default. */
export interface SimulatorOptions {
  /** `'pty'`, `'socket://127.0.0.1:PORT'` (PORT 0: any free port) or `'stream'` (in-process). Default `'stream'`. */
  serial?: string;
  /** The scheduler to run on. Default: a new real-clock scheduler, started (and stopped by `close`). */
  scheduler?: SchedulerApi;
  /** Seed of the fault fates (and of the scheduler the simulator makes). Default 1. */
  seed?: number;
  /** The device's station MAC. Default {@link DEFAULT_DEVICE_MAC}. */
  deviceMac?: MacAddress;
  /** Where the gateway is on the segment (hostfwd's default target). Default 198.18.0.1. */
  gatewayAddress?: Ipv4Address;
  /** The simulated host's address. Default 198.18.0.100. */
  hostAddress?: Ipv4Address;
  /** The simulated host's MAC. Default {@link DEFAULT_HOST_MAC}. */
  hostMac?: MacAddress;
  /** Prefix length of the segment. Default 24. */
  prefixLength?: number;
  /** Forwarding rules (`tcp:127.0.0.1:8080-198.18.0.1:80` or parsed). Default none. */
  hostForwards?: ReadonlyArray<string | HostForwardRule>;
  /** Bridge the segment to a Linux TAP device of this name (created; needs root). Default none. */
  tap?: string;
  /** Capture the segment into this pcap file. Default none. */
  pcap?: string;
  /**
   * Wall time (ms since the epoch) that scheduler time 0 maps to in the pcap. Default: the
   * scheduler's own origin (`wallTime() - now`: the host's time when a real-clock scheduler started).
   */
  pcapTimeOriginMs?: number;
  /** Faults on the device's wire side. Default none. */
  faults?: SimulatorFaults;
  /** Pace the serial line to this many bytes per second (USB full speed: about 1,000,000). Default unpaced. */
  lineRateBytesPerSecond?: number;
  /** The board's credit window in frames. Default 32. */
  window?: number;
}

/** The device: its serial endpoint, its wire side and the board serving the current host connection. */
export interface SimulatedDevice {
  /** The device's station MAC. */
  readonly mac: MacAddress;
  /** What the gateway opens. */
  readonly endpoint: SerialEndpointHandle;
  /** The wire side (a switch port, behind the fault injector). */
  readonly wire: DeviceWirePort;
  /** The fault injector between the wire side and the switch; its `faults` counters say what happened. */
  readonly faults: FaultInjectionDriver;
  /** The board serving the current host connection, if one is connected. */
  readonly board: SerialBoard | undefined;
  /** Boards made so far (one per host connection). */
  readonly sessions: number;
}

/** A running simulator. */
export interface Simulator {
  /** The scheduler everything runs on. */
  readonly scheduler: SchedulerApi;
  /** The segment. */
  readonly segment: EthernetSwitch;
  /** The USB Ethernet device. */
  readonly device: SimulatedDevice;
  /** The simulated host (Postern's Stack and Tcp). */
  readonly host: SimulatedHost;
  /** The forwarding servers, in the order of the rules. */
  readonly forwarders: readonly HostForwarder[];
  /** The TAP device bridged to the segment, if any. */
  readonly tap: TapNicDriver | undefined;
  /** The segment capture, if any. */
  readonly capture: SegmentCapture | undefined;
  /** The gateway's address on the segment (as configured). */
  readonly gatewayAddress: Ipv4Address;
  /** For `serial: 'stream'`: the host's end of the serial line, for an in-process `SerialNicDriver`. */
  readonly hostStream: Duplex | undefined;
  /** Stops everything: forwarders, the serial endpoint, the TAP device, the capture, the scheduler if the simulator made it. Idempotent. */
  close(): Promise<void>;
}

class Device implements SimulatedDevice {
  board: SerialBoard | undefined;
  sessions = 0;
  endpoint!: SerialEndpointHandle;
  constructor(
    readonly mac: MacAddress,
    readonly wire: DeviceWirePort,
    readonly faults: FaultInjectionDriver,
  ) {}
}

function checkRate(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1))
    throw new SimulatorError('BAD_ARGUMENT', `${name} must be a probability in [0, 1], got ${v}`);
}

/**
 * Builds and starts the simulator. On failure everything already started is stopped again.
 * @throws {@link SimulatorError} `BAD_ARGUMENT`, `ADDRESS_IN_USE` (serial socket or hostfwd port),
 *   `PERMISSION_DENIED` (TAP without root), `DEVICE_NOT_FOUND`, `PTY_FAILED`.
 */
export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const seed = options.seed ?? DEFAULT_SEED;
  const faults = options.faults ?? {};
  checkRate('loss', faults.lossRate);
  checkRate('dup', faults.duplicateRate);
  checkRate('reorder', faults.reorderRate);
  checkRate('corrupt', faults.corruptRate);
  const gatewayAddress = options.gatewayAddress ?? DEFAULT_GATEWAY_ADDRESS;
  const rules = (options.hostForwards ?? []).map((r) =>
    typeof r === 'string' ? parseHostForward(r, gatewayAddress) : r,
  );
  const ownScheduler = options.scheduler === undefined;
  const scheduler = options.scheduler ?? new Scheduler({ clock: 'real', seed });
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  if (ownScheduler) {
    scheduler.start();
    cleanups.push(() => scheduler.stop());
  }
  try {
    let capture: SegmentCapture | undefined;
    if (options.pcap !== undefined) {
      capture = await SegmentCapture.open(
        options.pcap,
        scheduler,
        options.pcapTimeOriginMs ?? scheduler.wallTime() - scheduler.now,
      );
      const c = capture;
      cleanups.push(() => c.close());
    }
    const segment = new EthernetSwitch({ capture: capture === undefined ? undefined : (f) => capture.record(f) });

    const mac = options.deviceMac ?? DEFAULT_DEVICE_MAC;
    const wire = new DeviceWirePort(mac);
    let faultDriver: FaultInjectionDriver;
    try {
      faultDriver = new FaultInjectionDriver(wire, withOwnRandom(scheduler, seed), {
        ...faults,
        name: 'device-faults',
      });
    } catch (err) {
      throw new SimulatorError('BAD_ARGUMENT', `bad fault option: ${(err as Error).message}`, { cause: err });
    }
    const device = new Device(mac, wire, faultDriver);
    segment.attach(faultDriver);
    await faultDriver.open();
    cleanups.push(() => faultDriver.close());

    const host = await SimulatedHost.create(scheduler, segment, {
      name: 'host0',
      address: options.hostAddress ?? DEFAULT_HOST_ADDRESS,
      prefixLength: options.prefixLength ?? DEFAULT_PREFIX_LENGTH,
      mac: options.hostMac ?? DEFAULT_HOST_MAC,
      defaultGateway: gatewayAddress,
    });
    cleanups.push(() => host.close());

    let tap: TapNicDriver | undefined;
    if (options.tap !== undefined) {
      const t = new TapNicDriver({ ifname: options.tap, create: true });
      try {
        await t.open();
      } catch (err) {
        if (err instanceof NicError && err.code === 'PERMISSION_DENIED') {
          throw new SimulatorError(
            'PERMISSION_DENIED',
            `--tap ${options.tap}: creating a TAP device needs root (CAP_NET_ADMIN)`,
            { cause: err },
          );
        }
        const why = err instanceof Error ? err.message : String(err);
        throw new SimulatorError(
          err instanceof NicError && err.code === 'DEVICE_NOT_FOUND' ? 'DEVICE_NOT_FOUND' : 'BAD_ARGUMENT',
          `--tap ${options.tap}: ${why}`,
          { cause: err },
        );
      }
      tap = t;
      segment.attach(t);
      cleanups.push(() => t.close());
    }

    const forwarders: HostForwarder[] = [];
    for (const rule of rules) {
      const f = await HostForwarder.listen(rule, host);
      forwarders.push(f);
      cleanups.push(() => f.close());
    }

    device.endpoint = await offerSerialEndpoint(options.serial ?? 'stream', (stream) => {
      const { board } = serveUsbEthernet(stream, {
        scheduler,
        mac,
        toWire: (frame) => wire.fromBoard(frame),
        window: options.window,
        lineRateBytesPerSecond: options.lineRateBytesPerSecond,
      });
      device.board = board;
      device.sessions++;
      wire.setBoard(board);
      return () => {
        board.stop();
        if (device.board === board) {
          device.board = undefined;
          wire.setBoard(undefined);
        }
      };
    });
    cleanups.push(() => device.endpoint.close());

    let closed: Promise<void> | undefined;
    return {
      scheduler,
      segment,
      device,
      host,
      forwarders,
      tap,
      capture,
      gatewayAddress,
      hostStream: device.endpoint.hostStream,
      close: () => (closed ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
