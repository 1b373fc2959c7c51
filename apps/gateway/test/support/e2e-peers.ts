/**
 * Helpers the gateway's end-to-end tests share to drive real peers: the WAN/LAN topology around the
 * gateway ({@link wanLanTopology}), a scene that stops everything a test started ({@link E2eScene}),
 * stopping a child (and its process group), starting the postern-gateway bin and running dhclient in
 * a namespace with a script of the test (never touching the host's /etc/resolv.conf). Polling is
 * `eventually` of `@postern/netlab`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, NetLab, waitForOutput } from '@postern/netlab';

/** The postern-gateway program (the bin, as a user runs it). */
export const GATEWAY_BIN = fileURLToPath(new URL('../../bin/postern-gateway.mjs', import.meta.url));

/** How often the e2e tests poll a peer (a file it writes, a command), in milliseconds. */
export const PEER_POLL_MS = 50;

/**
 * Stops a child: SIGTERM, then SIGKILL after 3 s, each to its process group when it leads one
 * (spawned `detached`), else to the child itself; once it is gone, SIGKILL to whatever is left in
 * its group. Resolves once it is gone; a child that is missing or already gone resolves at once.
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
  signal('SIGKILL'); // anything left in the group
}

/** A started postern-gateway bin: the child (stop it with {@link stopChild}) and its readiness. */
export interface GatewayProcess {
  /** The bin's process, leader of its own process group. */
  readonly child: ChildProcess;
  /** Resolves when the bin announces its web server; rejects if it exits first or takes over 30 s. */
  readonly ready: Promise<void>;
}

/**
 * Starts the postern-gateway bin with `args` (detached, in its own process group; inside namespace
 * `ns` when given, where `ip netns exec` execs it, so the child's pid is the gateway's), `env` added
 * to this process's, in directory `cwd` when given, its stdout and stderr appended to `log`. Hold on to `child` before awaiting
 * `ready`, so it is stopped even when the start fails.
 */
export function startGatewayBin(
  args: readonly string[],
  log: string[],
  options: { env?: NodeJS.ProcessEnv; ns?: string; cwd?: string } = {},
): GatewayProcess {
  const command = [process.execPath, GATEWAY_BIN, ...args];
  const [program, ...rest] = options.ns === undefined ? command : ['ip', 'netns', 'exec', options.ns, ...command];
  const child = spawn(program!, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  child.stdout!.on('data', (c: Buffer) => log.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
  const ready = waitForOutput(child, /listening on |^open /m, { limitMs: 30_000, what: 'postern-gateway' }).then(
    () => undefined,
  );
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
export async function startDhclient(
  lab: NetLab,
  ns: string,
  iface: string,
  dir: string,
  tag: string,
  log: string[],
  limitMs = 30_000,
): Promise<DhclientRun> {
  const report = join(dir, `dhclient-${tag}.env`);
  await writeFile(
    join(dir, 'dhclient.conf'),
    'request subnet-mask, broadcast-address, routers, domain-name-servers;\n',
  );
  await writeFile(
    join(dir, 'dhclient.sh'),
    [
      '#!/bin/sh',
      '# Called by dhclient with the lease in its environment; configures only its interface.',
      'case "$reason" in',
      `  BOUND|REBOOT|RENEW) ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"; ip route replace default via "$new_routers" dev "$interface"; env | grep -E '^(reason|new_)' > "${report}.tmp"; mv "${report}.tmp" "${report}" ;;`,
      'esac',
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(join(dir, 'dhclient.sh'), 0o755);
  const child = lab.spawn(
    ns,
    'dhclient',
    [
      '-d',
      '-v',
      '-4',
      '-cf',
      join(dir, 'dhclient.conf'),
      '-sf',
      join(dir, 'dhclient.sh'),
      '-lf',
      join(dir, 'dhclient.leases'),
      '-pf',
      join(dir, 'dhclient.pid'),
      iface,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr!.on('data', (c: Buffer) => log.push(`dhclient: ${c.toString()}`));
  const lease = (async () => {
    if (
      !(await eventually(
        async () => (await readFile(report, 'utf8').catch(() => '')).includes('new_ip_address='),
        limitMs,
        PEER_POLL_MS,
      ))
    )
      return undefined;
    const env: Record<string, string> = {};
    for (const line of (await readFile(report, 'utf8')).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1).replace(/^'|'$/g, '');
    }
    return env;
  })();
  return { child, lease };
}

/** A peer of {@link wanLanTopology}: how its interface is set up in its namespace. */
export interface PeerSpec {
  /** Its address with prefix length (`198.18.40.2/24`); without one the link is only brought up (for a DHCP client). */
  readonly address?: string;
  /** A route to the prefix `to` (`198.18.40.0/24`) through `via` (the gateway's address on this side). */
  readonly route?: { readonly to: string; readonly via: string };
}

/** A peer host {@link wanLanTopology} made: its namespace and its interface there. */
export interface PeerHost {
  /** The peer's namespace. */
  readonly ns: string;
  /** Its interface (the inner veth end) inside `ns`. */
  readonly dev: string;
}

/** The two sides around the gateway: the TAP the gateway opens on each, and the peer hosts behind it. */
export interface WanLanTopology {
  /** The gateway's WAN TAP (`tap:<name>`). */
  readonly tapWan: string;
  /** The gateway's LAN TAP. */
  readonly tapLan: string;
  /** The WAN host. */
  readonly wan: PeerHost;
  /** The LAN hosts, in the order of the spec. */
  readonly lan: readonly PeerHost[];
}

/**
 * The gateway's two sides, each a Linux bridge in the root namespace holding the gateway's TAP and
 * one veth pair per peer, all up; each peer in a namespace of its own behind its veth end, set up as
 * its {@link PeerSpec} says. The TAPs and bridges stay in the root namespace (so a restarted gateway
 * reattaches to the same TAP). Give the WAN host no route to the LAN prefix and it cannot reach the
 * LAN except through NAT. `lab.cleanup()` removes everything.
 */
export async function wanLanTopology(
  lab: NetLab,
  spec: { wan: PeerSpec; lan: readonly PeerSpec[] },
): Promise<WanLanTopology> {
  const wanSide = await bridgedSide(lab, 1);
  const lanSide = await bridgedSide(lab, spec.lan.length);
  const wan = await peerHost(lab, wanSide.peers[0]!, spec.wan);
  const lan: PeerHost[] = [];
  for (const [i, peer] of spec.lan.entries()) lan.push(await peerHost(lab, lanSide.peers[i]!, peer));
  return { tapWan: wanSide.tap, tapLan: lanSide.tap, wan, lan };
}

/** Moves the veth end `dev` into a new namespace and sets it up as `spec` says. */
async function peerHost(lab: NetLab, dev: string, spec: PeerSpec): Promise<PeerHost> {
  const ns = await lab.namespace();
  if (spec.address === undefined) {
    await lab.moveToNamespace(dev, ns);
    await lab.linkUp(dev, ns);
  } else {
    await lab.moveAndConfigure(dev, ns, { address: spec.address });
  }
  if (spec.route !== undefined) await lab.addRoute(spec.route.to, dev, ns, spec.route.via);
  return { ns, dev };
}

/** One side of the gateway: its TAP and the veth ends that go into the peers' namespaces. */
interface BridgedSide {
  /** The TAP device the gateway opens (`tap:<name>`). */
  readonly tap: string;
  /** The veth ends, still in the root namespace, one per peer. */
  readonly peers: readonly string[];
}

/** A TAP and the outer ends of `peers` veth pairs on a new bridge in the root namespace, all up. */
async function bridgedSide(lab: NetLab, peers: number): Promise<BridgedSide> {
  const tap = await lab.tap();
  const bridge = await lab.bridge();
  const inner: string[] = [];
  for (let i = 0; i < peers; i++) {
    const [outer, peer] = await lab.veth();
    await lab.setMaster(outer, bridge);
    await lab.linkUp(outer);
    inner.push(peer);
  }
  await lab.setMaster(tap, bridge);
  await lab.linkUp(tap);
  return { tap, peers: inner };
}

/** What {@link startWanDnsmasq} serves. */
export interface WanDnsmasqOptions {
  /** The WAN host's own address: the router and DNS server it hands out. */
  readonly server: string;
  /** The DHCP pool, `first,last` (a /24, 10-minute leases). */
  readonly range: string;
  /** One name it answers for, and its address. */
  readonly name: { readonly name: string; readonly address: string };
  /** TTL of its local answers, seconds. Default: dnsmasq's (0). */
  readonly localTtl?: number;
  /** TXT records it answers with, each `name,text` (several for one name make a large answer). */
  readonly txtRecords?: readonly string[];
}

/**
 * dnsmasq on the WAN host as its DHCP and DNS server (no other configuration: no resolv.conf, no
 * hosts file), its lease and pid files in the scene's directory (`dnsmasq.leases`), its log in the
 * scene's log, stopped at teardown.
 */
export function startWanDnsmasq(scene: E2eScene, wan: PeerHost, options: WanDnsmasqOptions): ChildProcess {
  return scene.background(wan.ns, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--user=root',
    '--group=root',
    ...(options.localTtl === undefined ? [] : [`--local-ttl=${options.localTtl}`]),
    `--interface=${wan.dev}`,
    '--bind-interfaces',
    '--log-facility=-',
    `--dhcp-range=${options.range},255.255.255.0,10m`,
    `--dhcp-option=option:router,${options.server}`,
    `--dhcp-option=option:dns-server,${options.server}`,
    `--dhcp-leasefile=${join(scene.dir, 'dnsmasq.leases')}`,
    `--pid-file=${join(scene.dir, 'dnsmasq.pid')}`,
    `--address=/${options.name.name}/${options.name.address}`,
    ...(options.txtRecords ?? []).map((r) => `--txt-record=${r}`),
  ]);
}

/**
 * What an end-to-end test starts and must stop: its lab (IPv6 off), a temporary directory, the
 * peers' output and the steps that stop what it started. {@link E2eScene.teardown} runs those steps
 * newest first (each child stopped with {@link stopChild}), then removes the lab and the directory,
 * even when a step of the test failed.
 */
export class E2eScene {
  /** The test's lab. */
  readonly lab = new NetLab({ disableIpv6: true });
  /** What the peers wrote to stderr, each line tagged with its program; print it when an assertion fails. */
  readonly log: string[] = [];
  /** The temporary directory of {@link E2eScene.makeDir}, '' before. */
  dir = '';
  private readonly stops: Array<() => Promise<unknown>> = [];

  /** Makes the scene's temporary directory (`<tmp>/<prefix>XXXXXX`) and resolves with its path. */
  async makeDir(prefix: string): Promise<string> {
    this.dir = await mkdtemp(join(tmpdir(), prefix));
    return this.dir;
  }

  /** Stops `child` at teardown; returns it. */
  track<C extends ChildProcess | undefined>(child: C): C {
    this.stops.push(() => stopChild(child));
    return child;
  }

  /** Runs `stop` at teardown (newest first with the children); its failure is ignored. */
  defer(stop: () => Promise<unknown>): void {
    this.stops.push(() => stop().catch(() => undefined));
  }

  /**
   * Starts `cmd args...` in namespace `ns` in its own process group (`cwd` as its directory), its
   * stderr into {@link E2eScene.log}, stopped at teardown. The caller bounds what it does.
   */
  background(ns: string, cmd: string, args: readonly string[], cwd?: string): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      cwd,
    });
    child.stderr!.on('data', (c: Buffer) => this.log.push(`${cmd}: ${c.toString()}`));
    return this.track(child);
  }

  /** Runs the deferred steps newest first, then removes the lab and the directory. Never throws. */
  async teardown(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop().catch(() => undefined);
    await this.lab.cleanup();
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }
}
