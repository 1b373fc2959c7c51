/** The server suite over Node's `net` on 127.0.0.1 ephemeral ports. */
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { runServerSuite } from './server-suite.js';

runServerSuite('node:net', async () => {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    connect: () =>
      new Promise((resolve, reject) => {
        const socket = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
        socket.once('error', reject);
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
