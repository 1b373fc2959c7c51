/**
 * Applying the configuration's text forms to a `Stack`: static routes and filter rules. Used at
 * start-up and by the admin API, so both accept exactly the same things.
 */
import type { Route, RuleSpec, Stack } from '@postern/netstack';
import { parseIpv4Text, parsePortRange, parseRouteDestination } from './addresses.js';
import type { FilterRuleConfig, RouteConfig } from './config.js';

const PROTOCOL_NUMBERS = { icmp: 1, tcp: 6, udp: 17 } as const;

/**
 * Converts a validated rule (see `validateFilterRule`) to the filter's {@link RuleSpec}.
 * The caller validated `rule`; a field that still does not parse throws a plain `Error`.
 */
export function ruleSpecOf(rule: FilterRuleConfig): RuleSpec {
  const protocol = typeof rule.protocol === 'string' ? PROTOCOL_NUMBERS[rule.protocol] : rule.protocol;
  const prefix = (t: string | undefined) => {
    if (t === undefined) return undefined;
    const p = parseRouteDestination(t);
    if (p === undefined) throw new Error(`bad prefix ${t}`);
    return { prefix: p.address, length: p.length };
  };
  const ports = (v: string | number | undefined) => (v === undefined ? undefined : parsePortRange(v));
  const spec: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = { action: rule.action };
  if (protocol !== undefined) spec.protocol = protocol;
  const src = prefix(rule.src);
  if (src !== undefined) spec.src = src;
  const dst = prefix(rule.dst);
  if (dst !== undefined) spec.dst = dst;
  const sp = ports(rule.srcPort);
  if (sp !== undefined) spec.srcPorts = sp;
  const dp = ports(rule.dstPort);
  if (dp !== undefined) spec.dstPorts = dp;
  if (rule.rejectWith === 'tcp-reset') spec.rejectWith = { kind: 'tcp-reset' };
  if (rule.comment !== undefined) spec.comment = rule.comment;
  return spec;
}

/**
 * Adds a static route to the stack's table.
 * @throws `RouteError` from the routing table (gateway unreachable, duplicate, table full...).
 */
export function addRoute(stack: Stack, route: RouteConfig): Route {
  const to = parseRouteDestination(route.to);
  const via = parseIpv4Text(route.via);
  if (to === undefined || via === undefined) throw new Error(`bad route ${route.to} via ${route.via}`);
  return stack.routes.addStatic({ prefix: to.address, prefixLength: to.length, gateway: via, metric: route.metric });
}
