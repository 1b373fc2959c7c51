/**
 * The simulator as a dev board with a bootloader (`postern-sim --flash FILE`): the board's flash port
 * speaks the serial bootloader protocol (docs/flash-protocol.md) through `@postern/firmware`'s
 * {@link SimulatedBootloader}, and the firmware the bootloader boots runs as a child process:
 *
 * ```
 *  postern-flash ──flash port (--serial pty | socket://)── SimulatedBootloader (flash file, slots A/B)
 *                                                            │ boot(): verify, unpack, spawn
 *  node app/image-entry.mjs --config config.json --nic socket://127.0.0.1:P --ip GW/LEN
 *      │ NIC: the simulated USB Ethernet device (an internal socket:// endpoint) ── segment ── hostfwd
 *      └ CONFIRM: POSTERN_BOOT_CONTROL=socket://127.0.0.1:Q (an internal bootloader endpoint)
 * ```
 *
 * Booting, supervising, the watchdog and rollback are `@postern/board`'s `FirmwareSupervisor`, the
 * code `postern-board` runs on a real Linux board, so the simulated board and the real one cannot
 * drift apart: a firmware exit that the board did not ask for is a reset (a trial image that crashes
 * is rolled back at that reset); exit status 75 is a reboot request. A trial image that has not
 * confirmed within `trialTimeoutMs` is reset too (a watchdog). After three resets in a row without a
 * confirmation the board stays in its bootloader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { BoardError, FirmwareSupervisor } from '@postern/board';
import type { RunningFirmware } from '@postern/board';
import { SimulatedBootloader } from '@postern/firmware';
import { ipv4ToString } from '@postern/wire';
import { DEFAULT_GATEWAY_ADDRESS, DEFAULT_PREFIX_LENGTH } from './defaults.js';
import { SimulatorError } from './errors.js';
import { checkSerialSpec, offerSerialEndpoint } from './serial-endpoint.js';
import type { SerialEndpointHandle } from './serial-endpoint.js';
import { createSimulator } from './simulator.js';
import type { Simulator, SimulatorOptions } from './simulator.js';

export { DEFAULT_TRIAL_TIMEOUT_MS } from '@postern/board';
export type { RunningFirmware } from '@postern/board';

/** The board id of the simulated dev board. */
export const SIMULATED_BOARD_ID = 'postern-devboard-1';

/** Options of {@link startBootloaderBoard}. */
export interface BootloaderBoardOptions {
  /** The flash file (created when missing). */
  flashFile: string;
  /** The Ed25519 public key (PEM or KeyObject) the bootloader trusts. */
  trustedKey: string | KeyObject;
  /** Default {@link SIMULATED_BOARD_ID}. */
  boardId?: string;
  /** Bytes per slot (default the bootloader's, 8 MiB). */
  slotSize?: number;
  /** The flash port: `pty`, `socket://127.0.0.1:PORT` or `stream`. Default `stream`. */
  serial?: string;
  /** The simulated network (its `serial` is ignored: the firmware's NIC gets an internal socket endpoint). */
  simulator?: Omit<SimulatorOptions, 'serial'>;
  /** Where images are unpacked. Default a new temporary directory. */
  workDirectory?: string;
  /** Trial watchdog in ms; 0 disables it. Default `DEFAULT_TRIAL_TIMEOUT_MS` (60 s). */
  trialTimeoutMs?: number;
  /** Log lines (the firmware's output too). Default nowhere. */
  log?: (line: string) => void;
}

/**
 * A running board. Events: `boot` (a {@link RunningFirmware}, or undefined when nothing could boot),
 * `confirm` (slot), `exit` (the firmware's exit code or signal name).
 */
export interface BootloaderBoard extends NodeJS.EventEmitter {
  readonly bootloader: SimulatedBootloader;
  readonly simulator: Simulator;
  /** The flash port offered to `postern-flash`. */
  readonly flashPort: SerialEndpointHandle;
  /** The internal bootloader endpoint the firmware confirms to. */
  readonly controlEndpoint: string;
  /** The internal device endpoint the firmware's NIC opens. */
  readonly deviceEndpoint: string;
  /** The firmware now running, if any. */
  readonly firmware: RunningFirmware | undefined;
  /** Resets the board now (stops the firmware, boots per the bootloader's rules). */
  reset(reason: string): Promise<void>;
  /** Stops the firmware, the endpoints and the simulator; closes the flash file. */
  close(): Promise<void>;
}

/** The simulated board: `@postern/board`'s supervisor (shared with `postern-board`) plus the simulated network. */
class Board extends FirmwareSupervisor implements BootloaderBoard {
  flashPort!: SerialEndpointHandle;
  private closing: Promise<void> | undefined;

  constructor(
    bootloader: SimulatedBootloader,
    readonly simulator: Simulator,
    readonly deviceEndpoint: string,
    options: BootloaderBoardOptions,
    private readonly workDirectory: string,
    private readonly ownWorkDirectory: boolean,
  ) {
    const sim = options.simulator ?? {};
    const ip = `${ipv4ToString(sim.gatewayAddress ?? DEFAULT_GATEWAY_ADDRESS)}/${sim.prefixLength ?? DEFAULT_PREFIX_LENGTH}`;
    super(bootloader, {
      scheduler: simulator.scheduler,
      workDirectory,
      command: (image) => ['--config', image.configPath, '--nic', deviceEndpoint, '--ip', ip],
      beforeBoot: () => waitForDeviceFree(simulator),
      trialTimeoutMs: options.trialTimeoutMs,
      log: options.log,
    });
  }

  /** Offers the flash port: `socket://` through the supervisor's bootloader server, `pty` and `stream` through the simulator's endpoint code. */
  async offerFlashPort(spec: string): Promise<SerialEndpointHandle> {
    if (checkSerialSpec(spec) !== 'socket')
      return offerSerialEndpoint(spec, (stream) => this.bootloader.attach(stream));
    const m = /^socket:\/\/([^:/\s]+):(\d{1,5})$/.exec(spec)!;
    const host = m[1] === 'localhost' ? '127.0.0.1' : m[1]!;
    let listened;
    try {
      listened = await this.listenBootloader(host, Number(m[2]), `--serial ${spec}`);
    } catch (err) {
      throw err instanceof BoardError
        ? new SimulatorError(
            err.code === 'ADDRESS_IN_USE' || err.code === 'PERMISSION_DENIED' ? err.code : 'BAD_ARGUMENT',
            err.message,
            { cause: err },
          )
        : err;
    }
    const { server, url } = listened;
    return {
      kind: 'socket',
      address: url,
      hostStream: undefined,
      close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.closeSupervisor();
      await this.flashPort.close();
      await this.simulator.close();
      this.bootloader.close();
      if (this.ownWorkDirectory) rmSync(this.workDirectory, { recursive: true, force: true });
    })();
    return this.closing;
  }
}

/** The device endpoint takes one connection at a time: wait (up to 2 s, on the simulator's timers) until the old firmware's is gone. */
async function waitForDeviceFree(simulator: Simulator): Promise<void> {
  for (let i = 0; i < 100 && simulator.device.board !== undefined; i++) {
    await new Promise<void>((resolve) => simulator.scheduler.timerAfter(20, resolve));
  }
}

/**
 * Starts the simulated network, the bootloader on its flash port, and boots what the flash holds.
 * @throws {@link SimulatorError} (endpoints), or `@postern/firmware`'s `FirmwareError` (flash file, key).
 */
export async function startBootloaderBoard(options: BootloaderBoardOptions): Promise<BootloaderBoard> {
  const bootloader = SimulatedBootloader.open({
    flashFile: options.flashFile,
    boardId: options.boardId ?? SIMULATED_BOARD_ID,
    trustedKey: options.trustedKey,
    slotSize: options.slotSize,
  });
  let simulator: Simulator;
  try {
    simulator = await createSimulator({ ...options.simulator, serial: 'socket://127.0.0.1:0' });
  } catch (err) {
    bootloader.close();
    throw err;
  }
  const deviceEndpoint = simulator.device.endpoint.address;
  if (deviceEndpoint === undefined) throw new SimulatorError('BAD_ARGUMENT', 'the device endpoint has no address');
  const own = options.workDirectory === undefined;
  const work = options.workDirectory ?? mkdtempSync(join(tmpdir(), 'postern-board-'));
  const board = new Board(bootloader, simulator, deviceEndpoint, options, work, own);
  try {
    await board.listenControl();
    board.flashPort = await board.offerFlashPort(options.serial ?? 'stream');
  } catch (err) {
    await board.closeSupervisor();
    await simulator.close();
    bootloader.close();
    throw err;
  }
  await board.reset('power-up');
  return board;
}
