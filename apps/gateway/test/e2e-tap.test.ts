/**
 * End to end with the Linux kernel as the client. The device simulator runs as its own program
 * (`postern-sim --serial socket://127.0.0.1:0 --tap NAME`), bridging its segment to a TAP device;
 * the test moves the TAP's kernel side into a namespace it makes (198.18.0.200/24, on the
 * gateway's segment 198.18.0.0/24), and the gateway opens the simulated USB Ethernet device over
 * the socket (`socket://127.0.0.1:PORT`):
 *
 *   curl (netns) -> kernel -> TAP -> simulator's switch -> device -> serial byte stream -> gateway
 *   driver -> IP -> TCP -> sockets -> HTTP, and back.
 *
 * `curl` fetches the admin page from the gateway's address, reads its own connection in
 * `/api/tcp` (exact 4-tuple, ESTABLISHED; then TIME-WAIT once the gateway closed it first) and
 * downloads a large static file byte-exact (SHA-256).
 *
 * Needs root; without it every test skips with the reason in its title (CI, as root, counts a skip
 * as a failure). Every step is bounded in time; the namespace, the TAP device and the simulator
 * process are removed even when a step fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { listTcpConnections, startGateway, type Gateway } from '../src/gateway.js';
import type { TcpConnectionInfo } from '../src/status.js';
import {
  NetLab,
  netlabSkipReason,
  patternBytes,
  sha256Hex,
  sha256OfFile,
  uniqueName,
  waitForOutput,
} from '@postern/netlab';
import { stopChild } from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'curl'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const SIM_BIN = fileURLToPath(new URL('../../device-simulator/bin/postern-sim.mjs', import.meta.url));
const GATEWAY_IP = '198.18.0.1';
const KERNEL_IP = '198.18.0.200';
/** The static file's size. */
const BULK_BYTES = 64 * 1024 * 1024;
/** Bound of the bulk download (curl's --max-time), s. */
const BULK_LIMIT_S = 90;

/** Starts `postern-sim` in its own process group; resolves with its serial address once it printed `ready`. */
function startSimulator(tap: string, log: string[]): { child: ChildProcess; serial: Promise<string> } {
  const child = spawn(
    process.execPath,
    [SIM_BIN, '--serial', 'socket://127.0.0.1:0', '--tap', tap, '--gateway', GATEWAY_IP, '--host', '198.18.0.100/24'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  child.stdout!.on('data', (c: Buffer) => log.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
  const ready = waitForOutput(child, /^postern-sim: serial (socket:\/\/\S+)$[\s\S]*^postern-sim: ready$/m, {
    limitMs: 30_000,
    what: 'postern-sim',
  });
  return { child, serial: ready.then((m) => m[1]!) };
}

describe('gateway over the simulator bridged to a TAP, the kernel as the client', () => {
  const lab = new NetLab({ disableIpv6: true });
  const tap = uniqueName('t');
  lab.adopt(tap); // the simulator makes it; the cleanup removes it wherever it is by then
  const simLog: string[] = [];
  let sim: ChildProcess | undefined;
  let gw: Gateway | undefined;
  let www: string | undefined;
  let ns = '';
  let bulkSha = '';

  beforeAll(async () => {
    if (skip !== undefined) return;
    www = await mkdtemp(join(tmpdir(), 'postern-e2e-tap-'));
    const bulk = patternBytes(BULK_BYTES, 0x5eed);
    bulkSha = sha256Hex(bulk);
    await writeFile(join(www, 'bulk.bin'), bulk);
    await writeFile(join(www, 'index.html'), '<h1>postern over tap</h1>');

    const started = startSimulator(tap, simLog);
    sim = started.child;
    const serial = await started.serial;
    ns = await lab.namespace();
    await lab.moveAndConfigure(tap, ns, { address: `${KERNEL_IP}/24` });
    gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: serial, ip: `${GATEWAY_IP}/24` }],
        http: { port: 80, www },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await gw?.close().catch(() => undefined);
    await stopChild(sim);
    await lab.cleanup();
    if (www !== undefined) await rm(www, { recursive: true, force: true });
  }, 30_000);

  /** `curl` in the namespace: `-sS`, bounded; resolves with its output and exit code. */
  const curl = (args: readonly string[], limitS = 10) =>
    lab.tryExec(ns, 'curl', ['-sS', '--max-time', String(limitS), ...args], { timeoutMs: (limitS + 5) * 1000 });

  rootIt(
    title("curl in the namespace gets the admin page from the gateway's address"),
    async () => {
      const page = await curl(['-w', '\n%{http_code} %{content_type}', `http://${GATEWAY_IP}/admin/`]);
      expect(page.code, page.stderr).toBe(0);
      expect(page.stdout).toContain('<script src="/admin/app.js">');
      expect(page.stdout).toMatch(/\n200 text\/html/);
      const index = await curl([`http://${GATEWAY_IP}/`]);
      expect(index.stdout).toBe('<h1>postern over tap</h1>');
    },
    30_000,
  );

  rootIt(
    title(
      "/api/tcp shows curl's own connection ESTABLISHED with its 4-tuple, then TIME-WAIT after the gateway closed it",
    ),
    async () => {
      const tuple = (remotePort: number) => ({
        localAddress: GATEWAY_IP,
        localPort: 80,
        remoteAddress: KERNEL_IP,
        remotePort,
      });
      // HTTP/1.0: the gateway closes after the response, so its side ends in TIME-WAIT.
      const first = await curl([
        '--http1.0',
        '--local-port',
        '40100-40199',
        '-w',
        '\n%{local_port}',
        `http://${GATEWAY_IP}/api/tcp`,
      ]);
      expect(first.code, first.stderr).toBe(0);
      const split = first.stdout.lastIndexOf('\n');
      const firstPort = Number(first.stdout.slice(split + 1));
      const listed = JSON.parse(first.stdout.slice(0, split)) as { connections: TcpConnectionInfo[] };
      expect(listed.connections).toContainEqual({ ...tuple(firstPort), state: 'ESTABLISHED' });
      // curl may exit before the gateway has taken the kernel's FIN: wait for that (bounded).
      const deadline = Date.now() + 5_000;
      while (
        !listTcpConnections(gw!.tcp).some((c) => c.remotePort === firstPort && c.state === 'TIME-WAIT') &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 5));
      }

      const second = await curl(['--local-port', '40200-40299', '-w', '\n%{local_port}', `http://${GATEWAY_IP}/api/`]);
      expect(second.code, second.stderr).toBe(0);
      const split2 = second.stdout.lastIndexOf('\n');
      const secondPort = Number(second.stdout.slice(split2 + 1));
      const status = JSON.parse(second.stdout.slice(0, split2)) as {
        tcp: { timeWait: number; connections: TcpConnectionInfo[] };
      };
      expect(status.tcp.connections).toContainEqual({ ...tuple(firstPort), state: 'TIME-WAIT' });
      expect(status.tcp.connections).toContainEqual({ ...tuple(secondPort), state: 'ESTABLISHED' });
      expect(status.tcp.timeWait).toBeGreaterThanOrEqual(1);
    },
    60_000,
  );

  rootIt(
    title(`curl downloads a ${BULK_BYTES / 1024 / 1024} MiB static file byte-exact (SHA-256)`),
    async () => {
      const out = join(www!, 'downloaded.bin');
      const r = await curl(
        ['-o', out, '-w', '%{http_code} %{size_download} %{speed_download}', `http://${GATEWAY_IP}/bulk.bin`],
        BULK_LIMIT_S,
      );
      expect(r.code, `${r.stderr}\n${simLog.join('')}`).toBe(0);
      const [code, size, speed] = r.stdout.trim().split(' ');
      expect(code).toBe('200');
      expect(Number(size)).toBe(BULK_BYTES);
      expect(await sha256OfFile(out)).toBe(bulkSha);
      // The rate, for whoever reads the log (no assertion: speed targets live in tools/bench).
      console.info(`e2e-tap: ${BULK_BYTES} bytes at ${(Number(speed) / 1e6).toFixed(1)} MB/s`);
    },
    (BULK_LIMIT_S + 30) * 1000,
  );
});
