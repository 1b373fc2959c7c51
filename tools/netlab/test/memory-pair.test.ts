import { describe, expect, it } from 'vitest';
import { memoryPair, PAIR_A_IP, PAIR_B_IP, type PairLinkOptions } from '../src/index.js';

/** Records every call the pair makes, in order. */
const calls: string[] = [];

class FakeScheduler {
  constructor(readonly clock: { virtual: boolean }) {}
  runPending(): void {
    calls.push('runPending');
  }
  advance(ms: number): void {
    calls.push(`advance ${ms}`);
  }
  start(): void {
    calls.push('start');
  }
}

class FakeDevice {
  constructor(
    readonly driver: string,
    readonly scheduler: FakeScheduler,
    readonly options?: { rxRingCapacity?: number },
  ) {}
  async open(): Promise<void> {
    calls.push(`open ${this.driver}`);
  }
  async close(): Promise<void> {}
}

class FakeStack {
  readonly addresses: Array<[number, number]> = [];
  constructor(
    readonly scheduler: FakeScheduler,
    readonly options?: { name: string },
  ) {}
  addInterface(device: FakeDevice): { device: FakeDevice; addAddress(a: number, p: number): void } {
    return { device, addAddress: (a, p) => this.addresses.push([a, p]) };
  }
  readonly udp = {
    bind: (port: number) => {
      calls.push(`bind ${port}`);
      return { send: (to: number, p: number) => calls.push(`send ${to} ${p}`), close: () => calls.push('close') };
    },
  };
  async ping(options: { dst: number; timeoutMs?: number }): Promise<void> {
    calls.push(`ping ${options.dst} ${options.timeoutMs}`);
  }
}

const links: PairLinkOptions[] = [];
const parts = {
  createMemoryLink: (_s: FakeScheduler, options: PairLinkOptions) => (
    links.push(options),
    { a: `${options.names[0]}`, b: `${options.names[1]}` }
  ),
  NetDevice: FakeDevice,
  Stack: FakeStack,
  parseIpv4: (text: string) => text.split('.').reduce((a, p) => a * 256 + Number(p), 0),
};
const ipNumber = parts.parseIpv4;

describe('memoryPair', () => {
  it('puts a and b on one fresh link with their addresses, devices open, and resolves ARP on a virtual clock', async () => {
    calls.length = 0;
    const sched = new FakeScheduler({ virtual: true });
    const pair = await memoryPair(parts, sched, {
      tag: 'x',
      a: { name: 'A' },
      rxRingCapacity: 64,
      mtu: 1400,
      latencyMs: 3,
    });
    const link = links.at(-1)!;
    expect(link.names[0]).toMatch(/^x\d+a$/);
    expect(link).toMatchObject({ mtu: 1400, latencyMs: 3 });
    expect(pair.devA.driver).toBe(link.names[0]);
    expect(pair.devB.driver).toBe(link.names[1]);
    expect(pair.devA.options).toEqual({ rxRingCapacity: 64 });
    expect(pair.a.options).toEqual({ name: 'A' });
    expect(pair.b.options).toBeUndefined();
    expect(pair.a.addresses).toEqual([[ipNumber(PAIR_A_IP), 24]]);
    expect(pair.b.addresses).toEqual([[ipNumber(PAIR_B_IP), 24]]);
    expect(pair.ifA.device).toBe(pair.devA);
    expect(calls).toEqual([
      `open ${link.names[0]}`,
      `open ${link.names[1]}`,
      'runPending',
      'bind 0',
      `send ${ipNumber(PAIR_B_IP)} 9`,
      'advance 20',
      'close',
    ]);
  });

  it('gives every pair its own names and MACs', async () => {
    const sched = new FakeScheduler({ virtual: true });
    await memoryPair(parts, sched);
    await memoryPair(parts, sched);
    const [one, two] = links.slice(-2);
    expect(one!.names).not.toEqual(two!.names);
    expect(new Set([one!.macA, one!.macB, two!.macA, two!.macB]).size).toBe(4);
  });

  it('starts a real clock and pings b from a; takes other addresses and wrapped drivers', async () => {
    calls.length = 0;
    const sched = new FakeScheduler({ virtual: false });
    const pair = await memoryPair(parts, sched, {
      addresses: ['198.18.7.1', '198.18.7.2'],
      wrapDrivers: (a, b) => [`w(${a})`, `w(${b})`],
    });
    expect(pair.driverA).toBe(`w(${links.at(-1)!.names[0]})`);
    expect(pair.devB.driver).toBe(`w(${links.at(-1)!.names[1]})`);
    expect(pair.b.addresses).toEqual([[ipNumber('198.18.7.2'), 24]]);
    expect(calls.slice(2)).toEqual(['start', `ping ${ipNumber('198.18.7.2')} 3000`]);
  });

  it('runs and starts nothing when told not to resolve ARP', async () => {
    calls.length = 0;
    await memoryPair(parts, new FakeScheduler({ virtual: true }), { resolveArp: false });
    await memoryPair(parts, new FakeScheduler({ virtual: false }), { resolveArp: false });
    expect(calls.every((c) => c.startsWith('open '))).toBe(true);
  });
});
