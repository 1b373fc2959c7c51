/**
 * How many deferred rounds of the {@link LightServer} a short connection costs (the gateway's HTTP/1.0
 * case: request, reply with the FIN, the client's FIN), on the memory link in virtual time: one poll
 * of the server per batch of segments that has work for it, and every event of that batch in it. The
 * request that arrives with the handshake's last ACK is delivered in the poll that accepts the
 * connection; the client's FIN brings `'end'` and `'close'` in one poll; our own FIN and the ACKs of
 * our reply cost none.
 */
import { describe, expect, it } from 'vitest';
import { awaitOnVirtualClock } from '@postern/netlab';
import { AF_INET, LightServer, SHUT_WR, SOCK_STREAM, type LightSocket, type Sockets } from '../src/index.js';
import { B_ADDR, socketPair } from './support/net.js';

const PORT = 8080;

type Pair = Awaited<ReturnType<typeof socketPair>>;

/**
 * A server on b (half-open kept, as the gateway's) answering each request with `re: REQUEST` and its FIN
 * inside `'data'`; `polls` gets one entry per poll of its bottom half: the events that poll emitted.
 */
function answeringServer(sb: Sockets): { server: LightServer; polls: string[][] } {
  const server = new LightServer({ sockets: sb, allowHalfOpen: true, noDelay: true });
  const { polls, log } = logPolls(server);
  server.on('connection', (socket) => {
    log('connection');
    socket.on('data', function (chunk) {
      log('data');
      this.cork();
      this.write(Buffer.concat([Buffer.from('re: '), chunk]));
      this.end();
    });
    socket.on('end', () => log('end'));
    socket.on('close', () => log('close'));
  });
  server.listen(PORT);
  return { server, polls };
}

/** Wraps `server.poll`: `polls` gets one entry per poll, the events `log` recorded during it. */
function logPolls(server: LightServer): { polls: string[][]; log: (event: string) => void } {
  const polls: string[][] = [];
  let current: string[] = [];
  const poll = server.poll.bind(server);
  server.poll = (budget: number): number => {
    current = [];
    polls.push(current);
    return poll(budget);
  };
  return { polls, log: (event) => current.push(event) };
}

/** Reads from `fd` until EOF, in virtual time. */
async function readAll(pair: Pair, fd: number): Promise<string> {
  const parts: Buffer[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await awaitOnVirtualClock(pair.sched, pair.sa.recv(fd, buf));
    if (n === 0) return Buffer.concat(parts).toString();
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
}

/**
 * One short connection from a: connect, send `request` (at once when `requestDelayMs` is 0: in the same
 * batch as the handshake's last ACK), read the answer to its end, then FIN and close; returns the answer.
 */
async function shortConnection(pair: Pair, request: string, requestDelayMs: number): Promise<string> {
  const { sched, sa } = pair;
  const fd = sa.socket(AF_INET, SOCK_STREAM);
  await awaitOnVirtualClock(sched, sa.connect(fd, { address: B_ADDR, port: PORT }));
  if (requestDelayMs > 0) sched.runUntil(() => false, requestDelayMs);
  await awaitOnVirtualClock(sched, sa.send(fd, new TextEncoder().encode(request)));
  const answer = await readAll(pair, fd);
  sa.shutdown(fd, SHUT_WR);
  sa.close(fd);
  sched.runUntil(() => false, 50);
  return answer;
}

describe('LightServer rounds per short connection', () => {
  it('a request that comes with the handshake is delivered in the accept poll: two polls per connection', async () => {
    // A link with latency: the handshake's last ACK and the request, sent at the same instant, arrive together.
    const pair = await socketPair({ latencyMs: 1 });
    const { server, polls } = answeringServer(pair.sb);
    pair.sched.runUntil(() => false, 1); // the listen's own first poll (nothing waits yet)
    for (let i = 0; i < 20; i++) {
      polls.length = 0;
      expect(await shortConnection(pair, `GET ${i}`, 0)).toBe(`re: GET ${i}`);
      expect(polls).toEqual([
        ['connection', 'data'],
        ['end', 'close'],
      ]);
    }
    expect(server.connections).toBe(0);
  });

  it('a request that comes later gets the poll of its own batch; the FIN still brings end and close in one', async () => {
    const pair = await socketPair();
    const { server, polls } = answeringServer(pair.sb);
    pair.sched.runUntil(() => false, 1); // the listen's own first poll (nothing waits yet)
    for (let i = 0; i < 20; i++) {
      polls.length = 0;
      expect(await shortConnection(pair, `GET ${i}`, 5)).toBe(`re: GET ${i}`);
      expect(polls).toEqual([['connection'], ['data'], ['end', 'close']]);
    }
    expect(server.connections).toBe(0);
  });

  it("a socket destroyed by another socket's listener reports its close in the same poll, with no empty poll after", async () => {
    const pair = await socketPair();
    const { sched, sa, sb } = pair;
    const server = new LightServer({ sockets: sb });
    const { polls, log } = logPolls(server);
    const accepted: LightSocket[] = [];
    server.on('connection', (socket) => {
      const n = accepted.push(socket) - 1;
      socket.on('data', (chunk) => {
        log(`data ${n}`);
        if (chunk.toString() === 'kill 0') accepted[0]!.destroy();
      });
      socket.on('close', () => log(`close ${n}`));
    });
    server.listen(PORT);
    const fds = [sa.socket(AF_INET, SOCK_STREAM), sa.socket(AF_INET, SOCK_STREAM)];
    for (const fd of fds) await awaitOnVirtualClock(sched, sa.connect(fd, { address: B_ADDR, port: PORT }));
    expect(sched.runUntil(() => accepted.length === 2, 100)).toBe(true);
    sched.runUntil(() => false, 10);
    polls.length = 0;
    await awaitOnVirtualClock(sched, sa.send(fds[1]!, new TextEncoder().encode('kill 0')));
    sched.runUntil(() => false, 50);
    expect(polls).toEqual([['data 1', 'close 0']]);
    expect(server.connections).toBe(1);
  });
});
