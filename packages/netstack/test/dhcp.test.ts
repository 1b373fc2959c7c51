/**
 * The DHCP server and client against each other on the virtual clock (seeded): DISCOVER, OFFER,
 * REQUEST, ACK; what the lease puts into the client's stack; RENEW at T1, REBIND at T2 when the
 * server is gone, expiry; RELEASE; leases that survive a server restart; static leases; the ARP
 * conflict probe; DECLINE; NAK for a foreign address; crafted bad messages counted, never thrown.
 */
import { Scheduler } from '@postern/irq';
import {
  ARP_OP_REPLY,
  ARP_PACKET_LENGTH,
  BOOTP_REQUEST,
  DHCP_CLIENT_PORT,
  DHCP_DECLINE,
  DHCP_DISCOVER,
  DHCP_OPT,
  DHCP_REQUEST,
  DHCP_SERVER_PORT,
  ETHERTYPE_ARP,
  IP_PROTO_UDP,
  emitArp,
  emitDhcp,
  dhcpAddressBytes,
  dhcpBufferLength,
  emitUdp,
  type DhcpRepr,
} from '@postern/wire';
import { describe, expect, it } from 'vitest';
import { DhcpClient, DhcpServer, Stack, type DhcpLeaseRecord, type DhcpServerOptions } from '../src/index.js';
import { inject, ip, makeLink, rawIpv4 } from './support/net.js';

const SERVER = ip('198.18.0.1');
const FIRST = ip('198.18.0.100');

async function lan(seed = 5, serverOptions: Partial<DhcpServerOptions> = {}, leaseSeconds = 600, staticIp?: number) {
  const sched = new Scheduler({ seed });
  const { link, a, b } = makeLink(sched);
  const gw = new Stack(sched);
  const host = new Stack(sched);
  const gwIf = gw.addInterface(a);
  const hostIf = host.addInterface(b);
  gwIf.addAddress(SERVER, 24);
  await a.open();
  await b.open();
  sched.runPending();
  const saved: DhcpLeaseRecord[][] = [];
  const makeServer = (initialLeases?: readonly DhcpLeaseRecord[]) =>
    new DhcpServer(gw, {
      scopes: [
        {
          iface: gwIf,
          rangeFirst: FIRST,
          rangeLast: ip('198.18.0.110'),
          leaseSeconds,
          dnsServers: [SERVER],
          static: staticIp === undefined ? [] : [{ mac: hostIf.mac, ip: staticIp }],
        },
      ],
      store: { save: (r) => saved.push([...r]) },
      epochMs: 1_000_000,
      ...(initialLeases === undefined ? {} : { initialLeases }),
      ...serverOptions,
    });
  const server = makeServer();
  const leases: unknown[] = [];
  const client = new DhcpClient(host, { iface: hostIf, hostname: 'lanhost', onLease: (l) => leases.push(l) });
  return { sched, link, gw, host, gwIf, hostIf, server, client, saved, leases, makeServer, hostDevice: b };
}

/** A client message from `mac`, as a frame injected from the host's device. */
function clientFrame(mac: number, type: number, options: Array<[number, Uint8Array]> = [], ciaddr = 0): Uint8Array {
  const repr: DhcpRepr = {
    op: BOOTP_REQUEST,
    xid: 0x1234,
    secs: 0,
    flags: 0x8000,
    ciaddr,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: mac,
    options: new Map<number, Uint8Array>([[DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(type)], ...options]),
  };
  const dhcp = new Uint8Array(dhcpBufferLength(repr));
  emitDhcp(repr, dhcp);
  return udpIn(dhcp, ciaddr);
}

function udpIn(payload: Uint8Array, src = 0): Uint8Array {
  const udp = new Uint8Array(8 + payload.byteLength);
  emitUdp({ srcPort: DHCP_CLIENT_PORT, dstPort: DHCP_SERVER_PORT }, udp, src, 0xffffffff, payload);
  return rawIpv4({ src, dst: 0xffffffff, protocol: IP_PROTO_UDP, payload: udp });
}

describe('DHCP server and client (virtual clock, seeded)', () => {
  it('binds: the address, prefix, default route and DNS servers come from the ACK', async () => {
    const t = await lan();
    t.client.start();
    expect(t.client.state).toBe('selecting');
    t.sched.advance(2000);
    expect(t.client.state).toBe('bound');
    const lease = t.client.lease!;
    expect(lease.address).toBe(FIRST);
    expect(lease.prefixLength).toBe(24);
    expect(lease.router).toBe(SERVER);
    expect(lease.dnsServers).toEqual([SERVER]);
    expect(t.hostIf.hasAddress(FIRST)).toBe(true);
    expect(t.host.routes.match(ip('203.0.113.9'))).toMatchObject({ prefixLength: 0, gateway: SERVER });
    expect(t.server.counters.snapshot()).toMatchObject({
      discovers: 1,
      offers: 1,
      requests: 1,
      acks: 1,
      probes: 1,
      conflicts: 0,
    });
    expect(t.server.leases()).toEqual([
      expect.objectContaining({
        iface: t.gwIf.name,
        mac: t.hostIf.mac,
        ip: FIRST,
        state: 'bound',
        hostname: 'lanhost',
        expired: false,
      }),
    ]);
    expect(t.saved.at(-1)).toEqual([
      expect.objectContaining({
        ip: FIRST,
        mac: t.hostIf.mac,
        state: 'bound',
        expires: 1_000_000 + t.sched.now + 600_000 - (t.sched.now - lease.boundAt),
      }),
    ]);
  });

  it('renews at T1 (unicast), rebinds at T2 when the server is gone, and gives the address up at expiry', async () => {
    const t = await lan(9, {}, 100);
    t.client.start();
    t.sched.advance(2000);
    const first = t.client.lease!;
    expect(first.renewAt - first.boundAt).toBe(50_000);
    expect(first.rebindAt - first.boundAt).toBe(87_000);
    t.sched.advance(first.renewAt - t.sched.now + 100);
    expect(t.client.state).toBe('bound');
    expect(t.client.lease!.boundAt).toBeGreaterThanOrEqual(first.renewAt);
    expect(t.server.counters.get('acks')).toBe(2);
    // The server goes away: renewing, then rebinding, then expiry.
    t.server.close();
    const second = t.client.lease!;
    t.sched.advance(second.renewAt - t.sched.now + 100);
    expect(t.client.state).toBe('renewing');
    t.sched.advance(second.rebindAt - t.sched.now + 100);
    expect(t.client.state).toBe('rebinding');
    t.sched.advance(second.expiresAt - t.sched.now + 100);
    expect(t.client.counters.get('expired')).toBe(1);
    expect(t.client.state).toBe('selecting');
    expect(t.hostIf.addresses).toEqual([]);
    expect(t.host.routes.match(ip('203.0.113.9'))).toBeUndefined();
    expect(t.leases.at(-1)).toBeUndefined();
  });

  it('retransmits DISCOVER with exponential backoff and jitter from the seed, the same for the same seed', async () => {
    const times = async (seed: number): Promise<number[]> => {
      const t = await lan(seed);
      t.server.close();
      const at: number[] = [];
      let last = 0;
      t.client.start();
      for (let i = 0; i < 200; i++) {
        t.sched.advance(1000);
        const n = t.client.counters.get('discovers');
        if (n !== last) at.push(t.sched.now);
        last = n;
      }
      return at;
    };
    const a = await times(21);
    expect(a.slice(0, 4)).toEqual(await times(21).then((b) => b.slice(0, 4)));
    const gaps = a.slice(1).map((x, i) => x - a[i]!);
    // 4 s, 8 s, 16 s ... each ± 1 s, sampled at whole seconds.
    expect(gaps[0]).toBeGreaterThanOrEqual(2000);
    expect(gaps[0]).toBeLessThanOrEqual(6000);
    expect(gaps[1]).toBeGreaterThanOrEqual(6000);
    expect(gaps[1]).toBeLessThanOrEqual(10_000);
    expect(gaps[2]).toBeGreaterThanOrEqual(14_000);
    expect(gaps[2]).toBeLessThanOrEqual(18_000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(66_000);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(62_000);
  });

  it('stop() sends a RELEASE: the server marks the lease released and offers the same address to the same client again', async () => {
    const t = await lan();
    t.client.start();
    t.sched.advance(2000);
    t.client.stop();
    t.sched.advance(100);
    expect(t.client.state).toBe('stopped');
    expect(t.hostIf.addresses).toEqual([]);
    expect(t.server.counters.get('releases')).toBe(1);
    expect(t.server.leases()[0]).toMatchObject({ ip: FIRST, state: 'released' });
    t.client.start();
    t.sched.advance(2000);
    expect(t.client.lease?.address).toBe(FIRST);
  });

  it('keeps leases across a server restart: another client does not get the address, the owner does', async () => {
    const t = await lan();
    t.client.start();
    t.sched.advance(2000);
    const saved = t.saved.at(-1)!;
    t.server.close();
    const restarted = t.makeServer(saved);
    expect(restarted.leases()).toEqual([expect.objectContaining({ ip: FIRST, mac: t.hostIf.mac, state: 'bound' })]);
    // Another MAC asks for the owner's address: it gets the next one.
    const other = 0x02_aa_bb_cc_dd_ee;
    inject(
      { stack: t.host, iface: t.hostIf, device: t.hostDevice },
      0xffff_ffff_ffff,
      clientFrame(other, DHCP_DISCOVER, [[DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(FIRST)]]),
    );
    t.sched.advance(1000);
    expect(restarted.leases().find((l) => l.mac === other)).toMatchObject({ ip: ip('198.18.0.101'), state: 'offered' });
  });

  it('gives a static lease its address', async () => {
    const t = await lan(3, {}, 60, ip('198.18.0.7'));
    t.client.start();
    t.sched.advance(2000);
    expect(t.client.lease?.address).toBe(ip('198.18.0.7'));
  });

  it('probes with ARP before offering: an answer sets the address aside and the next one is offered', async () => {
    const t = await lan();
    t.client.start();
    t.sched.advance(1); // the DISCOVER is at the server, its probe for .100 on the wire
    expect(t.server.counters.get('probes')).toBe(1);
    const squatter = 0x02_00_5e_00_00_99;
    const arp = new Uint8Array(ARP_PACKET_LENGTH);
    emitArp(
      {
        operation: ARP_OP_REPLY,
        senderHardwareAddress: squatter,
        senderProtocolAddress: FIRST,
        targetHardwareAddress: t.gwIf.mac,
        targetProtocolAddress: SERVER,
      },
      arp,
    );
    inject({ stack: t.host, iface: t.hostIf, device: t.hostDevice }, t.gwIf.mac, arp, ETHERTYPE_ARP);
    t.sched.advance(3000);
    expect(t.server.counters.get('conflicts')).toBe(1);
    expect(t.client.lease?.address).toBe(ip('198.18.0.101'));
    expect(t.server.leases()).toContainEqual(expect.objectContaining({ ip: FIRST, mac: 0, state: 'declined' }));
  });

  it('holds an address while it is probed: two clients discovering at once get different ones', async () => {
    const t = await lan();
    const host = { stack: t.host, iface: t.hostIf, device: t.hostDevice };
    inject(host, 0xffff_ffff_ffff, clientFrame(0x02_00_00_00_00_a1, DHCP_DISCOVER));
    inject(host, 0xffff_ffff_ffff, clientFrame(0x02_00_00_00_00_a2, DHCP_DISCOVER));
    t.sched.advance(2000);
    const offered = t.server.leases().filter((l) => l.state === 'offered');
    expect(offered.map((l) => [l.mac, l.ip])).toEqual([
      [0x02_00_00_00_00_a1, FIRST],
      [0x02_00_00_00_00_a2, ip('198.18.0.101')],
    ]);
    expect(t.server.counters.get('offers')).toBe(2);
  });

  it('sets a DECLINEd address aside, and NAKs a request for an address off its network', async () => {
    const t = await lan();
    t.client.start();
    t.sched.advance(2000);
    const host = { stack: t.host, iface: t.hostIf, device: t.hostDevice };
    inject(
      host,
      0xffff_ffff_ffff,
      clientFrame(t.hostIf.mac, DHCP_DECLINE, [
        [DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(FIRST)],
        [DHCP_OPT.SERVER_ID, dhcpAddressBytes(SERVER)],
      ]),
    );
    t.sched.advance(10);
    expect(t.server.leases()).toEqual([expect.objectContaining({ ip: FIRST, mac: 0, state: 'declined' })]);
    inject(
      host,
      0xffff_ffff_ffff,
      clientFrame(0x02_11_11_11_11_11, DHCP_REQUEST, [[DHCP_OPT.REQUESTED_IP, dhcpAddressBytes(ip('198.19.5.5'))]]),
    );
    t.sched.advance(10);
    expect(t.server.counters.get('naks')).toBe(1);
  });

  it('counts crafted bad messages (truncated, option overflow, bad cookie, a reply, no type) and keeps serving', async () => {
    const t = await lan();
    const host = { stack: t.host, iface: t.hostIf, device: t.hostDevice };
    const good = new Uint8Array(
      dhcpBufferLength({
        op: 1,
        xid: 1,
        secs: 0,
        flags: 0,
        ciaddr: 0,
        yiaddr: 0,
        siaddr: 0,
        giaddr: 0,
        chaddr: 0x020000000077,
        options: new Map([[53, Uint8Array.of(1)]]),
      }),
    );
    emitDhcp(
      {
        op: 1,
        xid: 1,
        secs: 0,
        flags: 0,
        ciaddr: 0,
        yiaddr: 0,
        siaddr: 0,
        giaddr: 0,
        chaddr: 0x020000000077,
        options: new Map([[53, Uint8Array.of(1)]]),
      },
      good,
    );
    const truncated = good.subarray(0, 100);
    const overflow = good.slice(0, 243);
    overflow[240] = 53;
    overflow[241] = 200; // 200 bytes of option in a 1-byte area
    const noCookie = good.slice();
    noCookie[236] = 0;
    const reply = good.slice();
    reply[0] = 2;
    const overloadBad = good.slice();
    overloadBad.set([52, 1, 1, 255], 240); // options continue in `file`, which has no END
    for (const bad of [truncated, overflow, noCookie, overloadBad]) inject(host, 0xffff_ffff_ffff, udpIn(bad));
    inject(host, 0xffff_ffff_ffff, udpIn(reply));
    inject(host, 0xffff_ffff_ffff, clientFrame(0x020000000078, 99));
    t.sched.advance(10);
    expect(t.server.counters.snapshot()).toMatchObject({
      received: 6,
      malformed: 4,
      notRequest: 1,
      badType: 1,
      offers: 0,
    });
    t.client.start();
    t.sched.advance(2000);
    expect(t.client.state).toBe('bound');
  });
});
