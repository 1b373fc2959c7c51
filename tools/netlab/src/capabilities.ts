/**
 * Running a program without the privilege a test is about: {@link withoutNetAdmin} takes away
 * CAP_NET_ADMIN (what TAP devices and network configuration need) and nothing else. The program
 * stays the same user, so it can still read the checkout wherever it lies and whoever owns it;
 * switching to another user (such as nobody) instead fails to even load a clone in a private
 * directory, and tests a different thing.
 */
import { readFileSync } from 'node:fs';

/** Bit number of CAP_NET_ADMIN in the capability masks of /proc/PID/status (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/** True when this process's effective capabilities include CAP_NET_ADMIN (Linux; false elsewhere). */
export function hasNetAdmin(): boolean {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return false;
  }
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m !== null && ((BigInt(`0x${m[1]!}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/**
 * `argv` (a program and its arguments) made to run without CAP_NET_ADMIN. When this process holds
 * it (root), the command runs under `setpriv(1)` (util-linux) with CAP_NET_ADMIN removed from its
 * bounding and inheritable sets, so neither it nor any child it starts can have it; otherwise the
 * process already lacks it and `argv` is returned as given.
 */
export function withoutNetAdmin(argv: readonly string[]): string[] {
  return hasNetAdmin() ? ['setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin', '--', ...argv] : [...argv];
}
