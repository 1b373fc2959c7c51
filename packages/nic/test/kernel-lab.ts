/**
 * A minimal network-namespace helper for this package's interop tests. Lint keeps `packages/` from
 * importing `tools/` (so `@postern/netlab` is out of reach here); this file does the little the TAP
 * tests need with `ip`, and names what it makes the way netlab does (`pst-<kind><pid36>-<seq>`), so
 * netlab's `cleanupLeftovers` also removes what a crashed run of these tests left behind.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

let sequence = 0;

/** A fresh lab-style name: `pst-` + kind letter + pid (base 36) + `-` + sequence (base 36); at most 15 characters. */
export function labName(kind: 'n' | 't' | 'b'): string {
  return `pst-${kind}${process.pid.toString(36)}-${(sequence++ % 46_656).toString(36)}`;
}

/** Result of a finished command. */
export interface Ran {
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

/** Why these tests cannot run here, or undefined. Probes by really making and deleting a namespace. */
export async function kernelLabSkipReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'TAP interop tests need Linux';
  if (process.getuid?.() !== 0) return 'TAP interop tests need root (network namespaces, /dev/net/tun)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing (no TUN/TAP support)';
  }
  if ((await run('python3', ['-c', 'pass'])).code !== 0) return 'python3 is missing (the TAP driver attaches through it); run tools/scripts/install-peers.sh';
  const ns = labName('n');
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  await run('ip', ['netns', 'del', ns]);
  return undefined;
}

/** Namespaces and links made for one test; {@link KernelLab.cleanup} removes them all. */
export class KernelLab {
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];

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

  /** Remembers a root-namespace link to delete at cleanup (for devices made outside the namespaces). */
  track(link: string): void {
    this.links.push(link);
  }

  /** Runs a command in `ns`; rejects unless it exits with 0. */
  async exec(ns: string, command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
    const r = await run('ip', ['netns', 'exec', ns, command, ...args], timeoutMs);
    if (r.code !== 0) throw new Error(`${command} in ${ns}: exit ${r.code}: ${r.stderr.trim()}`);
    return r;
  }

  /** Deletes every link and namespace this lab made (devices inside a namespace go with it). Never throws. */
  async cleanup(): Promise<void> {
    for (const l of this.links.splice(0)) await run('ip', ['link', 'del', 'dev', l]);
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
