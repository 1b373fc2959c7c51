// Runs in a scratch project outside the workspace, with plain `node` (no tsx, no custom export
// conditions), against the six packages installed from their `npm pack` tarballs. Two stacks on an
// in-memory link, TCP on both, Postern sockets and their Node `net` face; @postern/http serves on
// one, Node's own `http` client asks once from the other through `createConnection`. Prints one JSON
// line: the status and body the client got, plus the server's and the socket's own view of the
// exchange (so a reply from anywhere else, such as a real host at that address, cannot pass).
import http from 'node:http';
import { Scheduler } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { Sockets, createNet } from '@postern/socket';
import { HttpServer, Router } from '@postern/http';
import { parseIpv4 } from '@postern/wire';

const CLIENT_IP = '198.18.0.1';
const SERVER_IP = '198.18.0.2';
const PORT = 8080;

setTimeout(() => {
  console.error('no answer within 20 s');
  process.exit(2);
}, 20_000).unref();

const sched = new Scheduler({ clock: 'real', seed: 1 });
const link = createMemoryLink(sched);
const devices = [new NetDevice(link.a, sched), new NetDevice(link.b, sched)];
const clientStack = new Stack(sched);
const serverStack = new Stack(sched);
clientStack.addInterface(devices[0]).addAddress(parseIpv4(CLIENT_IP), 24);
serverStack.addInterface(devices[1]).addAddress(parseIpv4(SERVER_IP), 24);
for (const device of devices) await device.open();
sched.start();

const clientNet = createNet(new Sockets(clientStack, attachTcp(clientStack)));
const serverNet = createNet(new Sockets(serverStack, attachTcp(serverStack)));

const router = new Router().get('/hello/:name', (req, res) =>
  res.send(`hello ${req.params.name}, from a packed Postern\n`),
);
const server = new HttpServer(router.handler, { scheduler: sched });
const listener = serverNet.createServer({ allowHalfOpen: true });
server.attach(listener);
await new Promise((resolve) => listener.listen(PORT, SERVER_IP, resolve));

let clientSocket;
const answer = await new Promise((resolve, reject) => {
  // No `agent` option: with `createConnection` given, Node's client uses that socket and no agent
  // (`agent: false` would make a fresh Agent that dials through the kernel instead).
  const req = http.request(
    {
      host: SERVER_IP,
      port: PORT,
      path: '/hello/consumer',
      createConnection: () => (clientSocket = clientNet.createConnection({ host: SERVER_IP, port: PORT })),
    },
    (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    },
  );
  req.on('error', reject);
  req.end();
});

console.log(
  JSON.stringify({
    ...answer,
    clientAddress: clientSocket?.localAddress,
    serverAddress: clientSocket?.remoteAddress,
    requestsServed: server.stats.requests,
    connectionsAccepted: server.stats.connectionsAccepted,
  }),
);

await server.close();
await new Promise((resolve) => listener.close(resolve));
sched.stop();
for (const device of devices) await device.close();
