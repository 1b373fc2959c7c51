import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IP_PROTO_UDP } from '@postern/wire';
import type { RouteInfo } from '../src/index.js';
import { ip, routed, twoHosts } from './support/net.js';

/** The fields of a route choice, as plain data (the cache hands out its own slot objects). */
function plain(r: RouteInfo | undefined): object | undefined {
  if (r === undefined) return undefined;
  return {
    ifIndex: r.iface.index,
    nextHop: r.nextHop,
    link: r.linkDestination,
    src: r.src,
    mtu: r.mtu,
    local: r.local,
  };
}

describe('Stack: the route cache', () => {
  it('follows a route added or removed after a choice was remembered', async () => {
    const { a } = await routed();
    const far = ip('203.0.113.9');
    expect(a.stack.routeTo(far)?.nextHop).toBe(ip('198.18.1.1'));
    expect(a.stack.routeTo(far)?.nextHop).toBe(ip('198.18.1.1'));
    a.stack.routes.addStatic({ prefix: ip('203.0.113.0'), prefixLength: 24, ifIndex: 0 });
    expect(a.stack.routeTo(far)?.nextHop).toBe(far); // on-link now
    a.stack.routes.removeStatic(ip('203.0.113.0'), 24);
    expect(a.stack.routeTo(far)?.nextHop).toBe(ip('198.18.1.1'));
  });

  it('follows address changes: a removed source is refused, a new one is used', async () => {
    const { a } = await twoHosts();
    const peer = ip('198.18.0.2');
    expect(a.stack.routeTo(peer, ip('198.18.0.1'))?.src).toBe(ip('198.18.0.1'));
    a.iface.addAddress(ip('198.18.7.1'), 24);
    a.iface.removeAddress(ip('198.18.0.1'));
    expect(a.stack.routeTo(peer, ip('198.18.0.1'))).toBeUndefined();
    expect(() =>
      a.stack.sendIpv4({ src: ip('198.18.0.1'), dst: peer, protocol: IP_PROTO_UDP }, 0, () => undefined),
    ).toThrow(expect.objectContaining({ code: 'ADDRESS_NOT_AVAILABLE' }));
    expect(a.stack.routeTo(peer)).toBeUndefined(); // the connected route went with the address
    expect(a.stack.routeTo(ip('198.18.7.9'))?.src).toBe(ip('198.18.7.1'));
  });

  it('reads the MTU afresh: a changed MTU applies to the next datagram', async () => {
    const { a } = await twoHosts();
    const peer = ip('198.18.0.2');
    expect(a.stack.routeTo(peer)?.mtu).toBe(1500);
    a.iface.setMtu(1280);
    expect(a.stack.routeTo(peer)?.mtu).toBe(1280);
    expect(() => a.stack.sendIpv4({ dst: peer, protocol: IP_PROTO_UDP, df: true }, 1300, () => undefined)).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LONG', mtu: 1280 }),
    );
  });

  it('always agrees with uncached selection under random route, address and MTU changes (property)', async () => {
    const op = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('query' as const),
          dst: fc.integer({ min: 0, max: 11 }),
          src: fc.boolean(),
        }),
      },
      fc.record({
        kind: fc.constant('addRoute' as const),
        net: fc.integer({ min: 0, max: 3 }),
        len: fc.constantFrom(24, 26, 28),
      }),
      fc.record({
        kind: fc.constant('delRoute' as const),
        net: fc.integer({ min: 0, max: 3 }),
        len: fc.constantFrom(24, 26, 28),
      }),
      fc.record({ kind: fc.constant('address' as const), host: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('mtu' as const), mtu: fc.constantFrom(576, 1280, 1500) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const { a } = await routed();
        const stack = a.stack;
        // A few destinations, spread over the /24s the random routes cover: each is asked for again and again.
        const dstOf = (n: number): number => (ip('203.0.113.0') + ((n & 3) << 8) + (n >>> 2) * 17) >>> 0;
        for (const o of ops) {
          if (o.kind === 'query') {
            const dst = dstOf(o.dst);
            const src = o.src ? a.iface.primaryAddress : undefined;
            let uncached: RouteInfo | undefined;
            try {
              // With an interface index the choice is made afresh (for unicast the index changes nothing).
              uncached = stack.output.route(dst, src, 0);
            } catch {
              uncached = undefined;
            }
            expect(plain(stack.routeTo(dst, src))).toEqual(plain(uncached));
          } else if (o.kind === 'addRoute' || o.kind === 'delRoute') {
            const prefix = (ip('203.0.113.0') + (o.net << 8)) >>> 0;
            try {
              if (o.kind === 'addRoute') stack.routes.addStatic({ prefix, prefixLength: o.len, ifIndex: 0 });
              else stack.routes.removeStatic(prefix, o.len);
            } catch {
              // a duplicate or a missing route: the table stays as it was
            }
          } else if (o.kind === 'address') {
            const address = (ip('198.18.5.0') + o.host) >>> 0;
            if (a.iface.hasAddress(address)) a.iface.removeAddress(address);
            else a.iface.addAddress(address, 24);
          } else {
            a.iface.setMtu(o.mtu);
          }
        }
      }),
      { numRuns: 60, seed: 17 },
    );
  });
});
