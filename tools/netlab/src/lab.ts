/**
 * {@link NetLab}: makes namespaces, TAP devices, veth pairs and bridges for one test (or one bench
 * run), remembers each, and removes them all in {@link NetLab.cleanup}, whatever state the test left
 * them in. Every address it assigns must lie in 198.18.0.0/15.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { requireLabAddress } from './address.js';
import { ip, runCommand, tryCommand, type CommandResult, type RunOptions } from './run.js';
import { uniqueName } from './names.js';

/** Interface counters as `ip -s link` reports them. */
export interface LinkCounters {
  /** Frames the interface received (for a TAP: frames its driver wrote). */
  rxPackets: number;
  /** Bytes of those frames (no FCS). */
  rxBytes: number;
  /** Received frames the kernel dropped. */
  rxDropped: number;
  /** Frames the interface sent (for a TAP: frames queued for its driver to read). */
  txPackets: number;
  /** Bytes of those frames. */
  txBytes: number;
  /** Frames the interface dropped on sending (for a TAP: its queue was full, the reader lagged). */
  txDropped: number;
}

/** One entry of a namespace's neighbour (ARP) table. */
export interface NeighbourEntry {
  /** The IPv4 address, dotted quad. */
  address: string;
  /** The interface it was learnt on. */
  device: string;
  /** Link-layer address `aa:bb:cc:dd:ee:ff`, absent for an incomplete or failed entry. */
  mac?: string;
  /** Kernel states such as `REACHABLE`, `STALE`, `PERMANENT`, `FAILED`. */
  states: string[];
}

interface IpLinkStatsJson {
  stats64?: {
    rx?: { bytes?: number; packets?: number; dropped?: number };
    tx?: { bytes?: number; packets?: number; dropped?: number };
  };
}

interface IpNeighJson {
  dst?: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

/** Options for a {@link NetLab}. */
export interface NetLabOptions {
  /**
   * Turn IPv6 off in every namespace this lab makes (for devices that appear in it later too), so
   * the kernel sends nothing on its own (no router solicitations, no MLD) that a test does not
   * expect. Default false.
   */
  disableIpv6?: boolean;
}

/** Options for {@link NetLab.moveAndConfigure}. */
export interface LinkSetup {
  /** The address to give the device there, `198.18.x.y/len` (inside 198.18.0.0/15 only). */
  address: string;
  /** The MTU to set before the device comes up; default: leave it. */
  mtu?: number;
}

interface IpLinkJson {
  address?: string;
}

type Resource = { type: 'netns'; name: string } | { type: 'link'; name: string; netns: string | undefined };

/**
 * A set of lab objects owned by one test. Not safe to share between tests running at the same
 * time; make one per test (or per `describe`) and call {@link NetLab.cleanup} in `afterEach` /
 * `afterAll` (it never throws, and is idempotent).
 *
 * Names come from `uniqueName`, so two labs (in this process or another) never collide, and
 * `cleanupLeftovers` can recognise what a crashed run left behind.
 */
export class NetLab {
  private readonly resources: Resource[] = [];
  private readonly options: NetLabOptions;

  constructor(options: NetLabOptions = {}) {
    this.options = options;
  }

  /**
   * Creates a fresh, empty network namespace and returns its name. Its loopback is brought up and,
   * with {@link NetLabOptions.disableIpv6}, IPv6 is off in it.
   */
  async namespace(): Promise<string> {
    const name = uniqueName('n');
    await ip(['netns', 'add', name]);
    this.resources.push({ type: 'netns', name });
    await ip(['link', 'set', 'lo', 'up'], name);
    if (this.options.disableIpv6) {
      await this.exec(name, 'sysctl', [
        '-q',
        '-w',
        'net.ipv6.conf.default.disable_ipv6=1',
        'net.ipv6.conf.all.disable_ipv6=1',
      ]);
    }
    return name;
  }

  /**
   * Makes this lab responsible for a link something else created (a TAP device a driver made, say)
   * in the root namespace (or in `netns`): {@link NetLab.cleanup} removes it, wherever
   * {@link NetLab.moveToNamespace} took it, and a link already gone by then is no failure.
   */
  adopt(device: string, netns?: string): void {
    this.resources.push({ type: 'link', name: device, netns });
  }

  /**
   * Creates a persistent TAP device (`ip tuntap add dev NAME mode tap`) in the root namespace and
   * returns its name. No process is attached to it: a driver attaches by name.
   */
  async tap(): Promise<string> {
    const name = uniqueName('t');
    await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
    this.resources.push({ type: 'link', name, netns: undefined });
    return name;
  }

  /** Creates a veth pair in the root namespace (or in `netns`) and returns both ends' names. */
  async veth(netns?: string): Promise<[string, string]> {
    const a = uniqueName('v');
    const b = uniqueName('v');
    await ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b], netns);
    this.resources.push({ type: 'link', name: a, netns }, { type: 'link', name: b, netns });
    return [a, b];
  }

  /** Creates a Linux bridge in `netns` (or the root namespace), brought up, and returns its name. */
  async bridge(netns?: string): Promise<string> {
    const name = uniqueName('b');
    await ip(['link', 'add', name, 'type', 'bridge'], netns);
    this.resources.push({ type: 'link', name, netns });
    await ip(['link', 'set', name, 'up'], netns);
    return name;
  }

  /** Enslaves `device` to `bridge`, both in `netns` (or the root namespace). */
  async setMaster(device: string, bridge: string, netns?: string): Promise<void> {
    await ip(['link', 'set', device, 'master', bridge], netns);
  }

  /**
   * Moves `device` from namespace `from` (undefined: the root namespace) into namespace `to`. A TAP
   * device keeps working for the process attached to it: only its kernel side moves.
   */
  async moveToNamespace(device: string, to: string, from?: string): Promise<void> {
    await ip(['link', 'set', 'dev', device, 'netns', to], from);
    for (const r of this.resources) if (r.type === 'link' && r.name === device) r.netns = to;
  }

  /**
   * Moves `device` from the root namespace (or `from`) into `to` and configures it there: the MTU
   * (when given), the address `setup.address` (inside 198.18.0.0/15 only), up. Resolves with the
   * device's MAC address, `aa:bb:cc:dd:ee:ff`.
   */
  async moveAndConfigure(device: string, to: string, setup: LinkSetup, from?: string): Promise<string> {
    requireLabAddress(setup.address);
    await this.moveToNamespace(device, to, from);
    if (setup.mtu !== undefined) await this.setMtu(device, setup.mtu, to);
    await this.setAddress(device, setup.address, to);
    await this.linkUp(device, to);
    return this.macAddress(device, to);
  }

  /** The MAC address of `device` in `netns` (or the root namespace), `aa:bb:cc:dd:ee:ff`. */
  async macAddress(device: string, netns?: string): Promise<string> {
    const { stdout } = await ip(['-j', 'link', 'show', 'dev', device], netns);
    const mac = (JSON.parse(stdout) as IpLinkJson[])[0]?.address;
    if (mac === undefined) throw new Error(`netlab: ip reports no address for ${device}`);
    return mac;
  }

  /** Adds `cidr` (e.g. `198.18.0.1/24`, inside 198.18.0.0/15 only) to `device`. */
  async setAddress(device: string, cidr: string, netns?: string): Promise<void> {
    await ip(['addr', 'add', requireLabAddress(cidr), 'dev', device], netns);
  }

  /** Brings `device` up. */
  async linkUp(device: string, netns?: string): Promise<void> {
    await ip(['link', 'set', 'dev', device, 'up'], netns);
  }

  /** Sets the MTU of `device`. */
  async setMtu(device: string, mtu: number, netns?: string): Promise<void> {
    await ip(['link', 'set', 'dev', device, 'mtu', String(mtu)], netns);
  }

  /** Adds a permanent neighbour entry (`address` inside the lab network) so the kernel sends without ARP. */
  async addNeighbour(device: string, address: string, mac: string, netns?: string): Promise<void> {
    await ip(['neigh', 'replace', requireLabAddress(address), 'lladdr', mac, 'dev', device, 'nud', 'permanent'], netns);
  }

  /** Adds a route to `destination` (a lab CIDR) through `device`, optionally via lab gateway `via`. */
  async addRoute(destination: string, device: string, netns?: string, via?: string): Promise<void> {
    const args = ['route', 'add', requireLabAddress(destination), 'dev', device];
    if (via !== undefined) args.push('via', requireLabAddress(via));
    await ip(args, netns);
  }

  /** The neighbour (ARP) table of `netns` (or the root namespace), IPv4 entries only. */
  async neighbours(netns?: string): Promise<NeighbourEntry[]> {
    const { stdout } = await ip(['-j', '-4', 'neigh', 'show'], netns);
    const rows = JSON.parse(stdout || '[]') as IpNeighJson[];
    return rows.map((r) => ({
      address: r.dst ?? '',
      device: r.dev ?? '',
      ...(r.lladdr ? { mac: r.lladdr } : {}),
      states: r.state ?? [],
    }));
  }

  /** The packet and byte counters of `device`. */
  async linkCounters(device: string, netns?: string): Promise<LinkCounters> {
    const { stdout } = await ip(['-j', '-s', 'link', 'show', 'dev', device], netns);
    const row = (JSON.parse(stdout) as IpLinkStatsJson[])[0];
    const s = row?.stats64;
    return {
      rxPackets: s?.rx?.packets ?? 0,
      rxBytes: s?.rx?.bytes ?? 0,
      rxDropped: s?.rx?.dropped ?? 0,
      txPackets: s?.tx?.packets ?? 0,
      txBytes: s?.tx?.bytes ?? 0,
      txDropped: s?.tx?.dropped ?? 0,
    };
  }

  /** True when `device` exists in `netns` (or the root namespace). */
  async linkExists(device: string, netns?: string): Promise<boolean> {
    const r = await tryCommand('ip', [...(netns === undefined ? [] : ['-n', netns]), 'link', 'show', 'dev', device]);
    return r.code === 0;
  }

  /**
   * Runs `command args...` inside `netns` (`ip netns exec`), bounded by `options.timeoutMs`, and
   * rejects with `CommandError` unless it exits with 0.
   */
  exec(netns: string, command: string, args: readonly string[] = [], options?: RunOptions): Promise<CommandResult> {
    return runCommand('ip', ['netns', 'exec', netns, command, ...args], options);
  }

  /** Like {@link NetLab.exec} but resolves with the result whatever the exit code. */
  tryExec(netns: string, command: string, args: readonly string[] = [], options?: RunOptions): Promise<CommandResult> {
    return tryCommand('ip', ['netns', 'exec', netns, command, ...args], options);
  }

  /**
   * Starts `command args...` inside `netns` and returns the child without waiting. The caller must
   * bound it (a count or a time limit in its arguments) and kill it if it outlives its use.
   */
  spawn(netns: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', netns, command, ...args], { stdio: 'ignore', ...options });
  }

  /**
   * Removes everything this lab made, newest first: links it still knows about (wherever they were
   * moved), then namespaces (which takes any device left inside with them). Never throws; resolves
   * with the messages of the removals that failed for another reason than "already gone".
   */
  async cleanup(): Promise<string[]> {
    const failures: string[] = [];
    const resources = this.resources.splice(0).reverse();
    for (const r of resources) {
      if (r.type !== 'link') continue;
      const res = await tryCommand('ip', [
        ...(r.netns === undefined ? [] : ['-n', r.netns]),
        'link',
        'del',
        'dev',
        r.name,
      ]);
      if (res.code !== 0 && !isGone(res.stderr)) failures.push(`link ${r.name}: ${res.stderr.trim()}`);
    }
    for (const r of resources) {
      if (r.type !== 'netns') continue;
      const res = await tryCommand('ip', ['netns', 'del', r.name]);
      if (res.code !== 0 && !isGone(res.stderr)) failures.push(`netns ${r.name}: ${res.stderr.trim()}`);
    }
    return failures;
  }
}

/** True for the `ip` messages that mean "there was nothing to remove". */
export function isGone(stderr: string): boolean {
  return /Cannot find device|does not exist|No such file or directory|Cannot open network namespace/i.test(stderr);
}
