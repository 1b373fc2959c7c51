/**
 * TCP services for the interop tests against the Linux kernel, and the lab that runs them: a Stack
 * with TCP on a real-clock scheduler, on a TAP device whose kernel side lives in a fresh namespace,
 * optionally through a seeded {@link FaultInjectionDriver} that drops frames both ways.
 */
import { createHash } from 'node:crypto';
import { Scheduler } from '@postern/irq';
import { FaultInjectionDriver } from '@postern/nic';
import { Stack, attachTcp, type Tcp, type TcpConnection, type TcpListener, type TcpOptions } from '../../src/index.js';
import { KernelLab, type TapAttachment } from './kernel-lab.js';
import { pump } from './tcp-net.js';

/** The kernel's address in the lab namespace. */
export const KERNEL_IP = '198.18.6.1';
/** The stack's address. */
export const STACK_IP = '198.18.6.2';

/** A stack with TCP on a TAP into a namespace; `fault` is set when frames are dropped. */
export interface TcpLab {
  readonly sched: Scheduler;
  readonly stack: Stack;
  readonly tcp: Tcp;
  readonly tap: TapAttachment;
  readonly fault: FaultInjectionDriver | undefined;
}

/**
 * Builds a {@link TcpLab} in `lab`: real clock (started), seed `seed`, `lossRate` of the frames
 * dropped in each direction (0: no wrapper). The caller stops `sched` and cleans `lab` up.
 */
export async function tcpLab(
  lab: KernelLab,
  seed: number,
  lossRate: number,
  tcpOptions: TcpOptions = {},
): Promise<TcpLab> {
  const sched = new Scheduler({ clock: 'real', seed });
  sched.start();
  const stack = new Stack(sched);
  const ns = await lab.namespace();
  let fault: FaultInjectionDriver | undefined;
  const tap = await lab.attachTap(stack, {
    ns,
    kernelIp: KERNEL_IP,
    stackIp: STACK_IP,
    prefixLength: 24,
    mac: '02:50:53:4e:06:02',
    deviceOptions: { rxRingCapacity: 1024 },
    ...(lossRate > 0 ? { wrapDriver: (inner) => (fault = new FaultInjectionDriver(inner, sched, { lossRate })) } : {}),
  });
  const tcp = attachTcp(stack, tcpOptions);
  return { sched, stack, tcp, tap, fault };
}

/** What a service saw of one connection: how it ended and who closed first. */
export interface ServedConnection {
  readonly conn: TcpConnection;
  /** True when the peer's FIN had arrived when we closed (the kernel closed first). */
  peerClosedFirst: boolean | undefined;
  /** Set once `onClose` ran. */
  closed: boolean;
  /** Bytes received. */
  received: number;
  /** SHA-256 of what was received, once complete. */
  digest: string | undefined;
  /** What happened at the ends of the connection, in order (for failure messages). */
  readonly history: string[];
}

/** Appends `what` with the connection's state and segment counts to `s.history`. */
function note(s: ServedConnection, what: string): void {
  const st = s.conn.tcb.stats;
  s.history.push(`${what} (${s.conn.state}, in ${st.segmentsIn}, out ${st.segmentsOut})`);
}

/** One line on how `s` ended: its state, close reason, the peer's FIN, unread bytes and history. */
export function describeEnd(s: ServedConnection): string {
  const t = s.conn.tcb;
  return (
    `state ${s.conn.state}, closeReason ${s.conn.closeReason}, peerFin ${t.peerFinReceived}, pendingPeerFin ${t.pendingPeerFin}, ` +
    `unread ${t.recvBuffer.readable}, appClosed ${t.appClosed}, finSent ${t.finSent}, sndUna-sndMax ${t.sndMax - t.sndUna}, ` +
    `peerClosedFirst ${s.peerClosedFirst}, closed ${s.closed}; history [${s.history.join('; ')}]`
  );
}

function served(conn: TcpConnection): ServedConnection {
  const s: ServedConnection = {
    conn,
    peerClosedFirst: undefined,
    closed: false,
    received: 0,
    digest: undefined,
    history: [],
  };
  conn.onClose = (reason) => {
    s.closed = true;
    note(s, `onClose ${reason}`);
  };
  conn.onError = (error) => {
    note(s, `onError ${error.code}`);
  };
  return s;
}

function closeNow(s: ServedConnection): void {
  s.peerClosedFirst = s.conn.readableEnded;
  note(s, `closeNow peerClosedFirst=${s.peerClosedFirst}`);
  s.conn.close();
}

/**
 * A minimal HTTP/1.x server that answers every request with `body`. With `closeFirst` it sends
 * `Connection: close` and no Content-Length, so the body ends at our FIN, and closes after the body:
 * our side closes first, and the client cannot (given a length, curl closes as soon as it has the
 * bytes, and if our FIN is still on its way, lost or held back, both sides close at once).
 * Otherwise it sends Content-Length, keeps the connection and closes only after the client's FIN
 * (the kernel closes first).
 */
export function serveHttp(
  tcp: Tcp,
  port: number,
  body: Uint8Array,
  closeFirst: boolean,
): { listener: TcpListener; connections: ServedConnection[] } {
  const listener = tcp.listen({ port });
  const connections: ServedConnection[] = [];
  const scratch = new Uint8Array(4096);
  listener.onConnection = (conn) => {
    const s = served(conn);
    connections.push(s);
    let request = '';
    let answered = false;
    conn.onReadable = () => {
      for (;;) {
        const n = conn.read(scratch);
        if (n === 0) break;
        s.received += n;
        if (!answered) request += Buffer.from(scratch.subarray(0, n)).toString('latin1');
      }
      if (!answered && request.includes('\r\n\r\n')) {
        answered = true;
        const framing = closeFirst ? 'Connection: close\r\n' : `Content-Length: ${body.byteLength}\r\n`;
        const head = `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${framing}\r\n`;
        conn.write(new TextEncoder().encode(head));
        const sender = pump(conn, body, false);
        if (closeFirst) {
          const push = conn.onWritable;
          const finish = (): void => {
            if (sender.written() === body.byteLength && s.peerClosedFirst === undefined) closeNow(s);
          };
          conn.onWritable = () => {
            push?.();
            finish();
          };
          finish();
        }
      }
      if (conn.readableEnded && s.peerClosedFirst === undefined) closeNow(s);
    };
  };
  return { listener, connections };
}

/**
 * A sink that hashes what it receives and answers with the SHA-256 (hex + newline) and a close:
 * after the client's FIN (`expectBytes` undefined: the kernel closes first) or as soon as
 * `expectBytes` arrived (our side closes first, while the client still holds its side open).
 */
export function serveHashSink(
  tcp: Tcp,
  port: number,
  expectBytes?: number,
): { listener: TcpListener; connections: ServedConnection[] } {
  const listener = tcp.listen({ port });
  const connections: ServedConnection[] = [];
  listener.onConnection = (conn) => {
    const s = served(conn);
    connections.push(s);
    const hash = createHash('sha256');
    conn.onReadable = () => {
      for (;;) {
        const view = conn.readView(65_536);
        if (view === undefined) break;
        hash.update(view);
        s.received += view.byteLength;
        conn.consume(view.byteLength);
      }
      const done = expectBytes === undefined ? conn.readableEnded : s.received >= expectBytes;
      if (done && s.digest === undefined) {
        s.digest = hash.digest('hex');
        conn.write(new TextEncoder().encode(`${s.digest}\n`));
        closeNow(s);
      }
    };
  };
  return { listener, connections };
}
