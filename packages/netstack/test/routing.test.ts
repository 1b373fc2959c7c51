import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIpv4 } from '@postern/wire';
import { RouteError, RoutingTable, prefixMask, type Route } from '../src/index.js';

const ip = parseIpv4;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof RouteError) return e.code;
    throw e;
  }
}

describe('RoutingTable', () => {
  it('prefers the longest prefix and gives the destination as next hop on a connected route', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('192.168.1.1'), 24);
    t.addConnected(2, ip('10.0.0.1'), 8);
    t.addStatic({ prefix: ip('10.1.0.0'), prefixLength: 16, gateway: ip('10.0.0.254') });
    t.setDefaultRoute(ip('192.168.1.254'));

    expect(t.lookup(ip('192.168.1.77'))).toMatchObject({ ifIndex: 1, nextHop: ip('192.168.1.77') });
    expect(t.lookup(ip('10.9.9.9'))).toMatchObject({ ifIndex: 2, nextHop: ip('10.9.9.9') });
    expect(t.lookup(ip('10.1.2.3'))).toMatchObject({ ifIndex: 2, nextHop: ip('10.0.0.254') });
    const def = t.lookup(ip('8.8.8.8'))!;
    expect(def).toMatchObject({ ifIndex: 1, nextHop: ip('192.168.1.254') });
    expect(def.route.prefixLength).toBe(0);
  });

  it('returns undefined and counts noRoute without a default route', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('192.168.1.1'), 24);
    expect(t.lookup(ip('8.8.8.8'))).toBeUndefined();
    expect(t.stats.get('noRoute')).toBe(1);
    expect(t.stats.get('lookups')).toBe(1);
  });

  it('fills a caller-supplied result object instead of allocating', () => {
    const t = new RoutingTable();
    t.addConnected(3, ip('172.16.0.1'), 12);
    const out = { ifIndex: -1, nextHop: 0, route: undefined as unknown as Route };
    expect(t.lookup(ip('172.20.0.9'), out)).toBe(out);
    expect(out.ifIndex).toBe(3);
    expect(out.nextHop).toBe(ip('172.20.0.9'));
  });

  it('picks the lowest metric among routes to one prefix, connected first at equal metric', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('10.0.0.1'), 24);
    t.addConnected(2, ip('10.0.1.1'), 24);
    t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.9'), metric: 20 });
    t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.1.9'), metric: 10 });
    expect(t.lookup(ip('20.1.1.1'))!.nextHop).toBe(ip('10.0.1.9'));
    t.removeStatic(ip('20.0.0.0'), 8, 10);
    expect(t.lookup(ip('20.1.1.1'))!.nextHop).toBe(ip('10.0.0.9'));

    t.addStatic({ prefix: ip('10.0.0.0'), prefixLength: 24, ifIndex: 2 });
    expect(t.lookup(ip('10.0.0.5'))!.route.kind).toBe('connected');
  });

  it('types its errors with stable codes', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('10.0.0.1'), 24);
    expect(codeOf(() => t.addStatic({ prefix: ip('10.1.0.1'), prefixLength: 16, ifIndex: 1 }))).toBe('HOST_BITS_SET');
    expect(codeOf(() => t.addStatic({ prefix: 0, prefixLength: 33, ifIndex: 1 }))).toBe('INVALID_PREFIX_LENGTH');
    expect(codeOf(() => t.addConnected(1, ip('10.0.0.1'), -1))).toBe('INVALID_PREFIX_LENGTH');
    expect(codeOf(() => t.addConnected(1, 2 ** 32, 8))).toBe('INVALID_ADDRESS');
    expect(codeOf(() => t.addConnected(1.5, ip('10.0.0.2'), 8))).toBe('INVALID_INTERFACE');
    expect(codeOf(() => t.addConnected(1, ip('10.0.0.1'), 24))).toBe('DUPLICATE');
    expect(codeOf(() => t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8 }))).toBe('INVALID_INTERFACE');
    expect(codeOf(() => t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('11.0.0.1') }))).toBe(
      'GATEWAY_UNREACHABLE',
    );
    expect(
      codeOf(() => t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.9'), ifIndex: 2 })),
    ).toBe('GATEWAY_UNREACHABLE');
    expect(codeOf(() => t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, ifIndex: 1, metric: -1 }))).toBe(
      'INVALID_METRIC',
    );
    t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.9') });
    expect(codeOf(() => t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.8') }))).toBe(
      'DUPLICATE',
    );
    expect(codeOf(() => t.removeStatic(ip('30.0.0.0'), 8))).toBe('NOT_FOUND');
    expect(codeOf(() => t.removeConnected(1, ip('10.0.0.2'), 24))).toBe('NOT_FOUND');
  });

  it('refuses a route over its limit and counts it', () => {
    const t = new RoutingTable({ maxRoutes: 2 });
    t.addConnected(1, ip('10.0.0.1'), 24);
    t.addConnected(1, ip('10.0.1.1'), 24);
    expect(codeOf(() => t.addConnected(1, ip('10.0.2.1'), 24))).toBe('TABLE_FULL');
    expect(t.stats.get('tableFull')).toBe(1);
    expect(t.size).toBe(2);
  });

  it('flushes static routes whose gateway became unreachable when an address goes', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('10.0.0.1'), 24);
    t.addConnected(2, ip('10.0.1.1'), 24);
    t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.9') });
    t.addStatic({ prefix: ip('30.0.0.0'), prefixLength: 8, gateway: ip('10.0.1.9') });
    const removed = t.removeConnected(1, ip('10.0.0.1'), 24);
    expect(removed.map((r) => r.kind)).toEqual(['connected', 'static']);
    expect(t.lookup(ip('20.0.0.1'))).toBeUndefined();
    expect(t.lookup(ip('30.0.0.1'))!.ifIndex).toBe(2);
    expect(t.stats.get('flushedUnreachable')).toBe(1);
    expect(t.removeInterface(2).length).toBe(2);
    expect(t.size).toBe(0);
    expect(t.list()).toEqual([]);
  });

  it('keeps a static route while another address of its interface still covers the gateway', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('10.0.0.1'), 24);
    t.addConnected(1, ip('10.0.0.2'), 16);
    t.addStatic({ prefix: ip('20.0.0.0'), prefixLength: 8, gateway: ip('10.0.0.9') });
    t.removeConnected(1, ip('10.0.0.1'), 24);
    expect(t.lookup(ip('20.0.0.1'))!.nextHop).toBe(ip('10.0.0.9'));
  });

  it('lists routes longest prefix first', () => {
    const t = new RoutingTable();
    t.addConnected(1, ip('10.0.0.1'), 8);
    t.addConnected(1, ip('10.0.0.1'), 24);
    t.setDefaultRoute(ip('10.0.0.254'));
    expect(t.list().map((r) => r.prefixLength)).toEqual([24, 8, 0]);
  });

  it('agrees with a naive linear scan on random tables (property)', () => {
    type Op = {
      kind: 'connected' | 'static' | 'remove';
      address: number;
      length: number;
      ifIndex: number;
      metric: number;
    };
    // Addresses drawn from a narrow space so prefixes nest and collide often.
    const addr = fc
      .tuple(
        fc.constantFrom(10, 11, 192),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([a, b, c, d]) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
    const op: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom('connected' as const, 'static' as const, 'static' as const, 'remove' as const),
      address: addr,
      length: fc.integer({ min: 0, max: 32 }),
      ifIndex: fc.integer({ min: 0, max: 3 }),
      metric: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.array(addr, { minLength: 1, maxLength: 40 }), (ops, probes) => {
        const t = new RoutingTable();
        const model: {
          prefix: number;
          length: number;
          ifIndex: number;
          metric: number;
          connected: boolean;
          seq: number;
          src?: number;
        }[] = [];
        const check = (): void => {
          for (const p of [...probes, ...model.map((m) => m.prefix)]) {
            const covering = model.filter((m) => (p & prefixMask(m.length)) >>> 0 === m.prefix);
            covering.sort(
              (a, b) =>
                b.length - a.length ||
                a.metric - b.metric ||
                Number(b.connected) - Number(a.connected) ||
                a.seq - b.seq,
            );
            const want = covering[0];
            const got = t.lookup(p);
            if (want === undefined) {
              expect(got).toBeUndefined();
            } else {
              expect(got).toBeDefined();
              expect([
                got!.route.prefixLength,
                got!.route.prefix,
                got!.ifIndex,
                got!.route.metric,
                got!.route.kind,
              ]).toEqual([
                want.length,
                want.prefix,
                want.ifIndex,
                want.metric,
                want.connected ? 'connected' : 'static',
              ]);
              expect(got!.nextHop).toBe(p);
            }
          }
        };
        ops.forEach((o, seq) => {
          const prefix = (o.address & prefixMask(o.length)) >>> 0;
          if (o.kind === 'remove') {
            const victim = model[o.address % Math.max(1, model.length)];
            if (victim === undefined) return;
            if (victim.connected) t.removeConnected(victim.ifIndex, victim.src!, victim.length);
            else t.removeStatic(victim.prefix, victim.length, victim.metric);
            model.splice(model.indexOf(victim), 1);
          } else if (o.kind === 'connected') {
            const dup = model.some(
              (m) =>
                m.connected &&
                m.ifIndex === o.ifIndex &&
                m.prefix === prefix &&
                m.length === o.length &&
                m.src === o.address,
            );
            const code = codeOf(() => t.addConnected(o.ifIndex, o.address, o.length));
            expect(code).toBe(dup ? 'DUPLICATE' : undefined);
            if (!dup)
              model.push({
                prefix,
                length: o.length,
                ifIndex: o.ifIndex,
                metric: 0,
                connected: true,
                seq,
                src: o.address,
              });
          } else {
            const dup = model.some(
              (m) => !m.connected && m.prefix === prefix && m.length === o.length && m.metric === o.metric,
            );
            const code = codeOf(() =>
              t.addStatic({ prefix, prefixLength: o.length, ifIndex: o.ifIndex, metric: o.metric }),
            );
            expect(code).toBe(dup ? 'DUPLICATE' : undefined);
            if (!dup)
              model.push({ prefix, length: o.length, ifIndex: o.ifIndex, metric: o.metric, connected: false, seq });
          }
          if (seq % 10 === 9) check();
        });
        check();
        expect(t.size).toBe(model.length);
      }),
      { numRuns: 300 },
    );
  });
});
