/**
 * The Stack as a host against the Linux kernel: a Stack on a real-clock scheduler owns one TAP
 * device whose kernel side lives in a namespace the test makes (kernel 198.18.0.1/24, stack
 * 198.18.0.2/24). The kernel's own tools (`ping`, `nc`) talk to the stack, and the stack pings
 * the kernel. Needs root; without it every test here skips with the reason in its title (and CI,
 * which runs as root, counts a skip as a failure).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { parseIpv4 } from '@postern/wire';
import { Stack, startUdpEcho } from '../src/index.js';
import { netlabSkipReason } from '@postern/netlab';
import { KernelLab, type TapAttachment } from './support/kernel-lab.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'ping', 'nc', 'timeout'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const KERNEL_IP = '198.18.0.1';
const STACK_IP = '198.18.0.2';

let lab = new KernelLab();
let sched: Scheduler | undefined;

afterEach(async () => {
  sched?.stop();
  sched = undefined;
  await lab.cleanup();
  lab = new KernelLab();
});

/** A stack on a real clock with one interface on a TAP whose kernel side is in a fresh namespace. */
async function hostOnTap(): Promise<{ stack: Stack; tap: TapAttachment }> {
  sched = new Scheduler({ clock: 'real', seed: 5 });
  sched.start();
  const stack = new Stack(sched);
  const ns = await lab.namespace();
  const tap = await lab.attachTap(stack, {
    ns,
    kernelIp: KERNEL_IP,
    stackIp: STACK_IP,
    prefixLength: 24,
    mac: '02:50:53:4e:00:02',
  });
  return { stack, tap };
}

/** The `N bytes from ADDR: icmp_seq=S ttl=T` lines of ping's output. */
function replyLines(out: string): Array<{ bytes: number; from: string; seq: number; ttl: number }> {
  return [...out.matchAll(/^(\d+) bytes from ([\d.]+): icmp_seq=(\d+) ttl=(\d+)/gm)].map((m) => ({
    bytes: Number(m[1]),
    from: m[2]!,
    seq: Number(m[3]),
    ttl: Number(m[4]),
  }));
}

describe('Stack as a host against the Linux kernel', () => {
  rootIt(title("answers the kernel's ping, small and fragmented both ways (-s 4000)"), async () => {
    const { stack, tap } = await hostOnTap();
    const small = await lab.tryExec(tap.ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', STACK_IP], {
      timeoutMs: 15_000,
    });
    expect(small.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(replyLines(small.stdout)).toEqual([1, 2, 3].map((seq) => ({ bytes: 64, from: STACK_IP, seq, ttl: 64 })));
    expect(stack.icmpCounters.get('echoReplies')).toBe(3);
    expect(stack.reassembler.stats.get('reassembled')).toBe(0);
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(0);

    const big = await lab.tryExec(tap.ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-s', '4000', STACK_IP], {
      timeoutMs: 15_000,
    });
    expect(big.stdout).toMatch(/3 packets transmitted, 3 received/);
    // ping checks the echoed data itself and would say "wrong data byte" or "DUP!".
    expect(big.stdout).not.toMatch(/wrong data|DUP!/);
    expect(replyLines(big.stdout)).toEqual([1, 2, 3].map((seq) => ({ bytes: 4008, from: STACK_IP, seq, ttl: 64 })));
    // 4028-byte datagrams at MTU 1500: three fragments each way (1480 + 1480 + 1048 payload bytes).
    expect(stack.reassembler.stats.get('fragments')).toBe(9);
    expect(stack.reassembler.stats.get('reassembled')).toBe(3);
    expect(stack.ipCounters.get('sentFragmented')).toBe(3);
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(9);
    expect(stack.icmpCounters.get('echoReplies')).toBe(6);
    expect(stack.ipCounters.get('badChecksum')).toBe(0);
    expect(stack.icmpCounters.get('badChecksum')).toBe(0);
  });

  rootIt(title('echoes a UDP datagram from nc, and answers a closed port with port unreachable'), async () => {
    const { stack, tap } = await hostOnTap();
    startUdpEcho(stack, 7);
    const echo = await lab.tryExec(tap.ns, 'sh', ['-c', `echo hello | timeout 3 nc -u -w 1 ${STACK_IP} 7`], {
      timeoutMs: 10_000,
    });
    expect(echo.stdout).toBe('hello\n');
    expect(stack.udpCounters.get('delivered')).toBe(1);
    expect(stack.udpCounters.get('sent')).toBe(1);

    // nc's UDP probe (-v -z) writes on a connected socket and reports the port open unless the
    // kernel hands it the port unreachable as ECONNREFUSED; then it exits 1 and says nothing.
    const open = await lab.tryExec(tap.ns, 'timeout', ['3', 'nc', '-v', '-z', '-u', '-w', '1', STACK_IP, '7'], {
      timeoutMs: 10_000,
    });
    expect(open.code).toBe(0);
    expect(open.stderr).toMatch(/succeeded/);
    expect(stack.udpCounters.get('noPort')).toBe(0);
    const closed = await lab.tryExec(tap.ns, 'timeout', ['3', 'nc', '-v', '-z', '-u', '-w', '1', STACK_IP, '9'], {
      timeoutMs: 10_000,
    });
    expect(closed.code).toBe(1);
    expect(closed.stderr).not.toMatch(/succeeded/);
    expect(stack.udpCounters.get('noPort')).toBeGreaterThanOrEqual(1);
    expect(stack.icmpCounters.get('sentUnreachable')).toBeGreaterThanOrEqual(1);
  });

  rootIt(title('pings the kernel, resolving its MAC with ARP'), async () => {
    const { stack, tap } = await hostOnTap();
    expect(tap.iface.arp.lookup(parseIpv4(KERNEL_IP))).toBeUndefined();
    const small = await stack.ping({ dst: parseIpv4(KERNEL_IP), timeoutMs: 3000 });
    expect(small).toMatchObject({ from: parseIpv4(KERNEL_IP), size: 56, dataMatches: true, ttl: 64 });
    expect(stack.arpCounters.get('txRequests')).toBeGreaterThanOrEqual(1);
    expect(stack.arpCounters.get('rxReplies')).toBeGreaterThanOrEqual(1);
    const entry = tap.iface.arp.list().find((e) => e.ip === parseIpv4(KERNEL_IP));
    expect(entry?.mac).toBe(tap.kernelMac);
    // The kernel reassembles our fragments and fragments its reply; we reassemble that.
    const big = await stack.ping({ dst: parseIpv4(KERNEL_IP), size: 3000, timeoutMs: 3000 });
    expect(big).toMatchObject({ from: parseIpv4(KERNEL_IP), size: 3000, dataMatches: true });
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(3);
    expect(stack.reassembler.stats.get('reassembled')).toBe(1);
  });
});
