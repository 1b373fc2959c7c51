/**
 * A connected pair of `net` sockets over {@link socketPair} on a real clock: the client on host a,
 * the socket its server accepted on host b.
 */
import { waitFor } from '@postern/netlab';
import { createNet, type NetServerOptions, type Socket } from '../../src/index.js';
import { socketPair } from './net.js';
import { nextEvent } from './wait.js';

/**
 * Listens on `port` of host b (with `serverOptions`), connects from host a and waits for the accept.
 * Pushes onto `stops` what tears it all down (sockets, server, the scheduler); the caller runs them.
 */
export async function connectedNetSockets(
  port: number,
  stops: Array<() => void>,
  serverOptions: NetServerOptions = {},
): Promise<{ client: Socket; peer: Socket; pair: Awaited<ReturnType<typeof socketPair>> }> {
  const pair = await socketPair({ clock: 'real' });
  stops.push(() => pair.sched.stop());
  const netA = createNet(pair.sa);
  const netB = createNet(pair.sb);
  let accepted: Socket | undefined;
  const server = netB.createServer(serverOptions, (s) => {
    accepted = s;
  });
  await nextEvent(server.listen(port), 'listening');
  const client = netA.connect(port, '198.18.0.2');
  await nextEvent(client, 'connect');
  await waitFor('the accepted socket', () => accepted !== undefined, 5000, 2);
  stops.push(() => {
    client.destroy();
    accepted?.destroy();
    server.close();
  });
  return { client, peer: accepted!, pair };
}
