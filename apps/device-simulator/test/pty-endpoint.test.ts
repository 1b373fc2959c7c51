import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';
import type { Simulator } from '../src/index.js';
import { patternBytes, sha256Hex, waitFor } from '@postern/netlab';
import { exchange, GATEWAY, HOST, openGateway, serveEcho } from './support/gateway.js';
import type { TestGateway } from './support/gateway.js';

let sim: Simulator | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  await sim?.close();
  gw = undefined;
  sim = undefined;
});

describe('the simulator on a pseudo-terminal, opened by the real serialport binding', () => {
  it('offers a /dev/pts path; a SerialNicDriver opens it, pings work both ways and hostfwd relays 1 MiB byte-exact', async () => {
    sim = await createSimulator({ serial: 'pty', hostForwards: ['tcp:127.0.0.1:0-198.18.0.1:7'] });
    const path = sim.device.endpoint.address!;
    expect(path).toMatch(/^\/dev\/pts\/\d+$/);
    gw = await openGateway(path);
    expect(gw.driver.mac).toBe(sim.device.mac);
    expect((await sim.host.stack.ping({ dst: GATEWAY, size: 1400, timeoutMs: 2000 })).dataMatches).toBe(true);
    expect((await gw.stack.ping({ dst: HOST, size: 200, timeoutMs: 2000 })).dataMatches).toBe(true);

    serveEcho(gw.tcp, 7);
    const data = patternBytes(1024 * 1024, 11);
    const got = await exchange(sim!.forwarders[0]!.port, data, true);
    expect(sha256Hex(got)).toBe(sha256Hex(data));
    await waitFor('the relay to finish', () => sim!.forwarders[0]!.stats.completed === 1, 5000);
    expect(gw.driver.serialStats.decoder.badFcs).toBe(0);
  });
});
