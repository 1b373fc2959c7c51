/**
 * The serial path (docs/device-protocol.md): the frame codec alone, the driver and board through a
 * real pseudo-terminal with the real `serialport` package, and goodput against a paced line.
 *
 * - {@link serialCodecBenchmark}: encode + decode of one wire frame (64 B and 1500 B, FCS included)
 *   through `encodeSerialFrame` and `SerialFrameDecoder`, in MB/s and frames/s, beside serialport's
 *   own SLIP codec (`SlipEncoder` + `SlipDecoder`) on the same frames. SLIP checks nothing; our
 *   decoder also verifies the Ethernet FCS and a header CRC.
 * - {@link serialLinkBenchmark} (async): through a socat PTY pair, host -> board and board -> host,
 *   unpaced, beside raw bytes through the same kind of PTY with serialport on both ends.
 * - {@link serialGoodputBenchmark} (async): goodput when the board paces itself to a line rate
 *   (1 MB/s, USB full speed CDC-ACM), as a share of that rate, beside raw bytes paced alike.
 *
 * The PTYs are local (socat); nothing leaves the machine. Needs socat, else the link rows say skipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '@postern/irq';
import {
  SerialBoard,
  SerialFrameDecoder,
  SerialNicDriver,
  encodeSerialFrame,
  fixSerialPortPoller,
  maxEncodedLength,
  serialProtocol,
} from '@postern/nic';
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
  description:
    'serial protocol codec (COBS + header CRC-8 + FCS check) encode+decode of one frame, beside serialport SLIP on the same frame',
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const size of [64, 1500]) {
      const frame = benchFrame(size);
      const ours = codecRoundTrip(frame);
      const slip = slipRoundTrip(frame);
      const framesPerSecond = (mbps: number) => (mbps * 1e6) / size;
      figures.push({
        name: `codec ${size} B MB/s`,
        unit: 'MB/s',
        sample: throughputSampler(size, ours),
        reference: { name: `SLIP ${size} B`, sample: throughputSampler(size, slip) },
        companions: [
          { name: `codec ${size} B frames/s`, unit: 'frames/s', read: framesPerSecond, readReference: framesPerSecond },
        ],
      });
    }
    return figures;
  },
};

/** Time a load runs before a sample's window opens, so that start-up (an empty pipe, a full token bucket) is not measured. */
const LEAD_IN_MS = 60;
/** Longest wait for the frames or bytes in flight to arrive after a sample. */
const DRAIN_LIMIT_MS = 3000;
/** The modelled line rate of the paced figures: USB full speed CDC-ACM, bytes per second. */
export const SERIAL_BENCH_LINE_RATE = 1_000_000;
/** Goodput target for full-size frames on the paced line, as a share of the line rate in percent. */
export const SERIAL_GOODPUT_TARGET_PCT = 90;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Pty {
  host: string;
  board: string;
  close(): Promise<void>;
}

/** A socat PTY pair (two linked pseudo-terminals); nothing leaves the machine. */
async function openPty(): Promise<Pty> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-pty-'));
  const host = join(dir, 'host');
  const board = join(dir, 'board');
  const child = spawn('socat', [`pty,raw,echo=0,link=${host}`, `pty,raw,echo=0,link=${board}`], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  for (let i = 0; i < 300 && !exited && !(existsSync(host) && existsSync(board)); i++)
    await Promise.race([sleep(10), spawnError]);
  if (!(existsSync(host) && existsSync(board))) {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw new Error('socat did not create a PTY pair (install it: tools/scripts/install-peers.sh)');
  }
  return {
    host,
    board,
    close: () =>
      new Promise((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (exited) return done();
        child.once('exit', done);
        child.kill('SIGTERM');
      }),
  };
}

async function openPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 921_600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  // The binding's poller forgets a waiting write when a read starts waiting (see packages/nic serial/poller-wakeups.ts).
  fixSerialPortPoller(port);
  // Writes still queued when a run stops fail with "Port is not open" after the close; that is expected.
  port.on('error', () => {});
  return port;
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/** Waits until `settled()` holds (polling), at most {@link DRAIN_LIMIT_MS}. */
async function drain(settled: () => boolean): Promise<void> {
  for (let waited = 0; waited < DRAIN_LIMIT_MS && !settled(); waited += 10) await sleep(10);
}

type Direction = 'host->board' | 'board->host';

/** What the last sample of a framed or raw sampler saw besides its rate (read by companions). */
interface LastSample {
  framesPerSecond: number;
  megabytesPerSecond: number;
  lost: number;
}

/** A SerialNicDriver and a SerialBoard joined by a PTY pair, with serialport on both ends. */
interface FramedRig {
  readonly sched: Scheduler;
  readonly pty: Pty;
  readonly port: SerialPort;
  readonly board: SerialBoard;
  readonly driver: SerialNicDriver;
  wireFrames: number;
  wireBytes: number;
  hostFrames: number;
  hostBytes: number;
}

async function openFramedRig(queueFrames: number, lineRate?: number): Promise<FramedRig> {
  const sched = new Scheduler({ clock: 'real' });
  sched.start();
  const pty = await openPty();
  const port = await openPort(pty.board);
  const rig: Partial<FramedRig> & { wireFrames: number; wireBytes: number; hostFrames: number; hostBytes: number } = {
    sched,
    pty,
    port,
    wireFrames: 0,
    wireBytes: 0,
    hostFrames: 0,
    hostBytes: 0,
  };
  const board = new SerialBoard({
    stream: port,
    scheduler: sched,
    mac: 0x02_00_00_00_00_0b,
    toWire: (f: Uint8Array) => {
      rig.wireFrames++;
      rig.wireBytes += f.length;
    },
    window: 32,
    upQueueFrames: queueFrames,
    ...(lineRate !== undefined ? { lineRateBytesPerSecond: lineRate } : {}),
  });
  board.start();
  const driver = new SerialNicDriver({ endpoint: pty.host, scheduler: sched, txQueueFrames: queueFrames });
  driver.onReceive((f: Uint8Array) => {
    rig.hostFrames++;
    rig.hostBytes += f.length;
  });
  Object.assign(rig, { board, driver });
  try {
    await driver.open();
  } catch (err) {
    await closeFramedRig(rig as FramedRig);
    throw err;
  }
  return rig as FramedRig;
}

async function closeFramedRig(rig: FramedRig): Promise<void> {
  await rig.driver?.close();
  rig.board?.stop();
  await closePort(rig.port);
  await rig.pty.close();
  rig.sched.stop();
}

/**
 * One sample of frames through a framed rig: the sender's queue is kept full (host->board: the
 * driver's TX queue; board->host: the board's queue toward the host) for the lead-in plus `budgetMs`;
 * the frames and Ethernet bytes delivered in the `budgetMs` window give the rate. Then the load
 * stops and the sample waits for what is in flight; frames sent and never delivered are `lost`.
 */
async function framedSample(
  rig: FramedRig,
  direction: Direction,
  frame: Uint8Array,
  budgetMs: number,
  last: LastSample,
): Promise<number> {
  const delivered = () => (direction === 'host->board' ? rig.wireFrames : rig.hostFrames);
  const deliveredBytes = () => (direction === 'host->board' ? rig.wireBytes : rig.hostBytes);
  // Frames that left the sender (a frame still in a queue when the load stops leaves later).
  const sent = () => (direction === 'host->board' ? rig.driver.stats.txFrames : rig.board.stats.rxFrames);
  const sent0 = sent();
  const delivered0 = delivered();
  let running = true;
  const refill = (): void => {
    if (!running) return;
    if (direction === 'host->board') {
      while (rig.driver.transmit(frame));
    } else {
      while (rig.board.fromWire(frame));
    }
    setImmediate(refill);
  };
  refill();
  await sleep(LEAD_IN_MS);
  const frames0 = delivered();
  const bytes0 = deliveredBytes();
  const t0 = performance.now();
  await sleep(budgetMs);
  const frames = delivered() - frames0;
  const bytes = deliveredBytes() - bytes0;
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  let quiet = 0;
  let seen = -1;
  // Settled: everything sent has arrived and nothing more left the sender for 50 ms (its queue is empty).
  await drain(() => {
    const now = sent();
    quiet = now === seen ? quiet + 1 : 0;
    seen = now;
    return quiet >= 5 && delivered() - delivered0 === now - sent0;
  });
  last.lost = sent() - sent0 - (delivered() - delivered0);
  last.framesPerSecond = frames / seconds;
  last.megabytesPerSecond = bytes / 1e6 / seconds;
  return last.megabytesPerSecond;
}

/** Two serialport ends of a PTY pair moving raw bytes: the reference with no protocol at all. */
interface RawRig {
  readonly pty: Pty;
  readonly writer: SerialPort;
  readonly reader: SerialPort;
  got: number;
}

async function openRawRig(): Promise<RawRig> {
  const pty = await openPty();
  try {
    const writer = await openPort(pty.host);
    const reader = await openPort(pty.board);
    const rig: RawRig = { pty, writer, reader, got: 0 };
    reader.on('data', (d: Buffer) => (rig.got += d.length));
    return rig;
  } catch (err) {
    await pty.close();
    throw err;
  }
}

async function closeRawRig(rig: RawRig): Promise<void> {
  await closePort(rig.writer);
  await closePort(rig.reader);
  await rig.pty.close();
}

const RAW_CHUNK = Buffer.alloc(4096, 0x55);

/**
 * One sample of raw bytes host -> board in 4 KiB writes: as fast as the PTY takes them, or, with
 * `lineRate`, paced by the same token bucket as the board (depth 10 ms of the rate, at least 4 KiB).
 * Returns MB/s received in the `budgetMs` window after the lead-in.
 */
async function rawSample(rig: RawRig, budgetMs: number, lineRate?: number): Promise<number> {
  let written = 0;
  const got0 = rig.got;
  let running = true;
  if (lineRate === undefined) {
    const pump = (): void => {
      while (running && rig.writer.write(RAW_CHUNK)) written += RAW_CHUNK.length;
      if (running) {
        written += RAW_CHUNK.length; // the write that returned false was still queued
        rig.writer.once('drain', pump);
      }
    };
    pump();
  } else {
    const burst = Math.max(4096, lineRate / 100);
    let tokens = burst;
    let last = performance.now();
    const tick = (): void => {
      if (!running) return;
      const now = performance.now();
      tokens = Math.min(burst, tokens + ((now - last) * lineRate) / 1000);
      last = now;
      while (tokens >= RAW_CHUNK.length) {
        rig.writer.write(RAW_CHUNK);
        written += RAW_CHUNK.length;
        tokens -= RAW_CHUNK.length;
      }
      setTimeout(tick, Math.max(0.5, ((RAW_CHUNK.length - tokens) * 1000) / lineRate));
    };
    tick();
  }
  await sleep(LEAD_IN_MS);
  const bytes0 = rig.got;
  const t0 = performance.now();
  await sleep(budgetMs);
  const bytes = rig.got - bytes0;
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  rig.writer.removeAllListeners('drain');
  await drain(() => rig.got - got0 >= written);
  return bytes / 1e6 / seconds;
}

/** The benchmark frame sizes of the link figures (wire frames, FCS included). */
const LINK_SIZES = [64, 1500] as const;
const DIRECTIONS: readonly Direction[] = ['host->board', 'board->host'];

let linkRig: { framed: FramedRig | undefined; raw: RawRig | undefined } = { framed: undefined, raw: undefined };

function requireLinkRig(): { framed: FramedRig; raw: RawRig } {
  const { framed, raw } = linkRig;
  if (framed === undefined || raw === undefined) throw new Error('serial-link bench: sampled before setup');
  return { framed, raw };
}

/** Why the PTY benchmarks cannot run here (no socat), or undefined. */
function socatSkipReason(): string | undefined {
  const probe = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  return probe.error !== undefined || probe.status !== 0 ? 'needs socat (tools/scripts/install-peers.sh)' : undefined;
}

/**
 * The serial link through a real PTY (socat) with the real `serialport` on both ends, unpaced:
 * Ethernet MB/s through SerialNicDriver and SerialBoard, host -> board and board -> host, beside raw
 * bytes through the same kind of PTY with serialport on both ends (the ceiling of the path).
 */
export const serialLinkBenchmark: Benchmark = {
  name: 'serial-link',
  description:
    'SerialNicDriver <-> SerialBoard through a socat PTY with serialport, unpaced, Ethernet MB/s beside raw serialport bytes through a PTY',
  sampleMs: 250,
  maxSamples: 5,
  skipReason: socatSkipReason,
  async setup(): Promise<void> {
    linkRig = { framed: undefined, raw: undefined };
    linkRig.framed = await openFramedRig(512);
    linkRig.raw = await openRawRig();
  },
  async teardown(): Promise<void> {
    const { framed, raw } = linkRig;
    linkRig = { framed: undefined, raw: undefined };
    if (framed !== undefined) await closeFramedRig(framed);
    if (raw !== undefined) await closeRawRig(raw);
  },
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const size of LINK_SIZES) {
      const frame = benchFrame(size);
      for (const direction of DIRECTIONS) {
        const last: LastSample = { framesPerSecond: 0, megabytesPerSecond: 0, lost: 0 };
        const name = `${direction} ${size} B`;
        figures.push({
          name: `${name} MB/s`,
          unit: 'MB/s',
          sample: (ms) => framedSample(requireLinkRig().framed, direction, frame, ms, last),
          reference: {
            name: 'raw serialport bytes through a PTY',
            sample: (ms) => rawSample(requireLinkRig().raw, ms),
          },
          companions: [
            { name: `${name} frames/s`, unit: 'frames/s', read: () => last.framesPerSecond },
            { name: `${name} frames lost`, unit: 'frames', read: () => last.lost, target: { atMost: 0 } },
          ],
        });
      }
    }
    return figures;
  },
};

let goodputRig: { framed: FramedRig | undefined; raw: RawRig | undefined } = { framed: undefined, raw: undefined };

function requireGoodputRig(): { framed: FramedRig; raw: RawRig } {
  const { framed, raw } = goodputRig;
  if (framed === undefined || raw === undefined) throw new Error('serial-goodput bench: sampled before setup');
  return { framed, raw };
}

/**
 * Goodput on a paced line: the board paces itself in both directions to {@link SERIAL_BENCH_LINE_RATE}
 * (1 MB/s, USB full speed CDC-ACM); Ethernet MB/s delivered and its share of the line rate (target:
 * at least {@link SERIAL_GOODPUT_TARGET_PCT}% for 1500-byte frames), beside raw bytes through a PTY
 * paced to the same rate by the same token-bucket rule (so the ratio is the protocol's efficiency).
 */
export const serialGoodputBenchmark: Benchmark = {
  name: 'serial-goodput',
  description: `serial link goodput with the board paced to ${SERIAL_BENCH_LINE_RATE / 1e6} MB/s (USB full speed): Ethernet MB/s and share of line rate, beside raw bytes paced alike`,
  sampleMs: 500,
  maxSamples: 5,
  skipReason: socatSkipReason,
  async setup(): Promise<void> {
    goodputRig = { framed: undefined, raw: undefined };
    // Short queues: what is queued when a sample stops drains at the line rate before the next one.
    goodputRig.framed = await openFramedRig(48, SERIAL_BENCH_LINE_RATE);
    goodputRig.raw = await openRawRig();
  },
  async teardown(): Promise<void> {
    const { framed, raw } = goodputRig;
    goodputRig = { framed: undefined, raw: undefined };
    if (framed !== undefined) await closeFramedRig(framed);
    if (raw !== undefined) await closeRawRig(raw);
  },
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const size of [1500, 64]) {
      const frame = benchFrame(size);
      for (const direction of DIRECTIONS) {
        const last: LastSample = { framesPerSecond: 0, megabytesPerSecond: 0, lost: 0 };
        const name = `paced ${direction} ${size} B`;
        const share = (mbps: number) => (100 * mbps * 1e6) / SERIAL_BENCH_LINE_RATE;
        figures.push({
          name: `${name} goodput MB/s`,
          unit: 'MB/s',
          sample: (ms) => framedSample(requireGoodputRig().framed, direction, frame, ms, last),
          reference: {
            name: `raw serialport bytes paced to ${SERIAL_BENCH_LINE_RATE / 1e6} MB/s`,
            sample: (ms) => rawSample(requireGoodputRig().raw, ms, SERIAL_BENCH_LINE_RATE),
          },
          companions: [
            {
              name: `${name} share of line rate`,
              unit: '%',
              read: share,
              readReference: share,
              ...(size === 1500 ? { target: { atLeast: SERIAL_GOODPUT_TARGET_PCT } } : {}),
            },
            { name: `${name} frames/s`, unit: 'frames/s', read: () => last.framesPerSecond },
            { name: `${name} frames lost`, unit: 'frames', read: () => last.lost, target: { atMost: 0 } },
          ],
        });
      }
    }
    return figures;
  },
};
