/**
 * The DHCP client's conflict check and INIT-REBOOT, frame by frame on the virtual clock (seeded).
 * The client's stack sits on one end of a memory link; on the other end the test plays the DHCP
 * server and the other hosts with frames it builds, and records every frame the client sends:
 * - an ACKed address is probed with ARP (sender 0.0.0.0) `probeCount` times before it is used; an
 *   answer, or another host's probe for it, makes the client DECLINE it and start over after 10 s;
 * - with the address of an earlier lease the client starts in INIT-REBOOT: a broadcast REQUEST
 *   with the requested-IP option and no server identifier; ACK keeps the address, NAK or silence
 *   falls back to DISCOVER.
 * The last test runs the client against this package's DhcpServer: the DECLINE reaches the server,
 * which sets the address aside and gives the client the next one.
 */
import { Scheduler } from '@postern/irq';
import type { NetDevice } from '@postern/nic';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ARP_PACKET_LENGTH,
  ArpPacket,
  BOOTP_REPLY,
  DHCP_ACK,
  DHCP_CLIENT_PORT,
  DHCP_DECLINE,
  DHCP_DISCOVER,
  DHCP_NAK,
  DHCP_OPT,
  DHCP_REQUEST,
  DHCP_SERVER_PORT,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_PROTO_UDP,
  MAC_BROADCAST,
  dhcpAddressBytes,
  dhcpAddressOption,
  dhcpBufferLength,
  dhcpMessageType,
  emitArp,
  emitDhcp,
  emitUdp,
  parseArp,
  parseDhcp,
  type ArpOperation,
  type ArpRepr,
  type DhcpRepr,
} from '@postern/wire';
import { describe, expect, it } from 'vitest';
import {
  DHCP_DECLINE_WAIT_MS,
  DHCP_PROBE_INTERVAL_MS,
  DhcpClient,
  DhcpServer,
  Stack,
  type DhcpClientOptions,
} from '../src/index.js';
import { ip, makeLink, rawFrame, rawIpv4 } from './support/net.js';

const SERVER = ip('198.18.0.1');
const OFFERED = ip('198.18.0.100');
const SQUATTER_MAC = 0x02_00_5e_00_00_99;

/** One frame the client sent: its time, and the ARP or DHCP message in it. */
type Sent = { at: number; arp: ArpRepr; dhcp?: undefined } | { at: number; dhcp: DhcpRepr; arp?: undefined };

/** The client's stack on one end of a link; the test's raw device on the other, recording what arrives. */
async function scripted(options: Partial<DhcpClientOptions> = {}, seed = 11) {
  const sched = new Scheduler({ seed });
  const { a: wire, b } = makeLink(sched);
  const host = new Stack(sched);
  const hostIf = host.addInterface(b);
  await wire.open();
  await b.open();
  sched.runPending();
  const sent: Sent[] = [];
  wire.onEtherType(ETHERTYPE_ARP, (frame, _dev, hl) => {
    sent.push({ at: sched.now, arp: parseArp(ArpPacket.checked(frame.subarray(hl))) });
  });
  wire.onEtherType(ETHERTYPE_IPV4, (frame, _dev, hl) => {
    const ihl = (frame[hl]! & 0x0f) * 4;
    const udp = frame.subarray(hl + ihl);
    const udpLength = (udp[4]! << 8) | udp[5]!;
    sent.push({ at: sched.now, dhcp: parseDhcp(udp.subarray(8, udpLength)) });
  });
  const client = new DhcpClient(host, { iface: hostIf, hostname: 'probe-test', ...options });
  const dhcpOf = (type: number) => sent.filter((s) => s.dhcp !== undefined && dhcpMessageType(s.dhcp) === type);
  const arps = () => sent.filter((s) => s.arp !== undefined).map((s) => ({ at: s.at, ...s.arp! }));
  /** The server's answer of `type` to the client's last message, for `yiaddr`. */
  const reply = (type: number, yiaddr: number) => {
    const last = sent.findLast((s) => s.dhcp !== undefined)!.dhcp!;
    const options = new Map<number, Uint8Array>([
      [DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(type)],
      [DHCP_OPT.SERVER_ID, dhcpAddressBytes(SERVER)],
    ]);
    if (type === DHCP_ACK) {
      options.set(DHCP_OPT.SUBNET_MASK, dhcpAddressBytes(ip('255.255.255.0')));
      options.set(DHCP_OPT.ROUTER, dhcpAddressBytes(SERVER));
      options.set(DHCP_OPT.LEASE_TIME, Uint8Array.of(0, 0, 0x0e, 0x10)); // 3600 s
    }
    const repr: DhcpRepr = {
      op: BOOTP_REPLY,
      xid: last.xid,
      secs: 0,
      flags: 0x8000,
      ciaddr: 0,
      yiaddr: type === DHCP_NAK ? 0 : yiaddr,
      siaddr: 0,
      giaddr: 0,
      chaddr: hostIf.mac,
      options,
    };
    const payload = new Uint8Array(dhcpBufferLength(repr));
    emitDhcp(repr, payload);
    const udp = new Uint8Array(8 + payload.byteLength);
    emitUdp({ srcPort: DHCP_SERVER_PORT, dstPort: DHCP_CLIENT_PORT }, udp, SERVER, 0xffffffff, payload);
    const packet = rawIpv4({ src: SERVER, dst: 0xffffffff, protocol: IP_PROTO_UDP, payload: udp });
    expect(wire.transmit(rawFrame(MAC_BROADCAST, wire.mac, packet))).toBe(true);
  };
  /** An ARP packet from another host on the segment. */
  const arpFrom = (arp: ArpRepr) => {
    const bytes = new Uint8Array(ARP_PACKET_LENGTH);
    emitArp(arp, bytes);
    expect(wire.transmit(rawFrame(MAC_BROADCAST, arp.senderHardwareAddress, bytes, ETHERTYPE_ARP))).toBe(true);
  };
  /** Runs the clock until the client is in `state` (at most `limitMs`). */
  const until = (state: string, limitMs = 120_000) => {
    const end = sched.now + limitMs;
    while (client.state !== state && sched.now < end) sched.advance(10);
    expect(client.state).toBe(state);
  };
  return { sched, host, hostIf, client, sent, dhcpOf, arps, reply, arpFrom, until, wire: wire as NetDevice };
}

describe('DHCP client: the ARP check of an ACKed address (RFC 2131 §3.1.5, RFC 5227 §2.1.1)', () => {
  it('probes twice from 0.0.0.0, 500 ms apart, and takes the address only when nobody answered', async () => {
    const t = await scripted();
    t.client.start();
    t.sched.advance(10);
    t.reply(2 /* OFFER */, OFFERED);
    t.sched.advance(10);
    expect(t.dhcpOf(DHCP_REQUEST)).toHaveLength(1);
    const ackAt = t.sched.now;
    t.reply(DHCP_ACK, OFFERED);
    t.sched.advance(1);
    expect(t.client.state).toBe('probing');
    expect(t.hostIf.hasAddress(OFFERED)).toBe(false);
    t.sched.advance(DHCP_PROBE_INTERVAL_MS);
    expect(t.client.state).toBe('probing');
    t.until('bound', 2 * DHCP_PROBE_INTERVAL_MS);
    expect(t.hostIf.hasAddress(OFFERED)).toBe(true);
    t.sched.advance(10); // the announcement crosses the link
    const [p1, p2, announce] = t.arps();
    for (const p of [p1!, p2!]) {
      expect(p).toMatchObject({
        operation: ARP_OP_REQUEST,
        senderHardwareAddress: t.hostIf.mac,
        senderProtocolAddress: 0,
        targetHardwareAddress: 0,
        targetProtocolAddress: OFFERED,
      });
    }
    expect(p2!.at - p1!.at).toBe(DHCP_PROBE_INTERVAL_MS);
    // Bound: the address is announced (sender = target = the address).
    expect(announce).toMatchObject({ senderProtocolAddress: OFFERED, targetProtocolAddress: OFFERED });
    expect(announce!.at - p2!.at).toBe(DHCP_PROBE_INTERVAL_MS);
    // The lease's times count from the ACK, not from the end of the check.
    expect(t.client.lease!.boundAt).toBeLessThanOrEqual(ackAt + 1);
    expect(t.client.counters.snapshot()).toMatchObject({ probes: 2, conflicts: 0, declines: 0 });
  });

  it.each<[string, ArpOperation, number]>([
    ['an ARP reply from the host using the address', ARP_OP_REPLY, OFFERED],
    ["another host's probe for the same address", ARP_OP_REQUEST, 0],
  ])('%s: DECLINE, never uses the address, starts over 10 s later', async (_what, operation, senderIp) => {
    const t = await scripted();
    t.client.start();
    t.sched.advance(10);
    t.reply(2, OFFERED);
    t.sched.advance(10);
    t.reply(DHCP_ACK, OFFERED);
    t.sched.advance(DHCP_PROBE_INTERVAL_MS / 2);
    expect(t.client.state).toBe('probing');
    t.arpFrom({
      operation,
      senderHardwareAddress: SQUATTER_MAC,
      senderProtocolAddress: senderIp,
      targetHardwareAddress: operation === ARP_OP_REPLY ? t.hostIf.mac : 0,
      targetProtocolAddress: operation === ARP_OP_REPLY ? 0 : OFFERED,
    });
    t.sched.advance(1);
    const declined = t.dhcpOf(DHCP_DECLINE);
    expect(declined).toHaveLength(1);
    const decline = declined[0]!.dhcp!;
    expect(dhcpAddressOption(decline, DHCP_OPT.REQUESTED_IP)).toBe(OFFERED);
    expect(dhcpAddressOption(decline, DHCP_OPT.SERVER_ID)).toBe(SERVER);
    expect(decline.ciaddr).toBe(0);
    expect(decline.options.has(DHCP_OPT.HOST_NAME)).toBe(false);
    expect(t.client.state).toBe('init');
    expect(t.client.lease).toBeUndefined();
    expect(t.client.counters.snapshot()).toMatchObject({ conflicts: 1, declines: 1 });
    const declinedAt = t.sched.now;
    t.sched.advance(DHCP_PROBE_INTERVAL_MS * 4);
    expect(t.hostIf.hasAddress(OFFERED)).toBe(false); // the check's end never binds it
    t.until('selecting', DHCP_DECLINE_WAIT_MS + 2000);
    const again = t.dhcpOf(DHCP_DISCOVER).at(-1)!;
    expect(again.at - declinedAt).toBeGreaterThanOrEqual(DHCP_DECLINE_WAIT_MS - 1000);
    expect(t.dhcpOf(DHCP_DISCOVER)).toHaveLength(2);
  });

  it('ARP that is not about the address, and a check switched off, bind at once', async () => {
    const t = await scripted();
    t.client.start();
    t.sched.advance(10);
    t.reply(2, OFFERED);
    t.sched.advance(10);
    t.reply(DHCP_ACK, OFFERED);
    t.sched.advance(1);
    // The server asking who has another address (from its own address): no conflict.
    t.arpFrom({
      operation: ARP_OP_REQUEST,
      senderHardwareAddress: SQUATTER_MAC,
      senderProtocolAddress: SERVER,
      targetHardwareAddress: 0,
      targetProtocolAddress: ip('198.18.0.101'),
    });
    t.until('bound', 3 * DHCP_PROBE_INTERVAL_MS);
    expect(t.client.counters.get('conflicts')).toBe(0);

    const off = await scripted({ probeCount: 0 });
    off.client.start();
    off.sched.advance(10);
    off.reply(2, OFFERED);
    off.sched.advance(10);
    off.reply(DHCP_ACK, OFFERED);
    off.sched.advance(1);
    expect(off.client.state).toBe('bound');
    expect(off.arps().filter((a) => a.senderProtocolAddress === 0)).toEqual([]);
  });
});

describe('DHCP client: INIT-REBOOT with the address of an earlier lease (RFC 2131 §3.2)', () => {
  it('asks for it with a broadcast REQUEST (requested IP, no server identifier); an ACK keeps it without a DISCOVER', async () => {
    const t = await scripted({ previousAddress: OFFERED });
    t.client.start();
    expect(t.client.state).toBe('rebooting');
    t.sched.advance(10);
    const [request] = t.dhcpOf(DHCP_REQUEST);
    expect(request).toBeDefined();
    const r = request!.dhcp!;
    expect(dhcpAddressOption(r, DHCP_OPT.REQUESTED_IP)).toBe(OFFERED);
    expect(r.options.has(DHCP_OPT.SERVER_ID)).toBe(false);
    expect(r.ciaddr).toBe(0);
    expect(r.flags & 0x8000).toBe(0x8000);
    t.reply(DHCP_ACK, OFFERED);
    t.until('bound', 3 * DHCP_PROBE_INTERVAL_MS);
    expect(t.client.lease).toMatchObject({ address: OFFERED, server: SERVER, router: SERVER, prefixLength: 24 });
    expect(t.client.counters.get('probes')).toBe(2);
    expect(t.dhcpOf(DHCP_DISCOVER)).toEqual([]);
  });

  it('a NAK falls back to a DISCOVER about a second later', async () => {
    const t = await scripted({ previousAddress: OFFERED });
    t.client.start();
    t.sched.advance(10);
    t.reply(DHCP_NAK, 0);
    t.sched.advance(1);
    expect(t.client.state).toBe('init');
    expect(t.client.counters.get('naks')).toBe(1);
    t.until('selecting', 3000);
    expect(t.dhcpOf(DHCP_DISCOVER)).toHaveLength(1);
    expect(t.hostIf.hasAddress(OFFERED)).toBe(false);
  });

  it('silence: a second REQUEST, then a DISCOVER', async () => {
    const t = await scripted({ previousAddress: OFFERED });
    t.client.start();
    t.until('selecting', 60_000);
    expect(t.dhcpOf(DHCP_REQUEST)).toHaveLength(2);
    expect(t.dhcpOf(DHCP_DISCOVER)).toHaveLength(1);
  });
});

describe('DHCP client and server: a conflict found by the client', () => {
  it("the DECLINE sets the address aside at the server, and the client's next try gets another one", async () => {
    const sched = new Scheduler({ seed: 5 });
    const { a, b } = makeLink(sched);
    const gw = new Stack(sched);
    const host = new Stack(sched);
    const gwIf = gw.addInterface(a);
    const hostIf = host.addInterface(b);
    gwIf.addAddress(SERVER, 24);
    await a.open();
    await b.open();
    sched.runPending();
    const server = new DhcpServer(gw, {
      scopes: [{ iface: gwIf, rangeFirst: OFFERED, rangeLast: ip('198.18.0.110'), leaseSeconds: 600, static: [] }],
      store: { save: () => undefined },
      epochMs: 1_000_000,
    });
    const client = new DhcpClient(host, { iface: hostIf });
    client.start();
    const end = sched.now + 5000;
    while (client.state !== 'probing' && sched.now < end) sched.advance(10);
    expect(client.state).toBe('probing');
    // A host that does not answer the server's probe (it came up later) answers the client's.
    const bytes = new Uint8Array(ARP_PACKET_LENGTH);
    emitArp(
      {
        operation: ARP_OP_REPLY,
        senderHardwareAddress: SQUATTER_MAC,
        senderProtocolAddress: OFFERED,
        targetHardwareAddress: hostIf.mac,
        targetProtocolAddress: 0,
      },
      bytes,
    );
    expect(a.transmit(rawFrame(hostIf.mac, SQUATTER_MAC, bytes, ETHERTYPE_ARP))).toBe(true);
    sched.advance(DHCP_DECLINE_WAIT_MS + 10_000);
    expect(client.state).toBe('bound');
    expect(client.lease!.address).toBe(ip('198.18.0.101'));
    expect(server.counters.get('declines')).toBe(1);
    expect(server.leases()).toContainEqual(expect.objectContaining({ ip: OFFERED, state: 'declined' }));
  });
});
