import { describe, expect, it } from 'vitest';
import { PingError, SendError } from '../src/index.js';
import { ip, settle, twoHosts } from './support/net.js';

describe('Stack: ARP and ICMP echo between two stacks', () => {
  it('resolves the peer with ARP and gets an echo reply', async () => {
    const { sched, a, b } = await twoHosts();
    const { value, error } = await settle(sched, a.stack.ping({ dst: ip('198.18.0.2') }));
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ from: ip('198.18.0.2'), size: 56, dataMatches: true, ttl: 64 });
    expect(a.stack.arpCounters.get('txRequests')).toBe(1);
    expect(b.stack.arpCounters.get('txReplies')).toBe(1);
    expect(a.iface.arp.list()).toEqual([
      expect.objectContaining({ ip: ip('198.18.0.2'), mac: b.device.mac, state: 'reachable' }),
    ]);
    // B learned A from the request (stale until confirmed) and answered without a broadcast
    // request: using the stale entry only starts a unicast probe.
    expect(b.iface.arp.lookup(ip('198.18.0.1'))).toBe(a.device.mac);
    expect(b.stack.icmpCounters.get('echoReplies')).toBe(1);
    expect(b.iface.arp.stats.get('requests')).toBe(0);
    expect(b.iface.arp.stats.get('probes')).toBe(1);
  });

  it('announces an address with a gratuitous ARP that updates the peer cache', async () => {
    const { sched, a, b } = await twoHosts();
    await settle(sched, a.stack.ping({ dst: ip('198.18.0.2') }));
    const before = a.stack.arpCounters.get('txGratuitous');
    a.iface.addAddress(ip('198.18.0.9'), 24);
    sched.runPending();
    expect(a.stack.arpCounters.get('txGratuitous')).toBe(before + 1);
    expect(b.stack.arpCounters.get('rxRequests')).toBeGreaterThan(0);
    expect(a.stack.routes.list().filter((r) => r.kind === 'connected')).toHaveLength(2);
    a.iface.removeAddress(ip('198.18.0.9'));
    expect(a.stack.routes.list().filter((r) => r.kind === 'connected')).toHaveLength(1);
  });

  it('pings with 4000 bytes: fragmented both ways and reassembled on both sides', async () => {
    const { sched, a, b } = await twoHosts();
    const { value, error } = await settle(sched, a.stack.ping({ dst: ip('198.18.0.2'), size: 4000 }));
    expect(error).toBeUndefined();
    expect(value).toMatchObject({ size: 4000, dataMatches: true });
    expect(a.stack.ipCounters.get('sentFragmented')).toBe(1);
    expect(b.stack.ipCounters.get('sentFragmented')).toBe(1);
    expect(a.stack.ipCounters.get('fragmentsCreated')).toBe(3);
    expect(b.stack.reassembler.stats.get('reassembled')).toBe(1);
    expect(a.stack.reassembler.stats.get('reassembled')).toBe(1);
  });

  it("refuses a datagram over the MTU with Don't Fragment, with the MTU in the error", async () => {
    const { a } = await twoHosts();
    let caught: unknown;
    try {
      a.stack.icmp.echo({ dst: ip('198.18.0.2'), size: 1600, df: true }, () => undefined);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SendError);
    expect(caught).toMatchObject({ code: 'MESSAGE_TOO_LONG', mtu: 1500 });
    expect(a.stack.ipCounters.get('sendTooLong')).toBe(1);
  });

  it('times out when the peer is gone, and reports no route for an unknown network', async () => {
    const { sched, link, a } = await twoHosts();
    await settle(sched, a.stack.ping({ dst: ip('198.18.0.2') }));
    link.setLink('down');
    const { error } = await settle(sched, a.stack.ping({ dst: ip('198.18.0.2'), timeoutMs: 500 }));
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).code).toBe('TIMEOUT');
    expect(a.stack.icmpCounters.get('pingTimeouts')).toBe(1);
    expect(a.stack.ipCounters.get('txDeviceRefused')).toBe(1);
    const noRoute = await settle(sched, a.stack.ping({ dst: ip('10.0.0.1') }));
    expect(noRoute.error).toMatchObject({ code: 'NO_ROUTE' });
    expect(a.stack.ipCounters.get('sendNoRoute')).toBe(1);
  });

  it('loops datagrams to its own address back without touching the wire', async () => {
    const { sched, a } = await twoHosts();
    const sent = a.device.stats.txFrames;
    const { value } = await settle(sched, a.stack.ping({ dst: ip('198.18.0.1'), size: 3000 }));
    expect(value).toMatchObject({ from: ip('198.18.0.1'), size: 3000, dataMatches: true });
    expect(a.device.stats.txFrames).toBe(sent);
    expect(a.stack.ipCounters.get('loopback')).toBe(2);
  });
});
