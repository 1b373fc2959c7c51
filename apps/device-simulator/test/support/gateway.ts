/**
 * The gateway's side for the tests: a real `SerialNicDriver` on the simulator's serial endpoint, a
 * `NetDevice`, and a Postern `Stack` + `Tcp` at 198.18.0.1/24, on a real-clock scheduler of its own
 * (as the gateway process would have), plus an echo and a "send N bytes then close" TCP service.
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { Scheduler } from '@postern/irq';
import { NetDevice, SerialNicDriver } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import type { Tcp, TcpConnection } from '@postern/netstack';
import { parseIpv4 } from '@postern/wire';
import { patternBytes } from '@postern/netlab';

export const GATEWAY = parseIpv4('198.18.0.1');
export const HOST = parseIpv4('198.18.0.100');

export interface TestGateway {
  sched: Scheduler;
  driver: SerialNicDriver;
  device: NetDevice;
  stack: Stack;
  tcp: Tcp;
  close(): Promise<void>;
}

export async function openGateway(endpoint: string | Duplex): Promise<TestGateway> {
  const sched = new Scheduler({ clock: 'real', seed: 99 });
  sched.start();
  const driver = new SerialNicDriver({ endpoint, scheduler: sched, name: 'gw-serial' });
  const device = new NetDevice(driver, sched, { irqName: 'gw-nic' });
  const stack = new Stack(sched);
  stack.addInterface(device).addAddress(GATEWAY, 24);
  const tcp = attachTcp(stack);
  await device.open();
  return {
    sched,
    driver,
    device,
    stack,
    tcp,
    close: async () => {
      await device.close();
      sched.stop();
    },
  };
}

/** Echoes every byte back; half-closes after the peer's FIN once everything was echoed. */
export function serveEcho(tcp: Tcp, port: number): void {
  const listener = tcp.listen({ port });
  listener.onConnection = (conn) => {
    const buf = new Uint8Array(64 * 1024);
    let pending: Uint8Array | undefined;
    let shut = false;
    const pump = (): void => {
      for (;;) {
        if (pending !== undefined) {
          const n = conn.write(pending);
          if (n < pending.byteLength) {
            pending = pending.subarray(n);
            return;
          }
          pending = undefined;
        }
        const n = conn.read(buf);
        if (n === 0) break;
        pending = buf.slice(0, n);
      }
      if (conn.readableEnded && !shut) {
        shut = true;
        conn.shutdownWrite();
      }
    };
    conn.onReadable = pump;
    conn.onWritable = pump;
  };
}

/**
 * "HTTP-like": reads a request line `GET <n>\n`, answers with n pattern bytes, then closes first
 * (the server's FIN goes before the client's).
 */
export function serveBytes(tcp: Tcp, port: number): void {
  const listener = tcp.listen({ port });
  listener.onConnection = (conn: TcpConnection) => {
    let req = '';
    let body: Uint8Array | undefined;
    let off = 0;
    const buf = new Uint8Array(256);
    const send = (): void => {
      if (body === undefined) return;
      while (off < body.byteLength) {
        const n = conn.write(body.subarray(off, Math.min(body.byteLength, off + 64 * 1024)));
        off += n;
        if (n === 0) return;
      }
      conn.close();
      body = undefined;
    };
    conn.onReadable = () => {
      for (let n = conn.read(buf); n > 0; n = conn.read(buf)) req += Buffer.from(buf.subarray(0, n)).toString('latin1');
      const m = /^GET (\d+)\n/.exec(req);
      if (m !== null && body === undefined && off === 0) {
        body = patternBytes(Number(m[1]), 7);
        send();
      }
    };
    conn.onWritable = send;
  };
}

/**
 * Connects a kernel TCP client to 127.0.0.1:`port`, sends `data` and, when `endAfterSend`, half-closes;
 * resolves with everything received until the server's FIN (then closes its side too).
 */
export function exchange(port: number, data: Uint8Array, endAfterSend: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    s.on('error', reject);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(chunks));
    });
    s.write(data);
    if (endAfterSend) s.end();
  });
}
