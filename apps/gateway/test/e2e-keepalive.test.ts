/**
 * Keep-alive request/response through the simulator's host forward never stalls on Nagle plus
 * delayed ACK (issue "TCP, complete"): Node's http client on 127.0.0.1 -> host forward relay ->
 * simulated host's Postern TCP -> switch -> device -> serial -> gateway's stack -> HTTP, and back.
 *
 * The bound is loose on purpose (a correctness check, not a speed target): a stall costs the kernel
 * client's delayed-ACK time (40 ms on Linux) per request, so {@link REQUESTS} stalled requests take at
 * least {@link REQUESTS} * 40 ms, twice {@link TOTAL_BOUND_MS}; unstalled ones take a few ms each.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';

const REQUESTS = 50;
const TOTAL_BOUND_MS = 1000;
const BODY = 'Hello, world!';

describe('keep-alive HTTP through the host forward', () => {
  let gw: Gateway;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-keepalive-www-'));
    writeFileSync(join(dir, 'hello.txt'), BODY);
    gw = await startGateway(validateConfig({ interfaces: [{ nic: 'sim' }], http: { www: dir }, sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] } }));
  });

  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${REQUESTS} sequential requests on one connection take well under ${REQUESTS} delayed-ACK times`, async () => {
    const url = new URL(gw.urls[0]!);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const request = (): Promise<string> => new Promise((resolve, reject) => {
      get({ host: url.hostname, port: url.port, path: '/hello.txt', agent }, (res) => {
        sockets.add(res.socket);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    try {
      expect(await request()).toBe(BODY); // connection set up and ARP resolved outside the timing
      const start = performance.now();
      for (let i = 0; i < REQUESTS; i++) expect(await request()).toBe(BODY);
      const elapsed = performance.now() - start;
      expect(sockets.size).toBe(1);
      expect(elapsed).toBeLessThan(TOTAL_BOUND_MS);
    } finally {
      agent.destroy();
    }
  });
});
