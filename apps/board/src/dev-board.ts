/**
 * {@link startDevBoard}: a Linux dev board with a USB device port, both roles at once on one USB
 * serial function (`/dev/ttyGS0`, a configfs ACM gadget):
 *
 * ```
 *  host ══ USB (CDC-ACM) ══ /dev/ttyGS0 ── splitPort ─┬─ device protocol ── SerialBoard ── EthernetWire ── TAP pusb0 ─┐
 *                                                     └─ bootloader protocol ── SimulatedBootloader              bridge pbr0 ── eth0
 *                                          slots: DirectorySlotStore (state.bin, slot-a.img, slot-b.img)             │
 *                                          FirmwareSupervisor: node image-entry.mjs --nic tap:pfw0 ── TAP pfw0 ────┘
 * ```
 *
 * (a) The USB Ethernet device: a host gateway (`postern-gateway --nic serial:/dev/ttyACM0`) gets
 * the board's Ethernet through the device protocol: its frames go out through the bridge, frames
 * from the network come back through the host's receive filter, and eth0's carrier is reported as
 * LINK_EVENTs. (b) The flash target: `postern-flash --port /dev/ttyACM0` writes a slot; the board
 * boots the image on trial as a supervised process whose NIC is the board's own network (the TAP
 * pfw0 on the bridge), and rolls back unless it confirms.
 *
 * The port is reopened after it closes (the host unplugged, the gadget restarted), every
 * `reopenMs`, on the scheduler's timers; each opening is a fresh device session that announces
 * itself (docs/device-protocol.md §13).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { symlinkSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { DirectorySlotStore, SimulatedBootloader } from '@postern/firmware';
import { Scheduler } from '@postern/irq';
import type { SchedulerApi, Timer } from '@postern/irq';
import { TapNicDriver, openSerialTransport } from '@postern/nic';
import type { OpenedSerialTransport, SerialBoard } from '@postern/nic';
import type { MacAddress } from '@postern/wire';
import { EthernetWire, sysfsCarrier } from './ethernet-wire.js';
import { FirmwareSupervisor } from './firmware-supervisor.js';
import type { UnpackedFirmware } from './firmware-supervisor.js';
import { DEFAULT_BOARD_NETWORK, prepareBoardNetwork } from './network.js';
import type { BoardNetwork } from './network.js';
import { splitPort } from './port-demux.js';
import type { SplitPort } from './port-demux.js';
import { serveUsbEthernet } from './usb-ethernet.js';

/** The board id a dev board has unless told otherwise (the id `postern-flash build` targets by default). */
export const DEFAULT_BOARD_ID = 'postern-devboard-1';
/** The USB Ethernet device's station MAC unless told otherwise: 02:50:53:42:00:01 (locally administered). */
export const DEFAULT_BOARD_MAC: MacAddress = 0x02_50_53_42_00_01;
/** The address the firmware image gets when its configuration names none. */
export const DEFAULT_IMAGE_ADDRESS = '198.18.0.1/24';
/** Bytes per slot unless told otherwise: 16 MiB. */
export const DEFAULT_BOARD_SLOT_SIZE = 16 * 1024 * 1024;
/** The serial port of a Linux USB gadget's first ACM function. */
export const DEFAULT_GADGET_PORT = '/dev/ttyGS0';

/** Options of {@link startDevBoard}. */
export interface DevBoardOptions {
  /** The USB serial port (default {@link DEFAULT_GADGET_PORT}); a PTY path or `socket://HOST:PORT` works too. */
  port?: string;
  /** Where the slots (`slots/`) and the unpacked images (`run/`) live. */
  stateDirectory: string;
  /** The Ed25519 public key (PEM or KeyObject) images must be signed with. */
  trustedKey: string | KeyObject;
  /** Default {@link DEFAULT_BOARD_ID}. */
  boardId?: string;
  /** Interface names (default {@link DEFAULT_BOARD_NETWORK}). */
  network?: Partial<BoardNetwork>;
  /** Make the bridge and TAPs (see `prepareBoardNetwork`). Default true. */
  prepareNetwork?: boolean;
  /** The USB Ethernet device's station MAC. Default {@link DEFAULT_BOARD_MAC}. */
  mac?: MacAddress;
  /** The firmware image's address (CIDR). Default: its configuration's first interface's, else {@link DEFAULT_IMAGE_ADDRESS}. */
  imageAddress?: string;
  /** Trial watchdog in ms; 0 disables it. Default 60 s. */
  trialTimeoutMs?: number;
  /** Bytes per slot. Default {@link DEFAULT_BOARD_SLOT_SIZE}. */
  slotSize?: number;
  /** Time between attempts to open the port. Default 1000 ms. */
  reopenMs?: number;
  /** Log lines. Default nowhere. */
  log?: (line: string) => void;
}

/** A running board. */
export interface DevBoard {
  readonly bootloader: SimulatedBootloader;
  readonly supervisor: FirmwareSupervisor;
  readonly wire: EthernetWire;
  readonly scheduler: SchedulerApi;
  readonly network: BoardNetwork;
  /** The device session of the open port, if the port is open. */
  readonly session: SerialBoard | undefined;
  /** Stops the firmware, the port, the TAP and the scheduler; closes the slot store. Idempotent. */
  close(): Promise<void>;
}

/** The image's configured address: `defaultConfig.interfaces[0].ip`, if any. */
function configuredAddress(config: Readonly<Record<string, unknown>>): string | undefined {
  const ifs = config['interfaces'];
  const first = Array.isArray(ifs) ? (ifs[0] as Record<string, unknown> | undefined) : undefined;
  return typeof first?.['ip'] === 'string' ? first['ip'] : undefined;
}

/**
 * Gives an unpacked image the board's `serialport` package (the image leaves it out: its native
 * binding cannot be bundled), as `node_modules/serialport` beside the image. Nothing when the board
 * has none.
 */
function provideSerialport(image: UnpackedFirmware): void {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('serialport/package.json'));
  } catch {
    return;
  }
  const modules = join(image.directory, 'node_modules');
  mkdirSync(modules, { recursive: true });
  symlinkSync(dir, join(modules, 'serialport'), 'dir');
}

class Board implements DevBoard {
  transport: OpenedSerialTransport | undefined;
  split: SplitPort | undefined;
  detachBootloader: (() => void) | undefined;
  sessionStop: (() => void) | undefined;
  reopenTimer: Timer | undefined;
  lastOpenError = '';
  closed = false;

  constructor(
    readonly bootloader: SimulatedBootloader,
    readonly supervisor: FirmwareSupervisor,
    readonly wire: EthernetWire,
    readonly scheduler: Scheduler,
    readonly network: BoardNetwork,
    private readonly options: DevBoardOptions,
  ) {}

  get session(): SerialBoard | undefined {
    return this.wire.currentSession;
  }

  private log(line: string): void {
    this.options.log?.(`board: ${line}`);
  }

  async openPort(): Promise<void> {
    this.reopenTimer = undefined;
    if (this.closed) return;
    const path = this.options.port ?? DEFAULT_GADGET_PORT;
    let transport: OpenedSerialTransport;
    try {
      transport = await openSerialTransport(path, { name: 'usb', baudRate: 115_200 });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== this.lastOpenError) this.log(`port ${path}: ${why}; retrying`);
      this.lastOpenError = why;
      this.scheduleReopen();
      return;
    }
    if (this.closed) {
      await transport.close();
      return;
    }
    this.lastOpenError = '';
    this.transport = transport;
    const split = splitPort(transport.stream);
    this.split = split;
    const session = serveUsbEthernet(split.device, {
      scheduler: this.scheduler,
      mac: this.options.mac ?? DEFAULT_BOARD_MAC,
      toWire: (frame) => this.wire.toNetwork(frame),
      carrier: this.wire.carrier,
      announce: true,
    });
    this.wire.setSession(session.board);
    this.sessionStop = () => session.stop();
    this.detachBootloader = this.bootloader.attach(split.bootloader);
    transport.stream.on('error', (err: Error) => this.log(`port ${path}: ${err.message}`));
    transport.stream.once('close', () => {
      if (this.transport !== transport) return;
      this.log(`port ${path} closed`);
      this.dropPort();
      this.scheduleReopen();
    });
    this.log(`port ${path} open: USB Ethernet device and bootloader`);
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer !== undefined) return;
    this.reopenTimer = this.scheduler.timerAfter(this.options.reopenMs ?? 1000, () => void this.openPort());
  }

  private dropPort(): void {
    this.wire.setSession(undefined);
    this.sessionStop?.();
    this.detachBootloader?.();
    this.split?.stop();
    this.sessionStop = undefined;
    this.detachBootloader = undefined;
    this.split = undefined;
    this.transport = undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reopenTimer?.cancel();
    await this.supervisor.closeSupervisor();
    const transport = this.transport;
    this.dropPort();
    await transport?.close();
    this.wire.stop();
    await this.wire.nic.close();
    this.scheduler.stop();
    this.bootloader.close();
  }
}

/**
 * Prepares the network, opens the slots, the device TAP and the port, and boots what the slots hold.
 * @throws {@link BoardError} (network, endpoints), `@postern/firmware`'s `FirmwareError` (slots, key), `@postern/nic`'s `NicError` (TAP).
 */
export async function startDevBoard(options: DevBoardOptions): Promise<DevBoard> {
  const network: BoardNetwork = { ...DEFAULT_BOARD_NETWORK, ...options.network };
  if (options.prepareNetwork ?? true) await prepareBoardNetwork(network);
  const store = DirectorySlotStore.open(join(options.stateDirectory, 'slots'));
  let bootloader: SimulatedBootloader;
  try {
    bootloader = SimulatedBootloader.withStore(store, {
      boardId: options.boardId ?? DEFAULT_BOARD_ID,
      trustedKey: options.trustedKey,
      slotSize: options.slotSize ?? DEFAULT_BOARD_SLOT_SIZE,
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const scheduler = new Scheduler({ clock: 'real', seed: 1 });
  scheduler.start();
  const tap = new TapNicDriver({ ifname: network.deviceTap, create: false });
  try {
    await tap.open();
  } catch (err) {
    scheduler.stop();
    bootloader.close();
    throw err;
  }
  const wire = new EthernetWire(tap, scheduler, () => sysfsCarrier(network.ethernet));
  wire.pollCarrier();
  const work = join(options.stateDirectory, 'run');
  mkdirSync(work, { recursive: true });
  const supervisor = new FirmwareSupervisor(bootloader, {
    scheduler,
    workDirectory: work,
    prepare: provideSerialport,
    command: (image) => [
      '--config',
      image.configPath,
      '--nic',
      `tap:${network.firmwareTap}`,
      '--ip',
      options.imageAddress ?? configuredAddress(image.target.manifest.defaultConfig) ?? DEFAULT_IMAGE_ADDRESS,
    ],
    trialTimeoutMs: options.trialTimeoutMs,
    log: options.log,
  });
  const board = new Board(bootloader, supervisor, wire, scheduler, network, options);
  try {
    await supervisor.listenControl();
  } catch (err) {
    await board.close();
    throw err;
  }
  await board.openPort();
  await supervisor.reset('power-up');
  return board;
}
