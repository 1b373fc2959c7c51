/**
 * Keep-alive request/response through the simulator's host forward never stalls on Nagle plus
 * delayed ACK (issue "TCP, complete"): Node's http client on 127.0.0.1 -> host forward relay ->
 * simulated host's Postern TCP -> switch -> device -> serial -> gateway's stack -> HTTP, and back.
 *
 * No wall-clock bound (speed targets live in benchmarks, tools/bench, never in timed tests). A stall is a segment held by
 * Nagle until the peer's delayed ACK, and each hop is checked by a deterministic signal instead:
 * - Postern hops (gateway's stack, simulated host's stack): the `delayedAckTimeouts` counter of each
 *   `Tcp`. A stall on those hops costs one delayed-ACK timeout per request, so {@link REQUESTS}
 *   stalled requests count about {@link REQUESTS}; unstalled ones count none (every ACK rides on the
 *   next segment or goes out at the end of the receive batch). {@link MAX_DELAYED_ACK_TIMEOUTS}
 *   leaves room for a few real pauses of this process (GC, a loaded CI machine) longer than the
 *   40 ms timer, which fire a timer without any stall. The relay's own Postern connection has Nagle
 *   off, so its `nagleHeld` is exactly 0.
 * - Kernel hop (the relay's accepted `node:net` socket -> Node's client): Linux does not report the
 *   kernel-side stall to either process, and Node has no getter for TCP_NODELAY, so the test watches
 *   the one call that sets it: `Socket.prototype.setNoDelay` is wrapped (behaviour unchanged) and the
 *   relay's socket for this client's connection (found by its 4-tuple) must have received
 *   `setNoDelay(true)` and never `setNoDelay(false)`. Without it the kernel holds a response's second
 *   piece for the client's delayed ACK (the original bug, invisible to the counters above).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';

const REQUESTS = 50;
/** Far under {@link REQUESTS} (a stall on every request), above a handful of scheduling pauses. */
const MAX_DELAYED_ACK_TIMEOUTS = 5;
const BODY = 'Hello, world!';

describe('keep-alive HTTP through the host forward', () => {
  let gw: Gateway;
  let dir: string;
  /** Every `setNoDelay` call in this process, in order: the socket and the value it set. */
  const noDelayCalls: { socket: Socket; enable: boolean }[] = [];
  const originalSetNoDelay = Socket.prototype.setNoDelay;

  beforeAll(async () => {
    vi.spyOn(Socket.prototype, 'setNoDelay').mockImplementation(function (this: Socket, enable?: boolean) {
      noDelayCalls.push({ socket: this, enable: enable ?? true });
      return originalSetNoDelay.call(this, enable);
    });
    dir = mkdtempSync(join(tmpdir(), 'postern-keepalive-www-'));
    writeFileSync(join(dir, 'hello.txt'), BODY);
    gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }],
        http: { www: dir },
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
      }),
    );
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${REQUESTS} sequential requests on one connection never wait for a delayed ACK`, async () => {
    const url = new URL(gw.urls[0]!);
    const hostTcp = gw.simulator!.host.tcp;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<Socket>();
    const request = (): Promise<string> =>
      new Promise((resolve, reject) => {
        get({ host: url.hostname, port: url.port, path: '/hello.txt', agent }, (res) => {
          sockets.add(res.socket);
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    try {
      expect(await request()).toBe(BODY); // connection set up and ARP resolved before the counting
      const counters = () => ({
        gatewayDelayedAcks: gw.tcp.counters.get('delayedAckTimeouts'),
        hostDelayedAcks: hostTcp.counters.get('delayedAckTimeouts'),
        hostNagleHeld: hostTcp.counters.get('nagleHeld'),
      });
      // One connection on each Postern stack (the relay's and the HTTP server's), so the stack counters are that connection's.
      expect(gw.tcp.connections().map((c) => c.state)).toEqual(['ESTABLISHED']);
      expect(hostTcp.connections().map((c) => c.state)).toEqual(['ESTABLISHED']);
      const before = counters();
      for (let i = 0; i < REQUESTS; i++) expect(await request()).toBe(BODY);
      const after = counters();
      expect(sockets.size).toBe(1);

      expect(after.gatewayDelayedAcks - before.gatewayDelayedAcks).toBeLessThanOrEqual(MAX_DELAYED_ACK_TIMEOUTS);
      expect(after.hostDelayedAcks - before.hostDelayedAcks).toBeLessThanOrEqual(MAX_DELAYED_ACK_TIMEOUTS);
      expect(after.hostNagleHeld).toBe(0);

      const client = [...sockets][0]!;
      const relayCalls = noDelayCalls.filter(
        ({ socket }) =>
          socket !== client &&
          socket.localPort === client.remotePort &&
          socket.remotePort === client.localPort &&
          socket.remoteAddress === client.localAddress,
      );
      expect(relayCalls.length).toBeGreaterThan(0);
      expect(relayCalls.every((c) => c.enable)).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});
