/**
 * End to end: fragmented UDP datagrams through the postern-gateway bin's NAT, with Linux kernels at
 * both ends doing the fragmenting and the reassembling:
 *
 *   WAN namespace (198.18.46.2, NO route to the LAN prefix): a UDP server (python3) on 9000
 *     veth -- bridge -- TAP -- gateway wan 198.18.46.1/24 (masquerade out, UDP port forward 5454 in)
 *   LAN namespace (198.18.47.2): the client, and the same UDP server on 5454 (the forward's target)
 *     veth -- bridge -- TAP -- gateway lan 198.18.47.1/24
 *
 * The server answers each datagram with the address and port it came from, the SHA-256 of the whole
 * datagram, and as many pattern bytes as the datagram asked for. Proven here: a reply the WAN kernel
 * fragments (6,000 bytes over a 1,500-byte link) reaches the LAN client whole (the gateway
 * reassembles it, translates it back and sends it on in fragments); a datagram the LAN kernel
 * fragments reaches the WAN server whole, from the WAN address; a fragmented datagram to the port
 * forward reaches the LAN server, and its fragmented answer comes back from the WAN address. Needs
 * root; without it every test skips with the reason in its title.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, netlabSkipReason } from '@postern/netlab';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { E2eScene, PEER_POLL_MS, startGatewayBin, wanLanTopology } from './support/e2e-peers.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const GW_WAN = '198.18.46.1';
const WAN_HOST = '198.18.46.2';
const GW_LAN = '198.18.47.1';
const LAN_HOST = '198.18.47.2';

/** The UDP server: argv address, port. */
const SERVER = [
  'import hashlib, socket, sys',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  's.bind((sys.argv[1], int(sys.argv[2])))',
  'while True:',
  '    data, peer = s.recvfrom(65535)',
  "    want = int(data.split(b':', 1)[0])",
  '    body = bytes((i * 13 + 1) % 256 for i in range(want))',
  "    s.sendto(f'{peer[0]}:{peer[1]}|{hashlib.sha256(data).hexdigest()}|'.encode() + body, peer)",
].join('\n');

/**
 * The client: argv address, port, bytes to send, bytes to ask for. Prints `TIMEOUT`, or the
 * server's view of the sender, whether its digest matches what was sent, the reply's source, the
 * body's length and whether the body is the expected pattern.
 */
const CLIENT = [
  'import hashlib, socket, sys',
  'to, port, size, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])',
  's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
  's.settimeout(2)',
  "head = f'{want}:'.encode()",
  'req = head + bytes((i * 7) % 256 for i in range(max(0, size - len(head))))',
  'for attempt in range(3):',
  '    s.sendto(req, (to, port))',
  '    try:',
  '        data, peer = s.recvfrom(65535)',
  '        break',
  '    except socket.timeout:',
  '        pass',
  'else:',
  '    print("TIMEOUT")',
  '    sys.exit(0)',
  "seen, digest, body = data.split(b'|', 2)",
  'expected = bytes((i * 13 + 1) % 256 for i in range(want))',
  'ok = digest.decode() == hashlib.sha256(req).hexdigest()',
  "print(seen.decode().split(':')[0], ok, f'{peer[0]}:{peer[1]}', len(body), body == expected)",
].join('\n');

describe('postern-gateway NAT: fragmented UDP both ways against kernel peers', () => {
  const scene = new E2eScene();
  const { lab, log } = scene;
  let nsWan = '';
  let nsLan = '';
  const ask = (ns: string, to: string, port: number, size: number, want: number) =>
    lab.tryExec(ns, 'python3', ['-c', CLIENT, to, String(port), String(size), String(want)], { timeoutMs: 15_000 });

  beforeAll(async () => {
    if (skip !== undefined) return;
    const dir = await scene.makeDir('postern-nat-frag-');
    const net = await wanLanTopology(lab, {
      wan: { address: `${WAN_HOST}/24` },
      lan: [{ address: `${LAN_HOST}/24`, route: { to: '198.18.46.0/24', via: GW_LAN } }],
    });
    nsWan = net.wan.ns;
    nsLan = net.lan[0]!.ns;
    scene.background(nsWan, 'python3', ['-c', SERVER, WAN_HOST, '9000']);
    scene.background(nsLan, 'python3', ['-c', SERVER, LAN_HOST, '5454']);
    const config = join(dir, 'gateway.json');
    await writeFile(
      config,
      JSON.stringify({
        interfaces: [
          { name: 'wan', nic: `tap:${net.tapWan}`, ip: `${GW_WAN}/24` },
          { name: 'lan', nic: `tap:${net.tapLan}`, ip: `${GW_LAN}/24` },
        ],
        forwarding: true,
        nat: [{ type: 'masquerade', out: 'wan' }],
        portForwards: [{ in: 'wan', protocol: 'udp', port: 5454, to: `${LAN_HOST}:5454` }],
        http: { port: 80 },
      }),
    );
    const started = startGatewayBin(['--config', config], log, {
      env: { POSTERN_ADMIN_PASSWORD: 'nat-fragments-secret' },
    });
    scene.track(started.child);
    await started.ready;
    // Both servers answer in their own namespaces before the tests start.
    for (const [ns, address, port] of [
      [nsWan, WAN_HOST, 9000],
      [nsLan, LAN_HOST, 5454],
    ] as const) {
      const up = await eventually(
        async () => (await ask(ns, address, port, 10, 1)).stdout.trim() === `${address} True ${address}:${port} 1 True`,
        15_000,
        PEER_POLL_MS,
      );
      expect(up, log.join('')).toBe(true);
    }
  }, 90_000);

  afterAll(() => scene.teardown(), 30_000);

  rootIt(
    title('a 6,000-byte reply the WAN kernel fragments reaches the LAN client whole, through masquerade'),
    async () => {
      const r = await ask(nsLan, WAN_HOST, 9000, 20, 6000);
      expect(r.stdout.trim(), r.stderr + log.join('')).toBe(`${GW_WAN} True ${WAN_HOST}:9000 6000 True`);
    },
    30_000,
  );

  rootIt(
    title('a 5,000-byte datagram the LAN kernel fragments reaches the WAN server whole, from the WAN address'),
    async () => {
      const r = await ask(nsLan, WAN_HOST, 9000, 5000, 10);
      expect(r.stdout.trim(), r.stderr + log.join('')).toBe(`${GW_WAN} True ${WAN_HOST}:9000 10 True`);
    },
    30_000,
  );

  rootIt(
    title('fragmented both ways through the UDP port forward: 4,000 bytes in, 7,000 bytes back'),
    async () => {
      const r = await ask(nsWan, GW_WAN, 5454, 4000, 7000);
      // The LAN server saw the WAN host (no source NAT on a forward); the answer comes from the WAN address.
      expect(r.stdout.trim(), r.stderr + log.join('')).toBe(`${WAN_HOST} True ${GW_WAN}:5454 7000 True`);
    },
    30_000,
  );
});
