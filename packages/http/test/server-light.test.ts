/**
 * The server suite over Postern's light connection face (`LightServer`/`LightSocket` of
 * `@postern/socket`: no Node stream per connection, the transport the gateway serves HTTP on): a
 * server stack (198.18.0.2) and a client stack (198.18.0.1) joined by an in-memory link on one
 * real-clock scheduler. The server listens through `new LightServer(...)`, the raw clients connect
 * through `createNet(client).connect`; no byte touches the kernel.
 */
import { LightServer } from '@postern/socket';
import { runServerSuite } from './server-suite.js';
import { SERVER_IP, memoryPairTransport } from './memory-pair-transport.js';

runServerSuite("Postern's light connection face (two stacks over a memory link)", () =>
  memoryPairTransport(async (sockets) => {
    const server = new LightServer({ sockets, allowHalfOpen: true });
    server.listen(0, SERVER_IP);
    return { server, port: server.address()!.port, close: (done) => server.close(() => done()) };
  }),
);
