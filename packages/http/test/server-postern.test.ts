/**
 * The server suite over Postern sockets: a server stack (198.18.0.2) and a client stack (198.18.0.1)
 * joined by an in-memory link on one real-clock scheduler (the suite uses real timers and Node
 * streams). The server listens through `createNet(server).createServer`, the raw clients connect
 * through `createNet(client).connect`; no byte touches the kernel.
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { Sockets, createNet } from '@postern/socket';
import { parseIpv4 } from '@postern/wire';
import { runServerSuite } from './server-suite.js';
import type { ClientSocket, ListeningTransport } from './server-helpers.js';

const CLIENT_IP = '198.18.0.1';
const SERVER_IP = '198.18.0.2';
/** Bound on every connect and on the ARP warm-up, so a broken stack fails a test instead of hanging it. */
const CONNECT_TIMEOUT_MS = 3000;

let links = 0;

/** Two fresh stacks over a fresh link, a Postern `net` server listening on the server stack. */
async function posternTransport(): Promise<ListeningTransport> {
  const sched = new Scheduler({ clock: 'real', seed: 7 });
  const n = ++links;
  const link = createMemoryLink(sched, { names: [`hc${n}`, `hs${n}`], macA: 0x02_00_00_00_40_00 + n * 16 + 1, macB: 0x02_00_00_00_40_00 + n * 16 + 2 });
  const devices = [new NetDevice(link.a, sched, { rxRingCapacity: 1024 }), new NetDevice(link.b, sched, { rxRingCapacity: 1024 })] as const;
  const clientStack = new Stack(sched);
  const serverStack = new Stack(sched);
  clientStack.addInterface(devices[0]).addAddress(parseIpv4(CLIENT_IP), 24);
  serverStack.addInterface(devices[1]).addAddress(parseIpv4(SERVER_IP), 24);
  for (const d of devices) await d.open();
  sched.start();
  // Resolve ARP both ways before the first SYN (the request teaches the server, the reply the client).
  await clientStack.ping({ dst: parseIpv4(SERVER_IP), timeoutMs: CONNECT_TIMEOUT_MS });
  const clientNet = createNet(new Sockets(clientStack, attachTcp(clientStack)));
  const serverNet = createNet(new Sockets(serverStack, attachTcp(serverStack)));

  const server = serverNet.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, SERVER_IP, () => resolve());
  });
  const port = server.address()!.port;
  return {
    server,
    connect: () =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = clientNet.connect({ port, host: SERVER_IP, allowHalfOpen: true, connectTimeoutMs: CONNECT_TIMEOUT_MS });
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

runServerSuite('Postern sockets (two stacks over a memory link)', posternTransport);
