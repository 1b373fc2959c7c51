/**
 * {@link LightServer}'s own bookkeeping, without a network: the queue of sockets waiting for the
 * deferred round (first come, first served, each socket at most once, the round's budget, sockets
 * queued during the round, a listener's exception) and the peer-address strings it shares.
 */
import { describe, expect, it } from 'vitest';
import { ipv4ToString, parseIpv4 } from '@postern/wire';
import { LightServer, type LightSocket, type Sockets } from '../src/index.js';

/** A server on a table whose scheduler only counts the rounds asked for. */
function server(): { server: LightServer; rounds: () => number } {
  let rounds = 0;
  const sockets = { scheduler: { schedule: () => rounds++ } } as unknown as Sockets;
  return { server: new LightServer({ sockets }), rounds: () => rounds };
}

/** A stand-in socket whose deferred work records its name into `ran` (and runs `then`, if given). */
function fake(name: string, ran: string[], then?: () => void): LightSocket {
  return {
    deferQueued: false,
    deferNext: undefined,
    runDeferred() {
      ran.push(name);
      then?.();
    },
  } as unknown as LightSocket;
}

/** Stand-ins a, b, c: a's turn queues c, b's first turn queues b itself again, c only runs. */
function queueing(s: LightServer, ran: string[]): [LightSocket, LightSocket, LightSocket] {
  const c = fake('c', ran);
  let again = true;
  const b: LightSocket = fake('b', ran, () => {
    if (!again) return;
    again = false;
    s.defer(b);
  });
  return [fake('a', ran, () => s.defer(c)), b, c];
}

describe('LightServer deferred round', () => {
  it('runs queued sockets in order, each once however often it asked, at most budget per poll', () => {
    const { server: s, rounds } = server();
    const ran: string[] = [];
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => fake(n, ran));
    for (const x of [a, b, a, c, d, b, e]) s.defer(x!);
    expect(rounds()).toBe(5); // one request per socket queued
    expect(s.poll(2)).toBe(2); // work left: the whole budget
    expect(ran).toEqual(['a', 'b']);
    expect(s.poll(2)).toBe(2);
    expect(s.poll(2)).toBe(1); // all done: less than the budget
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(s.poll(2)).toBe(0);
    // The emptied queue starts over, and a socket that ran can be queued again.
    s.defer(c!);
    s.defer(a!);
    expect(s.poll(8)).toBe(2);
    expect(ran.slice(5)).toEqual(['c', 'a']);
    for (const x of [a, b, c, d, e]) {
      expect(x!.deferQueued).toBe(false);
      expect(x!.deferNext).toBeUndefined();
    }
  });

  it('sockets queued during the round join its end (a socket may queue itself again); the budget still holds', () => {
    const { server: s } = server();
    const ran: string[] = [];
    const [a, b] = queueing(s, ran);
    s.defer(a);
    s.defer(b);
    expect(s.poll(4)).toBe(3); // a, b, c, b: all done, so it reports less than the budget
    expect(ran).toEqual(['a', 'b', 'c', 'b']);
    s.defer(a);
    expect(s.poll(1)).toBe(1); // a ran and queued c: left for the next poll
    expect(s.poll(1)).toBe(0);
    expect(ran.slice(4)).toEqual(['a', 'c']);
  });

  it('a socket queued during the round asks for no other round: the round takes it, or returns its whole budget', () => {
    const { server: s, rounds } = server();
    const ran: string[] = [];
    const [a, b, c] = queueing(s, ran);
    s.defer(a);
    s.defer(b);
    expect(rounds()).toBe(2);
    expect(s.poll(8)).toBe(4);
    expect(ran).toEqual(['a', 'b', 'c', 'b']);
    expect(rounds()).toBe(2); // c and b's second turn ran in that round: no empty round after it
    // Past the budget: the queued socket waits, and the whole budget returned makes the scheduler poll again.
    s.defer(a);
    expect(rounds()).toBe(3);
    expect(s.poll(1)).toBe(1);
    expect(rounds()).toBe(3);
    expect(s.poll(1)).toBe(0);
    expect(ran.slice(4)).toEqual(['a', 'c']);
    // Outside a poll, a socket queued asks for its round again.
    s.defer(c);
    expect(rounds()).toBe(4);
  });

  it("a socket's exception is rethrown after the round's other sockets ran; work left asks for another round", () => {
    const { server: s, rounds } = server();
    const ran: string[] = [];
    const boom = fake('boom', ran, () => {
      throw new Error('listener failed');
    });
    for (const x of [boom, fake('b', ran), fake('c', ran), fake('d', ran)]) s.defer(x);
    const asked = rounds();
    expect(() => s.poll(3)).toThrow('listener failed');
    expect(ran).toEqual(['boom', 'b', 'c']);
    expect(rounds()).toBe(asked + 1); // d waits: the thrown poll asked for the next round itself
    expect(s.poll(3)).toBe(1);
    expect(ran).toEqual(['boom', 'b', 'c', 'd']);
  });
});

describe('LightServer peer-address strings', () => {
  it('gives the dotted quad of any address, also when addresses share a cache slot or lie above 2^31', () => {
    const { server: s } = server();
    // 10.0.0.1, 10.0.1.1 and 192.168.7.65 share their low six bits (the slot); 255.255.255.255 is above 2^31.
    const addresses = ['10.0.0.1', '10.0.1.1', '192.168.7.65', '255.255.255.255', '0.0.0.0', '198.18.0.1'];
    for (let round = 0; round < 3; round++) {
      for (const text of addresses) expect(s.addressText(parseIpv4(text))).toBe(text);
      for (const text of [...addresses].reverse()) expect(s.addressText(parseIpv4(text))).toBe(text);
    }
    for (let i = 0; i < 1000; i++) {
      const address = (i * 2_654_435_761) >>> 0;
      expect(s.addressText(address)).toBe(ipv4ToString(address));
    }
  });
});
