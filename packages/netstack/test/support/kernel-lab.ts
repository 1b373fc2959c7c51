/**
 * Network namespaces and TAP devices for this package's interop tests against the Linux kernel.
 *
 * Lint keeps `packages/` from importing `tools/` (`@postern/netlab`) and from reaching into another
 * package's test files by relative path, so this is a small copy of `packages/nic/test/kernel-lab.ts`
 * plus {@link attachTap}, which puts a {@link Stack} interface on a TAP device whose kernel side
 * lives in a namespace. Names follow netlab's pattern (`pst-<kind><pid36>-<seq>`), so netlab's
 * `cleanupLeftovers` also removes what a crashed run left behind.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { NetDevice, TapNicDriver, type NetDeviceOptions, type NicDriver } from '@postern/nic';
import { parseIpv4, parseMac, type MacAddress } from '@postern/wire';
import type { NetInterface, Stack } from '../../src/index.js';

let sequence = 0;

/** A fresh lab-style name: `pst-` + kind letter + pid (base 36) + `-` + sequence (base 36); at most 15 characters. */
export function labName(kind: 'n' | 't'): string {
  return `pst-${kind}${process.pid.toString(36)}-${(sequence++ % 46_656).toString(36)}`;
}

/** Result of a finished command. */
export interface Ran {
  /** Exit code, or `null` when killed (timeout) or not started. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program bounded by `timeoutMs`; resolves whatever the exit code. */
export function run(program: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null;
      resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

/** Runs `ip [-n ns] args...`; rejects unless it exits with 0. */
export async function ip(args: readonly string[], ns?: string): Promise<string> {
  const r = await run('ip', ns === undefined ? args : ['-n', ns, ...args]);
  if (r.code !== 0) throw new Error(`ip ${ns === undefined ? '' : `-n ${ns} `}${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why the kernel interop tests cannot run here, or `undefined`. Probes by really making and deleting a namespace. */
export async function kernelLabSkipReason(tools: readonly string[] = []): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'kernel interop tests need Linux';
  if (process.getuid?.() !== 0) return 'kernel interop tests need root (network namespaces, /dev/net/tun)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing (no TUN/TAP support)';
  }
  if ((await run('python3', ['-c', 'pass'])).code !== 0) return 'python3 is missing (the TAP driver attaches through it); run tools/scripts/install-peers.sh';
  for (const tool of tools) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is missing; run tools/scripts/install-peers.sh`;
  }
  const ns = labName('n');
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  await run('ip', ['netns', 'del', ns]);
  return undefined;
}

/** One stack interface on a TAP device whose kernel side is configured in a namespace. */
export interface TapAttachment {
  /** The namespace holding the kernel side. */
  readonly ns: string;
  /** The TAP device's name (the same inside the namespace). */
  readonly ifname: string;
  /** The driver (its descriptor stays in this process). */
  readonly driver: TapNicDriver;
  /** The device the stack's interface sits on. */
  readonly device: NetDevice;
  /** The stack's interface. */
  readonly iface: NetInterface;
  /** The kernel side's MAC address. */
  readonly kernelMac: MacAddress;
}

/** How {@link KernelLab.attachTap} sets up one link. */
export interface TapLinkOptions {
  /** The namespace for the kernel side. */
  ns: string;
  /** The kernel's address, dotted. */
  kernelIp: string;
  /** The stack's address, dotted. */
  stackIp: string;
  /** Prefix length of both. */
  prefixLength: number;
  /** The stack's MAC, `02:..` form. */
  mac: string;
  /** IP MTU of the kernel device and of the stack's interface. Default: the TAP's 1500. */
  mtu?: number;
  /** Wraps the TAP driver before the device is made (e.g. in a `FaultInjectionDriver`). Default: none. */
  wrapDriver?: (tap: TapNicDriver) => NicDriver;
  /** Options of the `NetDevice` (e.g. a larger RX ring for bulk transfers). */
  deviceOptions?: NetDeviceOptions;
}

/** Namespaces, drivers and links made for one test; {@link KernelLab.cleanup} removes them all. */
export class KernelLab {
  private readonly namespaces: string[] = [];
  private readonly devices: NetDevice[] = [];

  /**
   * A fresh namespace with loopback up and IPv6 off for devices that appear in it later, so the
   * kernel sends nothing on its own (no router solicitations, no MLD) that a test does not expect.
   */
  async namespace(): Promise<string> {
    const ns = labName('n');
    await ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
    await ip(['link', 'set', 'lo', 'up'], ns);
    await this.exec(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    return ns;
  }

  /**
   * Creates a TAP device, opens it as a {@link NetDevice} on `stack`'s scheduler, moves its kernel
   * side into `options.ns` and configures it there (address, MTU, up), then adds the interface to
   * `stack` with its address (so the gratuitous ARP reaches a kernel that is listening). The device
   * is closed by {@link cleanup}.
   */
  async attachTap(stack: Stack, options: TapLinkOptions): Promise<TapAttachment> {
    const { ns } = options;
    const ifname = labName('t');
    const driver = new TapNicDriver({ ifname, create: true, mac: parseMac(options.mac) });
    const device = new NetDevice(options.wrapDriver?.(driver) ?? driver, stack.scheduler, options.deviceOptions);
    this.devices.push(device);
    await device.open();
    await ip(['link', 'set', 'dev', ifname, 'netns', ns]);
    if (options.mtu !== undefined) await ip(['link', 'set', 'dev', ifname, 'mtu', String(options.mtu)], ns);
    await ip(['addr', 'add', `${options.kernelIp}/${options.prefixLength}`, 'dev', ifname], ns);
    await ip(['link', 'set', 'dev', ifname, 'up'], ns);
    const link = JSON.parse(await ip(['-j', 'link', 'show', 'dev', ifname], ns)) as { address: string }[];
    const iface = stack.addInterface(device, options.mtu === undefined ? {} : { mtu: options.mtu });
    iface.addAddress(parseIpv4(options.stackIp), options.prefixLength);
    return { ns, ifname, driver, device, iface, kernelMac: parseMac(link[0]!.address) };
  }

  /** Runs a command in `ns`, bounded by `timeoutMs`; resolves whatever the exit code. */
  execAny(ns: string, command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
    return run('ip', ['netns', 'exec', ns, command, ...args], timeoutMs);
  }

  /** Runs a command in `ns`; rejects unless it exits with 0. */
  async exec(ns: string, command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
    const r = await this.execAny(ns, command, args, timeoutMs);
    if (r.code !== 0) throw new Error(`${command} in ${ns}: exit ${r.code}: ${r.stderr.trim()}\n${r.stdout}`);
    return r;
  }

  /** Closes every device and deletes every namespace this lab made (the TAPs go with them). Never throws. */
  async cleanup(): Promise<void> {
    for (const d of this.devices.splice(0)) await d.close().catch(() => undefined);
    for (const ns of this.namespaces.splice(0)) await run('ip', ['netns', 'del', ns]);
  }
}

/** Polls `predicate` every 5 ms, at most `limitMs / 5` times; resolves whether it held. */
export async function eventually(predicate: () => boolean | Promise<boolean>, limitMs = 5000): Promise<boolean> {
  for (let i = 0; i <= limitMs / 5; i++) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}
