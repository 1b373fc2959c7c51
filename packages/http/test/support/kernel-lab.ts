/**
 * A network namespace and a TAP device for this package's interop tests against the Linux kernel.
 *
 * Lint keeps `packages/` from importing `tools/` (`@postern/netlab`) and from reaching into another
 * package's test files, so this is a small copy of `packages/netstack/test/support/kernel-lab.ts`:
 * a namespace, one TAP whose kernel side lives in it, and commands run inside it. Names follow
 * netlab's pattern (`pst-<kind><pid36>-<seq>`), so netlab's `cleanupLeftovers` also removes what a
 * crashed run left behind.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { NetDevice, TapNicDriver, type NetDeviceOptions } from '@postern/nic';
import type { NetInterface, Stack } from '@postern/netstack';
import { parseIpv4, parseMac } from '@postern/wire';

let sequence = 0;

/** A fresh lab-style name: `pst-` + kind letter + pid (base 36) + `-` + sequence (base 36); at most 15 characters. */
function labName(kind: 'n' | 't'): string {
  return `pst-${kind}${process.pid.toString(36)}-${(sequence++ % 46_656).toString(36)}`;
}

/** Result of a finished command. */
export interface Ran {
  /** Exit code, or `null` when killed (timeout) or not started. */
  code: number | null;
  /** Standard output (latin1, so binary output survives byte for byte). */
  stdout: string;
  stderr: string;
}

/** Runs a program bounded by `timeoutMs`; resolves whatever the exit code. */
export function run(program: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'latin1', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null;
      resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

async function ip(args: readonly string[], ns?: string): Promise<string> {
  const r = await run('ip', ns === undefined ? args : ['-n', ns, ...args]);
  if (r.code !== 0) throw new Error(`ip ${ns === undefined ? '' : `-n ${ns} `}${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Why the kernel interop tests cannot run here, or `undefined`. Needs Linux, root, /dev/net/tun,
 * python3 (the TAP driver attaches through it) and `tools`; probes by really making a namespace.
 */
export async function kernelLabSkipReason(tools: readonly string[] = []): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'kernel interop tests need Linux';
  if (process.getuid?.() !== 0) return 'kernel interop tests need root (network namespaces, /dev/net/tun)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing (no TUN/TAP support)';
  }
  for (const tool of ['python3', ...tools]) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is missing; run tools/scripts/install-peers.sh`;
  }
  const ns = labName('n');
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  await run('ip', ['netns', 'del', ns]);
  return undefined;
}

/** How {@link KernelLab.attachTap} sets up the link. */
export interface TapLinkOptions {
  /** The kernel's address, dotted (198.18.0.0/15 only). */
  kernelIp: string;
  /** The stack's address, dotted. */
  stackIp: string;
  /** Prefix length of both. */
  prefixLength: number;
  /** The stack's MAC, `02:..` form. */
  mac: string;
  /** Options of the `NetDevice` (e.g. a larger RX ring for bulk transfers). */
  deviceOptions?: NetDeviceOptions;
}

/** One namespace and the TAP devices attached to it; {@link KernelLab.cleanup} removes them all. */
export class KernelLab {
  private readonly devices: NetDevice[] = [];
  private ns: string | undefined;

  /** The namespace holding the kernel side (made on first use; loopback up, IPv6 off). */
  async namespace(): Promise<string> {
    if (this.ns !== undefined) return this.ns;
    const ns = labName('n');
    await ip(['netns', 'add', ns]);
    this.ns = ns;
    await ip(['link', 'set', 'lo', 'up'], ns);
    await this.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
    return ns;
  }

  /**
   * Creates a TAP device, opens it as a `NetDevice` on `stack`'s scheduler, moves its kernel side
   * into the namespace and configures it there, then adds the interface with its address to `stack`.
   */
  async attachTap(stack: Stack, options: TapLinkOptions): Promise<NetInterface> {
    const ns = await this.namespace();
    const ifname = labName('t');
    const driver = new TapNicDriver({ ifname, create: true, mac: parseMac(options.mac) });
    const device = new NetDevice(driver, stack.scheduler, options.deviceOptions);
    this.devices.push(device);
    await device.open();
    await ip(['link', 'set', 'dev', ifname, 'netns', ns]);
    await ip(['addr', 'add', `${options.kernelIp}/${options.prefixLength}`, 'dev', ifname], ns);
    await ip(['link', 'set', 'dev', ifname, 'up'], ns);
    const iface = stack.addInterface(device);
    iface.addAddress(parseIpv4(options.stackIp), options.prefixLength);
    return iface;
  }

  /** Runs a command in the namespace, bounded by `timeoutMs`; resolves whatever the exit code. */
  async execAny(command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
    return run('ip', ['netns', 'exec', await this.namespace(), command, ...args], timeoutMs);
  }

  /** Runs a command in the namespace; rejects unless it exits with 0. */
  async exec(command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
    const r = await this.execAny(command, args, timeoutMs);
    if (r.code !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}\n${r.stdout.slice(0, 400)}`);
    return r;
  }

  /** Closes every device and deletes the namespace (the TAPs go with it). Never throws. */
  async cleanup(): Promise<void> {
    for (const d of this.devices.splice(0)) await d.close().catch(() => undefined);
    if (this.ns !== undefined) await run('ip', ['netns', 'del', this.ns]);
    this.ns = undefined;
  }
}
