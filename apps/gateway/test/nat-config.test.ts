import { Scheduler } from '@postern/irq';
import { attachTcp, Stack } from '@postern/netstack';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { parseIpv4 } from '@postern/wire';
import { describe, expect, it } from 'vitest';
import { AdminApi, type AdminControl } from '../src/admin-api.js';
import { ConfigError, validateConfig } from '../src/config.js';
import { applyNat } from '../src/nat-config.js';
import { TrafficHistory } from '../src/traffic.js';

const base = {
  interfaces: [
    { name: 'wan', nic: 'tap:t0', ip: '198.18.2.1/24' },
    { name: 'lan', nic: 'tap:t1', ip: '198.18.1.1/24' },
  ],
  forwarding: true,
};

function problem(doc: unknown): string {
  try {
    validateConfig(doc);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('config: nat and portForwards', () => {
  it('accepts masquerade and port forwards and defaults both to empty', () => {
    const c = validateConfig({
      ...base,
      nat: [{ type: 'masquerade', out: 'wan' }],
      portForwards: [{ in: 'wan', protocol: 'tcp', port: 8080, to: '198.18.1.10:80' }],
    });
    expect(c.nat).toEqual([{ type: 'masquerade', out: 'wan' }]);
    expect(c.portForwards).toEqual([{ in: 'wan', protocol: 'tcp', port: 8080, to: '198.18.1.10:80' }]);
    expect(validateConfig(base)).toMatchObject({ nat: [], portForwards: [] });
  });

  it('names the field of each mistake', () => {
    expect(problem({ ...base, nat: [{ type: 'snat', out: 'wan' }] })).toMatch(/^config: nat\[0\]\.type/);
    expect(problem({ ...base, nat: [{ type: 'masquerade', out: 'wan0' }] })).toMatch(
      /^config: nat\[0\]\.out .*names no interface/,
    );
    expect(problem({ ...base, forwarding: false, nat: [{ type: 'masquerade', out: 'wan' }] })).toMatch(
      /^config: nat\[0\]: needs "forwarding": true/,
    );
    expect(
      problem({ ...base, portForwards: [{ in: 'wan', protocol: 'sctp', port: 1, to: '198.18.1.10:80' }] }),
    ).toMatch(/^config: portForwards\[0\]\.protocol/);
    expect(
      problem({ ...base, portForwards: [{ in: 'wan', protocol: 'tcp', port: 70000, to: '198.18.1.10:80' }] }),
    ).toMatch(/^config: portForwards\[0\]\.port/);
    expect(problem({ ...base, portForwards: [{ in: 'wan', protocol: 'tcp', port: 1, to: '198.18.1.10' }] })).toMatch(
      /^config: portForwards\[0\]\.to/,
    );
    expect(
      problem({ ...base, portForwards: [{ in: 'wan', protocol: 'tcp', port: 1, to: '198.18.1.10:99999' }] }),
    ).toMatch(/^config: portForwards\[0\]\.to/);
    const fwd = { in: 'wan', protocol: 'udp', port: 53, to: '198.18.1.10:53' };
    expect(problem({ ...base, portForwards: [fwd, { ...fwd, to: '198.18.1.11:53' }] })).toMatch(
      /^config: portForwards\[1\].*repeats/,
    );
    expect(problem({ ...base, portForwards: [{ ...fwd, extra: 1 }] })).toMatch(/^config: portForwards\[0\]/);
  });
});

describe('admin API: /api/nat', () => {
  async function setup() {
    const sched = new Scheduler({ seed: 3 });
    const l1 = createMemoryLink(sched);
    const l2 = createMemoryLink(sched);
    const stack = new Stack(sched, { forwarding: true });
    const wan = stack.addInterface(new NetDevice(l1.a, sched));
    wan.addAddress(parseIpv4('198.18.2.1'), 24);
    stack.addInterface(new NetDevice(l2.a, sched)).addAddress(parseIpv4('198.18.1.1'), 24);
    const rules = validateConfig({
      ...base,
      nat: [{ type: 'masquerade', out: 'wan' }],
      portForwards: [{ in: 'wan', protocol: 'udp', port: 5300, to: '198.18.1.10:53' }],
    });
    applyNat(stack, rules.nat, rules.portForwards, (name) => (name === 'wan' ? 0 : 1));
    const control: AdminControl = {
      stack,
      tcp: attachTcp(stack),
      traffic: new TrafficHistory(sched, () => ({ rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0 })),
      schedulerStats: sched.stats,
      startedAt: 0,
      admin: { user: 'admin', password: 'pw' },
      httpStatusCounts: () => ({}),
      httpCounters: () => ({}),
      tcpConnections: () => [],
      info: () => ({ interfaces: [] }),
      reboot: () => undefined,
      natRules: rules,
    };
    return { stack, api: new AdminApi(control) };
  }

  it('shows the rules, forwards and mapping table, and flushing mappings needs the admin', async () => {
    const { stack, api } = await setup();
    // One masquerade mapping, made by a real UDP datagram through the engine.
    const p = new Uint8Array(28);
    p.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 1, 2, 198, 18, 2, 2, 0x13, 0x88, 0, 53, 0, 8, 0, 0]);
    expect(stack.nat!.outbound(p, 1, 0, -1, stack.now)).toBe(true);
    const res = api.handle({ method: 'GET', path: '/api/nat', authorization: undefined, body: '' });
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.body) as {
      rules: unknown[];
      portForwards: unknown[];
      mappings: Array<Record<string, unknown>>;
      counters: Record<string, number>;
    };
    expect(doc.rules).toEqual([{ type: 'masquerade', out: 'wan' }]);
    expect(doc.mappings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'static', protocol: 'udp', externalPort: 5300, internal: '198.18.1.10:53' }),
        expect.objectContaining({
          kind: 'dynamic',
          protocol: 'udp',
          externalPort: 5000,
          internal: '198.18.1.2:5000',
          remotes: ['198.18.2.2'],
        }),
      ]),
    );
    expect(doc.counters.translatedOut).toBe(1);
    expect(
      JSON.parse(api.handle({ method: 'GET', path: '/api/', authorization: undefined, body: '' }).body).nat.mappings,
    ).toHaveLength(2);
    expect(api.handle({ method: 'DELETE', path: '/api/nat/mappings', authorization: undefined, body: '' }).status).toBe(
      401,
    );
    expect(stack.nat!.table.dynamicSize).toBe(1);
    const ok = api.handle({
      method: 'DELETE',
      path: '/api/nat/mappings',
      authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}`,
      body: '',
    });
    expect([ok.status, JSON.parse(ok.body)]).toEqual([200, { flushed: 1 }]);
    expect(stack.nat!.table.size).toBe(1);
  });
});
