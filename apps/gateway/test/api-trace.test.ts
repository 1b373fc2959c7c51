/**
 * `/api/trace`: the path trace through the admin API, over two real stacks on an in-memory link
 * (virtual clock). Arming needs the admin; the capture shows the layers a real frame went through.
 */
import { Scheduler } from '@postern/irq';
import { attachTcp, Stack } from '@postern/netstack';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { memoryPair } from '@postern/netlab';
import { parseIpv4 } from '@postern/wire';
import { describe, expect, it } from 'vitest';
import { AdminApi, type AdminControl } from '../src/admin-api.js';
import { TrafficHistory } from '../src/traffic.js';

const GOOD = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;

async function setup() {
  const sched = new Scheduler({ seed: 3 });
  const { a: stack, b: peer } = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    resolveArp: false,
  });
  const tcp = attachTcp(stack);
  const traffic = new TrafficHistory(sched, () => ({ rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0 }));
  const control: AdminControl = {
    stack,
    tcp,
    traffic,
    schedulerStats: sched.stats,
    startedAt: 0,
    admin: { user: 'admin', password: 's3cret' },
    httpStatusCounts: () => ({}),
    httpCounters: () => ({}),
    tcpConnections: () => [],
    info: () => ({ interfaces: [] }),
    reboot: () => undefined,
    trace: sched.trace,
  };
  const api = new AdminApi(control);
  const call = (method: string, path: string, authorization?: string) => {
    const res = api.handle({ method, path, authorization, body: '' });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document read field by field
    return { status: res.status, json: JSON.parse(res.body) as Record<string, any> };
  };
  return { sched, peer, call };
}

describe('admin API: /api/trace', () => {
  it('is idle with no capture; arming needs the admin; an armed trace records a real frame layer by layer', async () => {
    const { sched, peer, call } = await setup();
    const first = peer.ping({ dst: parseIpv4('198.18.0.1'), size: 56 }); // ARP resolved both ways before the trace
    sched.advance(10);
    await first;
    expect(call('GET', '/api/trace').json).toEqual({ state: 'idle', capture: null });
    expect(call('POST', '/api/trace').status).toBe(401);
    const armed = call('POST', '/api/trace', GOOD);
    expect([armed.status, armed.json.state]).toEqual([202, 'armed']);

    const reply = peer.ping({ dst: parseIpv4('198.18.0.1'), size: 56 });
    sched.advance(10);
    await reply;
    const t = call('GET', '/api/trace').json;
    expect(t.state).toBe('capturing'); // no request reached HTTP: it waits for one
    const layers = (t.capture.marks as Array<{ layer: string; atUs: number }>).map((m) => m.layer);
    // Both stacks run on one scheduler, so one trace: each arriving frame restarts the capture until a
    // request reaches HTTP. The last frame is the echo reply arriving at the peer: driver, IRQ, bottom half, IP.
    expect(layers).toEqual(['driver', 'interrupt', 'interrupt', 'ip']);
    expect(t.capture.marks[2].what).toBe('bottom half: EtherType 0x0800');
    expect(t.capture.marks[0].atUs).toBe(0);

    const stopped = call('DELETE', '/api/trace', GOOD);
    expect([stopped.status, stopped.json.state]).toEqual([200, 'idle']);
    expect(call('GET', '/api/trace').json.capture.complete).toBe(false);
  });
});
