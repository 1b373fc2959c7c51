/**
 * The server suite over Postern's light connection face (`LightServer`/`LightSocket` of
 * `@postern/socket`: no Node stream per connection, the transport the gateway serves HTTP on): a
 * server stack (198.18.0.2) and a client stack (198.18.0.1) joined by an in-memory link on one
 * real-clock scheduler. The server listens through `new LightServer(...)`, the raw clients connect
 * through `createNet(client).connect`; no byte touches the kernel.
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { memoryPair } from '@postern/netlab';
import { LightServer, Sockets, createNet } from '@postern/socket';
import { parseIpv4 } from '@postern/wire';
import { runServerSuite } from './server-suite.js';
import type { ClientSocket, ListeningTransport } from './server-helpers.js';

const CLIENT_IP = '198.18.0.1';
const SERVER_IP = '198.18.0.2';
/** Bound on every connect, so a broken stack fails a test instead of hanging it. */
const CONNECT_TIMEOUT_MS = 3000;

/** Two fresh stacks over a fresh link, a {@link LightServer} listening on the server stack. */
async function lightTransport(): Promise<ListeningTransport> {
  const sched = new Scheduler({ clock: 'real', seed: 7 });
  // ARP resolved both ways before the first SYN (a ping: the request teaches the server, the reply the client).
  const pair = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    tag: 'h',
    rxRingCapacity: 1024,
    addresses: [CLIENT_IP, SERVER_IP],
  });
  const { a: clientStack, b: serverStack } = pair;
  const devices = [pair.devA, pair.devB] as const;
  const clientNet = createNet(new Sockets(clientStack, attachTcp(clientStack)));
  const server = new LightServer({ sockets: new Sockets(serverStack, attachTcp(serverStack)), allowHalfOpen: true });
  server.listen(0, SERVER_IP);
  const port = server.address()!.port;
  return {
    server,
    connect: () =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = clientNet.connect({
          port,
          host: SERVER_IP,
          allowHalfOpen: true,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        });
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sched.stop();
      for (const d of devices) await d.close();
    },
  };
}

runServerSuite("Postern's light connection face (two stacks over a memory link)", lightTransport);
