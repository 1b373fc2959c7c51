/**
 * A TypeScript consumer of the published packages, type-checked (never run) in the scratch project
 * against the installed `dist/*.d.ts` (strict, `skipLibCheck: false`, no custom conditions). The
 * `@ts-expect-error` lines fail the check if a package's types were missing and resolved to `any`.
 */
import { Scheduler, VirtualClock, type SchedulerApi } from '@postern/irq';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { Sockets, createNet, type PosternNet } from '@postern/socket';
import { HttpServer, Router, type HttpHandler } from '@postern/http';
import { parseIpv4 } from '@postern/wire';

export function twoStacks(): { client: PosternNet; server: PosternNet; scheduler: SchedulerApi } {
  const scheduler = new Scheduler({ clock: 'real', seed: 1 });
  const link = createMemoryLink(scheduler);
  const a = new Stack(scheduler);
  const b = new Stack(scheduler);
  a.addInterface(new NetDevice(link.a, scheduler)).addAddress(parseIpv4('198.18.0.1'), 24);
  b.addInterface(new NetDevice(link.b, scheduler)).addAddress(parseIpv4('198.18.0.2'), 24);
  return {
    client: createNet(new Sockets(a, attachTcp(a))),
    server: createNet(new Sockets(b, attachTcp(b))),
    scheduler,
  };
}

export function serve(net: PosternNet, scheduler: Scheduler): HttpServer {
  const hello: HttpHandler = (req, res) => res.send(`hello ${req.params.name ?? 'nobody'}\n`);
  const server = new HttpServer(new Router().get('/hello/:name', hello).handler, { scheduler });
  server.attach(net.createServer({ allowHalfOpen: true }));
  return server;
}

export const clockNow: number = new VirtualClock().now();

export function typesAreReal(server: HttpServer): void {
  // @ts-expect-error parseIpv4 takes a string
  parseIpv4(42);
  // @ts-expect-error the server's counters are numbers
  const requests: string = server.stats.requests;
  void requests;
}
