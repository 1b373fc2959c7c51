import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';
import type { Simulator } from '../src/index.js';
import { patternBytes, sha256Hex, waitFor } from '@postern/netlab';
import { GATEWAY, HOST, exchange, openGateway, serveBytes, serveEcho } from './support/gateway.js';
import type { TestGateway } from './support/gateway.js';

let sim: Simulator | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await sim?.close();
  gw = undefined;
  sim = undefined;
});

async function setUp(): Promise<{ sim: Simulator; gw: TestGateway; port: number }> {
  sim = await createSimulator({
    serial: 'socket://127.0.0.1:0',
    hostForwards: ['tcp:127.0.0.1:0-198.18.0.1:80', 'tcp::0-:81'],
  });
  gw = await openGateway(sim.device.endpoint.address!);
  return { sim, gw, port: sim.forwarders[0]!.port };
}

describe('the simulator over socket:// with a real SerialNicDriver and a gateway Stack', () => {
  it('brings the device up: HELLO, MAC, link; the simulated host pings the gateway (ARP first)', async () => {
    const { sim, gw } = await setUp();
    expect(gw.driver.mac).toBe(sim.device.mac);
    expect(gw.driver.linkState).toBe('up');
    const reply = await sim.host.stack.ping({ dst: GATEWAY, size: 1000, timeoutMs: 2000 });
    expect(reply.from).toBe(GATEWAY);
    expect(reply.dataMatches).toBe(true);
    // And the other way: the gateway resolves and pings the simulated host.
    const back = await gw.stack.ping({ dst: HOST, size: 3000, timeoutMs: 2000 });
    expect(back.dataMatches).toBe(true);
    expect(sim.device.board!.stats.rxFrames).toBeGreaterThan(0);
    expect(sim.device.board!.stats.txFrames).toBeGreaterThan(0);
  });

  it('hostfwd relays 4 MiB from a kernel client through Postern TCP to an echo service, byte-exact; client closes first', async () => {
    const { sim, gw, port } = await setUp();
    serveEcho(gw.tcp, 80);
    const data = patternBytes(4 * 1024 * 1024, 3);
    const got = await exchange(port, data, true);
    expect(got.byteLength).toBe(data.byteLength);
    expect(sha256Hex(got)).toBe(sha256Hex(data));
    const stats = sim.forwarders[0]!.stats;
    await waitFor('the relay to finish', () => stats.completed === 1, 5000);
    expect(stats).toMatchObject({
      accepted: 1,
      completed: 1,
      failed: 0,
      active: 0,
      bytesUp: data.byteLength,
      bytesDown: data.byteLength,
    });
  });

  it('hostfwd relays a 3 MiB response from a service that closes first, byte-exact', async () => {
    const { sim, gw } = await setUp();
    serveBytes(gw.tcp, 81);
    const n = 3 * 1024 * 1024 + 17;
    const got = await exchange(sim.forwarders[1]!.port, Buffer.from(`GET ${n}\n`), false);
    expect(got.byteLength).toBe(n);
    expect(sha256Hex(got)).toBe(sha256Hex(patternBytes(n, 7)));
    const stats = sim.forwarders[1]!.stats;
    await waitFor('the relay to finish', () => stats.completed === 1, 5000);
    expect(stats.failed).toBe(0);
  });
});

describe('the simulator over socket://: failures and reconnects', () => {
  it('resets the kernel client when nothing listens on the forwarded port (RST from the gateway)', async () => {
    const { port } = await setUp();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', (e) => resolve(e));
      s.on('close', () => resolve(undefined));
      s.resume();
    });
    expect(err?.code).toBe('ECONNRESET');
    await waitFor('the relay to count the failure', () => sim!.forwarders[0]!.stats.failed === 1, 2000);
  });

  it('makes a new board for a reconnecting gateway, which then reaches the host again', async () => {
    const { sim, gw } = await setUp();
    expect(sim.device.sessions).toBe(1);
    await gw.close();
    await waitFor('the board to go', () => sim.device.board === undefined, 2000);
    const again = await openGateway(sim.device.endpoint.address!);
    try {
      expect(sim.device.sessions).toBe(2);
      const reply = await again.stack.ping({ dst: HOST, timeoutMs: 2000 });
      expect(reply.dataMatches).toBe(true);
    } finally {
      await again.close();
    }
  });
});
