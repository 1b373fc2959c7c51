/**
 * The serial path (docs/device-protocol.md): the frame codec alone, the driver and board through a
 * real pseudo-terminal with the real `serialport` package, and goodput against a paced line.
 *
 * Two parts, because the harness's samplers are synchronous and a PTY is not:
 * - {@link serialCodecBenchmark} (registered in `benchmarks.ts`): encode + decode of one wire frame
 *   (64 B and 1500 B, FCS included) through `encodeSerialFrame` and `SerialFrameDecoder`, in MB/s and
 *   frames/s, beside serialport's own SLIP codec (`SlipEncoder` + `SlipDecoder`) on the same frames.
 *   SLIP checks nothing; our decoder also verifies the Ethernet FCS and a header CRC.
 * - {@link serialBenchmarks} (async; run it with the command in tools/bench/README.md): through a socat
 *   PTY pair, host -> board and board -> host, unpaced, beside raw bytes through the same kind of PTY
 *   with serialport on both ends; and goodput when the board paces itself to a line rate (1 MB/s, USB
 *   full speed CDC-ACM), as a share of that rate.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '@postern/irq';
import { SerialBoard, SerialFrameDecoder, SerialNicDriver, encodeSerialFrame, maxEncodedLength, serialProtocol } from '@postern/nic';
import { writeFcs, writeMac } from '@postern/wire';
import { SerialPort, SlipDecoder, SlipEncoder } from 'serialport';
import { throughputSampler, type Benchmark, type Figure } from './harness.js';

/** A wire frame of `length` bytes (FCS included) with deterministic contents, to 02:00:00:00:00:0b. */
function benchFrame(length: number, seed = 1): Uint8Array {
  const f = new Uint8Array(length);
  writeMac(f, 0, 0x02_00_00_00_00_0b);
  writeMac(f, 6, 0x02_00_00_00_00_01);
  f[12] = 0x08;
  let x = 0x2545f491 ^ seed;
  for (let i = 14; i < length - 4; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    f[i] = x >>> 24;
  }
  writeFcs(f);
  return f;
}

/** One encode + decode of `frame` per call through the Postern codec; returns the decoded length. */
function codecRoundTrip(frame: Uint8Array): () => number {
  const out = new Uint8Array(maxEncodedLength(frame.length));
  let decoded = 0;
  const decoder = new SerialFrameDecoder({ onFrame: (f) => (decoded = f.payload.length) });
  const spec = { type: serialProtocol.FrameType.DATA, flags: 0, seq: 0, payload: frame };
  return () => {
    decoded = 0;
    const end = encodeSerialFrame(spec, out, 0);
    decoder.push(out.subarray(0, end));
    if (decoded !== frame.length) throw new Error('codec round trip lost the frame');
    return decoded;
  };
}

/** One encode + decode through serialport's SLIP transforms, called directly (no stream machinery). */
function slipRoundTrip(frame: Uint8Array): () => number {
  const encoder = new SlipEncoder();
  const decoder = new SlipDecoder();
  let decoded = 0;
  (decoder as unknown as { push: (b: Buffer) => boolean }).push = (b) => {
    decoded = b.length;
    return true;
  };
  const chunk = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let encoded: Buffer = Buffer.alloc(0);
  const onEncoded = (_e: unknown, b?: Buffer): void => {
    encoded = b!;
  };
  const noop = (): void => {};
  return () => {
    decoded = 0;
    encoder._transform(chunk, 'latin1', onEncoded);
    decoder._transform(encoded, 'latin1', noop);
    if (decoded !== frame.length) throw new Error('SLIP round trip lost the frame');
    return decoded;
  };
}

/** Encode + decode throughput of the serial codec beside serialport's SLIP codec. */
export const serialCodecBenchmark: Benchmark = {
  name: 'serial-codec',
  description: 'serial protocol codec (COBS + header CRC-8 + FCS check) encode+decode of one frame, beside serialport SLIP on the same frame',
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const size of [64, 1500]) {
      const frame = benchFrame(size);
      const ours = codecRoundTrip(frame);
      const slip = slipRoundTrip(frame);
      figures.push(
        { name: `codec ${size} B MB/s`, unit: 'MB/s', sample: throughputSampler(size, ours), reference: { name: `SLIP ${size} B`, sample: throughputSampler(size, slip) } },
        // 1e6 "bytes" per call: the MB/s sampler then reports calls per second.
        { name: `codec ${size} B frames/s`, unit: 'frames/s', sample: (ms) => throughputSampler(1e6, ours)(ms), reference: { name: `SLIP ${size} B`, sample: (ms) => throughputSampler(1e6, slip)(ms) } },
      );
    }
    return figures;
  },
};

/** One figure of {@link serialBenchmarks}. */
export interface SerialLinkFigure {
  /** What was measured. */
  readonly name: string;
  /** Ethernet frames per second delivered. */
  readonly framesPerSecond: number;
  /** Ethernet bytes (FCS included) per second delivered, in MB/s (10^6). */
  readonly megabytesPerSecond: number;
  /** For paced runs: delivered Ethernet bytes / (line rate x time). */
  readonly shareOfLineRate?: number;
  /** The reference measured in the same run, if any: raw bytes through the same kind of PTY. */
  readonly referenceMegabytesPerSecond?: number;
  /** Frames lost (sent and never delivered), which must be 0. */
  readonly lost: number;
}

/** Options of {@link serialBenchmarks}. */
export interface SerialBenchOptions {
  /** Duration of each measurement in ms. Default 2000. */
  durationMs?: number;
  /** Modelled line rate for the paced figures, bytes per second. Default 1,000,000 (USB full speed). */
  lineRate?: number;
}

interface Pty {
  host: string;
  board: string;
  close(): Promise<void>;
}

async function openPty(): Promise<Pty> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-pty-'));
  const host = join(dir, 'host');
  const board = join(dir, 'board');
  const child = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${board}`], { stdio: 'ignore' });
  for (let i = 0; i < 300 && !(existsSync(host) && existsSync(board)); i++) await sleep(10);
  if (!(existsSync(host) && existsSync(board))) throw new Error('socat did not create a PTY pair (install it: tools/scripts/install-peers.sh)');
  return {
    host,
    board,
    close: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function openPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 921_600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  // Writes still queued when a run stops fail with "Port is not open" after the close; that is expected.
  port.on('error', () => {});
  return port;
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/** Raw bytes host -> board through a PTY with serialport on both ends, 4 KiB writes, for `durationMs`. */
async function rawPty(durationMs: number): Promise<number> {
  const pty = await openPty();
  const [a, b] = [await openPort(pty.host), await openPort(pty.board)];
  let got = 0;
  b.on('data', (d: Buffer) => (got += d.length));
  const chunk = Buffer.alloc(4096, 0x55);
  const t0 = performance.now();
  let writing = true;
  const pump = (): void => {
    while (writing && a.write(chunk));
    if (writing) a.once('drain', pump);
  };
  pump();
  await sleep(durationMs);
  writing = false;
  const seconds = (performance.now() - t0) / 1000;
  const rate = got / 1e6 / seconds;
  await closePort(a);
  await closePort(b);
  await pty.close();
  return rate;
}

/**
 * Frames through the driver and a board on a PTY for `durationMs`: `direction` host->board (the host
 * keeps its TX queue full) or board->host (the wire side keeps the board's queue full).
 */
async function framedPty(direction: 'host->board' | 'board->host', size: number, durationMs: number, lineRate?: number): Promise<SerialLinkFigure> {
  const sched = new Scheduler({ clock: 'real' });
  sched.start();
  const pty = await openPty();
  const port = await openPort(pty.board);
  let wireFrames = 0;
  let wireBytes = 0;
  const board = new SerialBoard({
    stream: port,
    scheduler: sched,
    mac: 0x02_00_00_00_00_0b,
    toWire: (f) => {
      wireFrames++;
      wireBytes += f.length;
    },
    window: 32,
    upQueueFrames: 512,
    ...(lineRate !== undefined ? { lineRateBytesPerSecond: lineRate } : {}),
  });
  board.start();
  const driver = new SerialNicDriver({ endpoint: pty.host, scheduler: sched, txQueueFrames: 512 });
  let hostFrames = 0;
  let hostBytes = 0;
  driver.onReceive((f) => {
    hostFrames++;
    hostBytes += f.length;
  });
  await driver.open();
  const frame = benchFrame(size);
  let running = true;
  const t0 = performance.now();
  const refill = (): void => {
    if (!running) return;
    if (direction === 'host->board') {
      while (driver.transmit(frame));
    } else {
      while (board.fromWire(frame));
    }
    setImmediate(refill);
  };
  refill();
  await sleep(durationMs);
  running = false;
  const seconds = (performance.now() - t0) / 1000;
  const frames = direction === 'host->board' ? wireFrames : hostFrames;
  const bytes = direction === 'host->board' ? wireBytes : hostBytes;
  // Let what is in flight arrive before counting losses.
  const sentNow = (): number => (direction === 'host->board' ? driver.stats.txFrames : board.stats.rxFrames);
  for (let i = 0; i < 100 && (direction === 'host->board' ? wireFrames : hostFrames) < sentNow(); i++) await sleep(20);
  const delivered = direction === 'host->board' ? wireFrames : hostFrames;
  // Frames that left the sender (queued ones never went out when the run stopped).
  const sent = direction === 'host->board' ? driver.stats.txFrames : board.stats.rxFrames;
  await driver.close();
  board.stop();
  await closePort(port);
  await pty.close();
  sched.stop();
  const name = `${direction} ${size} B through serialport on a PTY${lineRate !== undefined ? `, board paced to ${lineRate / 1e6} MB/s` : ''}`;
  return {
    name,
    framesPerSecond: frames / seconds,
    megabytesPerSecond: bytes / 1e6 / seconds,
    ...(lineRate !== undefined ? { shareOfLineRate: bytes / (lineRate * seconds) } : {}),
    lost: sent - delivered,
  };
}

/**
 * The PTY and goodput figures (async; not part of the synchronous harness). Takes about
 * 10 x `durationMs`. Needs socat.
 */
export async function serialBenchmarks(options: SerialBenchOptions = {}): Promise<SerialLinkFigure[]> {
  const ms = options.durationMs ?? 2000;
  const rate = options.lineRate ?? 1_000_000;
  const out: SerialLinkFigure[] = [];
  const raw = await rawPty(ms);
  for (const size of [64, 1500]) {
    for (const dir of ['host->board', 'board->host'] as const) out.push({ ...(await framedPty(dir, size, ms)), referenceMegabytesPerSecond: raw });
  }
  for (const size of [1500, 64]) {
    for (const dir of ['host->board', 'board->host'] as const) out.push(await framedPty(dir, size, ms, rate));
  }
  return out;
}
