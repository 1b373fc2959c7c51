/**
 * Memory of idle keep-alive connections: the shipped `postern-gateway` (bin/postern-gateway.mjs) on a
 * TAP device inside a namespace this benchmark makes, the Linux kernel there as the client, holding
 * {@link IDLE_CONNECTIONS} connections that each made one request and stay open (kept alive, idle).
 *
 * | figure | reference |
 * |---|---|
 * | the gateway's resident set (VmRSS) with the connections open, MiB | Node's own `http` (a child process in the same namespace, on its loopback) holding the same connections |
 *
 * A companion row gives the growth per connection (RSS with the connections minus RSS before them).
 * Each sample starts a fresh server (its config raises the idle timeout and the connection caps so
 * nothing is closed while measured), opens the connections with a Python client of plain kernel
 * sockets (apps/gateway/test/support/hostile-clients.py, `hold` mode, run with `ip netns exec`),
 * reads `/proc/PID/status`, then closes everything. The bin runs the bundle `npm ci` (or
 * `npm run build:bins`) built. Bounded: {@link IDLE_CONNECTIONS} connections, each client run limited
 * to {@link CLIENT_LIMIT_S} s, one sample per figure after a warm-up; needs root (skips without).
 * The client raises its own descriptor limit; nothing is raised globally.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetLab, netlabSkipReason, uniqueName } from '@postern/netlab';
import type { Benchmark, Figure } from './harness.js';
import { stopChild } from './http-servers.js';

/** Idle keep-alive connections held per sample. */
export const IDLE_CONNECTIONS = 10_000;
/** Bound of one client run (opening, the requests, holding), s. */
export const CLIENT_LIMIT_S = 180;

const BIN = fileURLToPath(new URL('../../../apps/gateway/bin/postern-gateway.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../../apps/gateway/test/support/hostile-clients.py', import.meta.url));
const GATEWAY_IP = '198.18.9.1';
const KERNEL_IP = '198.18.9.2';
const NODE_IP = '127.0.0.1';

/** The Node reference server: answers every request, keeps connections for 10 minutes. */
const NODE_SERVER = [
  "const http = require('node:http');",
  "const s = http.createServer((q, r) => r.end('hello\\n'));",
  's.keepAliveTimeout = 600000; s.headersTimeout = 600000; s.requestTimeout = 0; s.timeout = 0;',
  `s.listen(80, '${NODE_IP}', () => console.log('listening'));`,
].join('\n');

interface Rig {
  lab: NetLab;
  ns?: string;
  tap?: string;
  dir?: string;
  config?: string;
  children: Set<ChildProcess>;
}
let rig: Rig | undefined;
/** Growth per connection of the last sample of each server, KB. */
const growth = { gateway: Number.NaN, node: Number.NaN };

function needRig(): Required<Rig> {
  const r = rig;
  if (r?.ns === undefined || r.tap === undefined || r.dir === undefined || r.config === undefined)
    throw new Error('idle-connections: sampled before setup');
  return r as Required<Rig>;
}

/** Resident set of `pid` in MiB (VmRSS, which the kernel reports in KiB). */
function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`idle-connections: no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Starts `argv` inside the namespace and resolves once its stdout matched `ready` (30 s bound). */
function startInNamespace(argv: string[], ready: RegExp): Promise<ChildProcess> {
  const r = needRig();
  const child = spawn('ip', ['netns', 'exec', r.ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  r.children.add(child);
  child.once('exit', () => r.children.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`idle-connections: ${argv[1] ?? argv[0]} not ready in 30 s: ${err}`)),
      30_000,
    );
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle-connections: ${argv[1] ?? argv[0]} exited (${code}): ${err}`));
    });
  });
}

/** SIGTERM (`ip netns exec` execs the program, so the child is the program itself), SIGKILL after 2 s. */
const stop = (child: ChildProcess): Promise<void> => stopChild({ child, stderr: () => '' });

/**
 * One sample: `server` started, its RSS read, {@link IDLE_CONNECTIONS} kept-alive connections opened
 * by the kernel's client to `host`, the RSS read again; everything stopped. Resolves with the RSS
 * holding the connections (MiB) and stores the growth per connection.
 */
async function holdSample(
  server: () => Promise<ChildProcess>,
  host: string,
  which: keyof typeof growth,
): Promise<number> {
  const r = needRig();
  const srv = await server();
  let client: ChildProcess | undefined;
  try {
    const before = rssMiB(srv.pid!);
    client = spawn(
      'ip',
      [
        'netns',
        'exec',
        r.ns,
        'python3',
        CLIENT,
        'hold',
        host,
        '80',
        '--count',
        String(IDLE_CONNECTIONS),
        '--limit-s',
        String(CLIENT_LIMIT_S),
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    r.children.add(client);
    const held = await new Promise<{ opened: number; answered: number; [other: string]: unknown }>(
      (resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(
          () => reject(new Error(`idle-connections: the client did not report in ${CLIENT_LIMIT_S} s`)),
          (CLIENT_LIMIT_S + 10) * 1000,
        );
        client!.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as { opened: number; answered: number });
          }
        });
        client!.stderr!.on('data', (c: Buffer) => (err += c.toString()));
        client!.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`idle-connections: the client exited (${code}): ${err}`));
        });
      },
    );
    if (held.opened !== IDLE_CONNECTIONS || held.answered !== IDLE_CONNECTIONS) {
      throw new Error(
        `idle-connections: ${which} answered ${held.answered} of ${held.opened} opened, not ${IDLE_CONNECTIONS}: ${JSON.stringify(held)}`,
      );
    }
    const after = rssMiB(srv.pid!);
    growth[which] = ((after - before) * 1024) / IDLE_CONNECTIONS;
    return after;
  } finally {
    client?.stdin?.end();
    if (client !== undefined) await stop(client);
    await stop(srv);
  }
}

const gatewayServer = (): Promise<ChildProcess> => {
  const r = needRig();
  return startInNamespace(
    [
      process.execPath,
      BIN,
      '--config',
      r.config,
      '--nic',
      `tap:${r.tap}`,
      '--ip',
      `${GATEWAY_IP}/24`,
      '--www',
      r.dir,
      '--http-port',
      '80',
    ],
    /^listening on /m,
  );
};
const nodeServer = (): Promise<ChildProcess> => startInNamespace([process.execPath, '-e', NODE_SERVER], /^listening$/m);

/** The `idle-connections` benchmark (see the module comment). */
export const idleConnectionsBenchmark: Benchmark = {
  name: 'idle-connections',
  description: `RSS of the shipped postern-gateway (TAP, the kernel as client) holding ${IDLE_CONNECTIONS.toLocaleString('en')} idle keep-alive connections, beside Node http holding the same`,
  maxSamples: 1,
  skipReason: () => netlabSkipReason({ needTap: true, programs: ['python3'] }),
  async setup(): Promise<void> {
    rig = { lab: new NetLab({ disableIpv6: true }), children: new Set() };
    const r = rig;
    r.dir = mkdtempSync(join(tmpdir(), 'postern-idle-bench-'));
    writeFileSync(join(r.dir, 'index.html'), 'hello\n');
    r.config = join(r.dir, 'gateway.json');
    writeFileSync(
      r.config,
      JSON.stringify({
        http: {
          idleTimeoutMs: 600_000,
          maxConnections: IDLE_CONNECTIONS + 1000,
          maxConnectionsPerClient: IDLE_CONNECTIONS + 1000,
        },
      }),
    );
    r.ns = await r.lab.namespace();
    const tap = uniqueName('t');
    await r.lab.exec(r.ns, 'ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    r.lab.adopt(tap, r.ns);
    await r.lab.setAddress(tap, `${KERNEL_IP}/24`, r.ns);
    await r.lab.linkUp(tap, r.ns);
    r.tap = tap;
  },
  async teardown(): Promise<void> {
    const r = rig;
    rig = undefined;
    if (r === undefined) return;
    for (const child of [...r.children]) await stop(child);
    await r.lab.cleanup();
    if (r.dir !== undefined) rmSync(r.dir, { recursive: true, force: true });
  },
  figures(): Figure[] {
    return [
      {
        name: `gateway RSS, ${IDLE_CONNECTIONS.toLocaleString('en')} idle keep-alive connections`,
        unit: 'MiB',
        sample: () => holdSample(gatewayServer, GATEWAY_IP, 'gateway'),
        reference: { name: 'Node http, same connections', sample: () => holdSample(nodeServer, NODE_IP, 'node') },
        // The gateway's budget: under 200 MiB with 10,000 idle connections.
        target: { atMost: 200 },
        companions: [
          {
            name: 'RSS growth per idle connection',
            unit: 'KB/conn',
            read: () => growth.gateway,
            readReference: () => growth.node,
          },
        ],
      },
    ];
  },
};
