/**
 * TCP sending under loss and reordering: seconds for the kernel's `curl` to download a file
 * byte-exact (SHA-256) from `postern-gateway` (the executable, on a TAP device, as a user starts
 * it), beside Node `http` on the Linux kernel as the sender, both behind the same fault-injecting
 * bridge (`@postern/netlab`'s `FaultBridge`, its own process) with the same seed: sample k of the
 * figure and sample k of the reference use seed k, so each pair meets the same fault sequence
 * (the same fates for the same frame numbers).
 *
 * Topology (addresses from 198.18.0.0/15, only inside namespaces made here):
 *
 *   client ns: curl, TAP tC 198.18.30.200 -- fault bridge (Node) -- TAP tS -+- Linux bridge (root ns, no address, no IPv6)
 *                                                                          +- TAP tG: Postern 198.18.30.1
 *                                                                          +- veth: server ns, Node http 198.18.30.2
 *
 * The wire bridge and the TAPs on it stay in the root namespace, up before anything writes to
 * them: a TAP moved into a namespace goes down, and the TAP driver takes a failed write (EIO on a
 * down device) for a dead link. The bridge's TAPs are made fresh for each sample (a TAP is
 * attached by name before its client side moves into the client namespace; the bridge holds its
 * frames until both sides are up), with a fixed MAC on the client side so nobody's ARP cache goes
 * stale; the client has permanent neighbour entries for both servers (an ARP request lost to the
 * faults would cost a second of ARP retry that has nothing to do with TCP).
 *
 * Figures (lower is better; the ratio is Postern / Linux):
 * - `no faults`: the bridge forwards everything (each sender's ceiling on this path, for reading
 *   the others);
 * - `2% loss`: each frame lost with probability 0.02, both ways;
 * - `reorder+dup`: 10% of frames held back (released behind the next frame, at most 3 ms later)
 *   and 2% duplicated, both ways.
 * Companions: the gateway's retransmission timeouts, recovery episodes, tail loss probes and
 * spurious undos per download, from its `/api/tcp` counters (before and after; NaN when the admin
 * API does not answer).
 *
 * Bounded: {@link TCP_LOSS_BENCH_BYTES} per download, curl's `--max-time`, a few samples.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TCP_CONGESTION } from '@postern/gateway';
import { DEFAULT_TAP_MAC } from '@postern/nic';
import { macToString } from '@postern/wire';
import {
  NetLab,
  ip,
  netlabSkipReason,
  patternBytes,
  runCommand,
  sha256Hex,
  sha256OfFile,
  startFaultBridgeProcess,
  type FaultBridgeStats,
} from '@postern/netlab';
import type { FaultProfile } from '@postern/nic';
import type { Benchmark, Companion, Figure } from './harness.js';
import { BIG_BODY_BYTES, BIG_PATH, startPosternServer, type PosternServer } from './http-servers.js';

/**
 * Which Postern sender: `gateway` (default: the postern-gateway executable) or `in-process` (the
 * stack and `@postern/http` in the bench's own process, serving {@link BIG_BODY_BYTES} of `a`: for
 * when the executable cannot run here).
 */
const SERVER_MODE = process.env['TCP_LOSS_BENCH_SERVER'] === 'in-process' ? 'in-process' : 'gateway';

/**
 * The Linux sender's congestion control, set in the server namespace only:
 * `TCP_LOSS_BENCH_LINUX_CC` when given; else the same family as Postern's ({@link POSTERN_CC}):
 * `bbr` beside a BBR sender, and beside a loss-based one `cubic` if the kernel lets a namespace
 * choose it (`net.ipv4.tcp_allowed_congestion_control`), else `reno`, which it always does. So the
 * figures compare like with like: BBR (model-based, it does not slow down for random loss) beside
 * CUBIC would make the 2% figure a comparison of the algorithms, not of the senders.
 */
const LINUX_CC_REQUESTED = process.env['TCP_LOSS_BENCH_LINUX_CC'];

/**
 * The gateway's congestion control (its config's `tcp.congestion`): `TCP_LOSS_BENCH_GATEWAY_CC`
 * (`bbr`, `cubic` or `newreno`) when given, else the gateway's default. Pair `bbr` with
 * `TCP_LOSS_BENCH_LINUX_CC=bbr` and `cubic` with the loss-based reference.
 */
const GATEWAY_CC = process.env['TCP_LOSS_BENCH_GATEWAY_CC'];
if (GATEWAY_CC !== undefined && !['bbr', 'cubic', 'newreno'].includes(GATEWAY_CC)) {
  throw new Error(`TCP_LOSS_BENCH_GATEWAY_CC must be bbr, cubic or newreno, got ${GATEWAY_CC}`);
}

/**
 * Postern's congestion control: the gateway's ({@link GATEWAY_CC}, else the gateway's own default
 * {@link DEFAULT_TCP_CONGESTION}), or the stack's default `cubic` in process.
 */
const POSTERN_CC = SERVER_MODE === 'in-process' ? 'cubic' : (GATEWAY_CC ?? DEFAULT_TCP_CONGESTION);

/** Bytes of each download (64 MiB: the measurement). */
export const TCP_LOSS_BENCH_BYTES =
  SERVER_MODE === 'in-process' ? BIG_BODY_BYTES : Number(process.env['TCP_LOSS_BENCH_MIB'] ?? 64) * 1024 * 1024;
/** Samples per figure and per reference, after one warm-up each. */
export const TCP_LOSS_BENCH_SAMPLES = 3;
/** curl's `--max-time` for one download, s. */
const CURL_MAX_S = 120;

const GATEWAY_BIN = fileURLToPath(new URL('../../../apps/gateway/bin/postern-gateway.mjs', import.meta.url));
const POSTERN_IP = '198.18.30.1';
const LINUX_IP = '198.18.30.2';
const CLIENT_IP = '198.18.30.200';
const CLIENT_MAC = '02:50:53:54:30:c8';
const PREFIX = 24;

/** The fault profiles measured, both directions. */
export const TCP_LOSS_PROFILES: ReadonlyArray<{ readonly name: string; readonly faults: FaultProfile }> = [
  { name: '2% loss', faults: { lossRate: 0.02 } },
  { name: 'reorder 10% (3 ms) + dup 2%', faults: { reorderRate: 0.1, reorderHoldMs: 3, duplicateRate: 0.02 } },
  // The bridge alone: each sender's ceiling on this path, in the same run (last, so the seeds of
  // the others stay).
  { name: 'no faults', faults: {} },
];

/** A Node `http` static server of one file, in a namespace. */
const NODE_FILE_SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const body = fs.readFileSync(process.argv[1]);
http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
}).listen(80, '0.0.0.0', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
`;

function waitLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`${what}: not ready in ${timeoutMs} ms: ${err.trim()}`)),
      timeoutMs,
    );
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString('utf8');
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited (${code ?? signal}): ${err.trim()}`));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** What the gateway's TCP counters (`/api/tcp`) moved by during one download. */
type SenderCounters = Record<string, number>;

/** The shared setup: namespaces, the wire bridge, both servers, the file (exported for debugging a run by hand). */
export class LossLab {
  readonly lab = new NetLab({ disableIpv6: true });
  nsClient = '';
  nsServer = '';
  wireBridge = '';
  dir = '';
  file = '';
  sha = '';
  gateway: ChildProcess | undefined;
  linux: ChildProcess | undefined;
  /** Per sample: the bridge's counters and the gateway's, for the companions. */
  lastBridge: FaultBridgeStats | undefined;
  lastSender: SenderCounters | undefined;
  /** Per Linux sample: the server namespace's retransmission timeouts (`TcpExt TCPTimeouts`) during it. */
  lastLinuxRtos = Number.NaN;
  private baseline: SenderCounters | undefined;

  async setup(): Promise<void> {
    const lab = this.lab;
    this.dir = await mkdtemp(join(tmpdir(), 'postern-tcp-loss-'));
    this.file = join(this.dir, 'bulk.bin');
    const body =
      SERVER_MODE === 'in-process'
        ? new Uint8Array(TCP_LOSS_BENCH_BYTES).fill(97)
        : patternBytes(TCP_LOSS_BENCH_BYTES, 0x1055);
    this.sha = sha256Hex(body);
    await writeFile(this.file, body);
    this.nsClient = await lab.namespace();
    this.nsServer = await lab.namespace();
    // Per namespace since Linux 4.15: only the reference sender's sockets are concerned.
    const allowed = (await lab.exec(this.nsServer, 'sysctl', ['-n', 'net.ipv4.tcp_allowed_congestion_control'])).stdout
      .trim()
      .split(/\s+/);
    this.linuxCc = LINUX_CC_REQUESTED ?? (POSTERN_CC === 'bbr' ? 'bbr' : allowed.includes('cubic') ? 'cubic' : 'reno');
    await lab.exec(this.nsServer, 'sysctl', ['-q', '-w', `net.ipv4.tcp_congestion_control=${this.linuxCc}`]);
    process.stderr.write(`tcp-loss: the Linux sender runs ${this.linuxCc}\n`);
    this.wireBridge = await lab.bridge();
    await runCommand('sysctl', ['-q', '-w', `net.ipv6.conf.${this.wireBridge}.disable_ipv6=1`]).catch(() => undefined);
    // Linux: a veth from the server namespace into the wire bridge.
    const [vWire, vServer] = await lab.veth();
    await lab.setMaster(vWire, this.wireBridge);
    await lab.linkUp(vWire);
    const linuxMac = await lab.moveAndConfigure(vServer, this.nsServer, { address: `${LINUX_IP}/${PREFIX}` });
    await lab.addNeighbour(vServer, CLIENT_IP, CLIENT_MAC, this.nsServer);
    this.linux = spawn('ip', ['netns', 'exec', this.nsServer, process.execPath, '-e', NODE_FILE_SERVER, this.file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitLine(this.linux, /^ready$/m, 'node http');
    // Postern on its own TAP, on the wire bridge and up before Postern opens it.
    const tg = await lab.tap();
    await lab.setMaster(tg, this.wireBridge);
    await lab.linkUp(tg);
    if (SERVER_MODE === 'in-process') {
      this.inProcess = await startPosternServer(tg, macToString(DEFAULT_TAP_MAC), POSTERN_IP, PREFIX);
    } else {
      const config: string[] = [];
      if (GATEWAY_CC !== undefined) {
        const file = join(this.dir, 'gateway.json');
        await writeFile(file, JSON.stringify({ tcp: { congestion: GATEWAY_CC } }));
        config.push('--config', file);
      }
      process.stderr.write(`tcp-loss: the gateway runs ${POSTERN_CC}\n`);
      this.gateway = spawn(
        process.execPath,
        [GATEWAY_BIN, ...config, '--nic', `tap:${tg}`, '--ip', `${POSTERN_IP}/${PREFIX}`, '--www', this.dir],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      await waitLine(this.gateway, /^listening on /m, 'postern-gateway', 60_000);
    }
    this.postern = macToString(DEFAULT_TAP_MAC);
    this.linuxMac = linuxMac;
  }

  postern = '';
  linuxMac = '';
  /** The Linux sender's congestion control (see {@link LINUX_CC_REQUESTED}). */
  linuxCc = '';
  inProcess: PosternServer | undefined;

  async teardown(): Promise<void> {
    await stop(this.gateway);
    await this.inProcess?.close().catch(() => undefined);
    await stop(this.linux);
    await this.lab.cleanup();
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** The server namespace's `TcpExt TCPTimeouts` (its retransmission timeouts so far), NaN if unreadable. */
  private async linuxTimeouts(): Promise<number> {
    const r = await this.lab.tryExec(this.nsServer, 'cat', ['/proc/net/netstat']);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('TcpExt:'));
    if (r.code !== 0 || lines.length < 2) return Number.NaN;
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    const at = names.indexOf('TCPTimeouts');
    return at < 0 ? Number.NaN : Number(values[at]);
  }

  private async senderCounters(): Promise<SenderCounters | undefined> {
    if (this.inProcess !== undefined) return undefined;
    const r = await this.lab.tryExec(
      this.nsClient,
      'curl',
      ['-sS', '--max-time', '5', `http://${POSTERN_IP}/api/tcp`],
      { timeoutMs: 10_000 },
    );
    if (r.code !== 0) return undefined;
    try {
      const c = (JSON.parse(r.stdout) as { counters?: Record<string, number> }).counters;
      return c !== undefined && typeof c['rtoExpiries'] === 'number' ? c : undefined;
    } catch {
      return undefined;
    }
  }

  /** One download through a fresh bridge with `seed` and `faults`; resolves with curl's total time, s. */
  async download(server: 'postern' | 'linux', seed: number, faults: FaultProfile): Promise<number> {
    const lab = this.lab;
    const tc = await lab.tap();
    const ts = await lab.tap();
    await lab.setMaster(ts, this.wireBridge);
    await lab.linkUp(ts);
    const bridge = await startFaultBridgeProcess({ tapA: tc, tapB: ts, seed, faults, hold: true });
    const out = join(this.dir, `got-${server}.bin`);
    try {
      await ip(['link', 'set', 'dev', tc, 'address', CLIENT_MAC]);
      await lab.moveAndConfigure(tc, this.nsClient, { address: `${CLIENT_IP}/${PREFIX}` });
      await lab.addNeighbour(tc, POSTERN_IP, this.postern, this.nsClient);
      await lab.addNeighbour(tc, LINUX_IP, this.linuxMac, this.nsClient);
      await bridge.go();
      const target = server === 'postern' ? POSTERN_IP : LINUX_IP;
      if (server === 'postern') {
        this.baseline = await this.senderCounters();
        this.lastSender = undefined;
      }
      const linuxRtosBefore = server === 'linux' ? await this.linuxTimeouts() : Number.NaN;
      this.lastLinuxRtos = Number.NaN;
      const r = await lab.tryExec(
        this.nsClient,
        'curl',
        [
          '-sS',
          '--max-time',
          String(CURL_MAX_S),
          '-o',
          out,
          '-w',
          '%{http_code} %{size_download} %{time_total}',
          `http://${target}${SERVER_MODE === 'in-process' ? BIG_PATH : '/bulk.bin'}`,
        ],
        { timeoutMs: (CURL_MAX_S + 10) * 1000 },
      );
      if (r.code !== 0) throw new Error(`curl from ${server} failed (${r.code}): ${r.stderr.trim()}`);
      const [code, size, total] = r.stdout.trim().split(' ');
      if (code !== '200' || Number(size) !== TCP_LOSS_BENCH_BYTES)
        throw new Error(`curl from ${server}: status ${code}, ${size} bytes`);
      if ((await sha256OfFile(out)) !== this.sha) throw new Error(`curl from ${server}: the bytes differ (SHA-256)`);
      if (server === 'linux') this.lastLinuxRtos = (await this.linuxTimeouts()) - linuxRtosBefore;
      if (server === 'postern') {
        const after = await this.senderCounters();
        const base = this.baseline;
        this.lastSender =
          after !== undefined && base !== undefined
            ? Object.fromEntries(
                Object.keys(after)
                  .map((k) => [k, after[k]! - (base[k] ?? 0)])
                  .filter(([, v]) => v !== 0),
              )
            : undefined;
      }
      return Number(total);
    } finally {
      this.lastBridge = await bridge.stop();
      await rm(out, { force: true });
      await lab.tryExec(this.nsClient, 'ip', ['link', 'del', 'dev', tc]);
      await ip(['link', 'del', 'dev', ts]).catch(() => undefined);
    }
  }
}

let shared: LossLab | undefined;

function figures(): Figure[] {
  return TCP_LOSS_PROFILES.map((profile, index) => {
    let posternSeed = 1000 * (index + 1);
    let linuxSeed = 1000 * (index + 1);
    const counter = (name: string, label: string, unit: string): Companion => ({
      name: `${profile.name}: gateway ${label} per download`,
      unit,
      read: () => (shared?.lastSender === undefined ? Number.NaN : (shared.lastSender[name] ?? 0)),
    });
    // The RTOs are the target; recoveries, probes and undos tell where the time went.
    const companions = [
      // Beside Linux's own RTOs on the same path (a stall of the user-space bridge delays every ACK).
      { ...counter('rtoExpiries', 'RTOs', 'RTOs'), readReference: () => shared?.lastLinuxRtos ?? Number.NaN },
      counter('fastRecoveries', 'recovery episodes', 'episodes'),
      counter('tailLossProbes', 'tail loss probes', 'probes'),
      counter('spuriousUndos', 'spurious undos', 'undos'),
    ];
    return {
      name: `${profile.name}: ${TCP_LOSS_BENCH_BYTES / 1024 / 1024} MiB from postern-gateway (${POSTERN_CC})`,
      unit: 's',
      sample: () => shared!.download('postern', posternSeed++, profile.faults),
      reference: {
        name: `Node http on Linux (${LINUX_CC_REQUESTED ?? (POSTERN_CC === 'bbr' ? 'bbr' : 'cubic, else reno')}), same faults and seed`,
        sample: () => shared!.download('linux', linuxSeed++, profile.faults),
      },
      companions,
    };
  });
}

/** See the module comment. */
export const tcpLossBenchmark: Benchmark = {
  name: 'tcp-loss',
  description:
    'seconds to download byte-exact from postern-gateway behind a seeded fault bridge (loss; reordering + duplication), beside Node http on Linux behind the same faults and seeds',
  figures,
  sampleMs: 1,
  maxSamples: TCP_LOSS_BENCH_SAMPLES,
  skipReason: () => netlabSkipReason({ needTap: true, programs: ['curl'] }),
  async setup() {
    shared = new LossLab();
    await shared.setup();
  },
  async teardown() {
    await shared?.teardown();
    shared = undefined;
  },
};
