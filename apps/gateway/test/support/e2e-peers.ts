/**
 * Helpers the gateway's end-to-end tests share to drive real peers: bounded polling, stopping a
 * child (and its process group), starting the postern-gateway bin and running dhclient in a
 * namespace with a script of the test (never touching the host's /etc/resolv.conf).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetLab } from '@postern/netlab';

/** The postern-gateway program (the bin, as a user runs it). */
export const GATEWAY_BIN = fileURLToPath(new URL('../../bin/postern-gateway.mjs', import.meta.url));

/**
 * Polls `predicate` every `everyMs` (50 ms unless told) until it holds or `limitMs` passes;
 * resolves with whether it held (checked once more at the deadline).
 */
export async function until(predicate: () => boolean | Promise<boolean>, limitMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return predicate();
}

/**
 * Stops a child: SIGTERM, then SIGKILL after 3 s, each to its process group when it leads one
 * (spawned `detached`), else to the child itself. Resolves once it is gone; a child that is
 * missing or already gone resolves at once.
 */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      child.kill(s); // not a group leader (or already gone)
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A started postern-gateway bin: the child (stop it with {@link stopChild}) and its readiness. */
export interface GatewayProcess {
  /** The bin's process, leader of its own process group. */
  readonly child: ChildProcess;
  /** Resolves when the bin announces its web server; rejects if it exits first or takes over 30 s. */
  readonly ready: Promise<void>;
}

/**
 * Starts the postern-gateway bin with `configPath` (detached, in its own process group), its stdout
 * and stderr appended to `log`. Hold on to `child` before awaiting `ready`, so it is stopped even
 * when the start fails.
 */
export function startGatewayBin(configPath: string, env: NodeJS.ProcessEnv, log: string[]): GatewayProcess {
  const child = spawn(process.execPath, [GATEWAY_BIN, '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env },
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`postern-gateway not ready within 30 s:\n${log.join('')}`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      log.push(c.toString());
      if (/listening on |^open /m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`postern-gateway exited (${code ?? signal}):\n${log.join('')}`));
    });
  });
  return { child, ready };
}

/** A dhclient started by {@link startDhclient}. */
export interface DhclientRun {
  /** dhclient itself (foreground); stop it with {@link stopChild}. */
  readonly child: ChildProcess;
  /** The `reason` and `new_*` variables of the first lease its script saw, or undefined if none came in time. */
  readonly lease: Promise<Record<string, string> | undefined>;
}

/**
 * Runs dhclient on `iface` in namespace `ns` in the foreground, every file of its own (config,
 * leases, pid, script, report) in `dir`. Its script configures only `iface` (address and default
 * route) and writes the lease's variables to a report file tagged `tag`; `lease` resolves with
 * them, or with undefined after `limitMs` (30 s unless told). dhclient's stderr goes to `log`.
 */
export async function startDhclient(lab: NetLab, ns: string, iface: string, dir: string, tag: string, log: string[], limitMs = 30_000): Promise<DhclientRun> {
  const report = join(dir, `dhclient-${tag}.env`);
  await writeFile(join(dir, 'dhclient.conf'), 'request subnet-mask, broadcast-address, routers, domain-name-servers;\n');
  await writeFile(join(dir, 'dhclient.sh'), [
    '#!/bin/sh',
    '# Called by dhclient with the lease in its environment; configures only its interface.',
    'case "$reason" in',
    `  BOUND|REBOOT|RENEW) ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"; ip route replace default via "$new_routers" dev "$interface"; env | grep -E '^(reason|new_)' > "${report}.tmp"; mv "${report}.tmp" "${report}" ;;`,
    'esac',
    'exit 0',
    '',
  ].join('\n'));
  await chmod(join(dir, 'dhclient.sh'), 0o755);
  const child = lab.spawn(ns, 'dhclient', ['-d', '-v', '-4', '-cf', join(dir, 'dhclient.conf'), '-sf', join(dir, 'dhclient.sh'), '-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), iface], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => log.push(`dhclient: ${c.toString()}`));
  const lease = (async () => {
    if (!(await until(async () => (await readFile(report, 'utf8').catch(() => '')).includes('new_ip_address='), limitMs))) return undefined;
    const env: Record<string, string> = {};
    for (const line of (await readFile(report, 'utf8')).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1).replace(/^'|'$/g, '');
    }
    return env;
  })();
  return { child, lease };
}

/** One side of the gateway: its TAP and the veth end that goes into the peer's namespace. */
export interface BridgedSide {
  /** The TAP device the gateway opens (`tap:<name>`). */
  readonly tap: string;
  /** The veth end, still in the root namespace, for the peer's namespace (move it there). */
  readonly peer: string;
}

/**
 * Wires one side in the root namespace: a TAP and the outer end of a veth pair on a new bridge,
 * all up. The TAP and bridge stay in the root namespace (so a restarted gateway reattaches to the
 * same TAP); `lab.cleanup()` removes everything.
 */
export async function bridgedSide(lab: NetLab): Promise<BridgedSide> {
  const tap = await lab.tap();
  const bridge = await lab.bridge();
  const [outer, peer] = await lab.veth();
  for (const dev of [tap, outer]) {
    await lab.setMaster(dev, bridge);
    await lab.linkUp(dev);
  }
  return { tap, peer };
}
