/**
 * TCP against the Linux kernel, in bulk: the kernel's `curl` and `nc` and our stack exchange 64 MiB
 * in each direction through a TAP device whose kernel side lives in a namespace the test makes,
 * with a seeded `FaultInjectionDriver` around the TAP driver dropping 2% of the frames in both
 * directions. Every transfer is compared by SHA-256, and each is run in both close orders (our
 * side closes first; the kernel closes first), checked on both ends: our connection's path to
 * CLOSED (TIME-WAIT only for the side that closed first) and the kernel's `ss` TIME-WAIT list.
 *
 * Needs root; without it every test skips with the reason in its title (CI, as root, counts a
 * skip as a failure).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason, sha256OfFile } from '@postern/netlab';
import { KernelLab } from './support/kernel-lab.js';
import {
  STACK_IP,
  describeEnd,
  serveHashSink,
  serveHttp,
  tcpLab,
  type ServedConnection,
  type TcpLab,
} from './support/kernel-tcp.js';
import { patternBytes, sha256 } from './support/tcp-net.js';

const skip = await netlabSkipReason({
  needTap: true,
  programs: ['python3', 'curl', 'nc', 'ss', 'sha256sum', 'timeout', 'bash'],
});
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const SIZE = 64 * 1024 * 1024;
const LOSS = 0.02;
/** Bound of one 64 MiB transfer (the kernel-side command is killed after it). */
const TRANSFER_LIMIT_S = 120;

let lab = new KernelLab();
let current: TcpLab | undefined;
let tempDir: string | undefined;

afterEach(async () => {
  current?.sched.stop();
  current = undefined;
  await lab.cleanup();
  lab = new KernelLab();
  if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  tempDir = undefined;
});

async function setup(seed: number): Promise<TcpLab> {
  current = await tcpLab(lab, seed, LOSS);
  return current;
}

/** A file of SIZE random bytes in a fresh temp dir, and its digest. */
async function randomFile(l: TcpLab): Promise<{ path: string; digest: string }> {
  tempDir = await mkdtemp(join(tmpdir(), 'pst-tcp-'));
  const path = join(tempDir, 'upload.bin');
  const made = await lab.tryExec(l.tap.ns, 'bash', ['-c', `head -c ${SIZE} /dev/urandom > ${path}`], {
    timeoutMs: 30_000,
  });
  if (made.code !== 0) throw new Error(`cannot make ${path}: ${made.stderr}`);
  return { path, digest: await sha256OfFile(path) };
}

/** The kernel's TIME-WAIT sockets between it and the stack (`ss` in the namespace). */
async function kernelTimeWait(l: TcpLab): Promise<string[]> {
  const r = await lab.exec(l.tap.ns, 'ss', ['-Htan', 'state', 'time-wait']);
  return r.stdout.split('\n').filter((line) => line.includes(STACK_IP));
}

/**
 * Waits (bounded) until our connection closed, then checks who closed first and who went through
 * TIME-WAIT. The wait comes first: the kernel-side command may exit before its FIN reached our
 * connection (still on its way through the TAP, or dropped by the fault injection and
 * retransmitted by the kernel about an RTO later).
 */
async function expectCloseOrder(l: TcpLab, s: ServedConnection, oursFirst: boolean, info: string): Promise<void> {
  // Ours first: we hold TIME-WAIT and the kernel does not; kernel first: the reverse, and our
  // connection reaches CLOSED through LAST-ACK.
  const ended = await eventually(
    () => (oursFirst ? s.conn.state === 'TIME-WAIT' : s.closed && s.conn.state === 'CLOSED'),
    10_000,
  );
  expect(s.peerClosedFirst, `who closed first: ${describeEnd(s)}; ${info}`).toBe(!oursFirst);
  expect(ended, `our end: ${describeEnd(s)}; ${info}`).toBe(true);
  expect(s.conn.closeReason, `${describeEnd(s)}; ${info}`).toBe('normal');
  expect(l.tcp.timeWaitCount, info).toBe(oursFirst ? 1 : 0);
  const kernelWaits = (await kernelTimeWait(l)).length;
  if (oursFirst || l.tcp.counters.get('resetsSent') === 0) expect(kernelWaits, info).toBe(oursFirst ? 0 : 1);
  // Kernel first, with loss: when a duplicate of our FIN (a tail-loss probe or a retransmission whose
  // original got through) draws a second ACK from the kernel's TIME-WAIT after our connection reached
  // CLOSED, we answer that ACK with a reset as RFC 9293 requires, and Linux (tcp_rfc1337 = 0) ends its
  // TIME-WAIT on it. Only then may the kernel's TIME-WAIT be gone.
  else expect(kernelWaits, info).toBeLessThanOrEqual(1);
}

function report(what: string, l: TcpLab, s: ServedConnection, ms: number): string {
  const f = l.fault?.faults;
  const st = s.conn.stats;
  const line =
    `${what}: ${(ms / 1000).toFixed(1)} s (${(SIZE / 1e6 / (ms / 1000)).toFixed(1)} MB/s); dropped tx ${f?.tx.lost}/${f?.tx.frames}, rx ${f?.rx.lost}/${f?.rx.frames}; ` +
    `retransmits ${st.retransmits}, stats ${JSON.stringify(st)}; tcp ${JSON.stringify(l.tcp.counters.counters().filter((c) => c.value > 0))}; tap ${JSON.stringify(l.tap.driver.stats)} ${JSON.stringify(l.tap.driver.ringStats)}; dev ${JSON.stringify(l.tap.device.stats)}`;
  console.log(line);
  return line;
}

describe('TCP against the Linux kernel: 64 MiB each way through a TAP with 2% loss both ways', () => {
  for (const oursFirst of [true, false]) {
    const order = oursFirst ? 'our side closes first' : 'the kernel closes first';

    rootIt(
      title(`curl downloads 64 MiB from our HTTP service byte-exact; ${order}`),
      async () => {
        const l = await setup(oursFirst ? 61 : 62);
        const body = patternBytes(SIZE, 0x5eed + (oursFirst ? 1 : 2));
        const port = oursFirst ? 80 : 8080;
        const http = serveHttp(l.tcp, port, body, oursFirst);
        const t0 = performance.now();
        // Ours first: no Content-Length, so curl reads to our FIN; kernel first: curl stops at Content-Length and its exit closes first.
        const r = await lab.tryExec(
          l.tap.ns,
          'bash',
          [
            '-c',
            `set -o pipefail; curl -sS --max-time ${TRANSFER_LIMIT_S} -w '%{stderr}%{http_code} %{size_download}\\n' http://${STACK_IP}:${port}/ | sha256sum`,
          ],
          { timeoutMs: (TRANSFER_LIMIT_S + 10) * 1000 },
        );
        const ms = performance.now() - t0;
        const s = http.connections[0];
        expect(s, `no connection: ${r.stderr}`).toBeDefined();
        const info = report(`download, ${order}`, l, s!, ms) + `; curl exit ${r.code}: ${r.stderr.trim()}`;
        expect(r.code, info).toBe(0);
        expect(r.stderr.trim(), info).toBe(`200 ${SIZE}`);
        expect(r.stdout.split(' ')[0], info).toBe(sha256(body));
        expect(http.connections.length, info).toBe(1);
        expect(l.fault!.faults.tx.lost + l.fault!.faults.rx.lost, info).toBeGreaterThan(0);
        expect(s!.conn.stats.retransmits, info).toBeGreaterThan(0);
        await expectCloseOrder(l, s!, oursFirst, info);
      },
      (TRANSFER_LIMIT_S + 40) * 1000,
    );

    rootIt(
      title(`nc uploads 64 MiB into our hashing sink byte-exact; ${order}`),
      async () => {
        const l = await setup(oursFirst ? 71 : 72);
        const file = await randomFile(l);
        const port = oursFirst ? 9 : 7;
        // Ours first: the sink closes as soon as SIZE bytes arrived, while nc still holds its side open
        // (no -N); kernel first: nc -N shuts its side down at the end of the file, then the sink answers.
        const sink = serveHashSink(l.tcp, port, oursFirst ? SIZE : undefined);
        const t0 = performance.now();
        const r = await lab.tryExec(
          l.tap.ns,
          'bash',
          ['-c', `timeout ${TRANSFER_LIMIT_S} nc ${oursFirst ? '' : '-N '}${STACK_IP} ${port} < ${file.path}`],
          { timeoutMs: (TRANSFER_LIMIT_S + 10) * 1000 },
        );
        const ms = performance.now() - t0;
        const s = sink.connections[0];
        expect(s, `no connection: ${r.stderr}`).toBeDefined();
        const info = report(`upload, ${order}`, l, s!, ms) + `; nc exit ${r.code}: ${r.stderr.trim()}`;
        expect(r.code, info).toBe(0);
        expect(s!.received, info).toBe(SIZE);
        expect(s!.digest, info).toBe(file.digest);
        // The digest we computed came back to nc intact.
        expect(r.stdout, info).toBe(`${file.digest}\n`);
        expect(l.fault!.faults.tx.lost + l.fault!.faults.rx.lost, info).toBeGreaterThan(0);
        await expectCloseOrder(l, s!, oursFirst, info);
      },
      (TRANSFER_LIMIT_S + 70) * 1000,
    );
  }
});
