/**
 * The server suite over Postern sockets: a server stack (198.18.0.2) and a client stack (198.18.0.1)
 * joined by an in-memory link on one real-clock scheduler (the suite uses real timers and Node
 * streams). The server listens through `createNet(server).createServer`, the raw clients connect
 * through `createNet(client).connect`; no byte touches the kernel.
 */
import { createNet } from '@postern/socket';
import { runServerSuite } from './server-suite.js';
import { SERVER_IP, memoryPairTransport } from './memory-pair-transport.js';

runServerSuite('Postern sockets (two stacks over a memory link)', () =>
  memoryPairTransport(async (sockets) => {
    const server = createNet(sockets).createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, SERVER_IP, () => resolve());
    });
    return { server, port: server.address()!.port, close: (done) => server.close(() => done()) };
  }),
);
