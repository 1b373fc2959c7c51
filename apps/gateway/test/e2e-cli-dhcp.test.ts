/**
 * End to end: `postern-gateway --nic tap:X --ip dhcp`, the bin as a user starts it, against a real
 * DHCP server (dnsmasq) in a namespace made here:
 *
 *   WAN namespace: dnsmasq (DHCP, range 198.19.78.100-150, router and DNS 198.19.78.1)
 *     veth -- bridge -- TAP -- postern-gateway --nic tap:TAP --ip dhcp (run in a temporary directory)
 *
 * 1. The gateway takes an address from dnsmasq after its ARP check (probes counted in `/api/lan`),
 *    serves its API there, and `/api/interfaces` shows the link `up` as the NIC reports it.
 * 2. Killed without a chance to release (a power cut) and started again in the same directory, it
 *    asks for the same address first (INIT-REBOOT): dnsmasq sees a DHCPREQUEST for it and no
 *    DISCOVER, and the gateway is back at the same address.
 * 3. Stopped cleanly (SIGTERM), it releases the lease and forgets it: the next start DISCOVERs.
 * dnsmasq keeps its files in the temporary directory and is stopped at the end with the gateway,
 * even when a step fails. Needs root; without it every test skips with the reason in its title.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason } from '@postern/netlab';
import {
  E2eScene,
  PEER_POLL_MS,
  startGatewayBin,
  startWanDnsmasq,
  stopChild,
  wanLanTopology,
  type GatewayProcess,
} from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['dnsmasq', 'curl', 'python3'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const SERVER = '198.19.78.1';

describe('postern-gateway --ip dhcp against dnsmasq', () => {
  const scene = new E2eScene();
  const { lab, log } = scene;
  let dir = '';
  let tap = '';
  let nsWan = '';
  let gateway: GatewayProcess | undefined;
  let address = '';

  const start = async (): Promise<void> => {
    gateway = startGatewayBin(['--nic', `tap:${tap}`, '--ip', 'dhcp'], log, { cwd: dir });
    scene.track(gateway.child);
    await gateway.ready;
  };
  /** dnsmasq's lease of the gateway's address, '' before it has one. */
  const leasedAddress = async (): Promise<string> =>
    /^\S+ \S+ (198\.19\.78\.\d+) /m.exec(await readFile(join(dir, 'dnsmasq.leases'), 'utf8').catch(() => ''))?.[1] ??
    '';
  /** GET `path` of the gateway's API from the WAN host, parsed; undefined while it does not answer. */
  const api = async (path: string): Promise<unknown> => {
    const r = await lab.tryExec(nsWan, 'curl', ['-sS', '--max-time', '3', `http://${address}${path}`], {
      timeoutMs: 5000,
    });
    return r.code === 0 ? (JSON.parse(r.stdout) as unknown) : undefined;
  };
  /** The dnsmasq log lines about DHCP so far (its own record of what it received and sent). */
  const dhcpLog = (): string[] =>
    log
      .join('')
      .split('\n')
      .filter((l) => /DHCP(DISCOVER|OFFER|REQUEST|ACK|NAK|DECLINE|RELEASE)/.test(l));

  beforeAll(async () => {
    if (skip !== undefined) return;
    dir = await scene.makeDir('postern-cli-dhcp-');
    const topology = await wanLanTopology(lab, { wan: { address: `${SERVER}/24` }, lan: [] });
    tap = topology.tapWan;
    nsWan = topology.wan.ns;
    startWanDnsmasq(scene, topology.wan, {
      server: SERVER,
      range: '198.19.78.100,198.19.78.150',
      name: { name: 'wan.example.test', address: '198.19.78.77' },
    });
    await start();
  }, 90_000);

  afterAll(() => scene.teardown(), 30_000);

  rootIt(
    title('takes its address from dnsmasq after the ARP check, and shows the link state in /api/interfaces'),
    async () => {
      expect(await eventually(async () => (address = await leasedAddress()) !== '', 30_000, PEER_POLL_MS)).toBe(true);
      type Lan = { dhcpClients: Array<{ state: string; lease: { address: string } | null }>; counters: unknown[] };
      let lan: Lan | undefined;
      const bound = await eventually(
        async () => {
          lan = (await api('/api/lan')) as Lan | undefined;
          return lan?.dhcpClients[0]?.state === 'bound';
        },
        20_000,
        250,
      );
      expect(bound, log.join('')).toBe(true);
      expect(lan!.dhcpClients[0]!.lease!.address).toBe(`${address}/24`);
      expect(lan!.counters).toContainEqual(expect.objectContaining({ group: 'dhcpClient', name: 'probes', value: 2 }));
      const interfaces = (await api('/api/interfaces')) as Array<Record<string, unknown>>;
      expect(interfaces[0]).toMatchObject({
        name: `tap:${tap}`,
        link: 'up',
        addresses: [`${address}/24`],
        connection: { state: 'up', reported: 'up', lastError: null },
      });
      expect(dhcpLog().some((l) => l.includes('DHCPDISCOVER'))).toBe(true);
    },
    60_000,
  );

  rootIt(
    title('after a power cut it asks dnsmasq for the same address first (INIT-REBOOT) and gets it back'),
    async () => {
      expect(address).not.toBe('');
      // The lease file is written after the lease is bound (temporary file, fsync, rename): on a
      // loaded machine that lands a little after the API shows `bound`.
      let leased: string[] = [];
      const saved = async () => {
        try {
          const file = JSON.parse(await readFile(join(dir, 'postern-dhcp-eth0.json'), 'utf8')) as {
            leases: Array<{ ip: string }>;
          };
          leased = file.leases.map((l) => l.ip);
        } catch {
          leased = [];
        }
        return leased.length > 0;
      };
      expect(await eventually(saved, 10_000, 100)).toBe(true);
      expect(leased).toEqual([address]);
      gateway!.child.kill('SIGKILL'); // no RELEASE: dnsmasq still holds the lease
      await stopChild(gateway!.child);
      const before = dhcpLog().length;
      await start();
      const back = await eventually(
        async () =>
          ((await api('/api/lan')) as { dhcpClients: Array<{ state: string }> } | undefined)?.dhcpClients[0]?.state ===
          'bound',
        20_000,
        250,
      );
      expect(back, log.join('')).toBe(true);
      const after = dhcpLog().slice(before);
      expect(
        after.some((l) => l.includes('DHCPREQUEST') && l.includes(address)),
        after.join('\n'),
      ).toBe(true);
      expect(
        after.some((l) => l.includes('DHCPACK') && l.includes(address)),
        after.join('\n'),
      ).toBe(true);
      expect(
        after.filter((l) => l.includes('DHCPDISCOVER')),
        after.join('\n'),
      ).toEqual([]);
    },
    60_000,
  );

  rootIt(
    title('a clean stop releases the lease and forgets it: the next start DISCOVERs'),
    async () => {
      expect(address).not.toBe('');
      await stopChild(gateway!.child); // SIGTERM first: the gateway releases its lease and exits
      const kept = JSON.parse(await readFile(join(dir, 'postern-dhcp-eth0.json'), 'utf8')) as { leases: unknown[] };
      expect(kept.leases).toEqual([]);
      const released = () => dhcpLog().some((l) => l.includes('DHCPRELEASE') && l.includes(address));
      expect(await eventually(released, 5000, PEER_POLL_MS), log.join('')).toBe(true);
      const before = dhcpLog().length;
      await start();
      expect(
        await eventually(
          async () =>
            dhcpLog()
              .slice(before)
              .some((l) => l.includes('DHCPACK')),
          20_000,
          250,
        ),
        log.join(''),
      ).toBe(true);
      expect(dhcpLog().slice(before)[0]).toMatch(/DHCPDISCOVER/);
    },
    60_000,
  );
});
