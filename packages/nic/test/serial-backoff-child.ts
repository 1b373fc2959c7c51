/**
 * Child process of serial-reconnect.test.ts: a driver on socket:// loses its device, waits in
 * backoff, and is closed there. It then prints its connection state as JSON and returns, without
 * stopping the scheduler or exiting explicitly: the process ends only if close() left no timer and no
 * handle behind (the parent kills it after a bound otherwise).
 */
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Scheduler } from '@postern/irq';
import { SerialBoard, SerialNicDriver } from '../src/index.js';

const sched = new Scheduler({ clock: 'real', seed: 2 });
sched.start();
const sockets = new Set<Socket>();
const boards: SerialBoard[] = [];
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('error', () => {});
  const board = new SerialBoard({ stream: socket, scheduler: sched, mac: 0x02_00_00_00_00_0d, toWire: () => {} });
  board.start();
  boards.push(board);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
// Long waits between attempts, so that close() finds the driver waiting in backoff.
const driver = new SerialNicDriver({
  endpoint: `socket://127.0.0.1:${port}`,
  scheduler: sched,
  reconnect: { initialDelayMs: 50, maxDelayMs: 60_000 },
});
await driver.open();

for (const b of boards) b.stop();
for (const s of sockets) s.destroy();
await new Promise<void>((resolve) => server.close(() => resolve()));

const end = Date.now() + 20_000;
while (
  !(driver.serialStats.reconnectAttempts >= 1 && driver.connection.nextAttemptAt !== undefined) &&
  Date.now() < end
) {
  await new Promise((r) => setTimeout(r, 5));
}
const closedInBackoff = driver.connection.state === 'reconnecting' && driver.connection.nextAttemptAt !== undefined;
await driver.close();
process.stdout.write(
  JSON.stringify({ state: driver.connection.state, attempts: driver.serialStats.reconnectAttempts, closedInBackoff }),
);
