// Role (a): the board as the USB Ethernet device of a gateway that runs on the host. The board runs
// in a namespace of its own with a veth as its eth0 and a PTY pair as the USB cable; the host's
// gateway opens the cable as its NIC (`--nic serial:PATH`, as it would open /dev/ttyACM0), and the
// kernel's curl in a third namespace, on the board's Ethernet side, reaches the gateway's admin page.
// The Ethernet's carrier follows the veth: its peer going down is a LINK_EVENT the gateway sees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netlabSkipReason, withSkipReason } from '@postern/netlab';
import { BIN, curlUntil, makeBoardLab, startProgram } from './support.js';
import type { BoardLab, Program } from './support.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['socat', 'curl', 'python3'] });

describe.skipIf(skip !== undefined)(withSkipReason('postern-board as the USB Ethernet device', skip), () => {
  let l: BoardLab;
  let gateway: Program | undefined;

  beforeAll(async () => {
    l = await makeBoardLab(41);
    await l.startBoard();
  });
  afterAll(async () => {
    await gateway?.stop();
    await l?.close();
  });

  it("carries the host gateway's traffic: curl on the board's Ethernet side gets the admin page", async () => {
    gateway = startProgram(process.execPath, [
      BIN.gateway,
      '--nic',
      `serial:${l.hostPort}`,
      '--ip',
      `${l.gatewayIp}/24`,
    ]);
    await gateway.waitFor(/listening on http:/, 20_000);
    expect(await curlUntil(l, 200, 15_000)).toBe(true);
    const page = await l.lab.exec(l.peerNs, 'curl', ['-s', '--max-time', '3', `http://${l.gatewayIp}/admin/`], {
      timeoutMs: 6000,
    });
    expect(page.stdout).toMatch(/<html/i);
  });

  it("reports the Ethernet's carrier: the far end going down and up is two link changes at the gateway", async () => {
    const linkChanges = async (): Promise<number> => {
      const r = await l.lab.exec(l.peerNs, 'curl', ['-s', '--max-time', '3', `http://${l.gatewayIp}/api/interfaces`], {
        timeoutMs: 6000,
      });
      const eth0 = (JSON.parse(r.stdout) as Array<{ name: string; driver: { linkChanges: number } }>).find(
        (i) => i.name === 'eth0',
      );
      if (eth0 === undefined) throw new Error(`no eth0 in ${r.stdout}`);
      return eth0.driver.linkChanges;
    };
    const before = await linkChanges();
    const veth = await peerVeth(l);
    await l.lab.exec(l.peerNs, 'ip', ['link', 'set', 'dev', veth, 'down'], { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 1500));
    await l.lab.exec(l.peerNs, 'ip', ['link', 'set', 'dev', veth, 'up'], { timeoutMs: 5000 });
    expect(await curlUntil(l, 200, 15_000)).toBe(true);
    expect(await linkChanges()).toBeGreaterThanOrEqual(before + 2);
  });
});

/** The peer namespace's veth (its only link besides lo). */
async function peerVeth(l: BoardLab): Promise<string> {
  const r = await l.lab.exec(l.peerNs, 'ip', ['-o', 'link', 'show'], { timeoutMs: 5000 });
  const name = /^\d+: ([^:@]+)[@:]/m.exec(r.stdout.split('\n').find((line) => !/: lo:/.test(line)) ?? '')?.[1];
  if (name === undefined) throw new Error(`no veth in ${l.peerNs}: ${r.stdout}`);
  return name;
}
