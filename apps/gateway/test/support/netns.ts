/**
 * Network namespaces for the gateway's kernel interop tests (apps may not import `tools/netlab`, so
 * this is the small part of it they need). Names follow netlab's pattern (`pst-<kind><pid36>-<seq>`,
 * at most 15 characters), so netlab's `cleanupLeftovers` also removes what a crashed run left
 * behind. Every command is bounded in time.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

let sequence = 0;

/** A fresh lab-style name: `pst-` + kind letter (`n` namespace, `t` TAP) + pid (base 36) + `-` + sequence (base 36). */
export function labName(kind: 'n' | 't'): string {
  return `pst-${kind}${process.pid.toString(36)}-${(sequence++ % 46_656).toString(36)}`;
}

/** A finished command. */
export interface Ran {
  /** Exit code, or `null` when killed (timeout) or not started. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `program` bounded by `timeoutMs` (then SIGKILL); resolves whatever the exit code. */
export function run(program: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : null;
      resolve({ code, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

/** Runs `program` and rejects unless it exits with 0. */
export async function runOk(program: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
  const r = await run(program, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${program} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/**
 * Why kernel interop tests cannot run here, or `undefined`: needs Linux, root, /dev/net/tun,
 * python3 (the TAP driver attaches through it), every tool in `tools`, and a namespace that can
 * really be made (probed by making and deleting one).
 */
export async function netnsSkipReason(tools: readonly string[] = []): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'kernel interop tests need Linux';
  if (process.getuid?.() !== 0) return 'kernel interop tests need root (network namespaces, /dev/net/tun)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing (no TUN/TAP support)';
  }
  for (const tool of ['ip', 'python3', ...tools]) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is missing; run tools/scripts/install-peers.sh`;
  }
  const ns = labName('n');
  const add = await run('ip', ['netns', 'add', ns]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  await run('ip', ['netns', 'del', ns]);
  return undefined;
}

/** Makes a namespace with loopback up and IPv6 off (so the kernel sends nothing a test does not expect). */
export async function makeNamespace(): Promise<string> {
  const ns = labName('n');
  await runOk('ip', ['netns', 'add', ns]);
  await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await runOk('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
  return ns;
}

/** Moves the existing link `ifname` into `ns` and gives it `cidr` there, up. */
export async function moveLinkInto(ifname: string, ns: string, cidr: string): Promise<void> {
  await runOk('ip', ['link', 'set', 'dev', ifname, 'netns', ns]);
  await runOk('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', ifname]);
  await runOk('ip', ['-n', ns, 'link', 'set', 'dev', ifname, 'up']);
}

/** Runs a command inside `ns`, bounded by `timeoutMs`; resolves whatever the exit code. */
export function inNamespace(ns: string, command: string, args: readonly string[], timeoutMs = 15_000): Promise<Ran> {
  return run('ip', ['netns', 'exec', ns, command, ...args], timeoutMs);
}

/** Deletes `ns` (the links inside go with it) and `links` if they are still in the root namespace. Never throws. */
export async function removeAll(namespaces: readonly string[], links: readonly string[] = []): Promise<void> {
  for (const ns of namespaces) await run('ip', ['netns', 'del', ns]);
  for (const link of links) {
    if ((await run('ip', ['link', 'show', 'dev', link])).code === 0) await run('ip', ['link', 'del', 'dev', link]);
  }
}
