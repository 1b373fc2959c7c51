/**
 * Can this process build a lab? Interop tests ask {@link netlabSkipReason} once at collection time
 * and pass the answer to `it.skipIf`, so that a run without root says why it skipped instead of
 * failing on the first `ip` call.
 */
import { accessSync, constants } from 'node:fs';
import { tryCommand } from './run.js';
import { uniqueName } from './names.js';

/** True when the process runs as root (uid 0). */
export function hasRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** True when `/dev/net/tun` exists and this process may open it for reading and writing. */
export function canUseTap(): boolean {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

let netnsProbe: Promise<string | undefined> | undefined;

async function probeNetns(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (!hasRoot()) return 'network namespaces and TAP devices need root (run the interop tests as root)';
  const version = await tryCommand('ip', ['-V']);
  if (version.code !== 0) return 'iproute2 (`ip`) is not installed; run tools/scripts/install-peers.sh';
  const name = uniqueName('n');
  const add = await tryCommand('ip', ['netns', 'add', name]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  await tryCommand('ip', ['netns', 'del', name]);
  return undefined;
}

/**
 * Resolves true when this process can create and delete network namespaces (root, Linux, iproute2
 * present, the kernel allows it). Probes once, by really creating and deleting one; later calls
 * reuse the answer.
 */
export async function canUseNetns(): Promise<boolean> {
  return (await netnsProbeReason()) === undefined;
}

function netnsProbeReason(): Promise<string | undefined> {
  netnsProbe ??= probeNetns();
  return netnsProbe;
}

/** What {@link netlabSkipReason} requires besides namespaces. */
export interface SkipReasonOptions {
  /** TAP devices: `/dev/net/tun` must be there and open for reading and writing. */
  needTap?: boolean;
  /** Programs that must be on the PATH (e.g. `python3`, `curl`), checked in order. */
  programs?: readonly string[];
}

/**
 * Why interop tests that need namespaces (and, with `needTap`, TAP devices; with `programs`, those
 * programs) cannot run here, as a sentence ready for a skip message; undefined when they can. Use
 * it with `it.skipIf`:
 *
 * ```ts
 * const skip = await netlabSkipReason({ needTap: true });
 * it.skipIf(skip !== undefined)(withSkipReason('kernel answers ARP', skip), async () => { ... });
 * ```
 */
export async function netlabSkipReason(options: SkipReasonOptions = {}): Promise<string | undefined> {
  const reason = await netnsProbeReason();
  if (reason !== undefined) return reason;
  if (options.needTap && !canUseTap()) return '/dev/net/tun is missing or not accessible (no TUN/TAP support)';
  for (const program of options.programs ?? []) {
    if (!/^[A-Za-z0-9._+-]+$/.test(program)) return `not a program name: ${JSON.stringify(program)}`;
    const found = await tryCommand('sh', ['-c', `command -v ${program}`]);
    if (found.code !== 0) return `${program} is missing; run tools/scripts/install-peers.sh`;
  }
  return undefined;
}

/** A test title that carries the skip reason when there is one: `title (skipped: reason)`. */
export function withSkipReason(title: string, reason: string | undefined): string {
  return reason === undefined ? title : `${title} (skipped: ${reason})`;
}
