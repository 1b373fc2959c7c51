import { describe, expect, it } from 'vitest';
import { ARP_OP_REPLY, ARP_OP_REQUEST, parseIpv4, parseMac, type ArpRepr } from '@postern/wire';
import { ArpCache, ArpCacheError, type ArpAction } from '../src/index.js';

const ME = parseIpv4('198.18.0.1');
const A = parseIpv4('198.18.0.2');
const B = parseIpv4('198.18.0.3');
const MAC_A = parseMac('02:00:00:00:00:0a');
const MAC_A2 = parseMac('02:00:00:00:00:aa');
const MAC_B = parseMac('02:00:00:00:00:0b');

function reply(ip: number, mac: number, target = ME): ArpRepr {
  return {
    operation: ARP_OP_REPLY,
    senderProtocolAddress: ip,
    senderHardwareAddress: mac,
    targetProtocolAddress: target,
    targetHardwareAddress: parseMac('02:00:00:00:00:01'),
  };
}
function request(ip: number, mac: number, target = ME): ArpRepr {
  return {
    operation: ARP_OP_REQUEST,
    senderProtocolAddress: ip,
    senderHardwareAddress: mac,
    targetProtocolAddress: target,
    targetHardwareAddress: 0,
  };
}
const types = (actions: ArpAction<string>[]) => actions.map((a) => a.type);

describe('ArpCache', () => {
  it('resolveKnown answers from the entry the map holds now: an entry removed or relearned is never answered from before', () => {
    const c = new ArpCache<string>();
    c.addStatic(A, MAC_A);
    c.addStatic(B, MAC_B);
    expect(c.resolveKnown(0, A)).toBe(MAC_A);
    expect(c.resolveKnown(0, A)).toBe(MAC_A); // the remembered entry
    expect(c.resolveKnown(0, B)).toBe(MAC_B);
    c.remove(B);
    expect(c.resolveKnown(0, B)).toBeUndefined();
    c.addStatic(B, MAC_A2);
    expect(c.resolveKnown(0, B)).toBe(MAC_A2);
    expect(c.resolveKnown(0, A)).toBe(MAC_A);
    c.remove(A);
    expect(c.resolveKnown(0, A)).toBeUndefined();
    expect(c.resolve(0, A, 'p1')).toBeUndefined(); // unknown again: a request goes out
    expect(types(c.takeActions())).toEqual(['request']);
  });

  it('queues while resolving, then flushes the queue to the MAC on reply', () => {
    const c = new ArpCache<string>();
    expect(c.resolve(0, A, 'p1')).toBeUndefined();
    expect(c.resolve(10, A, 'p2')).toBeUndefined();
    expect(c.takeActions()).toEqual([{ type: 'request', target: A, unicastMac: undefined }]); // one request, not two
    expect(c.list()[0]).toMatchObject({ state: 'incomplete', queued: 2 });
    c.input(20, reply(A, MAC_A), true);
    expect(c.takeActions()).toEqual([{ type: 'flush', target: A, mac: MAC_A, packets: ['p1', 'p2'] }]);
    expect(c.resolve(30, A, 'p3')).toBe(MAC_A);
    expect(c.list()[0]).toMatchObject({ state: 'reachable', queued: 0, nextEventAt: 20 + 30_000 });
    expect(c.queuedPackets).toBe(0);
    expect(c.stats.get('resolved')).toBe(1);
  });

  it('retries 3 times 1 s apart, then drops the queue as unresolved', () => {
    const c = new ArpCache<string>();
    c.resolve(0, A, 'p1');
    c.takeActions();
    expect(c.pollAt()).toBe(1000);
    c.poll(999);
    expect(c.takeActions()).toEqual([]);
    c.poll(1000);
    expect(types(c.takeActions())).toEqual(['request']);
    expect(c.pollAt()).toBe(2000);
    c.poll(2000);
    expect(types(c.takeActions())).toEqual(['request']);
    c.poll(3000);
    expect(c.takeActions()).toEqual([{ type: 'drop', target: A, packets: ['p1'], reason: 'unresolved' }]);
    expect(c.size).toBe(0);
    expect(c.pollAt()).toBeUndefined();
    expect(c.stats.get('requests')).toBe(3);
    expect(c.stats.get('unresolved')).toBe(1);
  });

  it('goes stale after the reachable time, probes on use, and recovers on a reply', () => {
    const c = new ArpCache<string>();
    c.resolve(0, A);
    c.input(0, reply(A, MAC_A), true);
    c.takeActions();
    c.poll(30_000);
    expect(c.list()[0]!.state).toBe('stale');
    expect(c.resolve(31_000, A)).toBe(MAC_A); // a stale entry is still used
    expect(c.takeActions()).toEqual([{ type: 'request', target: A, unicastMac: MAC_A }]);
    expect(c.resolve(31_100, A)).toBe(MAC_A);
    expect(c.takeActions()).toEqual([]); // one probe at a time
    c.input(31_200, reply(A, MAC_A), true);
    expect(c.list()[0]).toMatchObject({ state: 'reachable', probing: false });
  });

  it('removes a stale entry whose probes go unanswered', () => {
    const c = new ArpCache<string>();
    c.resolve(0, A);
    c.input(0, reply(A, MAC_A), true);
    c.poll(30_000);
    c.resolve(30_000, A);
    c.takeActions();
    c.poll(31_000);
    c.poll(32_000);
    expect(types(c.takeActions())).toEqual(['request', 'request']);
    c.poll(33_000);
    expect(c.size).toBe(0);
    expect(c.stats.get('probeFailed')).toBe(1);
    expect(c.stats.get('probes')).toBe(3);
  });

  it('forgets an unused stale entry after the stale time', () => {
    const c = new ArpCache<string>();
    c.input(0, request(A, MAC_A), true); // a request to us creates a stale entry (RFC 826)
    expect(c.list()[0]).toMatchObject({ state: 'stale', mac: MAC_A, nextEventAt: 60_000 });
    c.poll(59_999);
    expect(c.size).toBe(1);
    c.poll(60_000);
    expect(c.size).toBe(0);
    expect(c.stats.get('staleRemoved')).toBe(1);
  });

  it('creates no entry from ARP not addressed to us or gratuitous, but updates existing ones', () => {
    const c = new ArpCache<string>();
    c.input(0, request(A, MAC_A, B), false);
    c.input(0, request(A, MAC_A, A), true);
    expect(c.size).toBe(0);
    c.resolve(0, A);
    c.input(0, reply(A, MAC_A), true);
    c.input(5, request(A, MAC_A2, A), false); // gratuitous ARP: the address moved
    expect(c.lookup(A)).toBe(MAC_A2);
    expect(c.list()[0]!.state).toBe('stale');
    expect(c.stats.get('gratuitous')).toBe(2);
    expect(c.stats.get('macChanged')).toBe(1);
    c.input(5, request(0, MAC_B, A), false); // RFC 5227 probe: ignored
    expect(c.lookup(A)).toBe(MAC_A2);
  });

  it('holds by default every fragment of the largest datagram at a 1500-byte MTU (45) for one address', () => {
    const c = new ArpCache<number>();
    const fragments = Math.ceil((65_535 - 20) / 1480);
    for (let i = 0; i < fragments; i++) c.resolve(0, A, i);
    expect(c.takeActions().filter((a) => a.type === 'drop')).toEqual([]);
    c.input(1, reply(A, MAC_A), true);
    const flushed = c.takeActions().find((a) => a.type === 'flush');
    expect(flushed).toEqual({ type: 'flush', target: A, mac: MAC_A, packets: [...Array(fragments).keys()] });
  });

  it('bounds the queue per address (dropping the oldest) and in total (dropping the new)', () => {
    const c = new ArpCache<string>({ queuePerAddress: 2, queueTotal: 3 });
    c.resolve(0, A, 'a1');
    c.resolve(0, A, 'a2');
    c.resolve(0, A, 'a3');
    expect(c.takeActions().filter((a) => a.type === 'drop')).toEqual([
      { type: 'drop', target: A, packets: ['a1'], reason: 'queue-full' },
    ]);
    c.resolve(0, B, 'b1');
    c.resolve(0, B, 'b2');
    expect(c.takeActions().filter((a) => a.type === 'drop')).toEqual([
      { type: 'drop', target: B, packets: ['b2'], reason: 'global-queue-full' },
    ]);
    expect(c.queuedPackets).toBe(3);
    expect(c.stats.snapshot()).toMatchObject({ queueFull: 1, globalQueueFull: 1 });
    c.input(1, reply(A, MAC_A), true);
    expect(c.takeActions()).toEqual([{ type: 'flush', target: A, mac: MAC_A, packets: ['a2', 'a3'] }]);
    expect(c.queuedPackets).toBe(1);
  });

  it('bounds the entries, evicting the least recently used stale one, else refusing', () => {
    const c = new ArpCache<string>({ maxEntries: 2 });
    const C = parseIpv4('198.18.0.4');
    c.input(0, request(A, MAC_A), true); // stale
    c.input(1, request(B, MAC_B), true); // stale, used later
    c.resolve(2, B);
    c.takeActions();
    c.resolve(3, C, 'c1');
    c.takeActions();
    expect(c.lookup(A)).toBeUndefined();
    expect(c.lookup(B)).toBe(MAC_B);
    expect(c.stats.get('evicted')).toBe(1);
    // B is being probed but stale; C incomplete. Make B static: nothing left to evict.
    c.addStatic(B, MAC_B);
    expect(c.resolve(4, A, 'a1')).toBeUndefined();
    expect(c.takeActions()).toEqual([{ type: 'drop', target: A, packets: ['a1'], reason: 'table-full' }]);
    expect(c.stats.get('tableFull')).toBe(1);
    expect(() => c.addStatic(A, MAC_A)).toThrow(ArpCacheError);
  });

  it('keeps static entries against received ARP and timers', () => {
    const c = new ArpCache<string>();
    c.resolve(0, A, 'p');
    c.takeActions();
    c.addStatic(A, MAC_A);
    expect(c.takeActions()).toEqual([{ type: 'flush', target: A, mac: MAC_A, packets: ['p'] }]);
    c.input(1, reply(A, MAC_A2), true);
    expect(c.lookup(A)).toBe(MAC_A);
    expect(c.stats.get('staticConflict')).toBe(1);
    c.poll(1e9);
    expect(c.list()).toEqual([
      { ip: A, mac: MAC_A, state: 'static', queued: 0, probing: false, nextEventAt: undefined },
    ]);
    expect(c.pollAt()).toBeUndefined();
    const code = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        return (e as ArpCacheError).code;
      }
    };
    expect(code(() => c.addStatic(B, parseMac('ff:ff:ff:ff:ff:ff')))).toBe('INVALID_MAC');
    expect(code(() => c.addStatic(0, MAC_B))).toBe('INVALID_ADDRESS');
    expect(code(() => c.remove(B))).toBe('NOT_FOUND');
    c.remove(A);
    expect(c.size).toBe(0);
  });

  it('an upper-layer confirmation makes a stale entry reachable', () => {
    const c = new ArpCache<string>();
    c.input(0, request(A, MAC_A), true);
    c.confirm(100, A);
    expect(c.list()[0]).toMatchObject({ state: 'reachable', nextEventAt: 30_100 });
  });

  it('a request from the address being resolved resolves it', () => {
    const c = new ArpCache<string>();
    c.resolve(0, A, 'p');
    c.takeActions();
    c.input(10, request(A, MAC_A), true);
    expect(c.takeActions()).toEqual([{ type: 'flush', target: A, mac: MAC_A, packets: ['p'] }]);
  });
});
