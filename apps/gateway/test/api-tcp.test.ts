/**
 * `/api/tcp` and `/api/` list the gateway's real TCP table (`Tcp.connections()` through
 * `listTcpConnections`): the admin client's own connection with its exact 4-tuple in ESTABLISHED,
 * and, once the gateway closed it first (HTTP/1.0), the same 4-tuple in TIME-WAIT. The client is
 * this machine's kernel through the simulator's host forward, so the gateway's peer is the
 * simulated host, whose own table (`Simulator.host.tcp`) names the client port to expect.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { listTcpConnections, startGateway, type Gateway } from '../src/gateway.js';
import type { TcpConnectionInfo } from '../src/status.js';
import { waitFor } from '@postern/netlab';

const GATEWAY = '198.18.0.1';
const SIM_HOST = '198.18.0.100';

describe('/api/tcp on the running gateway', () => {
  let gw: Gateway;
  let port: number;

  beforeAll(async () => {
    gw = await startGateway(
      validateConfig({ interfaces: [{ nic: 'sim' }], sim: { hostForward: [`tcp:127.0.0.1:0-${GATEWAY}:80`] } }),
    );
    port = gw.simulator!.forwarders[0]!.port;
  });

  afterAll(async () => {
    await gw?.close();
  });

  /** The simulated host's ESTABLISHED connections to the gateway's port 80, by local port. */
  const simClientPorts = (): number[] =>
    gw
      .simulator!.host.tcp.connections()
      .filter((e) => e.remotePort === 80 && e.state === 'ESTABLISHED')
      .map((e) => e.localPort);

  /**
   * One HTTP/1.0 GET over a fresh connection (the server closes it after the response). Returns the
   * parsed JSON body and the client port the gateway sees for this connection (the simulated
   * host's side of the relay), learned once the connection is up and before the request is sent.
   */
  async function get(path: string): Promise<{ clientPort: number; status: number; body: unknown }> {
    const before = new Set(simClientPorts());
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve());
      socket.on('error', reject);
    });
    try {
      let clientPort: number | undefined;
      await waitFor(
        'the relayed connection to the gateway',
        () => (clientPort = simClientPorts().find((p) => !before.has(p))) !== undefined,
      );
      socket.write(`GET ${path} HTTP/1.0\r\nHost: ${GATEWAY}\r\n\r\n`);
      await Promise.race([
        ended,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`no end of response to ${path} within 5 s`)), 5_000),
        ),
      ]);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
      return { clientPort: clientPort!, status, body: JSON.parse(text.slice(split + 4)) };
    } finally {
      socket.destroy();
    }
  }

  it('lists the connection carrying the request, 4-tuple exact, in ESTABLISHED', async () => {
    const { clientPort, status, body } = await get('/api/tcp');
    expect(status).toBe(200);
    const tcp = body as { connectionCount: number; connections: TcpConnectionInfo[] };
    expect(tcp.connections).toContainEqual({
      localAddress: GATEWAY,
      localPort: 80,
      remoteAddress: SIM_HOST,
      remotePort: clientPort,
      state: 'ESTABLISHED',
    });
    expect(tcp.connections).toHaveLength(tcp.connectionCount);
  });

  it('lists a connection the gateway closed first in TIME-WAIT, next to the new one asking', async () => {
    const first = await get('/api/tcp');
    const tuple = { localAddress: GATEWAY, localPort: 80, remoteAddress: SIM_HOST, remotePort: first.clientPort };
    // The FIN exchange finishes on the gateway's scheduler shortly after the client saw the end.
    await waitFor('TIME-WAIT on the gateway', () =>
      listTcpConnections(gw.tcp).some((c) => c.remotePort === first.clientPort && c.state === 'TIME-WAIT'),
    );
    const second = await get('/api/');
    const s = second.body as { tcp: { connectionCount: number; timeWait: number; connections: TcpConnectionInfo[] } };
    expect(second.clientPort).not.toBe(first.clientPort);
    expect(s.tcp.connections).toContainEqual({ ...tuple, state: 'TIME-WAIT' });
    expect(s.tcp.connections).toContainEqual({ ...tuple, remotePort: second.clientPort, state: 'ESTABLISHED' });
    expect(s.tcp.timeWait).toBeGreaterThanOrEqual(1);
    expect(s.tcp.connections.filter((c) => c.state === 'TIME-WAIT')).toHaveLength(s.tcp.timeWait);
    expect(s.tcp.connections).toHaveLength(s.tcp.connectionCount);
  });
});
