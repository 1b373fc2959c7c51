/**
 * The admin UI's path trace costs nothing per request while it is off: no layer of the running
 * gateway (driver, IP, TCP, socket face, the web front's handler) calls `trace.mark` for a request
 * it serves, so no mark text is built and the web front asks for no settle promise. Armed, the same
 * request is traced, HTTP layer included (so the counter below does see the marks when there are any).
 * The client is this machine's kernel through the simulator's host forward, as in api-tcp.test.ts.
 */
import { connect } from 'node:net';
import type { PathTrace } from '@postern/irq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';

const GATEWAY = '198.18.0.1';

describe('path trace off on the running gateway', () => {
  let gw: Gateway;
  let port: number;
  /** `trace.mark` calls by layer since the counter was installed. */
  const calls = new Map<string, number>();

  beforeAll(async () => {
    gw = await startGateway(
      validateConfig({ interfaces: [{ nic: 'sim' }], sim: { hostForward: [`tcp:127.0.0.1:0-${GATEWAY}:80`] } }),
    );
    port = gw.simulator!.forwarders[0]!.port;
    const trace: PathTrace = gw.scheduler.trace;
    const mark = trace.mark.bind(trace);
    trace.mark = (layer, what, start) => {
      calls.set(layer, (calls.get(layer) ?? 0) + 1);
      mark(layer, what, start);
    };
  });

  afterAll(async () => {
    await gw?.close();
  });

  /** One HTTP/1.0 GET on a fresh connection; resolves with the status once the gateway closed it. */
  function get(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no end of response to ${path} within 5 s`));
      }, 5_000);
      socket.on('connect', () => socket.write(`GET ${path} HTTP/1.0\r\nHost: ${GATEWAY}\r\n\r\n`));
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'))?.[1]));
      });
    });
  }

  it('off: requests served, not one mark call in any layer; armed: the next request is traced through HTTP', async () => {
    expect(gw.scheduler.trace.state).toBe('idle');
    for (const path of ['/admin/', '/api/', '/admin/app.js', '/missing']) expect(await get(path)).toBeGreaterThan(0);
    expect(await get('/admin/')).toBe(200);
    expect(Object.fromEntries(calls)).toEqual({});

    gw.scheduler.trace.arm();
    expect(await get('/admin/')).toBe(200);
    expect(calls.get('http')).toBeGreaterThan(0);
    const whats = (gw.scheduler.trace.last?.marks ?? []).map((m) => `${m.layer}: ${m.what}`);
    expect(whats).toContain('http: request GET /admin/');
    expect(whats.some((w) => w.startsWith('socket: read '))).toBe(true);
  });
});
