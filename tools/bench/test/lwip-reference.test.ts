import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetLab, netlabSkipReason, withSkipReason } from '@postern/netlab';
import { curlDownloadMBps, hasProgram, runIn, shortConnections } from '../src/http-clients.js';
import {
  BIG_BODY_BYTES,
  SMALL_BODY,
  buildLwipServer,
  kernelSide,
  lwipSkipReason,
  removeLwipBuild,
  startLwipServer,
  stopChild,
  type ChildServer,
  type LwipBuild,
} from '../src/http-servers.js';

// The lwIP reference server of the http-compare benchmarks, built and run as the bench does: in a
// namespace of its own, on a TAP device, with the PBUF_RAM preload shim. No speed assertions.
const skip =
  (await netlabSkipReason({ needTap: true })) ??
  lwipSkipReason() ??
  ((await hasProgram('curl')) ? undefined : 'needs curl');
const KERNEL = '198.18.23.1';
const LWIP = '198.18.23.2';

describe.skipIf(skip !== undefined)(withSkipReason('lwIP reference server (tools/bench/lwip)', skip), () => {
  const lab = new NetLab();
  let build: LwipBuild | undefined;
  let server: ChildServer | undefined;
  let ns = '';

  beforeAll(async () => {
    build = await buildLwipServer();
    ns = await lab.namespace();
    const tap = await lab.tap();
    await kernelSide(lab, tap, ns, `${KERNEL}/24`);
    server = await startLwipServer(build, ns, tap, LWIP, '255.255.255.0');
  }, 60_000);

  afterAll(async () => {
    await stopChild(server);
    await lab.cleanup();
    removeLwipBuild(build);
  });

  it('answers the small request with its 13-byte body and keeps HTTP/1.1 connections open', async () => {
    const r = await runIn(
      ns,
      'curl',
      ['-sS', '--max-time', '5', '-D', '-', `http://${LWIP}/`, `http://${LWIP}/again`],
      10_000,
    );
    expect(r.code).toBe(0);
    expect(r.stdout.split(SMALL_BODY).length - 1).toBe(2);
    expect(r.stdout).toContain('Content-Length: 13');
    expect(r.stdout).not.toContain('Connection: close');
    expect(r.stderr).not.toContain('Connection died'); // curl reused the connection for the second URL
  });

  it('serves the 64 MiB body in full and closes HTTP/1.0 connections after the answer', async () => {
    expect(await curlDownloadMBps(ns, `http://${LWIP}/big`, BIG_BODY_BYTES)).toBeGreaterThan(0);
    const r = await runIn(ns, 'curl', ['-sS', '--http1.0', '--max-time', '5', '-D', '-', `http://${LWIP}/`], 10_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Connection: close');
  }, 90_000);

  it('answers 2,000 short HTTP/1.0 connections one at a time, twice, none failed (client ports come back within TIME_WAIT)', async () => {
    // The server closes first, so it holds the TIME_WAIT; the second loop reuses client ports of the
    // first. lwIP alone stalls such a SYN for 2 MSL; the server frees its TIME_WAIT pcbs (httpd-tap.c).
    for (let round = 0; round < 2; round++) {
      const r = await shortConnections(ns, LWIP, 80, '/', 20_000);
      expect(r.failed).toBe(0);
      expect(r.fine + r.stalled).toBe(2000);
    }
  }, 90_000);

  it('survives received frames over 592 bytes (the PBUF_POOL trap) thanks to the preload shim', async () => {
    const ping = await runIn(ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-s', '1400', LWIP], 15_000);
    expect(ping.stdout).toMatch(/3 received/);
    // A request head of about 1,500 bytes: one full-size TCP segment into lwIP.
    const large = await runIn(
      ns,
      'curl',
      ['-sS', '--max-time', '5', '-H', `X-Pad: ${'x'.repeat(1400)}`, `http://${LWIP}/`],
      10_000,
    );
    expect(large.code).toBe(0);
    expect(large.stdout).toBe(SMALL_BODY);
    expect(server?.child.exitCode).toBeNull();
  });
});
