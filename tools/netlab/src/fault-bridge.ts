/**
 * {@link FaultBridge}: a user-space Ethernet bridge between two TAP devices that drops, duplicates,
 * reorders, delays and rate-limits frames from a seed, in both directions. It is the lab's
 * fault-injecting path (the kernel has no netem and no tc drop actions): put it between a client
 * namespace and a server side, and every sender behind it (the Linux kernel, Postern) meets the
 * same kind of faults.
 *
 * It is built from the NIC package's parts, not new ones: each TAP is a `TapNicDriver`, wrapped in a
 * `FaultInjectionDriver` whose transmit direction carries the faults of the frames leaving through
 * that TAP; a frame read from one side is transmitted on the other. Each direction draws its fates
 * from its own seeded generator, so the same seed and the same frames give the same fates.
 *
 * {@link runFaultBridgeProcess} (and `fault-bridge-main.ts`) runs one as its own process, so the
 * bridge never competes with the program under test for a JavaScript thread.
 */
/**
 * Faults of one direction: the fields of the NIC package's `FaultProfile` (the bridge hands them to
 * its `FaultInjectionDriver` as they are). Rates are probabilities in [0, 1].
 */
export interface FaultProfile {
  /** Probability that a frame is lost. */
  lossRate?: number;
  /** Probability that a frame is corrupted (bits flipped). */
  corruptRate?: number;
  /** Probability that a frame is delivered twice. */
  duplicateRate?: number;
  /** Probability that a frame is held back behind the next one. */
  reorderRate?: number;
  /** Longest wait of a held frame, ms. */
  reorderHoldMs?: number;
  /** Added one-way latency, ms. */
  latencyMs?: number;
  /** Rate limit, bits per second. */
  bitsPerSecond?: number;
  /** Frames that may wait in the latency / rate-limit queue. */
  queueCapacity?: number;
}

/** What the faults did to the frames of one direction (the NIC package's `FaultCounters`). */
export interface FaultCounters {
  frames: number;
  lost: number;
  corrupted: number;
  duplicated: number;
  reordered: number;
  droppedQueueFull: number;
  droppedLinkDown: number;
}

/** The driver surface the bridge uses (a `FaultInjectionDriver` over a `TapNicDriver`). */
interface BridgeDriver {
  readonly faults: { readonly tx: FaultCounters };
  open(): Promise<void>;
  close(): Promise<void>;
  transmit(frame: Uint8Array): boolean;
  onReceive(receiver: (frame: Uint8Array) => void): void;
}

/** The scheduler surface the bridge uses. */
interface BridgeScheduler {
  start(): void;
  stop(): void;
}

interface RandomSource {
  random(): number;
  randomUint32(): number;
}

/** The parts of the NIC and IRQ packages the bridge builds on. */
interface BridgeParts {
  nic: {
    TapNicDriver: new (options: { ifname: string }) => object;
    FaultInjectionDriver: new (
      inner: object,
      scheduler: object,
      options: { name: string; tx: FaultProfile },
    ) => BridgeDriver;
  };
  irq: {
    Scheduler: new (options: { clock: 'real'; seed: number }) => BridgeScheduler;
    SeededRandom: new (seed: number) => RandomSource;
  };
}

/**
 * Loads the NIC and IRQ packages when a bridge opens. The lab does not depend on them (their own
 * tests use the lab, and a dependency back would make a cycle); in the workspace they resolve.
 */
async function loadParts(): Promise<BridgeParts> {
  const nicName: string = '@postern/nic';
  const irqName: string = '@postern/irq';
  return { nic: (await import(nicName)) as BridgeParts['nic'], irq: (await import(irqName)) as BridgeParts['irq'] };
}

/** Options of a {@link FaultBridge}. */
export interface FaultBridgeOptions {
  /** The TAP device of side A (it must exist: `NetLab.tap()`). */
  tapA: string;
  /** The TAP device of side B. */
  tapB: string;
  /** Seed of the fault generators. */
  seed: number;
  /** Faults of both directions. */
  faults?: FaultProfile;
  /** Faults of frames going from A to B (override `faults` field by field). */
  aToB?: FaultProfile;
  /** Faults of frames going from B to A. */
  bToA?: FaultProfile;
  /**
   * Drop every frame until {@link FaultBridge.go} is called (default false: forward at once). A TAP
   * must be attached in the root namespace before it moves, and a frame written to it while it is
   * down there fails and takes the driver's link down: hold until both sides are configured.
   */
  hold?: boolean;
}

/** What the bridge did, per direction. */
export interface FaultBridgeStats {
  /** Frames from A to B: what entered and what the faults did. */
  aToB: FaultCounters;
  /** Frames from B to A. */
  bToA: FaultCounters;
}

/** A scheduler view with its own seeded generator (the fates depend on the seed and the frames only). */
function ownRandom(inner: object, rng: RandomSource): object {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key === 'random') return () => rng.random();
      if (key === 'randomUint32') return () => rng.randomUint32();
      const v = Reflect.get(target, key, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * `transmit` takes wire frames (the last 4 bytes are the FCS, dropped unchecked on a TAP). A driver
 * that reports `fcs: 'none'` delivers frames without those 4 bytes: they are added back (zeros) so
 * the frame's payload survives the crossing.
 */
function withFcsRoom(from: object, frame: Uint8Array): Uint8Array {
  if ((from as { fcs?: unknown }).fcs !== 'none') return frame;
  const padded = new Uint8Array(frame.byteLength + 4);
  padded.set(frame);
  return padded;
}

/** A running bridge. See the module comment. */
export class FaultBridge {
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly scheduler: BridgeScheduler,
    private readonly sideA: BridgeDriver,
    private readonly sideB: BridgeDriver,
  ) {}

  /**
   * Attaches to both TAP devices and starts forwarding.
   * @throws RangeError for a bad fault rate; the NIC's typed error when a TAP cannot be had.
   */
  static async open(options: FaultBridgeOptions): Promise<FaultBridge> {
    const { nic, irq } = await loadParts();
    const scheduler = new irq.Scheduler({ clock: 'real', seed: options.seed });
    const base = options.faults ?? {};
    const tapA = new nic.TapNicDriver({ ifname: options.tapA });
    const tapB = new nic.TapNicDriver({ ifname: options.tapB });
    const toA = new nic.FaultInjectionDriver(
      tapA,
      ownRandom(scheduler, new irq.SeededRandom((options.seed * 2 + 1) >>> 0)),
      {
        name: `bridge:${options.tapA}`,
        tx: { ...base, ...options.bToA },
      },
    );
    const toB = new nic.FaultInjectionDriver(
      tapB,
      ownRandom(scheduler, new irq.SeededRandom((options.seed * 2 + 2) >>> 0)),
      {
        name: `bridge:${options.tapB}`,
        tx: { ...base, ...options.aToB },
      },
    );
    scheduler.start();
    try {
      await toA.open();
      await toB.open();
    } catch (err) {
      await toA.close().catch(() => undefined);
      await toB.close().catch(() => undefined);
      scheduler.stop();
      throw err;
    }
    const bridge = new FaultBridge(scheduler, toA, toB);
    bridge.forwarding = options.hold !== true;
    toA.onReceive((frame) => {
      if (bridge.forwarding) toB.transmit(withFcsRoom(tapA, frame));
      else bridge.heldDrops++;
    });
    toB.onReceive((frame) => {
      if (bridge.forwarding) toA.transmit(withFcsRoom(tapB, frame));
      else bridge.heldDrops++;
    });
    return bridge;
  }

  /** Whether frames are forwarded (false while held, see {@link FaultBridgeOptions.hold}). */
  forwarding = true;
  /** Frames dropped while held. */
  heldDrops = 0;

  /** Starts forwarding (after {@link FaultBridgeOptions.hold}). */
  go(): void {
    this.forwarding = true;
  }

  /** Counters of both directions (live). */
  get stats(): FaultBridgeStats {
    return { aToB: { ...this.sideB.faults.tx }, bToA: { ...this.sideA.faults.tx } };
  }

  /** Stops forwarding and releases both TAP devices. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.sideA.close();
      await this.sideB.close();
      this.scheduler.stop();
    })();
    return this.closed;
  }
}

/** Parses a fault rate or time from a command-line value; `undefined` when absent. */
function numberFlag(args: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const v = args.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(v.trim() !== '' && Number.isFinite(n) && n >= min && n <= max))
    throw new FaultBridgeUsageError(`--${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** A bad command line of the bridge process (exit 2 with its message). */
export class FaultBridgeUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultBridgeUsageError';
  }
}

/** Flags of the bridge process, with the {@link FaultProfile} field each sets (both directions). */
const PROFILE_FLAGS: ReadonlyArray<readonly [string, keyof FaultProfile, number, number]> = [
  ['loss', 'lossRate', 0, 1],
  ['duplicate', 'duplicateRate', 0, 1],
  ['reorder', 'reorderRate', 0, 1],
  ['reorder-hold-ms', 'reorderHoldMs', 0, 10_000],
  ['latency-ms', 'latencyMs', 0, 10_000],
  ['rate-bps', 'bitsPerSecond', 1, 1e12],
  ['queue', 'queueCapacity', 1, 1_000_000],
  ['corrupt', 'corruptRate', 0, 1],
];

/**
 * Parses `--a TAP --b TAP --seed N [--hold yes|no] [--loss R] [--duplicate R] [--reorder R] [--reorder-hold-ms MS]
 * [--latency-ms MS] [--rate-bps N] [--queue N] [--corrupt R]` (faults for both directions).
 * @throws {@link FaultBridgeUsageError} naming the flag that is wrong.
 */
export function parseFaultBridgeArgs(argv: readonly string[]): FaultBridgeOptions {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!flag.startsWith('--')) throw new FaultBridgeUsageError(`unexpected argument ${JSON.stringify(flag)}`);
    const value = argv[i + 1];
    if (value === undefined) throw new FaultBridgeUsageError(`${flag} needs a value`);
    args.set(flag.slice(2), value);
    i++;
  }
  const known = new Set(['a', 'b', 'seed', 'hold', ...PROFILE_FLAGS.map((f) => f[0])]);
  for (const k of args.keys()) if (!known.has(k)) throw new FaultBridgeUsageError(`unknown flag --${k}`);
  const tapA = args.get('a');
  const tapB = args.get('b');
  if (tapA === undefined || tapB === undefined)
    throw new FaultBridgeUsageError('--a and --b (the two TAP devices) are required');
  const seed = numberFlag(args, 'seed', 0, 0xffff_ffff) ?? 1;
  if (!Number.isInteger(seed)) throw new FaultBridgeUsageError(`--seed must be an integer, got ${args.get('seed')}`);
  const faults: FaultProfile = {};
  for (const [flag, field, min, max] of PROFILE_FLAGS) {
    const v = numberFlag(args, flag, min, max);
    if (v !== undefined) (faults as Record<string, number>)[field] = v;
  }
  const hold = args.get('hold');
  if (hold !== undefined && hold !== 'yes' && hold !== 'no')
    throw new FaultBridgeUsageError(`--hold must be yes or no, got ${JSON.stringify(hold)}`);
  return { tapA, tapB, seed, faults, hold: hold === 'yes' };
}

/** The line the bridge process prints once it forwards. */
export const FAULT_BRIDGE_READY = 'fault-bridge: ready';
/** The line the bridge process prints once a held bridge got `go` and forwards. */
export const FAULT_BRIDGE_FORWARDING = 'fault-bridge: forwarding';
/** The prefix of the line with its {@link FaultBridgeStats} (JSON) that it prints when it stops. */
export const FAULT_BRIDGE_STATS_PREFIX = 'fault-bridge: stats ';

/**
 * The bridge as a process: parses `argv`, opens the bridge, prints {@link FAULT_BRIDGE_READY} (with
 * `--hold yes` it then forwards once a line `go` arrives on stdin, and prints {@link FAULT_BRIDGE_FORWARDING}), and on
 * SIGTERM or SIGINT stops reading stdin, prints its stats and resolves with exit code 0. A bad command line resolves
 * with 2 after one line on stderr naming the flag; a TAP that cannot be had with 1.
 */
export async function runFaultBridgeProcess(argv: readonly string[]): Promise<number> {
  let options: FaultBridgeOptions;
  try {
    options = parseFaultBridgeArgs(argv);
  } catch (err) {
    process.stderr.write(`fault-bridge: ${(err as Error).message}\n`);
    return err instanceof FaultBridgeUsageError ? 2 : 1;
  }
  let bridge: FaultBridge;
  try {
    bridge = await FaultBridge.open(options);
  } catch (err) {
    process.stderr.write(`fault-bridge: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${FAULT_BRIDGE_READY}\n`);
  if (options.hold === true) {
    // A line `go` on stdin starts forwarding.
    let input = '';
    process.stdin.setEncoding('utf8');
    const onInput = (chunk: string): void => {
      input += chunk;
      if (!/^go$/m.test(input)) return;
      process.stdin.off('data', onInput);
      bridge.go();
      process.stdout.write(`${FAULT_BRIDGE_FORWARDING}\n`);
    };
    process.stdin.on('data', onInput);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  // An open stdin would keep the process alive after the bridge closed (until the parent's SIGKILL).
  process.stdin.destroy();
  const stats = bridge.stats;
  await bridge.close();
  process.stdout.write(`${FAULT_BRIDGE_STATS_PREFIX}${JSON.stringify(stats)}\n`);
  return 0;
}

/** The bridge program's source file (run with `node --conditions=@postern/source --import tsx`). */
export const FAULT_BRIDGE_MAIN = new URL('./fault-bridge-main.ts', import.meta.url);

/** A bridge running as a child process ({@link startFaultBridgeProcess}). */
export interface FaultBridgeProcess {
  /** Its process id. */
  readonly pid: number | undefined;
  /** How the process ended (its exit code, or the signal that ended it); undefined while it runs. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /**
   * Starts forwarding when it was started with `hold`, and resolves once the bridge says it forwards
   * (frames that reach a held bridge are dropped); resolves at once for a bridge started without `hold`. Rejects if it exits first or does not answer in
   * {@link FAULT_BRIDGE_START_LIMIT_MS}.
   */
  go(): Promise<void>;
  /**
   * Stops it (SIGTERM, SIGKILL after {@link FAULT_BRIDGE_STOP_LIMIT_MS}) and resolves, once its output
   * is read to the end, with its counters (undefined if it printed none).
   */
  stop(): Promise<FaultBridgeStats | undefined>;
}

/** Turns {@link FaultBridgeOptions} into the bridge program's command line. */
export function faultBridgeArgs(options: FaultBridgeOptions): string[] {
  const args = ['--a', options.tapA, '--b', options.tapB, '--seed', String(options.seed)];
  if (options.hold === true) args.push('--hold', 'yes');
  const f = options.faults ?? {};
  for (const [flag, field] of PROFILE_FLAGS) {
    const v = f[field];
    if (v !== undefined) args.push(`--${flag}`, String(v));
  }
  return args;
}

/**
 * How long {@link startFaultBridgeProcess} waits for the bridge to attach: a bound, not a speed
 * claim (the process compiles its TypeScript on start, which a loaded two-core machine has been
 * seen to take over 30 s to do).
 */
export const FAULT_BRIDGE_START_LIMIT_MS = 90_000;

/** How long {@link FaultBridgeProcess.stop} waits after SIGTERM before SIGKILL (a bound for a starved process). */
export const FAULT_BRIDGE_STOP_LIMIT_MS = 15_000;

/**
 * Starts the bridge as its own process between two existing TAP devices (attach before moving them
 * into namespaces: a TAP is attached by name in the root namespace) and resolves once it is attached
 * (and forwarding, unless `hold`: then call `go()` once both sides are up). Only `faults` applies
 * (the same faults both ways). Rejects if it exits or is not ready in {@link FAULT_BRIDGE_START_LIMIT_MS}.
 */
export async function startFaultBridgeProcess(options: FaultBridgeOptions): Promise<FaultBridgeProcess> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = spawn(
    process.execPath,
    ['--conditions=@postern/source', '--import', 'tsx', fileURLToPath(FAULT_BRIDGE_MAIN), ...faultBridgeArgs(options)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr!.on('data', (c: Buffer) => {
    if (err.length < 16_384) err += c.toString('utf8');
  });
  let exit: FaultBridgeProcess['exit'];
  child.once('exit', (code, signal) => {
    exit = { code, signal };
  });
  // 'close': the process exited and its output is read to the end ('exit' may come before the last lines).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  /** Resolves once `line` is in the output; rejects if the process ends first or after `limitMs`. */
  const waitLine = (line: string, what: string, limitMs: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.stdout!.off('data', check);
        reject(new Error(`fault bridge not ${what} within ${limitMs / 1000} s: ${err.trim()}`));
      }, limitMs);
      const check = (): void => {
        if (!out.includes(line)) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      };
      child.stdout!.on('data', check);
      check();
      void closed.then(() => {
        clearTimeout(timer);
        reject(
          new Error(`fault bridge exited (${child.exitCode ?? child.signalCode}) before it was ${what}: ${err.trim()}`),
        );
      });
    });
  try {
    await waitLine(FAULT_BRIDGE_READY, 'ready', FAULT_BRIDGE_START_LIMIT_MS);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    pid: child.pid,
    get exit() {
      return exit;
    },
    go() {
      if (options.hold !== true) return Promise.resolve();
      child.stdin!.write('go\n');
      return waitLine(FAULT_BRIDGE_FORWARDING, 'forwarding', FAULT_BRIDGE_START_LIMIT_MS);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), FAULT_BRIDGE_STOP_LIMIT_MS);
      await closed;
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(FAULT_BRIDGE_STATS_PREFIX));
      return line === undefined
        ? undefined
        : (JSON.parse(line.slice(FAULT_BRIDGE_STATS_PREFIX.length)) as FaultBridgeStats);
    },
  };
}
