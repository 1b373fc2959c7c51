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
import { eventually, netlabSkipReason } from '@postern/netlab';
import { KernelLab, type TapAttachment } from './support/kernel-lab.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'ping', 'nc', 'timeout'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const KERNEL_IP = '198.18.0.1';
/** How long the kernel's ping waits for its answers at most, seconds. */
const PING_DEADLINE_S = 15;
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

/**
 * The kernel pings the stack: echo requests 0.2 s apart (`extra` adds options) until three answers
 * came, for at most {@link PING_DEADLINE_S}. Without a deadline, ping sends three and leaves
 * max(2 * the largest RTT so far, the interval) = 0.2 s after the last (iputils' schedule_exit), so
 * an answer the stack gave later than that (its test process starved on a loaded machine) counted
 * as lost though the stack had sent it. With the deadline, ping sends one more request per interval
 * while an answer is missing, and the answers it read must be those of requests 1, 2, 3... in order,
 * none missing: a lost answer still fails. Returns what ping sent and the answers it printed.
 */
async function pingFromKernel(
  tap: TapAttachment,
  extra: string[],
): Promise<{ stdout: string; transmitted: number; replies: ReturnType<typeof replyLines> }> {
  const r = await lab.tryExec(
    tap.ns,
    'ping',
    ['-c', '3', '-i', '0.2', '-w', String(PING_DEADLINE_S), ...extra, STACK_IP],
    { timeoutMs: (PING_DEADLINE_S + 10) * 1000 },
  );
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  expect(summary, r.stdout).not.toBeNull();
  const replies = replyLines(r.stdout);
  expect(replies.length, r.stdout).toBeGreaterThanOrEqual(3);
  expect(replies.length, r.stdout).toBe(Number(summary![2]));
  expect(
    replies.map((x) => x.seq),
    r.stdout,
  ).toEqual(replies.map((_, i) => i + 1));
  return { stdout: r.stdout, transmitted: Number(summary![1]), replies };
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
    const small = await pingFromKernel(tap, []);
    expect(small.replies).toEqual(small.replies.map((_, i) => ({ bytes: 64, from: STACK_IP, seq: i + 1, ttl: 64 })));
    // Every echo request ping sent reached the stack and was answered (a late one after ping left too).
    expect(await eventually(() => stack.icmpCounters.get('echoReplies') === small.transmitted)).toBe(true);
    expect(stack.reassembler.stats.get('reassembled')).toBe(0);
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(0);

    const big = await pingFromKernel(tap, ['-s', '4000']);
    // ping checks the echoed data itself and would say "wrong data byte" or "DUP!".
    expect(big.stdout).not.toMatch(/wrong data|DUP!/);
    expect(big.replies).toEqual(big.replies.map((_, i) => ({ bytes: 4008, from: STACK_IP, seq: i + 1, ttl: 64 })));
    // 4028-byte datagrams at MTU 1500: three fragments each way (1480 + 1480 + 1048 payload bytes).
    const n = big.transmitted;
    expect(await eventually(() => stack.icmpCounters.get('echoReplies') === small.transmitted + n)).toBe(true);
    expect(stack.reassembler.stats.get('reassembled')).toBe(n);
    expect(stack.reassembler.stats.get('fragments')).toBe(3 * n);
    expect(stack.ipCounters.get('sentFragmented')).toBe(n);
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(3 * n);
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
