/**
 * The gateway's NAT: the config file's top-level `nat` (masquerade rules) and `portForwards`
 * checked against the interfaces ({@link natConfigOf}), applied to the stack
 * ({@link applyNat}), and shown by the admin API ({@link natJson}).
 */
import type { Stack } from '@postern/netstack';
import { parseIpv4Text } from './addresses.js';
import { ConfigError } from './config-error.js';

/** One NAT rule: masquerade traffic forwarded out of the interface named `out`. */
export interface NatRuleConfig {
  /** `masquerade`. */
  readonly type: 'masquerade';
  /** Interface name. */
  readonly out: string;
}

/** One port forward: `protocol` traffic to `port` on the address of interface `in` goes to `to` (`ADDR:PORT`). */
export interface PortForwardConfig {
  /** Interface name. */
  readonly in: string;
  /** `tcp` or `udp`. */
  readonly protocol: 'tcp' | 'udp';
  /** External port. */
  readonly port: number;
  /** Inside `ADDR:PORT`. */
  readonly to: string;
}

/** The NAT part of a document as the schema lets it through. */
export interface NatDocument {
  readonly interfaces: ReadonlyArray<{ readonly name?: string }>;
  readonly forwarding: boolean;
  readonly nat: readonly NatRuleConfig[];
  readonly portForwards: readonly PortForwardConfig[];
}

/**
 * Checks what the schema cannot: named interfaces exist, forwarding is on, a target port is in
 * range, no two forwards share an interface, protocol and port, or a target.
 * @throws {@link ConfigError} naming the JSON path.
 */
export function natConfigOf(doc: NatDocument): { nat: NatRuleConfig[]; portForwards: PortForwardConfig[] } {
  const names = doc.interfaces.map((iface, i) => iface.name ?? `eth${i}`);
  doc.nat.forEach((r, i) => {
    if (!names.includes(r.out)) throw new ConfigError(`nat[${i}].out`, 'names no interface', r.out);
    if (!doc.forwarding) throw new ConfigError(`nat[${i}]`, 'needs "forwarding": true');
  });
  const seen = new Set<string>();
  doc.portForwards.forEach((f, i) => {
    if (!names.includes(f.in)) throw new ConfigError(`portForwards[${i}].in`, 'names no interface', f.in);
    if (!doc.forwarding) throw new ConfigError(`portForwards[${i}]`, 'needs "forwarding": true');
    const target = parseTarget(f.to);
    if (target === undefined)
      throw new ConfigError(`portForwards[${i}].to`, 'must be ADDR:PORT with a port of 1-65535', f.to);
    for (const key of [`${f.in} ${f.protocol} ${f.port}`, `${f.in} ${f.protocol} -> ${f.to}`]) {
      if (seen.has(key))
        throw new ConfigError(
          `portForwards[${i}]`,
          'repeats the port or the target of an earlier forward on that interface',
          `${f.protocol} ${f.port} -> ${f.to}`,
        );
      seen.add(key);
    }
  });
  return {
    nat: doc.nat.map((r) => ({ type: r.type, out: r.out })),
    portForwards: doc.portForwards.map((f) => ({ in: f.in, protocol: f.protocol, port: f.port, to: f.to })),
  };
}

function parseTarget(text: string): { address: number; port: number } | undefined {
  const colon = text.lastIndexOf(':');
  const address = parseIpv4Text(text.slice(0, colon));
  const port = Number(text.slice(colon + 1));
  if (address === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { address, port };
}

/** Configures the stack's NAT from checked rules; `indexOf` maps an interface name to its stack index. Nothing configured: NAT stays off. */
export function applyNat(
  stack: Stack,
  nat: readonly NatRuleConfig[],
  portForwards: readonly PortForwardConfig[],
  indexOf: (name: string) => number,
): void {
  if (nat.length === 0 && portForwards.length === 0) {
    stack.configureNat(undefined);
    return;
  }
  stack.configureNat({
    masquerade: nat.map((r) => indexOf(r.out)),
    portForwards: portForwards.map((f) => {
      const t = parseTarget(f.to)!;
      return { inIfIndex: indexOf(f.in), protocol: f.protocol, port: f.port, toAddress: t.address, toPort: t.port };
    }),
  });
}

/** What `/api/nat` (and `nat` in `GET /api/`) shows: the rules, the mappings with their timers, the counters. */
export function natJson(
  stack: Stack,
  nat: readonly NatRuleConfig[],
  portForwards: readonly PortForwardConfig[],
): Record<string, unknown> {
  const engine = stack.nat;
  const nameOf = (i: number) => stack.interfaceAt(i)?.name ?? String(i);
  return {
    enabled: engine !== undefined,
    rules: nat,
    portForwards,
    maxMappings: engine?.table.maxMappings ?? 0,
    timeouts: engine?.table.timeouts ?? null,
    mappings: engine?.list(stack.now, nameOf) ?? [],
    counters: engine?.stats.snapshot() ?? {},
  };
}
