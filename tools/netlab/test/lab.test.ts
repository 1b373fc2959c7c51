import { afterEach, describe, expect, it } from 'vitest';
import {
  cleanupLeftovers,
  eventually,
  ip,
  NetLab,
  netlabSkipReason,
  tryCommand,
  uniqueName,
  withSkipReason,
  LabAddressError,
} from '../src/index.js';

const skip = await netlabSkipReason({ needTap: true });

async function namespaceExists(name: string): Promise<boolean> {
  const r = await tryCommand('ip', ['netns', 'list']);
  return r.stdout.split('\n').some((l) => l.trim().split(/\s+/)[0] === name);
}

describe('NetLab against the kernel', () => {
  let lab = new NetLab();
  afterEach(async () => {
    expect(await lab.cleanup()).toEqual([]);
    lab = new NetLab();
  });

  it.skipIf(skip !== undefined)(
    withSkipReason('connects two namespaces with a veth pair and pings across', skip),
    async () => {
      const a = await lab.namespace();
      const b = await lab.namespace();
      const [va, vb] = await lab.veth();
      await lab.moveToNamespace(va, a);
      await lab.moveToNamespace(vb, b);
      await lab.setAddress(va, '198.18.1.1/24', a);
      await lab.setAddress(vb, '198.18.1.2/24', b);
      await lab.linkUp(va, a);
      await lab.linkUp(vb, b);
      const ping = await lab.exec(a, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '198.18.1.2'], { timeoutMs: 10_000 });
      expect(ping.stdout).toMatch(/2 received/);
      const neigh = await lab.neighbours(a);
      expect(neigh.some((n) => n.address === '198.18.1.2' && n.device === va && n.mac !== undefined)).toBe(true);
      const counters = await lab.linkCounters(vb, b);
      expect(counters.rxPackets).toBeGreaterThanOrEqual(2);
    },
  );

  it.skipIf(skip !== undefined)(
    withSkipReason('refuses addresses outside the lab network before touching the kernel', skip),
    async () => {
      const ns = await lab.namespace();
      await expect(lab.setAddress('lo', '10.1.2.3/8', ns)).rejects.toBeInstanceOf(LabAddressError);
      const { stdout } = await ip(['-4', 'addr', 'show', 'dev', 'lo'], ns);
      expect(stdout).not.toMatch(/10\.1\.2\.3/);
    },
  );

  it.skipIf(skip !== undefined)(
    withSkipReason('cleanup removes namespaces, TAP devices (also moved ones), veths and bridges', skip),
    async () => {
      const ns = await lab.namespace();
      const tap = await lab.tap();
      const moved = await lab.tap();
      const [v1, v2] = await lab.veth();
      const br = await lab.bridge(ns);
      await lab.moveToNamespace(moved, ns);
      await lab.setMaster(moved, br, ns);
      expect(await lab.linkExists(tap)).toBe(true);
      expect(await lab.linkExists(moved, ns)).toBe(true);
      expect(await lab.linkExists(moved)).toBe(false);
      expect(await lab.cleanup()).toEqual([]);
      expect(await namespaceExists(ns)).toBe(false);
      for (const d of [tap, moved, v1, v2, br]) expect(await lab.linkExists(d), d).toBe(false);
      expect(await lab.cleanup()).toEqual([]); // idempotent
    },
  );

  it.skipIf(skip !== undefined)(
    withSkipReason('cleanupLeftovers removes what a dead process left and spares live runs', skip),
    async () => {
      // A pid above pid_max never runs: these stand for a crashed run.
      const deadNs = uniqueName('n', 4_194_305);
      const deadTap = uniqueName('t', 4_194_305);
      const liveTap = await lab.tap();
      try {
        await ip(['netns', 'add', deadNs]);
        await ip(['tuntap', 'add', 'dev', deadTap, 'mode', 'tap']);
        const removed = await cleanupLeftovers();
        expect(removed).toContain(deadNs);
        expect(removed).toContain(deadTap);
        expect(removed).not.toContain(liveTap);
        expect(await namespaceExists(deadNs)).toBe(false);
        expect(await lab.linkExists(deadTap)).toBe(false);
        expect(await lab.linkExists(liveTap)).toBe(true);
      } finally {
        await tryCommand('ip', ['netns', 'del', deadNs]);
        await tryCommand('ip', ['link', 'del', deadTap]);
      }
    },
  );

  it.skipIf(skip !== undefined)(
    withSkipReason('adopts a link made elsewhere, moves and configures it, and removes it at cleanup', skip),
    async () => {
      const quiet = new NetLab({ disableIpv6: true });
      try {
        const ns = await quiet.namespace();
        const sysctl = await quiet.exec(ns, 'sysctl', ['-n', 'net.ipv6.conf.default.disable_ipv6']);
        expect(sysctl.stdout.trim()).toBe('1');
        const tap = uniqueName('t');
        quiet.adopt(tap);
        await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
        await expect(quiet.moveAndConfigure(tap, ns, { address: '10.0.0.1/24' })).rejects.toBeInstanceOf(
          LabAddressError,
        );
        expect(await quiet.linkExists(tap)).toBe(true); // refused before it moved
        const mac = await quiet.moveAndConfigure(tap, ns, { address: '198.18.3.1/24', mtu: 1400 });
        expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        expect(await quiet.macAddress(tap, ns)).toBe(mac);
        const { stdout } = await ip(['-o', '-4', 'addr', 'show', 'dev', tap], ns);
        expect(stdout).toContain('198.18.3.1/24');
        const link = await ip(['-o', 'link', 'show', 'dev', tap], ns);
        expect(link.stdout).toMatch(/mtu 1400/);
        expect(await quiet.cleanup()).toEqual([]);
        expect(await lab.linkExists(tap, ns)).toBe(false);
        expect(await namespaceExists(ns)).toBe(false);
      } finally {
        await quiet.cleanup();
      }
    },
  );
});

describe('netlabSkipReason and eventually', () => {
  it.skipIf(skip !== undefined)(withSkipReason('names the first missing program', skip), async () => {
    expect(await netlabSkipReason({ programs: ['sh'] })).toBeUndefined();
    expect(await netlabSkipReason({ programs: ['sh', 'pst-no-such-program'] })).toMatch(
      /pst-no-such-program is missing/,
    );
    expect(await netlabSkipReason({ programs: ['sh; true'] })).toMatch(/not a program name/);
  });

  it('resolves true once the predicate holds and false when the budget runs out', async () => {
    let calls = 0;
    expect(await eventually(() => ++calls >= 3, 1000)).toBe(true);
    expect(calls).toBe(3);
    let asked = 0;
    expect(
      await eventually(async () => {
        asked++;
        return false;
      }, 20),
    ).toBe(false);
    expect(asked).toBeGreaterThanOrEqual(2); // the first ask and the one at the deadline
  });

  it('keeps to its budget when the predicate itself is slow, and asks every everyMs', async () => {
    let asked = 0;
    const slow = async (): Promise<boolean> => {
      asked++;
      await new Promise((r) => setTimeout(r, 40));
      return false;
    };
    expect(await eventually(slow, 100, 1)).toBe(false);
    expect(asked).toBeLessThanOrEqual(4); // 40 ms each: at most three within 100 ms, and the last ask
    let sparse = 0;
    expect(await eventually(() => (sparse++, false), 100, 60)).toBe(false);
    expect(sparse).toBeLessThanOrEqual(3); // at 0, 60 and the deadline
  });
});
