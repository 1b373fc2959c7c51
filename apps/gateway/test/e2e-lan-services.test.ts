/**
 * End to end: the gateway as the DHCP client of a WAN and the DHCP server and DNS forwarder of a
 * LAN, with real peers on both sides:
 *
 *   WAN namespace: dnsmasq (DHCP server and DNS server for wan.example.test)
 *     veth -- bridge -- TAP -- gateway (wan: ip "dhcp")
 *   LAN namespace: dhclient, dig
 *     veth -- bridge -- TAP -- gateway (lan: 198.18.31.1/24, dhcpServer, dns.listen)
 *
 * The gateway takes its WAN address, default route and DNS server from dnsmasq; dhclient gets a LAN
 * address, the router and the DNS server from the gateway; dig in the LAN resolves a name that only
 * dnsmasq knows through the gateway (then from its cache); a name with an answer too large for UDP
 * (20 TXT records): dig gets TC over UDP and asks again over TCP (RFC 7766), the gateway having asked
 * dnsmasq over TCP after its own truncated UDP answer, and `dig +tcp +keepopen` asks two questions
 * on one connection; crafted bad DNS queries (compression
 * loop, pointer past the end, label too long) get FORMERR and crafted bad DHCP messages (truncated,
 * option overflow, bad cookie, overload without END) are counted; the gateway's own resolver
 * resolves the name too; the gateway is stopped and started again and still knows the LAN lease (its leases file),
 * and dhclient gets the same address back.
 *
 * The TAP devices and bridges stay in the root namespace (so the restarted gateway reattaches to the
 * same TAPs); each peer sits in a namespace made here behind a veth pair. dnsmasq and dhclient run
 * only inside those namespaces, with every file of theirs (config, leases, pid) in a temporary
 * directory; dhclient runs a script of this test (it writes what it got to a file and configures
 * only its own interface, never /etc/resolv.conf). Both are killed at the end, even when a step
 * fails. Needs root; without it every test skips with the reason in its title (under CI=true one
 * test fails instead).
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason } from '@postern/netlab';
import { ipv4ToString, macToString, parseIpv4, parseMac } from '@postern/wire';
import { validateConfig, type GatewayConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import type { LanStatus } from '../src/lan-services.js';
import {
  E2eScene,
  PEER_POLL_MS,
  startDhclient,
  startWanDnsmasq,
  stopChild,
  wanLanTopology,
} from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['dnsmasq', 'dhclient', 'dig', 'python3'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);
/** Under CI (CI=true) a missing peer or privilege fails the run instead of skipping it. */
const ciMissing = skip !== undefined && process.env['CI'] === 'true';

const WAN_SERVER = '198.18.30.1';
const LAN_GATEWAY = '198.18.31.1';
const WAN_NAME = 'wan.example.test';
const WAN_NAME_ADDRESS = '198.18.30.77';
/** A name with 20 TXT records of 60 characters: about 1.5 kB, too large for 512 bytes of UDP (and for 1232). */
const BIG_NAME = 'big.example.test';
const BIG_TEXTS = Array.from({ length: 20 }, (_, i) => `record-${String(i).padStart(2, '0')}-`.padEnd(60, 'x'));

describe('gateway LAN services against dnsmasq (WAN) and dhclient + dig (LAN)', () => {
  const scene = new E2eScene();
  const { lab, log } = scene;
  let dir = '';
  let nsLan = '';
  let lanPeer = '';
  let lanPeerMac = '';
  let nsWan = '';
  let dhclient: ChildProcess | undefined;
  let gw: Gateway | undefined;
  let config: GatewayConfig;
  let firstAddress = '';

  const start = async (): Promise<Gateway> => startGateway(config, { log: (l) => log.push(l) });
  const wanBound = (g: Gateway): boolean => g.lan.dhcpClients.get('wan')?.state === 'bound';

  /** Runs dhclient in the LAN namespace (foreground, stopped by the test) and waits for the lease its script reports. */
  const runDhclient = async (tag: string): Promise<Record<string, string>> => {
    const run = await startDhclient(lab, nsLan, lanPeer, dir, tag, log);
    dhclient = scene.track(run.child);
    const env = await run.lease;
    expect(env, `dhclient got no lease:\n${log.join('\n')}`).toBeDefined();
    return env!;
  };

  beforeAll(async () => {
    if (skip !== undefined) return;
    dir = await scene.makeDir('postern-lan-');
    const {
      tapWan,
      tapLan,
      wan,
      lan: [lanHost],
    } = await wanLanTopology(lab, { wan: { address: `${WAN_SERVER}/24` }, lan: [{}] });
    ({ ns: nsLan, dev: lanPeer } = lanHost!);
    lanPeerMac = await lab.macAddress(lanPeer, nsLan);
    nsWan = wan.ns;

    startWanDnsmasq(scene, wan, {
      server: WAN_SERVER,
      range: '198.18.30.50,198.18.30.60',
      name: { name: WAN_NAME, address: WAN_NAME_ADDRESS },
      localTtl: 300,
      txtRecords: BIG_TEXTS.map((t) => `${BIG_NAME},${t}`),
    });

    config = validateConfig({
      interfaces: [
        { name: 'wan', nic: `tap:${tapWan}`, ip: 'dhcp', dhcpLeaseFile: join(dir, 'wan-lease.json') },
        {
          name: 'lan',
          nic: `tap:${tapLan}`,
          ip: `${LAN_GATEWAY}/24`,
          dhcpServer: {
            range: '198.18.31.100-198.18.31.120',
            leaseSeconds: 600,
            leasesFile: join(dir, 'lan-leases.json'),
          },
        },
      ],
      forwarding: true,
      dns: { listen: ['lan'] },
      http: { port: 80 },
    });
    scene.defer(async () => gw?.close());
    gw = await start();
  }, 60_000);

  afterAll(() => scene.teardown(), 30_000);

  // Registered only when it must fail: a test skipped by runIf would itself count as a skip (a failure under CI=true).
  if (ciMissing)
    it('the interop peers are here (CI=true)', () => {
      expect.fail(`CI=true and the interop tests cannot run: ${skip}`);
    });

  rootIt(
    title("the gateway's DHCP client takes its WAN address, default route and DNS server from dnsmasq"),
    async () => {
      expect(await eventually(() => wanBound(gw!), 30_000, PEER_POLL_MS), log.join('\n')).toBe(true);
      const lease = gw!.lan.dhcpClients.get('wan')!.lease!;
      expect(lease.address).toBeGreaterThanOrEqual(parseIpv4('198.18.30.50'));
      expect(lease.address).toBeLessThanOrEqual(parseIpv4('198.18.30.60'));
      expect(lease.router).toBe(parseIpv4(WAN_SERVER));
      expect(lease.dnsServers).toEqual([parseIpv4(WAN_SERVER)]);
      expect(gw!.stack.routes.match(parseIpv4('198.19.200.1'))).toMatchObject({
        prefixLength: 0,
        gateway: parseIpv4(WAN_SERVER),
      });
      // dnsmasq's own lease file names the gateway's WAN MAC.
      const wanMac = gw!.stack.interfaces[0]!.mac;
      const leases = await readFile(join(dir, 'dnsmasq.leases'), 'utf8');
      expect(leases.toLowerCase()).toContain(ipv4ToString(lease.address));
      expect(leases.split(' ').map((w) => w.toLowerCase())).toContain(macToString(wanMac));
    },
    40_000,
  );

  rootIt(
    title('dhclient in the LAN gets an address, the router and the DNS server from the gateway'),
    async () => {
      const env = await runDhclient('first');
      firstAddress = env['new_ip_address']!;
      expect(parseIpv4(firstAddress)).toBeGreaterThanOrEqual(parseIpv4('198.18.31.100'));
      expect(parseIpv4(firstAddress)).toBeLessThanOrEqual(parseIpv4('198.18.31.120'));
      expect(env['new_subnet_mask']).toBe('255.255.255.0');
      expect(env['new_routers']).toBe(LAN_GATEWAY);
      expect(env['new_domain_name_servers']).toBe(LAN_GATEWAY);
      expect(env['new_broadcast_address']).toBe('198.18.31.255');
      const status = gw!.lan.status();
      expect(status.dhcpServers[0]!.leases).toContainEqual(
        expect.objectContaining({ mac: lanPeerMac, ip: firstAddress, state: 'bound' }),
      );
      // The kernel in the LAN namespace uses it: ping the gateway from the leased address.
      const ping = await lab.tryExec(nsLan, 'ping', ['-c', '1', '-W', '3', LAN_GATEWAY], { timeoutMs: 10_000 });
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    },
    60_000,
  );

  rootIt(
    title(
      "dig in the LAN resolves a name only dnsmasq knows through the gateway's forwarder, the second time from its cache",
    ),
    async () => {
      const dig = () =>
        lab.tryExec(nsLan, 'dig', ['+short', '+time=3', '+tries=2', `@${LAN_GATEWAY}`, WAN_NAME, 'A'], {
          timeoutMs: 20_000,
        });
      const first = await dig();
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout.trim()).toBe(WAN_NAME_ADDRESS);
      const second = await dig();
      expect(second.stdout.trim()).toBe(WAN_NAME_ADDRESS);
      const counters = gw!.lan.dns!.counters.snapshot();
      expect(counters.cacheAnswers).toBeGreaterThanOrEqual(1);
      expect(counters.upstreamAnswers).toBeGreaterThanOrEqual(1);
      const status = gw!.lan.status() as LanStatus;
      expect(status.dns!.cache).toContainEqual(expect.objectContaining({ name: WAN_NAME, type: 1, answers: 1 }));
      // A query of another class than IN is refused, not forwarded.
      const chaos = await lab.tryExec(
        nsLan,
        'dig',
        ['+time=3', '+tries=1', `@${LAN_GATEWAY}`, '-c', 'CH', 'version.bind', 'TXT'],
        { timeoutMs: 20_000 },
      );
      expect(chaos.stdout).toMatch(/status: REFUSED/);
    },
    60_000,
  );

  rootIt(
    title(
      'dig gets TC over UDP for a large answer and asks again over TCP: the whole answer, the gateway having asked dnsmasq over TCP; two questions on one TCP connection',
    ),
    async () => {
      const before = gw!.lan.dns!.counters.snapshot();
      const texts = (out: string): string[] =>
        out
          .split('\n')
          .filter((l) => /\sIN\s+TXT\s/.test(l))
          .map((l) => l.slice(l.indexOf('"') + 1, l.lastIndexOf('"')))
          .sort();
      // UDP with room for 512 bytes: TC, then dig's own retry over TCP.
      const udp = await lab.tryExec(
        nsLan,
        'dig',
        ['+time=3', '+tries=2', '+bufsize=512', `@${LAN_GATEWAY}`, BIG_NAME, 'TXT'],
        { timeoutMs: 30_000 },
      );
      expect(udp.code, udp.stdout + udp.stderr).toBe(0);
      expect(udp.stdout).toMatch(/Truncated, retrying in TCP mode/);
      expect(udp.stdout).toMatch(/status: NOERROR/);
      expect(texts(udp.stdout)).toEqual([...BIG_TEXTS].sort());
      const after = gw!.lan.dns!.counters.snapshot();
      expect(after.truncated - before.truncated).toBeGreaterThanOrEqual(1);
      expect(after.tcpUpstream - before.tcpUpstream).toBeGreaterThanOrEqual(1);
      expect(after.tcpUpstreamFailed - before.tcpUpstreamFailed).toBe(0);
      expect(after.tcpConnections - before.tcpConnections).toBe(1);
      // Two questions on one connection (+keepopen): the A record and the large answer.
      const keep = await lab.tryExec(
        nsLan,
        'dig',
        ['+tcp', '+keepopen', '+time=3', '+tries=1', `@${LAN_GATEWAY}`, WAN_NAME, 'A', BIG_NAME, 'TXT'],
        { timeoutMs: 30_000 },
      );
      expect(keep.code, keep.stdout + keep.stderr).toBe(0);
      expect(keep.stdout).toMatch(
        new RegExp(`${WAN_NAME.replaceAll('.', '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+${WAN_NAME_ADDRESS}`),
      );
      expect(texts(keep.stdout)).toEqual([...BIG_TEXTS].sort());
      const last = gw!.lan.dns!.counters.snapshot();
      expect(last.tcpConnections - after.tcpConnections).toBe(1);
      expect(last.tcpMessages - after.tcpMessages).toBe(2);
      expect(last.tcpMalformed).toBe(0);
    },
    60_000,
  );

  rootIt(
    title(
      'a TCP SYN from the WAN to port 53 of the gateway WAN address is reset at once: TCP 53 listens on the LAN address only',
    ),
    async () => {
      expect(await eventually(() => wanBound(gw!), 30_000, PEER_POLL_MS), log.join('\n')).toBe(true);
      const wanAddress = ipv4ToString(gw!.lan.dhcpClients.get('wan')!.lease!.address);
      expect(gw!.lan.dns!.tcpAddresses.map(ipv4ToString)).toEqual([LAN_GATEWAY]);
      const before = gw!.lan.dns!.counters.snapshot();
      // The WAN kernel's connect: refused (the stack's RST answers the SYN), not connected then reset.
      const script = [
        'import socket',
        's = socket.socket()',
        's.settimeout(5)',
        'try:',
        `    s.connect(("${wanAddress}", 53))`,
        '    print("connected")',
        'except ConnectionRefusedError:',
        '    print("refused")',
      ].join('\n');
      const r = await lab.tryExec(nsWan, 'python3', ['-c', script], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('refused');
      const after = gw!.lan.dns!.counters.snapshot();
      expect(after.tcpNotListening - before.tcpNotListening).toBe(0);
      expect(after.tcpConnections - before.tcpConnections).toBe(0);
    },
    40_000,
  );

  rootIt(
    title('crafted bad DNS and DHCP from the LAN kernel are refused or counted, and both services keep working'),
    async () => {
      // A Python client in the LAN namespace: three malformed DNS queries (a compression loop, a
      // pointer past the end, a 64-byte label) print the rcode of each answer; then four malformed
      // DHCP messages are broadcast (truncated, an option running past the end, a bad cookie, an
      // overload without END).
      const script = [
        'import socket, struct',
        'h = lambda i: struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0)',
        'queries = [h(0x1001) + b"\\xc0\\x0c\\x00\\x01\\x00\\x01", h(0x1002) + b"\\xc0\\xff\\x00\\x01\\x00\\x01", h(0x1003) + bytes([64]) + b"a" * 64 + b"\\x00\\x00\\x01\\x00\\x01"]',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        's.settimeout(3)',
        'for q in queries:',
        `    s.sendto(q, ("${LAN_GATEWAY}", 53))`,
        '    r = s.recv(512)',
        '    print(hex(struct.unpack(">H", r[:2])[0]), r[3] & 15)',
        'base = bytearray(300)',
        'base[0:3] = bytes([1, 1, 6]); base[28:34] = bytes([2, 0, 0, 0, 0, 0x55]); base[236:240] = bytes([99, 130, 83, 99]); base[240:243] = bytes([53, 1, 1]); base[243] = 255',
        'overflow = bytes(base[:240]) + bytes([53, 200, 1])',
        'cookie = bytearray(base); cookie[236] = 0',
        'overload = bytearray(base); overload[240:244] = bytes([52, 1, 1, 255])',
        'b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        'b.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)',
        'for m in [bytes(base[:100]), overflow, bytes(cookie), bytes(overload)]:',
        '    b.sendto(m, ("255.255.255.255", 67))',
      ].join('\n');
      const malformedBefore = gw!.lan.dhcpServer!.counters.get('malformed');
      const r = await lab.tryExec(nsLan, 'python3', ['-c', script], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['0x1001 1', '0x1002 1', '0x1003 1']);
      expect(
        await eventually(
          () => gw!.lan.dhcpServer!.counters.get('malformed') - malformedBefore === 4,
          5000,
          PEER_POLL_MS,
        ),
      ).toBe(true);
      expect(gw!.lan.dns!.counters.get('formerr')).toBeGreaterThanOrEqual(3);
      const dig = await lab.tryExec(nsLan, 'dig', ['+short', '+time=3', '+tries=2', `@${LAN_GATEWAY}`, WAN_NAME, 'A'], {
        timeoutMs: 20_000,
      });
      expect(dig.stdout.trim()).toBe(WAN_NAME_ADDRESS);
    },
    60_000,
  );

  rootIt(
    title("the gateway's own stub resolver resolves the name through dnsmasq"),
    async () => {
      expect(await gw!.lan.resolver.resolve(WAN_NAME)).toEqual([parseIpv4(WAN_NAME_ADDRESS)]);
    },
    30_000,
  );

  rootIt(
    title(
      'stopping releases the WAN lease; a restart keeps the LAN leases (leases file) and dhclient gets the same address back',
    ),
    async () => {
      expect(firstAddress).not.toBe('');
      await stopChild(dhclient);
      const wanAddress = ipv4ToString(gw!.lan.dhcpClients.get('wan')!.lease!.address);
      await gw!.close();
      // The gateway released its WAN lease on the way down: dnsmasq drops it from its lease file.
      expect(
        await eventually(
          async () => !(await readFile(join(dir, 'dnsmasq.leases'), 'utf8')).includes(`${wanAddress} `),
          5000,
          PEER_POLL_MS,
        ),
      ).toBe(true);
      const file = JSON.parse(await readFile(join(dir, 'lan-leases.json'), 'utf8')) as {
        leases: Array<{ mac: string; ip: string; state: string }>;
      };
      expect(file.leases).toContainEqual(
        expect.objectContaining({ mac: lanPeerMac, ip: firstAddress, state: 'bound' }),
      );
      gw = await start();
      expect(gw.lan.dhcpServer!.leases()).toContainEqual(
        expect.objectContaining({ mac: parseMac(lanPeerMac), ip: parseIpv4(firstAddress), state: 'bound' }),
      );
      expect(await eventually(() => wanBound(gw!), 30_000, PEER_POLL_MS), log.join('\n')).toBe(true);
      const env = await runDhclient('again');
      expect(env['new_ip_address']).toBe(firstAddress);
    },
    90_000,
  );
});
