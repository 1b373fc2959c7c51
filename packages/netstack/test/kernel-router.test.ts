/**
 * The Stack as a router and firewall between two Linux kernels: a Stack on a real-clock scheduler
 * owns two TAP devices whose kernel sides live in two namespaces the test makes:
 *
 *   ns1 198.18.1.2/24 --- 198.18.1.1 [stack] 198.18.2.1 (IP MTU 1280) --- 198.18.2.2/24 ns2 (MTU 1280)
 *
 * Each namespace routes by default through the stack. The forward chain drops by default; rules let
 * ICMP echo requests and UDP port 10 from ns1 to ns2 through, connection tracking lets the replies
 * back, and a rule drops UDP port 9. Needs root; without it every test here skips with the reason in
 * its title (and CI, which runs as root, counts a skip as a failure).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { IP_PROTO_ICMP, IP_PROTO_UDP, parseIpv4 } from '@postern/wire';
import { Stack, type RuleInfo } from '../src/index.js';
import { eventually, netlabSkipReason } from '@postern/netlab';
import { KernelLab, type TapAttachment } from './support/kernel-lab.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['python3', 'ping', 'ss', 'timeout'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const NS1_IP = '198.18.1.2';
const NS2_IP = '198.18.2.2';
const NET1 = { prefix: parseIpv4('198.18.1.0'), length: 24 };
const NET2 = { prefix: parseIpv4('198.18.2.0'), length: 24 };
const SMALL_MTU = 1280;

let lab = new KernelLab();
let sched: Scheduler | undefined;

afterEach(async () => {
  sched?.stop();
  sched = undefined;
  await lab.cleanup();
  lab = new KernelLab();
});

/** The router with its firewall rules, between two fresh namespaces. */
async function routerBetweenNamespaces() {
  sched = new Scheduler({ clock: 'real', seed: 9 });
  sched.start();
  const stack = new Stack(sched, { forwarding: true, firewall: true, filter: { policies: { forward: 'drop' } } });
  const f = stack.filter;
  const rules = {
    established: f.appendRule('forward', { states: ['established', 'related'], action: 'accept', comment: 'replies' }),
    echo: f.appendRule('forward', {
      src: NET1,
      dst: NET2,
      protocol: IP_PROTO_ICMP,
      icmpType: 8,
      action: 'accept',
      comment: 'ping ns1 -> ns2',
    }),
    udpBlocked: f.appendRule('forward', {
      protocol: IP_PROTO_UDP,
      dstPorts: { from: 9, to: 9 },
      action: 'drop',
      comment: 'no UDP 9',
    }),
    udpAllowed: f.appendRule('forward', {
      src: NET1,
      dst: NET2,
      protocol: IP_PROTO_UDP,
      dstPorts: { from: 10, to: 10 },
      action: 'accept',
      comment: 'UDP 10 ns1 -> ns2',
    }),
  };
  const ns1 = await lab.namespace();
  const ns2 = await lab.namespace();
  const side1: TapAttachment = await lab.attachTap(stack, {
    ns: ns1,
    kernelIp: NS1_IP,
    stackIp: '198.18.1.1',
    prefixLength: 24,
    mac: '02:50:53:52:01:01',
  });
  const side2: TapAttachment = await lab.attachTap(stack, {
    ns: ns2,
    kernelIp: NS2_IP,
    stackIp: '198.18.2.1',
    prefixLength: 24,
    mac: '02:50:53:52:02:01',
    mtu: SMALL_MTU,
  });
  await lab.exec(ns1, 'ip', ['route', 'add', 'default', 'via', '198.18.1.1']);
  await lab.exec(ns2, 'ip', ['route', 'add', 'default', 'via', '198.18.2.1']);
  const hits = (id: number): number => stack.filter.listRules().find((r: RuleInfo) => r.id === id)!.packets;
  return { stack, ns1, ns2, side1, side2, rules, hits };
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

/** A python3 program that receives UDP on `ports` for `seconds` and prints each datagram as `port:payload`. */
/**
 * A python3 program that listens on UDP `ports` and prints `port:payload` per datagram, for at most
 * `seconds`; once a datagram reached `lastPort` it keeps listening 0.3 s more (whatever was sent
 * before it on the same path has arrived by then), then exits. The deadline is only a bound: a
 * loaded machine may be slow to start the sender.
 */
function udpListener(ports: readonly number[], seconds: number, lastPort: number): string[] {
  return [
    '-c',
    [
      'import select, socket, time',
      'socks = []',
      `for p in ${JSON.stringify(ports)}:`,
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      "    s.bind(('0.0.0.0', p))",
      '    socks.append(s)',
      `end = time.monotonic() + ${seconds}`,
      'while True:',
      '    left = end - time.monotonic()',
      '    if left <= 0: break',
      '    ready, _, _ = select.select(socks, [], [], left)',
      '    for s in ready:',
      '        data = s.recv(2048)',
      "        print(f'{s.getsockname()[1]}:{data.decode()}', flush=True)",
      `        if s.getsockname()[1] == ${lastPort}: end = min(end, time.monotonic() + 0.3)`,
    ].join('\n'),
  ];
}

describe('Stack as a router and firewall between two Linux kernels', () => {
  rootIt(
    title("forwards ns1's ping to ns2 and lets the replies back by conntrack; ns2 cannot open toward ns1"),
    async () => {
      const { stack, ns1, ns2, rules, hits } = await routerBetweenNamespaces();
      const ping = await lab.tryExec(ns1, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', NS2_IP], { timeoutMs: 15_000 });
      expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
      // ns2's kernel answers with TTL 64; the stack's forwarding takes one off.
      expect(replyLines(ping.stdout)).toEqual([1, 2, 3].map((seq) => ({ bytes: 64, from: NS2_IP, seq, ttl: 63 })));
      expect(stack.ipCounters.get('forwarded')).toBe(6);
      // The first request opens the connection; later requests (same echo identifier) and every
      // reply belong to it.
      expect(hits(rules.echo)).toBe(1);
      expect(hits(rules.established)).toBe(5);

      const back = await lab.tryExec(ns2, 'ping', ['-c', '1', '-W', '1', NS1_IP], { timeoutMs: 10_000 });
      expect(back.stdout).toMatch(/1 packets transmitted, 0 received/);
      expect(stack.filter.policy('forward').packets).toBe(1);
      expect(stack.ipCounters.get('forwardFiltered')).toBe(1);
      expect(stack.ipCounters.get('forwarded')).toBe(6);
    },
  );

  rootIt(
    title('the drop rule keeps UDP port 9 away from ns2 and counts it, while UDP port 10 gets through'),
    async () => {
      const { stack, ns1, ns2, rules, hits } = await routerBetweenNamespaces();
      const listener = lab.tryExec(ns2, 'python3', udpListener([9, 10], 20, 10), { timeoutMs: 30_000 });
      const bound = async () =>
        (await lab.tryExec(ns2, 'ss', ['-H', '-u', '-l', '-n'])).stdout.split('\n').filter((l) => /:(9|10)\s/.test(l))
          .length === 2;
      expect(await eventually(bound, 15_000), 'the UDP listener in ns2 bound ports 9 and 10').toBe(true); // python3 may start slowly on a loaded machine
      await lab.exec(ns1, 'python3', [
        '-c',
        [
          'import socket',
          's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          `s.sendto(b'to-nine', ('${NS2_IP}', 9))`,
          `s.sendto(b'to-ten', ('${NS2_IP}', 10))`,
        ].join('\n'),
      ]);
      const heard = await listener;
      expect(heard.code).toBe(0);
      expect(heard.stdout).toBe('10:to-ten\n');
      expect(hits(rules.udpBlocked)).toBe(1);
      expect(hits(rules.udpAllowed)).toBe(1);
      expect(stack.ipCounters.get('forwardFiltered')).toBe(1);
      expect(stack.filter.policy('forward').packets).toBe(0);
    },
  );

  rootIt(title('fragments for the 1280-byte link without DF, and answers DF with fragmentation needed'), async () => {
    const { stack, ns1, side2 } = await routerBetweenNamespaces();
    expect(side2.iface.mtu).toBe(SMALL_MTU);
    // 1428-byte requests, no DF: the stack cuts each into two fragments (1276 + 172 bytes) for ns2.
    // ns2's kernel fragments its 1428-byte replies itself; with the firewall on, the stack
    // reassembles them for the forward chain (a later fragment alone has no ICMP header, so it
    // would match no connection) and sends them on as they came: two fragments of at most 1276.
    const fits = await lab.tryExec(
      ns1,
      'ping',
      ['-M', 'dont', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1400', NS2_IP],
      { timeoutMs: 15_000 },
    );
    expect(fits.stdout).toMatch(/3 packets transmitted, 3 received/);
    expect(fits.stdout).not.toMatch(/wrong data|DUP!/);
    expect(replyLines(fits.stdout)).toEqual([1, 2, 3].map((seq) => ({ bytes: 1408, from: NS2_IP, seq, ttl: 63 })));
    expect(stack.ipCounters.get('forwardFragmented')).toBe(3);
    expect(stack.ipCounters.get('forwardDefragmented')).toBe(3);
    expect(stack.forwardReassembler.stats.get('fragments')).toBe(6);
    expect(stack.ipCounters.get('fragmentsCreated')).toBe(12);
    expect(stack.ipCounters.get('forwardFiltered')).toBe(0);
    expect(stack.ipCounters.get('fragNeeded')).toBe(0);

    // With DF the first request gets the stack's fragmentation needed (next-hop MTU 1280); the kernel
    // then knows the path MTU and refuses the next one itself ("message too long").
    const df = await lab.tryExec(ns1, 'ping', ['-M', 'do', '-c', '2', '-i', '0.2', '-W', '1', '-s', '1400', NS2_IP], {
      timeoutMs: 15_000,
    });
    expect(df.stdout + df.stderr).toMatch(/Frag needed and DF set \(mtu = 1280\)/);
    expect(df.stdout).toMatch(/2 packets transmitted, 0 received/);
    expect(stack.ipCounters.get('fragNeeded')).toBeGreaterThanOrEqual(1);
    expect(stack.icmpCounters.get('sentUnreachable')).toBe(stack.ipCounters.get('fragNeeded'));
    expect(stack.ipCounters.get('forwardFragmented')).toBe(3);
  });
});
