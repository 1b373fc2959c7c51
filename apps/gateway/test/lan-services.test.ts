/**
 * The gateway's LAN services without a network: the config contract (`ip: "dhcp"`, `dhcpServer`,
 * `dns`) and its refusals naming the field; the leases file (atomic rewrite, round trip, a damaged
 * file refused); `startLanServices` on the virtual clock with a DHCP client host (the lease shows in
 * `status()`, is written to the file, and is there again after a restart); the DNS forwarder also
 * answers over TCP port 53, until the services close; `/api/lan` and its cache flush, which needs the
 * admin's credentials.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler } from '@postern/irq';
import { DhcpClient, DnsStreamReader, Stack, attachTcp, frameDnsMessage, type TcpCloseReason } from '@postern/netstack';
import { NetDevice, createMemoryLink } from '@postern/nic';
import { DNS_RCODE, DNS_TYPE, dnsRcode, emitDnsQuery, parseDns, parseIpv4 } from '@postern/wire';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminApi, type AdminControl } from '../src/admin-api.js';
import { validateConfig } from '../src/config.js';
import { startLanServices } from '../src/lan-services.js';
import { LeasesFile, leasesJson, readLeasesFile, writeAtomically } from '../src/lease-file.js';
import { TrafficHistory } from '../src/traffic.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'postern-lan-unit-'));
  dirs.push(d);
  return d;
}

const LAN = { name: 'lan', nic: 'tap:pstlan0', ip: '198.18.31.1/24' };
const WAN = { name: 'wan', nic: 'tap:pstwan0', ip: 'dhcp' };

describe('config: LAN services', () => {
  it('accepts ip "dhcp", a DHCP server and the DNS forwarder, with defaults', () => {
    const c = validateConfig({
      interfaces: [
        WAN,
        {
          ...LAN,
          dhcpServer: {
            range: '198.18.31.100-198.18.31.150',
            static: [{ mac: '02:00:00:00:00:09', ip: '198.18.31.9' }],
          },
        },
      ],
      dns: { listen: ['lan'] },
    });
    expect(c.interfaces[0]!.ip).toBe('dhcp');
    expect(c.interfaces[0]!.dhcpLeaseFile).toBe('postern-dhcp-wan.json');
    expect(c.interfaces[1]!.dhcpLeaseFile).toBeUndefined();
    expect(c.interfaces[1]!.dhcpServer).toEqual({
      rangeFirst: parseIpv4('198.18.31.100'),
      rangeLast: parseIpv4('198.18.31.150'),
      leaseSeconds: 3600,
      static: [{ mac: 0x02_00_00_00_00_09, ip: parseIpv4('198.18.31.9') }],
      leasesFile: 'postern-leases-lan.json',
    });
    expect(c.dns).toEqual({ listen: ['lan'], upstream: [], cacheSize: 1024 });
  });

  it("the README's LAN services example validates", async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### LAN services'));
    const example = /```json\n([\s\S]*?)```/.exec(section)![1]!;
    const c = validateConfig(JSON.parse(example));
    expect(c.interfaces.map((i) => i.ip)).toEqual(['dhcp', '198.18.31.1/24']);
    expect(c.interfaces[1]!.dhcpServer?.static).toHaveLength(1);
    expect(c.dns?.listen).toEqual(['lan']);
  });

  it.each([
    [
      { interfaces: [{ nic: 'sim', ip: 'dhcp' }] },
      'config: interfaces[0].ip "dhcp": dhcp is not for nic "sim" (the simulated segment has no DHCP server)',
    ],
    [
      { interfaces: [{ ...WAN, dhcpServer: { range: '198.18.31.100-198.18.31.150' } }] },
      'config: interfaces[0].dhcpServer: needs a static ip on its interface, not dhcp',
    ],
    [
      { interfaces: [{ ...LAN, dhcpLeaseFile: 'lan-lease.json' }] },
      'config: interfaces[0].dhcpLeaseFile "lan-lease.json": is only for an interface with ip dhcp',
    ],
    [
      { interfaces: [{ ...LAN, dhcpServer: { range: '198.18.32.100-198.18.32.150' } }] },
      'config: interfaces[0].dhcpServer.range "198.18.32.100-198.18.32.150": is not inside the interface\'s network 198.18.31.1/24',
    ],
    [
      { interfaces: [{ ...LAN, dhcpServer: { range: '198.18.31.150-198.18.31.100' } }] },
      'config: interfaces[0].dhcpServer.range "198.18.31.150-198.18.31.100": has FIRST after LAST',
    ],
    [
      { interfaces: [{ ...LAN, dhcpServer: { range: '198.18.31.100' } }] },
      'config: interfaces[0].dhcpServer.range "198.18.31.100": is not an Address range',
    ],
    [
      {
        interfaces: [
          {
            ...LAN,
            dhcpServer: {
              range: '198.18.31.100-198.18.31.150',
              static: [{ mac: '02:00:00:00:00', ip: '198.18.31.9' }],
            },
          },
        ],
      },
      'config: interfaces[0].dhcpServer.static[0].mac "02:00:00:00:00": is not a MAC address aa:bb:cc:dd:ee:ff',
    ],
    [
      {
        interfaces: [
          {
            ...LAN,
            dhcpServer: {
              range: '198.18.31.100-198.18.31.150',
              static: [{ mac: '02:00:00:00:00:01', ip: '198.18.30.9' }],
            },
          },
        ],
      },
      'config: interfaces[0].dhcpServer.static[0].ip "198.18.30.9": is not a host address of the interface\'s network 198.18.31.1/24',
    ],
    [
      { interfaces: [{ ...LAN, dhcpServer: { range: '198.18.31.100-198.18.31.150', leaseSeconds: 5 } }] },
      'config: interfaces[0].dhcpServer.leaseSeconds 5: must be an integer in 60..31536000',
    ],
    [
      { interfaces: [LAN], dns: { listen: ['lan0'], upstream: ['198.18.30.1'] } },
      'config: dns.listen[0] "lan0": names no interface',
    ],
    [
      { interfaces: [WAN, LAN], dns: { listen: ['wan'] } },
      'config: dns.listen[0] "wan": names an interface with ip dhcp (listen on the LAN side)',
    ],
    [
      { interfaces: [LAN], dns: { listen: ['lan'] } },
      'config: dns.upstream: is needed: no interface has ip dhcp to learn DNS servers from',
    ],
    [
      { interfaces: [LAN], dns: { listen: ['lan'], upstream: ['198.18.30.1'], extra: 1 } },
      'config: dns.extra: is not a known field',
    ],
    [
      { interfaces: [{ ...LAN, ip: 'dhcp4' }] },
      'config: interfaces[0].ip "dhcp4": is not an IPv4 prefix ADDR/LEN with LEN 1..30 or 32',
    ],
  ])('refuses %j with one line naming the field', (doc, message) => {
    expect(() => validateConfig(doc)).toThrow(message);
  });
});

describe('leases file', () => {
  const record = {
    iface: 'tap0',
    mac: 0x02_00_00_00_00_07,
    ip: parseIpv4('198.18.31.100'),
    state: 'bound' as const,
    expires: Date.UTC(2030, 0, 1),
    hostname: 'host7',
  };

  it('round-trips, rewrites atomically (no temporary file left) and serialises writes', async () => {
    const dir = await tempDir();
    const path = join(dir, 'leases.json');
    expect(await readLeasesFile(path, 'tap0')).toEqual([]);
    const file = new LeasesFile(path, (m) => expect.fail(m));
    file.save([record]);
    file.save([record, { ...record, mac: 0, ip: parseIpv4('198.18.31.101'), state: 'declined', hostname: undefined }]);
    await file.flush();
    const back = await readLeasesFile(path, 'tap0');
    expect(back).toEqual([
      record,
      { iface: 'tap0', mac: 0, ip: parseIpv4('198.18.31.101'), state: 'declined', expires: record.expires },
    ]);
    expect(await readdir(dir)).toEqual(['leases.json']);
    await writeAtomically(path, leasesJson([]));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, leases: [] });
  });

  it('refuses a damaged file with a FILE error naming it', async () => {
    const path = join(await tempDir(), 'leases.json');
    await writeFile(
      path,
      '{"version":1,"leases":[{"mac":"zz","ip":"1.2.3.4","state":"bound","expires":"2030-01-01T00:00:00Z"}]}',
    );
    await expect(readLeasesFile(path, 'tap0')).rejects.toMatchObject({
      code: 'FILE',
      message: expect.stringContaining(path),
    });
    await writeFile(path, 'not json');
    await expect(readLeasesFile(path, 'tap0')).rejects.toMatchObject({ code: 'FILE' });
  });
});

describe('startLanServices (virtual clock) and /api/lan', () => {
  async function setup(leasesFile: string) {
    const sched = new Scheduler({ seed: 4 });
    const link = createMemoryLink(sched);
    const devGw = new NetDevice(link.a, sched);
    const devHost = new NetDevice(link.b, sched);
    const gw = new Stack(sched);
    const host = new Stack(sched);
    const gwIf = gw.addInterface(devGw);
    const hostIf = host.addInterface(devHost);
    gwIf.addAddress(parseIpv4('198.18.31.1'), 24);
    await devGw.open();
    await devHost.open();
    const config = validateConfig({
      interfaces: [{ ...LAN, dhcpServer: { range: '198.18.31.100-198.18.31.110', leaseSeconds: 600, leasesFile } }],
      dns: { listen: ['lan'], upstream: ['198.18.30.1'] },
    });
    const lan = await startLanServices({
      stack: gw,
      tcp: attachTcp(gw),
      config,
      interfaces: [{ config: config.interfaces[0]!, iface: gwIf }],
      epochMs: Date.UTC(2030, 0, 1),
      log: () => {},
    });
    return { sched, gw, host, hostIf, lan };
  }

  it('serves a lease, shows it, writes it to the leases file, and knows it again after a restart', async () => {
    const path = join(await tempDir(), 'lan.json');
    const t = await setup(path);
    const client = new DhcpClient(t.host, { iface: t.hostIf, hostname: 'box' });
    client.start();
    t.sched.advance(2000);
    expect(client.lease?.address).toBe(parseIpv4('198.18.31.100'));
    expect(client.lease?.dnsServers).toEqual([parseIpv4('198.18.31.1')]);
    const status = t.lan.status();
    expect(status.dhcpServers).toEqual([
      expect.objectContaining({ interface: 'lan', range: '198.18.31.100-198.18.31.110', leaseSeconds: 600 }),
    ]);
    expect(status.dhcpServers[0]!.leases).toEqual([
      expect.objectContaining({
        ip: '198.18.31.100',
        mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
        state: 'bound',
        hostname: 'box',
        expired: false,
      }),
    ]);
    expect(status.dns).toEqual({
      listen: ['lan'],
      upstream: ['198.18.30.1'],
      inFlight: 0,
      tcpListen: ['198.18.31.1'],
      tcpConnections: 0,
      cache: [],
    });
    await t.lan.close();
    const again = await setup(path);
    expect(again.lan.status().dhcpServers[0]!.leases).toEqual(
      status.dhcpServers[0]!.leases.map((l) => ({ ...l, expires: expect.any(String) })),
    );
    await again.lan.close();
  });

  it('the DNS forwarder answers over TCP port 53 (a refused class, no upstream needed) until the services close', async () => {
    const t = await setup(join(await tempDir(), 'lan.json'));
    t.hostIf.addAddress(parseIpv4('198.18.31.50'), 24);
    const tcp = attachTcp(t.host);
    const ask = () => {
      const conn = tcp.connect({ remoteAddress: parseIpv4('198.18.31.1'), remotePort: 53 });
      const got: { rcodes: number[]; closed?: TcpCloseReason } = { rcodes: [] };
      const reader = new DnsStreamReader();
      conn.onConnect = () => {
        const q = emitDnsQuery({ id: 0x3131, name: 'version.bind', type: DNS_TYPE.TXT });
        q[q.byteLength - 1] = 3; // class CH
        conn.write(frameDnsMessage(q));
      };
      conn.onReadable = () => {
        for (let v = conn.readView(); v !== undefined; v = conn.readView()) {
          reader.feed(v, (m) => got.rcodes.push(dnsRcode(parseDns(m).header.flags)));
          conn.consume(v.byteLength);
        }
      };
      conn.onClose = (reason) => (got.closed = reason);
      return got;
    };
    const first = ask();
    t.sched.advance(100);
    expect(first.rcodes).toEqual([DNS_RCODE.REFUSED]);
    expect(t.lan.status().dns).toMatchObject({ tcpListen: ['198.18.31.1'], tcpConnections: 1 });
    expect(t.lan.dns!.counters.snapshot()).toMatchObject({ tcpConnections: 1, tcpMessages: 1, refused: 1 });
    await t.lan.close();
    t.sched.advance(10);
    expect(first.closed).toBe('reset');
    const after = ask();
    t.sched.advance(100);
    expect(after.closed).toBe('refused');
  });

  it('GET /api/lan is open; DELETE /api/lan/dns-cache needs the admin', async () => {
    const t = await setup(join(await tempDir(), 'lan.json'));
    const control: AdminControl = {
      stack: t.gw,
      tcp: attachTcp(new Stack(t.sched)),
      traffic: new TrafficHistory(t.sched, () => ({ rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0 })),
      schedulerStats: t.sched.stats,
      startedAt: 0,
      admin: { user: 'admin', password: 'pw' },
      httpStatusCounts: () => ({}),
      httpCounters: () => ({}),
      tcpConnections: () => [],
      info: () => ({}),
      reboot: () => {},
      lan: () => t.lan.status(),
      flushDnsCache: () => t.lan.flushDnsCache(),
    };
    const api = new AdminApi(control);
    const get = api.handle({ method: 'GET', path: '/api/lan', authorization: undefined, body: '' });
    expect(get.status).toBe(200);
    expect(JSON.parse(get.body)).toMatchObject({ dhcpServers: [{ interface: 'lan' }], dns: { listen: ['lan'] } });
    expect(
      JSON.parse(api.handle({ method: 'GET', path: '/api/', authorization: undefined, body: '' }).body),
    ).toHaveProperty('lan.dns.upstream', ['198.18.30.1']);
    expect(
      api.handle({ method: 'DELETE', path: '/api/lan/dns-cache', authorization: undefined, body: '' }).status,
    ).toBe(401);
    const ok = api.handle({
      method: 'DELETE',
      path: '/api/lan/dns-cache',
      authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}`,
      body: '',
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ flushed: 0 });
    await t.lan.close();
  });
});
