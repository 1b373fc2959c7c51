/**
 * End to end, the whole LAN story as one scenario: the postern-gateway bin between a WAN and a LAN,
 * everything a LAN machine needs coming from the gateway, and a web page on the WAN fetched by name.
 *
 *   WAN namespace (198.18.50.1, NO route to the LAN prefix): dnsmasq (DHCP for the gateway's WAN
 *   side, DNS that knows web.wan.test) and python3 -m http.server serving 1 MiB
 *     veth -- bridge -- TAP -- gateway wan (ip "dhcp", masquerade out)
 *   LAN namespace: dhclient, dig, curl
 *     veth -- bridge -- TAP -- gateway lan 198.18.51.1/24 (dhcpServer, dns.listen)
 *
 * In order: the gateway takes its WAN address from dnsmasq; dhclient in the LAN gets its address,
 * router and DNS server from the gateway; dig asks the DNS server of that lease for web.wan.test
 * (the gateway forwards to the upstream of its own WAN lease, dnsmasq); curl fetches
 * http://web.wan.test:8000/big.bin at the address dig returned, over the default route of the
 * lease, through masquerade (the WAN host cannot route back to the LAN), byte-exact by sha256.
 *
 * dnsmasq and dhclient keep every file (config, leases, pid, script) in a temporary directory;
 * dhclient's script configures only its interface, never /etc/resolv.conf. Every peer and the
 * gateway are stopped and the lab removed at the end, even when a step fails. Needs root; without
 * it every test skips with the reason in its title.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason, sha256Hex } from '@postern/netlab';
import { parseIpv4 } from '@postern/wire';
import {
  E2eScene,
  PEER_POLL_MS,
  startDhclient,
  startGatewayBin,
  startWanDnsmasq,
  wanLanTopology,
} from './support/e2e-peers.js';

const skip = await netlabSkipReason({
  needTap: true,
  programs: ['dnsmasq', 'dhclient', 'dig', 'curl', 'python3', 'sha256sum'],
});
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const WAN_SERVER = '198.18.50.1';
const GW_LAN = '198.18.51.1';
const WEB_NAME = 'web.wan.test';
const WEB_PORT = 8000;
const BIG = randomBytes(1024 * 1024);

describe('the LAN journey: DHCP and DNS from the gateway, then a WAN web page by name through NAT', () => {
  const scene = new E2eScene();
  const { lab, log } = scene;
  let dir = '';
  let nsWan = '';
  let nsLan = '';
  let lanPeer = '';
  let lease: Record<string, string> | undefined;
  let webAddress = '';

  beforeAll(async () => {
    if (skip !== undefined) return;
    dir = await scene.makeDir('postern-journey-');
    await mkdir(join(dir, 'www'));
    await writeFile(join(dir, 'www', 'big.bin'), BIG);
    // The WAN host gets no route beyond its own /24: the LAN prefix is unreachable from it.
    const {
      tapWan,
      tapLan,
      wan,
      lan: [lanHost],
    } = await wanLanTopology(lab, { wan: { address: `${WAN_SERVER}/24` }, lan: [{}] });
    ({ ns: nsWan } = wan);
    ({ ns: nsLan, dev: lanPeer } = lanHost!);

    startWanDnsmasq(scene, wan, {
      server: WAN_SERVER,
      range: '198.18.50.50,198.18.50.60',
      name: { name: WEB_NAME, address: WAN_SERVER },
    });
    scene.background(nsWan, 'python3', [
      '-m',
      'http.server',
      String(WEB_PORT),
      '--bind',
      WAN_SERVER,
      '--directory',
      join(dir, 'www'),
    ]);

    const config = join(dir, 'gateway.json');
    await writeFile(
      config,
      JSON.stringify({
        interfaces: [
          { name: 'wan', nic: `tap:${tapWan}`, ip: 'dhcp', dhcpLeaseFile: join(dir, 'wan-lease.json') },
          {
            name: 'lan',
            nic: `tap:${tapLan}`,
            ip: `${GW_LAN}/24`,
            dhcpServer: {
              range: '198.18.51.100-198.18.51.120',
              leaseSeconds: 600,
              leasesFile: join(dir, 'lan-leases.json'),
            },
          },
        ],
        forwarding: true,
        nat: [{ type: 'masquerade', out: 'wan' }],
        dns: { listen: ['lan'] },
        http: { port: 80 },
      }),
    );
    const gateway = startGatewayBin(['--config', config], log);
    scene.track(gateway.child);
    await gateway.ready;
  }, 90_000);

  afterAll(() => scene.teardown(), 30_000);

  rootIt(title('the WAN host has no route back to the LAN prefix'), async () => {
    const r = await lab.tryExec(nsWan, 'ip', ['route', 'get', '198.18.51.100'], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
  });

  rootIt(
    title('the gateway takes its WAN address, router and DNS server from dnsmasq'),
    async () => {
      let wanAddress = '';
      const leased = await eventually(
        async () => {
          wanAddress =
            /^\S+ \S+ (198\.18\.50\.\d+) /m.exec(
              await readFile(join(dir, 'dnsmasq.leases'), 'utf8').catch(() => ''),
            )?.[1] ?? '';
          return wanAddress !== '';
        },
        30_000,
        PEER_POLL_MS,
      );
      expect(leased, log.join('')).toBe(true);
      // The gateway says so itself (its API, read from the WAN host at the leased address): its DNS upstream is dnsmasq.
      type Client = {
        interface: string;
        state: string;
        lease: { address: string; router: string | null; dnsServers: string[] } | null;
      };
      let wan: Client | undefined;
      const bound = await eventually(
        async () => {
          const r = await lab.tryExec(nsWan, 'curl', ['-sS', '--max-time', '3', `http://${wanAddress}/api/lan`], {
            timeoutMs: 5000,
          });
          wan =
            r.code === 0
              ? (JSON.parse(r.stdout) as { dhcpClients: Client[] }).dhcpClients.find((c) => c.interface === 'wan')
              : undefined;
          return wan?.state === 'bound';
        },
        20_000,
        250,
      );
      expect(bound, log.join('')).toBe(true);
      expect(wan!.lease).toMatchObject({ address: `${wanAddress}/24`, router: WAN_SERVER, dnsServers: [WAN_SERVER] });
    },
    60_000,
  );

  rootIt(
    title('dhclient in the LAN gets its address, router and DNS server from the gateway'),
    async () => {
      const run = await startDhclient(lab, nsLan, lanPeer, dir, 'journey', log);
      scene.track(run.child);
      lease = await run.lease;
      expect(lease, `dhclient got no lease:\n${log.join('')}`).toBeDefined();
      expect(parseIpv4(lease!['new_ip_address']!)).toBeGreaterThanOrEqual(parseIpv4('198.18.51.100'));
      expect(parseIpv4(lease!['new_ip_address']!)).toBeLessThanOrEqual(parseIpv4('198.18.51.120'));
      expect(lease!['new_routers']).toBe(GW_LAN);
      expect(lease!['new_domain_name_servers']).toBe(GW_LAN);
    },
    40_000,
  );

  rootIt(
    title('dig asks the leased DNS server for the WAN name; the gateway forwards it to the upstream of its WAN lease'),
    async () => {
      expect(lease).toBeDefined();
      const server = lease!['new_domain_name_servers']!;
      const r = await lab.tryExec(nsLan, 'dig', ['+short', '+time=3', '+tries=2', `@${server}`, WEB_NAME, 'A'], {
        timeoutMs: 20_000,
      });
      expect(r.code, r.stderr + log.join('')).toBe(0);
      webAddress = r.stdout.trim();
      expect(webAddress).toBe(WAN_SERVER);
    },
    30_000,
  );

  rootIt(
    title(
      'curl fetches 1 MiB from the WAN web server by that name over the leased route, through masquerade, byte-exact',
    ),
    async () => {
      expect(webAddress).not.toBe('');
      const url = `http://${WEB_NAME}:${WEB_PORT}/big.bin`;
      const r = await lab.tryExec(
        nsLan,
        'sh',
        ['-c', `curl -sS --max-time 30 --resolve ${WEB_NAME}:${WEB_PORT}:${webAddress} ${url} | sha256sum`],
        { timeoutMs: 40_000 },
      );
      expect(r.code, r.stderr + log.join('')).toBe(0);
      expect(r.stdout.split(' ')[0]).toBe(sha256Hex(BIG));
      // The gateway's NAT table (its API, read from the LAN) holds the leased address's TCP mapping to the web server.
      const api = await lab.tryExec(nsLan, 'curl', ['-sS', '--max-time', '10', `http://${GW_LAN}/api/nat`], {
        timeoutMs: 15_000,
      });
      const nat = JSON.parse(api.stdout) as {
        mappings: Array<{ protocol: string; internal: string; remotes: string[] }>;
      };
      expect(nat.mappings).toContainEqual(
        expect.objectContaining({
          protocol: 'tcp',
          internal: expect.stringMatching(new RegExp(`^${lease!['new_ip_address']!.replace(/\./g, '\\.')}:`)),
          remotes: [WAN_SERVER],
        }),
      );
    },
    60_000,
  );
});
