import { afterEach, describe, expect, it } from 'vitest';
import {
  ip,
  KernelLab,
  netlabSkipReason,
  tryCommand,
  withSkipReason,
  type LabDevice,
  type LabInterface,
} from '../src/index.js';

const skip = await netlabSkipReason({ needTap: true });

/** A stand-in TAP driver: it creates a persistent TAP named `ifname` (as the NIC package's driver does with `create: true`). */
class FakeTap {
  constructor(readonly options: { ifname: string; create: true; mac: string }) {}
}

/** A stand-in device: opening makes the TAP, closing removes it (as closing the NIC package's driver does) and is recorded. */
class FakeDevice implements LabDevice {
  closed = false;
  constructor(
    readonly driver: FakeTap | { inner: FakeTap },
    readonly scheduler: string,
    readonly options?: { ring: number },
  ) {}
  private get tap(): FakeTap {
    return this.driver instanceof FakeTap ? this.driver : this.driver.inner;
  }
  async open(): Promise<void> {
    await ip(['tuntap', 'add', 'dev', this.tap.options.ifname, 'mode', 'tap']);
    await ip(['link', 'set', 'dev', this.tap.options.ifname, 'address', this.tap.options.mac]);
  }
  async close(): Promise<void> {
    this.closed = true;
    await tryCommand('ip', ['tuntap', 'del', 'dev', this.tap.options.ifname, 'mode', 'tap']);
  }
}

/** A stand-in stack: records the interfaces and addresses it is given. */
class FakeStack {
  readonly scheduler = 'the-scheduler';
  readonly interfaces: Array<{ device: FakeDevice; mtu: number | undefined; addresses: Array<[number, number]> }> = [];
  addInterface(device: FakeDevice, options?: { mtu?: number }): LabInterface {
    const entry = { device, mtu: options?.mtu, addresses: [] as Array<[number, number]> };
    this.interfaces.push(entry);
    return { addAddress: (address: number, prefixLength: number) => entry.addresses.push([address, prefixLength]) };
  }
}

const parts = {
  TapNicDriver: FakeTap,
  NetDevice: FakeDevice,
  parseMac: (text: string) => text.toLowerCase(),
  parseIpv4: (text: string) => text.split('.').reduce((a, p) => a * 256 + Number(p), 0),
};

describe('KernelLab', () => {
  let lab = new KernelLab(parts);
  afterEach(async () => {
    await lab.cleanup();
    lab = new KernelLab(parts);
  });

  it.skipIf(skip !== undefined)(
    withSkipReason(
      'attaches a stack to a TAP whose kernel side is configured in the namespace, and removes it all on cleanup',
      skip,
    ),
    async () => {
      const stack = new FakeStack();
      const tap = await lab.attachTap(stack, {
        kernelIp: '198.18.9.1',
        stackIp: '198.18.9.2',
        prefixLength: 24,
        mac: '02:50:00:00:09:02',
        mtu: 1400,
        deviceOptions: { ring: 64 },
      });
      const ns = await lab.kernelNamespace();
      expect(tap.ns).toBe(ns);
      expect(tap.device.scheduler).toBe('the-scheduler');
      expect(tap.device.options).toEqual({ ring: 64 });
      expect(stack.interfaces).toEqual([
        { device: tap.device, mtu: 1400, addresses: [[(198 * 256 + 18) * 65536 + 9 * 256 + 2, 24]] },
      ]);
      const link = JSON.parse((await ip(['-j', 'addr', 'show', 'dev', tap.ifname], ns)).stdout) as Array<{
        mtu: number;
        address: string;
        addr_info: Array<{ local: string; prefixlen: number }>;
      }>;
      expect(link[0]!.mtu).toBe(1400);
      expect(link[0]!.addr_info).toContainEqual(expect.objectContaining({ local: '198.18.9.1', prefixlen: 24 }));
      expect(tap.kernelMac).toBe(link[0]!.address);
      expect((await lab.run('ip', ['-4', '-o', 'addr', 'show', 'dev', tap.ifname])).stdout).toMatch(
        /198\.18\.9\.1\/24/,
      );

      await lab.cleanup();
      expect(tap.device.closed).toBe(true);
      expect((await tryCommand('ip', ['netns', 'list'])).stdout).not.toContain(ns);
    },
  );

  it.skipIf(skip !== undefined)(
    withSkipReason('puts the kernel side into the namespace it is given, over a wrapped driver', skip),
    async () => {
      const ns = await lab.namespace();
      const tap = await lab.attachTap(new FakeStack(), {
        ns,
        kernelIp: '198.18.9.5',
        stackIp: '198.18.9.6',
        prefixLength: 30,
        mac: '02:50:00:00:09:06',
        wrapDriver: (inner) => ({ inner }),
      });
      expect(tap.ns).toBe(ns);
      expect(tap.device.driver).toEqual({ inner: tap.driver });
      expect((await ip(['-4', '-o', 'addr', 'show', 'dev', tap.ifname], ns)).stdout).toMatch(/198\.18\.9\.5\/30/);
    },
  );

  it.skipIf(skip !== undefined)(withSkipReason('refuses a kernel address outside the lab network', skip), async () => {
    await expect(
      lab.attachTap(new FakeStack(), {
        kernelIp: '10.0.0.1',
        stackIp: '10.0.0.2',
        prefixLength: 24,
        mac: '02:50:00:00:09:07',
      }),
    ).rejects.toThrow(/outside the lab network/);
  });
});
