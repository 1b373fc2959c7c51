import { Scheduler } from '@postern/irq';
import { attachTcp, Stack } from '@postern/netstack';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { memoryPair } from '@postern/netlab';
import { parseIpv4 } from '@postern/wire';
import { describe, expect, it } from 'vitest';
import { AdminApi, type AdminControl, type AdminRequest } from '../src/admin-api.js';
import { WWW_AUTHENTICATE, checkBasicAuth } from '../src/auth.js';
import { TrafficHistory } from '../src/traffic.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = basic('admin', 's3cret');

/** Two real stacks on an in-memory link (virtual clock): the gateway at .1 and a peer at .2. */
async function setup(password: string | null = 's3cret') {
  const sched = new Scheduler({ seed: 7 });
  const {
    a: stack,
    b: peer,
    devA,
    link,
  } = await memoryPair({ createMemoryLink, NetDevice, Stack, parseIpv4 }, sched, {
    a: { firewall: true },
    resolveArp: false,
  });
  const tcp = attachTcp(stack);
  const traffic = new TrafficHistory(sched, () => ({
    rxFrames: devA.stats.rxDelivered,
    txFrames: devA.stats.txFrames,
    rxBytes: devA.stats.rxBytes,
    txBytes: devA.stats.txBytes,
  }));
  let reboots = 0;
  const control: AdminControl = {
    stack,
    tcp,
    traffic,
    schedulerStats: sched.stats,
    startedAt: 0,
    admin: { user: 'admin', password: password ?? undefined },
    httpStatusCounts: () => ({ '200': 3 }),
    httpCounters: () => ({ requests: 3 }),
    tcpConnections: () => [],
    // What the NIC reports, as gateway.ts shows it for a NIC that does not reconnect by itself.
    connections: () => ({
      [stack.interfaces[0]!.name]: {
        state: devA.linkState,
        reported: devA.linkState,
        attempts: 0,
        lastError: null,
        nextAttemptAt: null,
        counters: null,
      },
    }),
    info: () => ({
      nics: ['mem'],
      www: '/srv/secret/www',
      interfaces: [{ name: 'eth0', nic: 'serial:/dev/ttyACM7', ip: '198.18.0.1/24' }],
    }),
    reboot: () => void reboots++,
  };
  const api = new AdminApi(control);
  /** A request as a same-origin client sends it (`Content-Type: application/json` with a body), `extra` overriding. */
  const send = (
    method: string,
    path: string,
    body: unknown = '',
    authorization: string | null = GOOD,
    extra: Partial<AdminRequest> = {},
  ) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const req: AdminRequest = {
      method,
      path,
      authorization: authorization ?? undefined,
      body: text,
      contentType: text === '' ? undefined : 'application/json',
      ...extra,
    };
    const res = api.handle(req);
    return { ...res, json: JSON.parse(res.body) as Record<string, unknown> & unknown[] };
  };
  const call = (method: string, path: string, body: unknown = '', authorization: string | null = GOOD) =>
    send(method, path, body, authorization);
  return { sched, stack, peer, tcp, traffic, link, call, send, reboots: () => reboots };
}

describe('admin API: reading', () => {
  it('GET /api/ shows interfaces, ARP, routes, filter, TCP, scheduler, HTTP and traffic after real traffic', async () => {
    const { sched, peer, traffic, call } = await setup();
    const reply = peer.ping({ dst: parseIpv4('198.18.0.1'), size: 56 });
    sched.advance(10);
    await reply;
    traffic.sample();
    const res = call('GET', '/api/', '', null);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document explored field by field
    const s = res.json as unknown as Record<string, any>;
    expect(s.interfaces).toHaveLength(1);
    expect(s.interfaces[0]).toMatchObject({
      name: expect.any(String),
      link: 'up',
      addresses: ['198.18.0.1/24'],
      mtu: 1500,
    });
    expect(s.interfaces[0].mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(s.interfaces[0].counters.rxDelivered).toBeGreaterThanOrEqual(2); // ARP request + echo request
    expect(s.interfaces[0].counters.txFrames).toBeGreaterThanOrEqual(2);
    expect(s.arp).toContainEqual(expect.objectContaining({ ip: '198.18.0.2', mac: expect.stringMatching(/:/) }));
    expect(s.routes).toContainEqual(expect.objectContaining({ to: '198.18.0.0/24', kind: 'connected', via: null }));
    expect(s.filter.enabled).toBe(true);
    expect(s.tcp).toMatchObject({ connectionCount: 0, connections: [] });
    expect(s.scheduler.irq.length).toBeGreaterThanOrEqual(2);
    expect(s.scheduler.irq[0]).toMatchObject({
      name: expect.any(String),
      raised: expect.any(Number),
      handled: expect.any(Number),
    });
    expect(s.scheduler.deferred.runs).toBeGreaterThan(0);
    expect(s.http.byStatus).toEqual({ '200': 3 });
    expect(s.traffic).toHaveLength(1);
    expect(s.traffic[0].rxFps).toBeGreaterThan(0);
  });

  it("GET /api/interfaces carries each link's connection as GET /api/ does, following the NIC's report", async () => {
    const { sched, link, call } = await setup();
    const connectionOf = (path: string): unknown => {
      const body = call('GET', path).json as unknown as Record<string, unknown>;
      const list = (path === '/api/interfaces' ? body : body['interfaces']) as Array<{ connection?: unknown }>;
      return list[0]!.connection;
    };
    expect(connectionOf('/api/interfaces')).toEqual({
      state: 'up',
      reported: 'up',
      attempts: 0,
      lastError: null,
      nextAttemptAt: null,
      counters: null,
    });
    link.setLink('down'); // the cable is pulled: the driver reports the carrier lost
    sched.advance(10);
    expect(connectionOf('/api/interfaces')).toMatchObject({ state: 'down', reported: 'down' });
    expect(connectionOf('/api/')).toEqual(connectionOf('/api/interfaces'));
    link.setLink('up');
    sched.advance(10);
    expect(connectionOf('/api/interfaces')).toMatchObject({ state: 'up', reported: 'up' });
  });

  it('sub-resources and errors', async () => {
    const { call } = await setup();
    expect(call('GET', '/api/routes').json).toHaveLength(1);
    expect(call('GET', '/api/scheduler').json).toHaveProperty('timersFired');
    // A virtual clock takes no host turns; the counters are there, by kind.
    expect(call('GET', '/api/scheduler').json.hostTurns).toEqual({
      microtask: 0,
      immediate: 0,
      timer: 0,
      timerDeferred: 0,
      immediateCancelled: 0,
    });
    expect(call('GET', '/api/counters').json.length).toBeGreaterThan(10);
    expect(call('GET', '/api/settings').json).toEqual({ forwarding: false, firewall: true });
    expect(call('GET', '/api/nothing').status).toBe(404);
    const wrong = call('POST', '/api/interfaces', '{}');
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('GET, HEAD');
  });
});

describe('admin API: authentication on changes', () => {
  it('401 without credentials (with WWW-Authenticate), 401 for a wrong password, 403 for a wrong user; nothing changes', async () => {
    const { call, stack } = await setup();
    const body = { to: '10.9.0.0/16', via: '198.18.0.2' };
    const none = call('POST', '/api/routes', body, null);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(WWW_AUTHENTICATE);
    const badPass = call('POST', '/api/routes', body, basic('admin', 'nope'));
    expect(badPass.status).toBe(401);
    expect(badPass.headers['www-authenticate']).toBe(WWW_AUTHENTICATE);
    expect(call('POST', '/api/routes', body, basic('mallory', 's3cret')).status).toBe(403);
    expect(call('POST', '/api/routes', body, 'Bearer xyz').status).toBe(401);
    expect(call('POST', '/api/reboot', '', basic('guest', 'x')).status).toBe(403);
    expect(stack.routes.list()).toHaveLength(1);
  });

  it('403 for every change when no password is configured', async () => {
    const { call } = await setup(null);
    const res = call('PUT', '/api/settings', { forwarding: true }, basic('admin', 'anything'));
    expect(res.status).toBe(403);
    expect(res.json.error).toMatch(/no admin password/);
  });

  it("checkBasicAuth: the admin with the password passes; the header syntax is @postern/http's (any scheme case, 1+ spaces)", () => {
    const admin = { user: 'admin', password: 'pw' };
    const token = Buffer.from('admin:pw').toString('base64');
    expect(checkBasicAuth(basic('admin', 'pw'), admin)).toEqual({ ok: true, user: 'admin' });
    expect(checkBasicAuth(`bASIC   ${token}`, admin)).toEqual({ ok: true, user: 'admin' });
    expect(checkBasicAuth(basic('admin', 'pw2'), admin)).toMatchObject({ ok: false, status: 401 });
    expect(checkBasicAuth(`Basic\t${token}`, admin)).toMatchObject({ ok: false, status: 401 });
    expect(checkBasicAuth('Basic !!!', admin)).toMatchObject({ ok: false, status: 401 });
    expect(checkBasicAuth(`Basic ${Buffer.from('nocolon').toString('base64')}`, admin)).toMatchObject({
      ok: false,
      status: 401,
    });
    expect(checkBasicAuth(basic('root', 'pw'), admin)).toMatchObject({ ok: false, status: 403 });
  });
});

describe('admin API: routing', () => {
  it('405 names the methods of the path in Allow (HEAD with GET)', async () => {
    const { call } = await setup();
    const allowOf = (method: string, path: string) => {
      const r = call(method, path, '');
      return [r.status, r.headers['allow']];
    };
    expect(allowOf('PUT', '/api/routes')).toEqual([405, 'GET, POST, HEAD']);
    expect(allowOf('GET', '/api/routes/10.9.0.0/16')).toEqual([405, 'DELETE']);
    expect(allowOf('DELETE', '/api/filter/rules')).toEqual([405, 'GET, POST, HEAD']);
    expect(allowOf('GET', '/api/filter/rules/3')).toEqual([405, 'DELETE']);
    expect(allowOf('POST', '/api/filter/policy/input')).toEqual([405, 'GET, PUT, HEAD']);
    expect(allowOf('DELETE', '/api/settings')).toEqual([405, 'GET, PUT, HEAD']);
    expect(allowOf('GET', '/api/lan/dns-cache')).toEqual([405, 'DELETE']);
    expect(allowOf('GET', '/api/nat/mappings')).toEqual([405, 'DELETE']);
    expect(allowOf('GET', '/api/reboot')).toEqual([405, 'POST']);
    expect(allowOf('OPTIONS', '/api/arp')).toEqual([405, 'GET, HEAD']);
  });

  it('HEAD reads like GET; trailing slashes do not matter; unknown paths are 404', async () => {
    const { call } = await setup();
    expect(call('HEAD', '/api/arp', '', null).status).toBe(200);
    expect(call('GET', '/api/routes/', '', null).json).toHaveLength(1);
    expect(call('GET', '/api//', '', null).status).toBe(200);
    expect(call('GET', '/api/filter/rules/3/x', '', null).status).toBe(404);
    expect(call('GET', '/api/lan/leases', '', null).status).toBe(404);
    expect(call('GET', '/api/filter/policy/sideways', '', null).status).toBe(404);
    expect(call('DELETE', '/api/filter/rules/abc').status).toBe(404);
  });

  it('a change is authenticated before the path is looked at: 401 for an unknown path without credentials, 404 with them', async () => {
    const { call } = await setup();
    expect(call('POST', '/api/nothing', '', null).status).toBe(401);
    expect(call('POST', '/api/nothing').status).toBe(404);
    expect(call('OPTIONS', '/api/arp', '', null).status).toBe(401);
    expect(call('GET', '/api/%ff/x', '', null).status).toBe(400);
    expect(call('POST', '/api/%ff', '', null).status).toBe(400);
  });

  it('route deletion takes the destination from the rest of the path, percent-decoded', async () => {
    const { call } = await setup();
    expect(call('POST', '/api/routes', { to: '10.9.0.0/16', via: '198.18.0.2' }).status).toBe(201);
    const r = call('DELETE', '/api/routes/10.9.0.0%2F16');
    expect([r.status, r.json.deleted]).toEqual([200, '10.9.0.0/16']);
    expect(call('DELETE', '/api/routes/nonsense').status).toBe(400);
  });
});

describe('admin API: changes with the right credentials', () => {
  it('routes: add, list, duplicate 409, bad 400, delete, missing 404', async () => {
    const { call, stack } = await setup();
    const add = call('POST', '/api/routes', { to: '10.9.0.0/16', via: '198.18.0.2' });
    expect(add.status).toBe(201);
    expect(stack.routes.match(parseIpv4('10.9.1.1'))?.gateway).toBe(parseIpv4('198.18.0.2'));
    expect(call('POST', '/api/routes', { to: '10.9.0.0/16', via: '198.18.0.2' }).status).toBe(409);
    expect(call('POST', '/api/routes', { to: '10.9.0.1/16', via: '198.18.0.2' }).status).toBe(400);
    const unreachable = call('POST', '/api/routes', { to: 'default', via: '10.0.0.1' });
    expect(unreachable.status).toBe(400);
    expect(unreachable.json.code).toBe('GATEWAY_UNREACHABLE');
    expect(call('POST', '/api/routes', '{nope').status).toBe(400);
    expect(call('POST', '/api/routes', { to: 'default', via: '198.18.0.2' }).status).toBe(201);
    expect(call('GET', '/api/routes').json).toContainEqual(
      expect.objectContaining({ to: 'default', via: '198.18.0.2' }),
    );
    expect(call('DELETE', '/api/routes/10.9.0.0/16').status).toBe(200);
    expect(call('DELETE', '/api/routes/default').status).toBe(200);
    expect(stack.routes.list()).toHaveLength(1);
    expect(call('DELETE', '/api/routes/10.9.0.0/16').status).toBe(404);
  });

  it('filter rules: add, see hits, policy, delete', async () => {
    const { call, stack, peer, sched } = await setup();
    const add = call('POST', '/api/filter/rules', {
      chain: 'input',
      protocol: 'icmp',
      action: 'drop',
      comment: 'no ping',
    });
    expect(add.status).toBe(201);
    const id = add.json.id as number;
    const reply = peer.ping({ dst: parseIpv4('198.18.0.1'), size: 8, timeoutMs: 500 });
    sched.advance(1000);
    await expect(reply).rejects.toThrow();
    const rules = call('GET', '/api/filter/rules').json as Array<Record<string, unknown>>;
    expect(rules).toEqual([
      expect.objectContaining({ id, chain: 'input', protocol: 'icmp', action: 'drop', comment: 'no ping', packets: 1 }),
    ]);
    const bad = call('POST', '/api/filter/rules', { chain: 'input', action: 'drop', dstPort: 80 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('body.dstPort: needs protocol tcp or udp');
    expect(call('PUT', '/api/filter/policy/forward', { policy: 'drop' }).json).toMatchObject({ policy: 'drop' });
    expect(stack.filter.policy('forward').policy).toBe('drop');
    expect(call('PUT', '/api/filter/policy/prerouting', { policy: 'drop' }).status).toBe(404);
    expect(call('DELETE', `/api/filter/rules/${id}`).status).toBe(200);
    expect(call('DELETE', `/api/filter/rules/${id}`).status).toBe(404);
    expect(stack.filter.listRules()).toEqual([]);
  });

  it('settings and reboot', async () => {
    const { call, stack, reboots } = await setup();
    expect(call('PUT', '/api/settings', { forwarding: true, firewall: false }).json).toEqual({
      forwarding: true,
      firewall: false,
    });
    expect(stack.forwarding).toBe(true);
    expect(stack.filter.enabled).toBe(false);
    expect(call('PUT', '/api/settings', { speed: 1 }).status).toBe(400);
    expect(call('PUT', '/api/settings', { forwarding: 'yes' }).status).toBe(400);
    expect(call('POST', '/api/reboot').status).toBe(202);
    expect(reboots()).toBe(1);
    expect(call('GET', '/api/reboot').status).toBe(405);
  });
});

describe('TrafficHistory', () => {
  it('samples rates each second on the scheduler clock and bounds the history', () => {
    const sched = new Scheduler();
    const totals = { rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0 };
    const h = new TrafficHistory(sched, () => totals, 3);
    h.start();
    for (let i = 1; i <= 5; i++) {
      totals.rxFrames += 10 * i;
      totals.txFrames += 5;
      sched.advance(1000);
    }
    expect(h.list().map((s) => [s.rxFps, s.txFps])).toEqual([
      [30, 5],
      [40, 5],
      [50, 5],
    ]);
    totals.rxFrames = 0; // a counter reset never shows as a negative rate
    sched.advance(1000);
    expect(h.list().at(-1)!.rxFps).toBe(0);
    h.stop();
    sched.advance(5000);
    expect(h.list()).toHaveLength(3);
  });
});

describe('admin API: cross-site requests, malformed paths, host paths', () => {
  const ROUTE = { to: '10.9.0.0/16', via: '198.18.0.2' };
  const routeCount = (stack: Stack) => stack.snapshot().routes.length;

  it('a cross-site simple POST (text/plain, foreign Origin, cached credentials) changes nothing: 403', async () => {
    const { send, stack } = await setup();
    const before = routeCount(stack);
    const r = send('POST', '/api/routes', ROUTE, GOOD, {
      contentType: 'text/plain',
      origin: 'http://evil.example',
      host: '198.18.0.1',
    });
    expect(r.status).toBe(403);
    expect(send('POST', '/api/routes', ROUTE, GOOD, { origin: 'http://evil.example', host: '198.18.0.1' }).status).toBe(
      403,
    );
    expect(send('POST', '/api/routes', ROUTE, GOOD, { origin: 'null', host: '198.18.0.1' }).status).toBe(403);
    expect(send('POST', '/api/reboot', '', GOOD, { secFetchSite: 'cross-site', host: '198.18.0.1' }).status).toBe(403);
    expect(send('DELETE', '/api/routes/default', '', GOOD, { secFetchSite: 'same-site' }).status).toBe(403);
    expect(routeCount(stack)).toBe(before);
  });

  it("a same-origin change needs JSON: text/plain is 415, application/json from the gateway's own origin is 201", async () => {
    const { send, stack } = await setup();
    const own = { origin: 'http://198.18.0.1:8080', host: '198.18.0.1:8080', secFetchSite: 'same-origin' };
    expect(send('POST', '/api/routes', ROUTE, GOOD, { ...own, contentType: 'text/plain' }).status).toBe(415);
    expect(send('POST', '/api/routes', ROUTE, GOOD, { ...own, contentType: undefined }).status).toBe(415);
    const before = routeCount(stack);
    expect(
      send('POST', '/api/routes', ROUTE, GOOD, { ...own, contentType: 'application/json; charset=utf-8' }).status,
    ).toBe(201);
    expect(routeCount(stack)).toBe(before + 1);
  });

  it("a malformed percent-escape is 400 without the decoder's message", async () => {
    const { call } = await setup();
    const r = call('GET', '/api/%ff', '', null);
    expect(r.status).toBe(400);
    expect(r.body).not.toMatch(/URI|decode|Error/);
  });

  it('GET /api/ shows no host path: www only as a flag, a serial device only as serial', async () => {
    const { call } = await setup();
    const r = call('GET', '/api/', '', null);
    expect(r.body).not.toContain('/srv/secret');
    expect(r.body).not.toContain('/dev/ttyACM7');
    expect((r.json as unknown as { info: unknown }).info).toMatchObject({
      www: true,
      interfaces: [{ name: 'eth0', nic: 'serial' }],
    });
  });
});
