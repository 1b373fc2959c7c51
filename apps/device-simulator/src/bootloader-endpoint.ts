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
 * A firmware exit that the board did not ask for is a reset (a trial image that crashes is rolled
 * back at that reset); exit status 75 is a reboot request. A trial image that has not confirmed
 * within `trialTimeoutMs` is reset too (a watchdog). After three resets in a row without a
 * confirmation the board stays in its bootloader.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { BOOT_CONTROL_ENV, SimulatedBootloader, unpackImage } from '@postern/firmware';
import type { BootTarget, ImageManifest } from '@postern/firmware';
import { ipv4ToString } from '@postern/wire';
import { DEFAULT_GATEWAY_ADDRESS, DEFAULT_PREFIX_LENGTH } from './defaults.js';
import { SimulatorError, listenError } from './errors.js';
import { checkSerialSpec, offerSerialEndpoint } from './serial-endpoint.js';
import type { SerialEndpointHandle } from './serial-endpoint.js';
import { createSimulator } from './simulator.js';
import type { Simulator, SimulatorOptions } from './simulator.js';

/** The board id of the simulated dev board. */
export const SIMULATED_BOARD_ID = 'postern-devboard-1';
/** Default trial watchdog: a trial image must confirm within this time. */
export const DEFAULT_TRIAL_TIMEOUT_MS = 60_000;
const MAX_RESETS_WITHOUT_CONFIRM = 3;
const STOP_GRACE_MS = 3_000;

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
  /** Trial watchdog in ms; 0 disables it. Default {@link DEFAULT_TRIAL_TIMEOUT_MS}. */
  trialTimeoutMs?: number;
  /** Log lines (the firmware's output too). Default nowhere. */
  log?: (line: string) => void;
}

/** The firmware process the board runs. */
export interface RunningFirmware {
  readonly slot: number;
  readonly trial: boolean;
  readonly manifest: ImageManifest;
  readonly pid: number | undefined;
}

/**
 * A running board. Events: `boot` (a {@link RunningFirmware}, or undefined when nothing could boot),
 * `confirm` (slot), `exit` (the firmware's exit code or signal name).
 */
export interface BootloaderBoard extends EventEmitter {
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

class Board extends EventEmitter implements BootloaderBoard {
  firmware: RunningFirmware | undefined;
  flashPort!: SerialEndpointHandle;
  controlEndpoint = '';
  private child: ChildProcess | undefined;
  private stopping = false;
  private chain: Promise<void> = Promise.resolve();
  private resetsWithoutConfirm = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private control: Server | undefined;
  private readonly controlSockets = new Set<Socket>();
  private closed = false;

  constructor(
    readonly bootloader: SimulatedBootloader,
    readonly simulator: Simulator,
    readonly deviceEndpoint: string,
    private readonly options: BootloaderBoardOptions,
    private readonly workDirectory: string,
    private readonly ownWorkDirectory: boolean,
  ) {
    super();
    bootloader.onReboot = () => void this.reset('reboot requested by the host');
    bootloader.onConfirm = (slot) => {
      this.resetsWithoutConfirm = 0;
      clearTimeout(this.watchdog);
      if (this.firmware !== undefined) this.firmware = { ...this.firmware, trial: false };
      this.log(`slot ${slot} confirmed`);
      this.emit('confirm', slot);
    };
  }

  private log(line: string): void {
    this.options.log?.(`board: ${line}`);
  }

  async listenControl(): Promise<void> {
    const { server, url } = await this.listenBootloader('127.0.0.1', 0, 'the control endpoint');
    this.control = server;
    this.controlEndpoint = url;
  }

  /**
   * A loopback TCP server whose every connection speaks to the bootloader. Unlike the device
   * endpoint it takes several connections at once (requests are atomic), so a host that reconnects
   * right after closing is never refused.
   */
  async listenBootloader(host: string, port: number, what: string): Promise<{ server: Server; url: string }> {
    const server = createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => {});
      this.controlSockets.add(socket);
      const detach = this.bootloader.attach(socket);
      socket.once('close', () => {
        detach();
        this.controlSockets.delete(socket);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenError(err, what)));
      server.listen({ host, port }, () => resolve());
    });
    const addr = server.address();
    return { server, url: `socket://${host}:${typeof addr === 'object' && addr !== null ? addr.port : port}` };
  }

  /** Offers the flash port: `socket://` through {@link listenBootloader}, `pty` and `stream` through the simulator's endpoint code. */
  async offerFlashPort(spec: string): Promise<SerialEndpointHandle> {
    if (checkSerialSpec(spec) !== 'socket') return offerSerialEndpoint(spec, (stream) => this.bootloader.attach(stream));
    const m = /^socket:\/\/([^:/\s]+):(\d{1,5})$/.exec(spec)!;
    const host = m[1] === 'localhost' ? '127.0.0.1' : m[1]!;
    const { server, url } = await this.listenBootloader(host, Number(m[2]), `--serial ${spec}`);
    return {
      kind: 'socket', address: url, hostStream: undefined,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  reset(reason: string): Promise<void> {
    const run = this.chain.then(() => this.doReset(reason));
    this.chain = run.catch((err: unknown) => this.log(`reset failed: ${err instanceof Error ? err.message : String(err)}`));
    return run;
  }

  private async doReset(reason: string): Promise<void> {
    if (this.closed) return;
    this.log(`reset: ${reason}`);
    await this.stopFirmware();
    this.bootloader.halt();
    await this.waitForDeviceFree();
    const target = this.bootloader.boot();
    if (target === undefined) {
      this.log('nothing to boot: staying in the bootloader');
      this.firmware = undefined;
      this.emit('boot', undefined);
      return;
    }
    this.start(target);
  }

  private start(target: BootTarget): void {
    const dir = join(this.workDirectory, `slot${target.slot}`);
    rmSync(dir, { recursive: true, force: true });
    const unpacked = unpackImage(target.image, dir);
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(target.manifest.defaultConfig, null, 2));
    const sim = this.options.simulator ?? {};
    const ip = `${ipv4ToString(sim.gatewayAddress ?? DEFAULT_GATEWAY_ADDRESS)}/${sim.prefixLength ?? DEFAULT_PREFIX_LENGTH}`;
    const child = spawn(process.execPath, [unpacked.entryPath, '--config', configPath, '--nic', this.deviceEndpoint, '--ip', ip], {
      cwd: dir,
      env: { ...process.env, [BOOT_CONTROL_ENV]: this.controlEndpoint, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const pipe = (s: NodeJS.ReadableStream | null): void => {
      let rest = '';
      s?.setEncoding('utf8');
      s?.on('data', (text: string) => {
        const lines = (rest + text).split('\n');
        rest = lines.pop()!;
        for (const l of lines) this.options.log?.(`firmware: ${l}`);
      });
    };
    pipe(child.stdout);
    pipe(child.stderr);
    child.on('error', (err) => this.log(`firmware failed to start: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.emit('exit', code ?? signal);
      if (this.stopping || this.closed) return;
      this.firmware = undefined;
      this.resetsWithoutConfirm++;
      if (this.resetsWithoutConfirm > MAX_RESETS_WITHOUT_CONFIRM) {
        this.bootloader.halt();
        this.log(`firmware exited (${code ?? signal}) ${this.resetsWithoutConfirm} times without a confirmation: staying in the bootloader`);
        return;
      }
      void this.reset(code === 75 ? 'reboot requested by the firmware' : `firmware exited (${code ?? signal})`);
    });
    this.firmware = { slot: target.slot, trial: target.trial, manifest: target.manifest, pid: child.pid };
    this.log(`booted slot ${target.slot}${target.trial ? ' on trial' : ''}: ${target.manifest.name} ${target.manifest.version} build ${target.manifest.buildId}`);
    const timeout = this.options.trialTimeoutMs ?? DEFAULT_TRIAL_TIMEOUT_MS;
    clearTimeout(this.watchdog);
    if (target.trial && timeout > 0) {
      this.watchdog = setTimeout(() => {
        if (this.bootloader.runningOnTrial && this.child === child) void this.reset(`trial image not confirmed within ${timeout} ms`);
      }, timeout);
    }
    this.emit('boot', this.firmware);
  }

  private async stopFirmware(): Promise<void> {
    clearTimeout(this.watchdog);
    const child = this.child;
    this.firmware = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    try {
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      });
    } finally {
      this.stopping = false;
    }
  }

  /** The device endpoint takes one connection at a time: wait until the old firmware's is gone. */
  private async waitForDeviceFree(): Promise<void> {
    for (let i = 0; i < 100 && this.simulator.device.board !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await this.stopFirmware();
    for (const s of this.controlSockets) s.destroy();
    await this.flashPort.close();
    await new Promise<void>((resolve) => (this.control === undefined ? resolve() : this.control.close(() => resolve())));
    await this.simulator.close();
    this.bootloader.close();
    if (this.ownWorkDirectory) rmSync(this.workDirectory, { recursive: true, force: true });
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
    await simulator.close();
    bootloader.close();
    throw err;
  }
  await board.reset('power-up');
  return board;
}
