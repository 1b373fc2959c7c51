/**
 * End to end: the postern-gateway bin as a NAT gateway between a WAN and a LAN, with real peers:
 *
 *   WAN namespace (198.18.40.2, NO route to the LAN prefix): python3 -m http.server, curl, nmap
 *     veth -- bridge -- TAP -- gateway wan 198.18.40.1/24 (masquerade out, port forwards in)
 *   LAN client namespace (198.18.41.2): curl, ping
 *   LAN server namespace (198.18.41.3): python3 -m http.server on 8080, a UDP echo (socat) on 5353
 *     veth -- bridge -- TAP -- gateway lan 198.18.41.1/24
 *
 * Proven here: the LAN client fetches 1 MiB from the WAN server through masquerade, byte-exact, and
 * pings it (ICMP query translation), although the WAN has no route back, and its UDP socket sees
 * the WAN kernel's port unreachable (ICMP error translation); a WAN client reaches the
 * LAN server through the TCP and UDP port forwards and sees only the WAN address; nmap from the WAN
 * finds only the forwarded TCP port open (the gateway's own HTTP port is dropped on its WAN address
 * by an input rule); the LAN client reaches the forwarded services by the WAN address (hairpin);
 * /api/nat lists the mappings. Needs root; without it every test skips with the reason in its title.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason, sha256Hex } from '@postern/netlab';
import { E2eScene, PEER_POLL_MS, startGatewayBin, wanLanTopology } from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['curl', 'ping', 'nmap', 'socat', 'python3'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const GW_WAN = '198.18.40.1';
const WAN_HOST = '198.18.40.2';
const GW_LAN = '198.18.41.1';
const LAN_CLIENT = '198.18.41.2';
const LAN_SERVER = '198.18.41.3';
const PASSWORD = 'nat-test-secret';
const BIG = randomBytes(1024 * 1024);
const SMALL = `served by the LAN server ${randomBytes(8).toString('hex')}\n`;

/** A UDP request/response from a namespace (python3): prints the reply or TIMEOUT. */
function udpAsk(to: string, port: number, text: string): string[] {
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    's.settimeout(3)',
    `s.sendto(${JSON.stringify(text)}.encode(), (${JSON.stringify(to)}, ${port}))`,
    'try:',
    '    data, peer = s.recvfrom(2048)',
    '    print(data.decode(), peer[0], peer[1])',
    'except socket.timeout:',
    '    print("TIMEOUT")',
  ].join('\n');
  return ['-c', script];
}

describe('postern-gateway NAT: masquerade, port forwards and hairpin against kernel peers', () => {
  const scene = new E2eScene();
  const { lab, log } = scene;
  let dir = '';
  let nsWan = '';
  let nsClient = '';
  let nsServer = '';
  const curl = (ns: string, url: string, out?: string) =>
    lab.tryExec(ns, 'curl', ['-sS', '--max-time', '20', ...(out === undefined ? [] : ['-o', out]), url], {
      timeoutMs: 30_000,
    });

  beforeAll(async () => {
    if (skip !== undefined) return;
    dir = await scene.makeDir('postern-nat-');
    await mkdir(join(dir, 'wan-www'));
    await mkdir(join(dir, 'lan-www'));
    await writeFile(join(dir, 'wan-www', 'big.bin'), BIG);
    await writeFile(join(dir, 'lan-www', 'small.txt'), SMALL);
    // The WAN host gets no route at all beyond its own /24: the LAN prefix is unreachable from it.
    const toWan = { to: '198.18.40.0/24', via: GW_LAN };
    const net = await wanLanTopology(lab, {
      wan: { address: `${WAN_HOST}/24` },
      lan: [
        { address: `${LAN_CLIENT}/24`, route: toWan },
        { address: `${LAN_SERVER}/24`, route: toWan },
      ],
    });
    const { tapWan, tapLan } = net;
    nsWan = net.wan.ns;
    nsClient = net.lan[0]!.ns;
    nsServer = net.lan[1]!.ns;

    scene.background(nsWan, 'python3', [
      '-m',
      'http.server',
      '8000',
      '--bind',
      WAN_HOST,
      '--directory',
      join(dir, 'wan-www'),
    ]);
    scene.background(nsServer, 'python3', [
      '-m',
      'http.server',
      '8080',
      '--bind',
      LAN_SERVER,
      '--directory',
      join(dir, 'lan-www'),
    ]);
    scene.background(nsServer, 'socat', [`UDP4-RECVFROM:5353,bind=${LAN_SERVER},fork`, 'EXEC:cat']);

    const config = join(dir, 'gateway.json');
    await writeFile(
      config,
      JSON.stringify({
        interfaces: [
          { name: 'wan', nic: `tap:${tapWan}`, ip: `${GW_WAN}/24` },
          { name: 'lan', nic: `tap:${tapLan}`, ip: `${GW_LAN}/24` },
        ],
        forwarding: true,
        nat: [{ type: 'masquerade', out: 'wan' }],
        portForwards: [
          { in: 'wan', protocol: 'tcp', port: 8080, to: `${LAN_SERVER}:8080` },
          { in: 'wan', protocol: 'udp', port: 5353, to: `${LAN_SERVER}:5353` },
        ],
        // The gateway's own web server stays off the WAN address.
        filter: {
          rules: [
            {
              chain: 'input',
              action: 'drop',
              protocol: 'tcp',
              dst: `${GW_WAN}/32`,
              dstPort: 80,
              comment: 'no admin from the WAN',
            },
          ],
        },
        http: { port: 80 },
      }),
    );
    const started = startGatewayBin(['--config', config], log, { env: { POSTERN_ADMIN_PASSWORD: PASSWORD } });
    scene.track(started.child);
    await started.ready;
    // The peers' servers are up when each answers on its own address, in its own namespace (the WAN
    // one too: once, on a loaded CI machine, the first masquerade fetch met it not listening yet).
    const up = await eventually(
      async () => (await curl(nsServer, `http://${LAN_SERVER}:8080/small.txt`)).stdout === SMALL,
      15_000,
      PEER_POLL_MS,
    );
    expect(up, log.join('')).toBe(true);
    const wanUp = await eventually(
      async () => (await curl(nsWan, `http://${WAN_HOST}:8000/big.bin`, '/dev/null')).code === 0,
      15_000,
      PEER_POLL_MS,
    );
    expect(wanUp, log.join('')).toBe(true);
  }, 90_000);

  afterAll(() => scene.teardown(), 30_000);

  rootIt(title('the WAN host has no route back to the LAN prefix'), async () => {
    const r = await lab.tryExec(nsWan, 'ip', ['route', 'get', LAN_CLIENT], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
  });

  rootIt(
    title('a LAN client fetches 1 MiB from the WAN server through masquerade, byte-exact'),
    async () => {
      const r = await lab.tryExec(
        nsClient,
        'sh',
        // curl's own exit status reaches the test (a pipe into sha256sum would hide a failed fetch).
        [
          '-c',
          `curl -sS --max-time 30 -o '${join(dir, 'fetched.bin')}' http://${WAN_HOST}:8000/big.bin && sha256sum < '${join(dir, 'fetched.bin')}'`,
        ],
        { timeoutMs: 40_000 },
      );
      expect(r.code, r.stderr + log.join('')).toBe(0);
      expect(r.stdout.split(' ')[0]).toBe(sha256Hex(BIG));
      // The gateway's NAT table (its admin API, read from the LAN) holds the client's TCP mapping.
      const api = await curl(nsClient, `http://${GW_LAN}/api/nat`);
      const nat = JSON.parse(api.stdout) as {
        mappings: Array<{ protocol: string; internal: string; kind: string; remotes: string[] }>;
        counters: Record<string, number>;
      };
      expect(nat.mappings).toContainEqual(
        expect.objectContaining({
          protocol: 'tcp',
          kind: 'dynamic',
          internal: expect.stringMatching(/^198\.18\.41\.2:/),
          remotes: [WAN_HOST],
        }),
      );
      expect(nat.counters.translatedIn).toBeGreaterThan(700); // 1 MiB of segments came back through it
    },
    60_000,
  );

  rootIt(
    title('a LAN client pings the WAN host (ICMP echo translated by identifier)'),
    async () => {
      const r = await lab.tryExec(nsClient, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', WAN_HOST], {
        timeoutMs: 15_000,
      });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/3 received/);
    },
    20_000,
  );

  rootIt(
    title(
      "the WAN kernel's port unreachable reaches the LAN client's socket (ICMP error translated, quoted datagram included)",
    ),
    async () => {
      const script = [
        'import socket',
        's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        's.settimeout(3)',
        `s.connect(("${WAN_HOST}", 9))`,
        's.send(b"anyone there?")',
        'try:',
        '    s.recv(100)',
        '    print("ANSWER")',
        'except ConnectionRefusedError:',
        '    print("REFUSED")',
        'except socket.timeout:',
        '    print("TIMEOUT")',
      ].join('\n');
      const r = await lab.tryExec(nsClient, 'python3', ['-c', script], { timeoutMs: 10_000 });
      expect(r.stdout.trim(), r.stderr).toBe('REFUSED');
      const nat = JSON.parse((await curl(nsClient, `http://${GW_LAN}/api/nat`)).stdout) as {
        counters: Record<string, number>;
      };
      expect(nat.counters.icmpErrorsTranslated).toBeGreaterThan(0);
    },
    20_000,
  );

  rootIt(
    title('a WAN client reaches the LAN server through the TCP and UDP port forwards'),
    async () => {
      const r = await curl(nsWan, `http://${GW_WAN}:8080/small.txt`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(SMALL);
      const u = await lab.tryExec(nsWan, 'python3', udpAsk(GW_WAN, 5353, 'echo me'), { timeoutMs: 10_000 });
      // The answer comes from the WAN address and the forwarded port, never from the inside address.
      expect(u.stdout.trim()).toBe(`echo me ${GW_WAN} 5353`);
    },
    30_000,
  );

  rootIt(
    title('nmap from the WAN finds only the forwarded TCP port open'),
    async () => {
      const r = await lab.tryExec(
        nsWan,
        'nmap',
        ['-n', '-Pn', '-sS', '-T4', '--max-retries', '1', '-p', '1-1100,5353,8000-8100', '-oG', '-', GW_WAN],
        { timeoutMs: 120_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      const ports = /Ports: (.*?)(\t|$)/m.exec(r.stdout)?.[1] ?? '';
      const open = ports
        .split(', ')
        .filter((p) => p.includes('/open/'))
        .map((p) => p.split('/')[0]);
      expect(open, r.stdout).toEqual(['8080']);
    },
    130_000,
  );

  rootIt(
    title('a LAN client reaches the forwarded services by the WAN address (hairpin)'),
    async () => {
      const r = await curl(nsClient, `http://${GW_WAN}:8080/small.txt`);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(SMALL);
      const u = await lab.tryExec(nsClient, 'python3', udpAsk(GW_WAN, 5353, 'hairpin'), { timeoutMs: 10_000 });
      expect(u.stdout.trim()).toBe(`hairpin ${GW_WAN} 5353`);
      const nat = JSON.parse((await curl(nsClient, `http://${GW_LAN}/api/nat`)).stdout) as {
        counters: Record<string, number>;
      };
      expect(nat.counters.hairpin).toBeGreaterThan(0);
    },
    30_000,
  );
});
