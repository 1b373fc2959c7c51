/**
 * Two fresh Postern stacks joined by an in-memory link on one real-clock scheduler, for running the
 * server suite over Postern sockets: a server stack (198.18.0.2) and a client stack (198.18.0.1). The
 * caller decides how the server listens on the server stack's sockets; the raw clients connect
 * through `createNet(client).connect`. No byte touches the kernel.
 */
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { memoryPair } from '@postern/netlab';
import { Sockets, createNet } from '@postern/socket';
import { parseIpv4 } from '@postern/wire';
import type { HttpTransportServer } from '../src/index.js';
import type { ClientSocket, ListeningTransport } from './server-helpers.js';

const CLIENT_IP = '198.18.0.1';
/** The server stack's address; the listener binds to it. */
export const SERVER_IP = '198.18.0.2';
/** Bound on every connect, so a broken stack fails a test instead of hanging it. */
const CONNECT_TIMEOUT_MS = 3000;

/** A server listening on the server stack: its port, and how to close it (the callback runs once it is closed). */
export interface MemoryPairListener {
  readonly server: HttpTransportServer;
  readonly port: number;
  close(done: () => void): void;
}

/**
 * Builds the pair and hands the server stack's sockets to `listen`, which starts a listener on
 * {@link SERVER_IP} and reports its port. The returned transport's `close` closes that listener,
 * stops the scheduler and closes both devices.
 */
export async function memoryPairTransport(
  listen: (sockets: Sockets) => Promise<MemoryPairListener>,
): Promise<ListeningTransport> {
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
  const listener = await listen(new Sockets(serverStack, attachTcp(serverStack)));
  return {
    server: listener.server,
    connect: () =>
      new Promise<ClientSocket>((resolve, reject) => {
        const socket = clientNet.connect({
          port: listener.port,
          host: SERVER_IP,
          allowHalfOpen: true,
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
        });
        socket.once('connect', () => resolve(socket));
        socket.once('error', reject);
      }),
    close: async () => {
      await new Promise<void>((resolve) => listener.close(resolve));
      sched.stop();
      for (const d of devices) await d.close();
    },
  };
}
