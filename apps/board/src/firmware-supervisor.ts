/**
 * {@link FirmwareSupervisor}: what a dev board does between its bootloader and the firmware it boots
 * (docs/flash-protocol.md §7), shared by `postern-board` (a Linux board) and `postern-sim --flash`
 * (the simulated board), so the two cannot drift apart:
 *
 * - at every reset it stops the running firmware, asks the bootloader what to boot, unpacks the
 *   image into its work directory and runs the image's entry as a supervised Node process;
 * - the firmware confirms its boot over a bootloader endpoint the supervisor offers on loopback
 *   (`POSTERN_BOOT_CONTROL=socket://127.0.0.1:PORT` in its environment);
 * - a firmware exit the board did not ask for is a reset (a trial image that crashes is rolled back
 *   at that reset); exit status 75 is a reboot request; a trial image that has not confirmed within
 *   `trialTimeoutMs` is reset too (the watchdog); after three resets in a row without a confirmation
 *   the board stays in its bootloader;
 * - a REBOOT request from the host resets the board.
 *
 * The owner says how the image is started ({@link FirmwareSupervisorOptions.command}: the NIC and
 * address the image gets) and may wait for a resource before each boot
 * ({@link FirmwareSupervisorOptions.beforeBoot}). Events: `boot` (a {@link RunningFirmware}, or
 * undefined when nothing could boot), `confirm` (slot), `exit` (the firmware's exit code or signal).
 *
 * Its watchdog and stop grace are timers of the owner's scheduler
 * ({@link FirmwareSupervisorOptions.scheduler}, a started real-clock one for real processes).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { BOOT_CONTROL_ENV, EXIT_REBOOT, unpackImage } from '@postern/firmware';
import type { BootTarget, ImageManifest, SimulatedBootloader } from '@postern/firmware';
import type { SchedulerApi, Timer } from '@postern/irq';
import { BoardError, listenError } from './errors.js';

/** Default trial watchdog: a trial image must confirm within this time. */
export const DEFAULT_TRIAL_TIMEOUT_MS = 60_000;
/** Resets in a row without a confirmation after which the board stays in its bootloader. */
export const MAX_RESETS_WITHOUT_CONFIRM = 3;
const STOP_GRACE_MS = 3_000;

/** The firmware process the board runs. */
export interface RunningFirmware {
  readonly slot: number;
  readonly trial: boolean;
  readonly manifest: ImageManifest;
  readonly pid: number | undefined;
}

/** What {@link FirmwareSupervisorOptions.command} receives: the booted image, unpacked. */
export interface UnpackedFirmware {
  readonly target: BootTarget;
  /** The directory the image was unpacked into (the process's working directory). */
  readonly directory: string;
  /** The image's entry module. */
  readonly entryPath: string;
  /** The image's default configuration, written as JSON. */
  readonly configPath: string;
}

/** Options of a {@link FirmwareSupervisor}. */
export interface FirmwareSupervisorOptions {
  /** The scheduler whose timers run the trial watchdog and the stop grace (started, real clock, for real processes). */
  scheduler: SchedulerApi;
  /** Where images are unpacked (one subdirectory per slot). */
  workDirectory: string;
  /** The arguments after the entry path: the default is `--config CONFIG`; boards add `--nic` and `--ip`. */
  command: (image: UnpackedFirmware) => readonly string[];
  /** Called after the image is unpacked, before its process starts (e.g. to provide modules beside it). */
  prepare?: (image: UnpackedFirmware) => void;
  /** Extra environment of the firmware process. */
  env?: (image: UnpackedFirmware) => Record<string, string>;
  /** Awaited after the old firmware stopped and before the next boot (e.g. until its NIC is free). */
  beforeBoot?: () => Promise<void>;
  /** Trial watchdog in ms; 0 disables it. Default {@link DEFAULT_TRIAL_TIMEOUT_MS}. */
  trialTimeoutMs?: number;
  /** Log lines (`board: ...`, and the firmware's output as `firmware: ...`). Default nowhere. */
  log?: (line: string) => void;
}

/** Supervises the firmware a bootloader boots. See the module contract. */
export class FirmwareSupervisor extends EventEmitter {
  /** The firmware now running, if any. */
  firmware: RunningFirmware | undefined;
  /** The loopback bootloader endpoint the firmware confirms to (set by {@link listenControl}). */
  controlEndpoint = '';
  private child: ChildProcess | undefined;
  private stopping = false;
  private chain: Promise<void> = Promise.resolve();
  private resetsWithoutConfirm = 0;
  private watchdog: Timer | undefined;
  private readonly servers = new Set<Server>();
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(
    /** The bootloader whose slots this board boots. */
    readonly bootloader: SimulatedBootloader,
    private readonly supervisorOptions: FirmwareSupervisorOptions,
  ) {
    super();
    bootloader.onReboot = () => void this.reset('reboot requested by the host');
    bootloader.onConfirm = (slot) => {
      this.resetsWithoutConfirm = 0;
      this.watchdog?.cancel();
      if (this.firmware !== undefined) this.firmware = { ...this.firmware, trial: false };
      this.log(`slot ${slot} confirmed`);
      this.emit('confirm', slot);
    };
  }

  /** Logs `board: line`. */
  protected log(line: string): void {
    this.supervisorOptions.log?.(`board: ${line}`);
  }

  /** Offers the control endpoint on 127.0.0.1 (any free port). Call once before the first {@link reset}. */
  async listenControl(): Promise<void> {
    const { url } = await this.listenBootloader('127.0.0.1', 0, 'the control endpoint');
    this.controlEndpoint = url;
  }

  /**
   * A TCP server whose every connection speaks to the bootloader. It takes several connections at
   * once (requests are atomic), so a host that reconnects right after closing is never refused.
   * Closed by {@link FirmwareSupervisor.closeSupervisor}.
   * @throws {@link BoardError} `ADDRESS_IN_USE`, `PERMISSION_DENIED`, `BAD_ARGUMENT`.
   */
  async listenBootloader(host: string, port: number, what: string): Promise<{ server: Server; url: string }> {
    const server = createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => {});
      this.sockets.add(socket);
      const detach = this.bootloader.attach(socket);
      socket.once('close', () => {
        detach();
        this.sockets.delete(socket);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(listenError(err, what)));
      server.listen({ host, port }, () => resolve());
    });
    this.servers.add(server);
    const addr = server.address();
    return { server, url: `socket://${host}:${typeof addr === 'object' && addr !== null ? addr.port : port}` };
  }

  /** Resets the board now: stops the firmware and boots per the bootloader's rules. Resets run one at a time. */
  reset(reason: string): Promise<void> {
    const run = this.chain.then(() => this.doReset(reason));
    this.chain = run.catch((err: unknown) =>
      this.log(`reset failed: ${err instanceof Error ? err.message : String(err)}`),
    );
    return run;
  }

  private async doReset(reason: string): Promise<void> {
    if (this.closed) return;
    this.log(`reset: ${reason}`);
    await this.stopFirmware();
    this.bootloader.halt();
    await this.supervisorOptions.beforeBoot?.();
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
    const o = this.supervisorOptions;
    const dir = join(o.workDirectory, `slot${target.slot}`);
    rmSync(dir, { recursive: true, force: true });
    const unpacked = unpackImage(target.image, dir);
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(target.manifest.defaultConfig, null, 2));
    const image: UnpackedFirmware = { target, directory: dir, entryPath: unpacked.entryPath, configPath };
    o.prepare?.(image);
    const child = spawn(process.execPath, [unpacked.entryPath, ...o.command(image)], {
      cwd: dir,
      env: { ...process.env, ...o.env?.(image), [BOOT_CONTROL_ENV]: this.controlEndpoint, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const pipe = (s: NodeJS.ReadableStream | null): void => {
      let rest = '';
      s?.setEncoding('utf8');
      s?.on('data', (text: string) => {
        const lines = (rest + text).split('\n');
        rest = lines.pop()!;
        for (const l of lines) o.log?.(`firmware: ${l}`);
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
        this.log(
          `firmware exited (${code ?? signal}) ${this.resetsWithoutConfirm} times without a confirmation: staying in the bootloader`,
        );
        return;
      }
      void this.reset(
        code === EXIT_REBOOT ? 'reboot requested by the firmware' : `firmware exited (${code ?? signal})`,
      );
    });
    this.firmware = { slot: target.slot, trial: target.trial, manifest: target.manifest, pid: child.pid };
    this.log(
      `booted slot ${target.slot}${target.trial ? ' on trial' : ''}: ${target.manifest.name} ${target.manifest.version} build ${target.manifest.buildId}`,
    );
    const timeout = o.trialTimeoutMs ?? DEFAULT_TRIAL_TIMEOUT_MS;
    this.watchdog?.cancel();
    if (target.trial && timeout > 0) {
      this.watchdog = o.scheduler.timerAfter(timeout, () => {
        if (this.bootloader.runningOnTrial && this.child === child)
          void this.reset(`trial image not confirmed within ${timeout} ms`);
      });
    }
    this.emit('boot', this.firmware);
  }

  private async stopFirmware(): Promise<void> {
    this.watchdog?.cancel();
    const child = this.child;
    this.firmware = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    try {
      await new Promise<void>((resolve) => {
        const kill = this.supervisorOptions.scheduler.timerAfter(STOP_GRACE_MS, () => child.kill('SIGKILL'));
        child.once('exit', () => {
          kill.cancel();
          resolve();
        });
        child.kill('SIGTERM');
      });
    } finally {
      this.stopping = false;
    }
  }

  /** Stops the firmware and the bootloader endpoints (after any reset under way). Idempotent. Does not close the bootloader. */
  async closeSupervisor(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await this.stopFirmware();
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.servers].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    this.servers.clear();
  }
}

/** Throws {@link BoardError} `BAD_ARGUMENT` unless `ms` is a whole number of milliseconds >= 0. */
export function checkTrialTimeout(ms: number | undefined): void {
  if (ms !== undefined && !(Number.isInteger(ms) && ms >= 0))
    throw new BoardError('BAD_ARGUMENT', `trial timeout wants milliseconds >= 0, got ${ms}`);
}
