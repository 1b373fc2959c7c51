/**
 * "A ping flood or SYN flood slows service but never stops it": a flooder on its own link sends ICMP
 * echo requests (and spoofed SYNs) through a router at a server as fast as its link takes them,
 * while a client on another link does request/response exchanges, short connections and a 1 MiB
 * download through the same router-to-server link (see `support/flood-lab.ts`). Everything must
 * complete byte-exact, and make progress while the flood is still on.
 */
import { describe, expect, it } from 'vitest';
import { patternBytes, sha256 } from './support/tcp-net.js';
import {
  SERVER_ADDR,
  download,
  floodLab,
  requestResponse,
  shortConnections,
  startFlood,
  startServers,
  type FloodKind,
  type FloodLabOptions,
} from './support/flood-lab.js';

const MBIT = 1_000_000;
const DOWNLOAD = patternBytes(1024 * 1024, 77);
const FLOOD_FRAMES = 60_000;

async function run(lab: FloodLabOptions, kind: FloodKind, floodFrames: number, tickMs?: number) {
  const env = await floodLab(lab);
  const { sched, tcpC, tcpS } = env;
  const servers = startServers(tcpS, DOWNLOAD);
  const flood = startFlood(sched, env.flooderDevice, env.routerMacToFlooder, SERVER_ADDR, kind, floodFrames, tickMs);
  sched.advance(5); // the flood is on before the client starts
  const startedAt = sched.now;
  const rr = requestResponse(sched, tcpC, 50, 1);
  const short = shortConnections(sched, tcpC, 20, 4, 2);
  const dl = download(tcpC);
  let downloadedAt: number | undefined;
  let bytesWhileFlooding = 0;
  const finished = (): boolean => rr.done() && short.done() && dl.sink.ended;
  sched.runUntil(() => {
    if (!flood.done()) bytesWhileFlooding = dl.sink.received;
    if (dl.sink.ended) downloadedAt ??= sched.now;
    return finished() && flood.done();
  }, 120_000);
  const finishedAt = Math.max(
    rr.completedAt.at(-1) ?? Infinity,
    short.completedAt.at(-1) ?? Infinity,
    downloadedAt ?? Infinity,
  );
  return { ...env, servers, flood, rr, short, dl, startedAt, finishedAt, bytesWhileFlooding };
}

type Run = Awaited<ReturnType<typeof run>>;

/** Everything the client asked for arrived byte-exact, with no connection error. */
function expectAllServed(r: Run): void {
  expect([...r.rr.failures, ...r.short.failures, ...r.dl.failures]).toEqual([]);
  expect(r.rr.completedAt).toHaveLength(50);
  expect(r.short.completedAt).toHaveLength(20);
  expect(r.dl.sink.received).toBe(DOWNLOAD.byteLength);
  expect(r.dl.sink.digest()).toBe(sha256(DOWNLOAD));
}

/** Each kind of work made progress before the flood ended: service slowed, it did not stop. */
function expectProgressDuringFlood(r: Run): void {
  const end = r.flood.endedAt()!;
  expect(r.flood.sent()).toBe(FLOOD_FRAMES);
  expect(r.rr.completedAt.filter((t) => t < end).length).toBeGreaterThan(0);
  expect(r.short.completedAt.filter((t) => t < end).length).toBeGreaterThan(0);
  expect(r.bytesWhileFlooding).toBeGreaterThan(0);
}

describe('floods slow service but never stop it', () => {
  it('ping flood at line rate (100 Mbit/s): TCP exchanges, short connections and 1 MiB complete; every request is answered', async () => {
    const baseline = await run({ seed: 1, bitsPerSecond: 100 * MBIT, latencyMs: 1 }, 'ping', 0);
    expectAllServed(baseline);
    const r = await run({ seed: 1, bitsPerSecond: 100 * MBIT, latencyMs: 1 }, 'ping', FLOOD_FRAMES);
    expectAllServed(r);
    expectProgressDuringFlood(r);
    // Slowed: the flood took the shared link.
    expect(r.finishedAt - r.startedAt).toBeGreaterThan(baseline.finishedAt - baseline.startedAt);
    // Echo replies are not rate limited by default (as Linux): each request that arrived was answered.
    const icmp = r.server.icmpCounters.snapshot();
    expect(icmp.echoRateLimited).toBe(0);
    expect(icmp.echoReplies).toBe(icmp.echoRequests);
    expect(icmp.echoRequests).toBeGreaterThan(FLOOD_FRAMES * 0.9);
    // Replies and TCP segments competed for the server's transmit queue; refusals were counted.
    expect(r.server.ipCounters.get('txDeviceRefused')).toBeGreaterThan(0);
  });

  it('with the optional echo-reply limit, replies stay within the bucket and TCP still completes', async () => {
    const limit = { ratePerSecond: 1000, burst: 50 };
    const r = await run(
      { seed: 2, bitsPerSecond: 100 * MBIT, latencyMs: 1, server: { echoReplyRateLimit: limit } },
      'ping',
      FLOOD_FRAMES,
    );
    expectAllServed(r);
    expectProgressDuringFlood(r);
    const icmp = r.server.icmpCounters.snapshot();
    expect(icmp.echoRateLimited).toBeGreaterThan(0);
    expect(icmp.echoReplies + icmp.echoRateLimited).toBe(icmp.echoRequests);
    // Replies up to the bucket: the burst plus the rate over the run (the warm-up ping included).
    expect(icmp.echoReplies).toBeLessThanOrEqual(limit.burst + Math.ceil((r.sched.now * limit.ratePerSecond) / 1000));
    expect(r.server.ipCounters.get('txDeviceRefused')).toBe(0);
  });

  it('ping flood in bursts that overflow the RX rings: drops are counted, TCP retransmits and completes', async () => {
    // No line rate: what the flooder queues in one tick (up to 1024 frames) arrives at one instant,
    // every 4 ms (the client starts at 5 ms, between bursts; its segments that meet a burst are lost).
    const r = await run({ seed: 3, latencyMs: 1, rxRing: 64 }, 'ping', FLOOD_FRAMES, 4);
    expectAllServed(r);
    expectProgressDuringFlood(r);
    expect(r.serverDevice.stats.rxDroppedRingFull + r.routerToServer.stats.rxDroppedRingFull).toBeGreaterThan(0);
    const retransmits = [...r.servers.served.map((c) => c.stats.retransmits), r.dl.sink.conn.stats.retransmits].reduce(
      (a, b) => a + b,
      0,
    );
    expect(retransmits).toBeGreaterThan(0);
    expect(r.server.icmpCounters.get('echoReplies')).toBeGreaterThan(0);
  });

  it('SYN flood and ping flood at once: the legitimate client still connects and transfers', async () => {
    const r = await run({ seed: 4, bitsPerSecond: 100 * MBIT, latencyMs: 1 }, 'mixed', FLOOD_FRAMES);
    expectAllServed(r);
    expectProgressDuringFlood(r);
    const bulk = r.servers.bulk.stats;
    expect(bulk.cookiesAccepted).toBeGreaterThan(0); // the download connected through a cookie
    expect(bulk.synReceived + bulk.cookiesSent).toBeGreaterThan(FLOOD_FRAMES / 2 - 1000);
    expect(bulk.cookiesSent).toBeGreaterThan(0);
    expect(r.server.icmpCounters.get('echoReplies')).toBeGreaterThan(FLOOD_FRAMES / 2 - 1000);
  });
});
