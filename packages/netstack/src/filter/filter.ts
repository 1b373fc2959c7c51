/**
 * The packet filter (firewall mode): three chains of ordered rules, the way iptables' filter table
 * has them, evaluated on a {@link PacketMeta} the caller fills from parsed headers.
 *
 * - `input`: packets for this host; `forward`: packets routed through it; `output`: packets it
 *   sends. Each packet goes through exactly one chain, once.
 * - Rules are tried in order; the first that matches decides (`accept`, `drop`, or `reject` with a
 *   {@link RejectWith} kind). No match: the chain's default policy (`accept` or `drop`) decides.
 * - Every packet is classified by connection tracking first (rules can match on `new`,
 *   `established`, `related`, `invalid`), and a packet that is accepted is then committed to it, so
 *   replies to what was let out come back in. A new connection the tracker must refuse (table full)
 *   turns the accept into a drop, counted `conntrackFull`.
 * - The filter only returns a {@link Verdict}; sending the ICMP error or TCP RST of a `reject` is
 *   the caller's job (through the ICMP rate limiter).
 * - Each rule counts the packets and bytes it decided; each chain counts those its policy decided.
 *
 * `evaluate` allocates nothing: verdicts are immutable objects made once per rule and per policy.
 */
import type { Ipv4Address } from '@postern/wire';
import { IP_PROTO_ICMP as PROTO_ICMP, IP_PROTO_TCP as PROTO_TCP, IP_PROTO_UDP as PROTO_UDP } from '@postern/wire';
import { Counters } from '../counters.js';
import { Conntrack, type ConnState, type ConntrackOptions } from './conntrack.js';
import { NO_INTERFACE, type PacketMeta } from './packet-meta.js';
import { isIpv4Address, isPrefixLength, networkOf, prefixMask } from '../ipv4/prefix.js';

/** The three chains. */
export type Chain = 'input' | 'forward' | 'output';
/** Every chain, in a fixed order. */
export const CHAINS: readonly Chain[] = ['input', 'forward', 'output'];

/** What a rule does with a packet it matches. */
export type RuleAction = 'accept' | 'drop' | 'reject';
/** A chain's default policy. */
export type ChainPolicy = 'accept' | 'drop';

/** How a rejected packet is answered: an ICMP destination unreachable with `code`, or a TCP RST. */
export type RejectWith = { readonly kind: 'icmp-unreachable'; readonly code: number } | { readonly kind: 'tcp-reset' };

/** The default reject answer: ICMP port unreachable (code 3), as iptables' REJECT. */
export const REJECT_PORT_UNREACHABLE: RejectWith = Object.freeze({ kind: 'icmp-unreachable', code: 3 });

/** An inclusive port range. */
export interface PortRange {
  /** Lowest port matched, 0..65535. */
  readonly from: number;
  /** Highest port matched, `from`..65535. */
  readonly to: number;
}

/** An address prefix to match; `length` 0 matches everything. Host bits of `prefix` must be clear. */
export interface PrefixMatch {
  /** The network number. */
  readonly prefix: Ipv4Address;
  /** The prefix length, 0..32. */
  readonly length: number;
}

/** A rule as given to {@link PacketFilter.insertRule}; every match field is optional (absent matches all). */
export interface RuleSpec {
  /** Receiving interface (not on `output`). */
  readonly ifIn?: number;
  /** Sending interface (not on `input`). */
  readonly ifOut?: number;
  /** Source address prefix. */
  readonly src?: PrefixMatch;
  /** Destination address prefix. */
  readonly dst?: PrefixMatch;
  /** IP protocol number. Required by the port, ICMP and TCP-flag matches. */
  readonly protocol?: number;
  /** TCP or UDP source ports. */
  readonly srcPorts?: PortRange;
  /** TCP or UDP destination ports. */
  readonly dstPorts?: PortRange;
  /** ICMP type (protocol must be 1). */
  readonly icmpType?: number;
  /** ICMP code (needs `icmpType`). */
  readonly icmpCode?: number;
  /** Matches when `(tcpFlags & mask) === value` (protocol must be 6). */
  readonly tcpFlags?: { readonly mask: number; readonly value: number };
  /** Connection states this rule matches (any of them). */
  readonly states?: readonly ConnState[];
  /** What to do with a matching packet. */
  readonly action: RuleAction;
  /** For `reject` only; default {@link REJECT_PORT_UNREACHABLE}. `tcp-reset` needs protocol 6. */
  readonly rejectWith?: RejectWith;
  /** Free text for the admin API. */
  readonly comment?: string;
}

/** A rule as listed: its spec, stable id, position and counters. */
export interface RuleInfo {
  /** Stable id, unique across chains. */
  readonly id: number;
  /** The chain holding the rule. */
  readonly chain: Chain;
  /** 0-based position in its chain. */
  readonly position: number;
  /** The rule as given (frozen). */
  readonly spec: RuleSpec;
  /** Packets this rule decided. */
  readonly packets: number;
  /** Bytes (IP total length) of the packets this rule decided. */
  readonly bytes: number;
}

/** The filter's decision for one packet. Immutable and shared: compare by field, not identity. */
export interface Verdict {
  /** `accept`, `drop` or `reject`. */
  readonly action: RuleAction;
  /** For `reject`: how to answer. */
  readonly rejectWith: RejectWith | undefined;
  /** The rule that decided, or `undefined`. */
  readonly ruleId: number | undefined;
  /** `rule`, `policy`, `conntrack-full` (accepted but the tracker could not take a new connection), or `disabled`. */
  readonly reason: 'rule' | 'policy' | 'conntrack-full' | 'disabled';
}

/** Stable codes of {@link FilterError}. */
export type FilterErrorCode = 'INVALID_RULE' | 'NO_SUCH_RULE' | 'CHAIN_FULL' | 'INVALID_CHAIN' | 'INVALID_POLICY';

/** A filter configuration operation was refused; branch on {@link FilterError.code}. */
export class FilterError extends Error {
  /** The stable code for this condition. */
  readonly code: FilterErrorCode;
  constructor(code: FilterErrorCode, message: string) {
    super(message);
    this.name = 'FilterError';
    this.code = code;
  }
}

/** Options of a {@link PacketFilter}. */
export interface PacketFilterOptions {
  /** Default policies; every chain defaults to `accept`. */
  policies?: Partial<Record<Chain, ChainPolicy>>;
  /** Most rules per chain. Default {@link DEFAULT_MAX_RULES_PER_CHAIN}. */
  maxRulesPerChain?: number;
  /** A tracker to share, or options for the filter's own. */
  conntrack?: Conntrack | ConntrackOptions;
}

/** Default for {@link PacketFilterOptions.maxRulesPerChain}. */
export const DEFAULT_MAX_RULES_PER_CHAIN = 256;

/** Names of the filter's counters. */
export type FilterCounterName = 'accepted' | 'dropped' | 'rejected' | 'conntrackFull' | 'chainFull';

const STATE_BIT: Readonly<Record<ConnState, number>> = { new: 1, established: 2, related: 4, invalid: 8 };

/** A rule compiled to flat numbers; -1 means "any". */
interface CompiledRule {
  readonly id: number;
  readonly spec: RuleSpec;
  readonly ifIn: number;
  readonly ifOut: number;
  readonly srcMask: number;
  readonly srcNet: number;
  readonly dstMask: number;
  readonly dstNet: number;
  readonly protocol: number;
  readonly spLo: number;
  readonly spHi: number;
  readonly dpLo: number;
  readonly dpHi: number;
  readonly icmpType: number;
  readonly icmpCode: number;
  readonly flagMask: number;
  readonly flagValue: number;
  readonly states: number;
  readonly verdict: Verdict;
  packets: number;
  bytes: number;
}

interface ChainState {
  readonly rules: CompiledRule[];
  policy: ChainPolicy;
  policyVerdict: Verdict;
  policyPackets: number;
  policyBytes: number;
}

const DISABLED: Verdict = Object.freeze({
  action: 'accept',
  rejectWith: undefined,
  ruleId: undefined,
  reason: 'disabled',
});
const CONNTRACK_FULL: Verdict = Object.freeze({
  action: 'drop',
  rejectWith: undefined,
  ruleId: undefined,
  reason: 'conntrack-full',
});

/** The packet filter. See the module comment for the evaluation order and counters. */
export class PacketFilter {
  /** When false, {@link evaluate} accepts everything without tracking (router mode). Default true. */
  enabled = true;
  /** The connection tracker the filter classifies with. */
  readonly conntrack: Conntrack;
  /** The named limit on rules per chain. */
  readonly maxRulesPerChain: number;
  /** `accepted`, `dropped`, `rejected` (all verdicts), `conntrackFull` (accept turned into drop), `chainFull` (insert refused). */
  readonly stats = new Counters<FilterCounterName>('filter', [
    'accepted',
    'dropped',
    'rejected',
    'conntrackFull',
    'chainFull',
  ]);
  /** The connection state of the packet last evaluated (for logging). */
  lastState: ConnState = 'invalid';
  private readonly chains: Record<Chain, ChainState>;
  private nextId = 1;

  constructor(options: PacketFilterOptions = {}) {
    this.conntrack = options.conntrack instanceof Conntrack ? options.conntrack : new Conntrack(options.conntrack);
    this.maxRulesPerChain = options.maxRulesPerChain ?? DEFAULT_MAX_RULES_PER_CHAIN;
    const make = (c: Chain): ChainState => {
      const policy = options.policies?.[c] ?? 'accept';
      return { rules: [], policy, policyVerdict: policyVerdict(policy), policyPackets: 0, policyBytes: 0 };
    };
    this.chains = { input: make('input'), forward: make('forward'), output: make('output') };
  }

  /**
   * Inserts a rule into `chain` at `position` (0-based; default: append) and returns its id.
   * Throws {@link FilterError}: `INVALID_CHAIN`, `INVALID_RULE` (with the reason), `CHAIN_FULL`.
   */
  insertRule(chain: Chain, spec: RuleSpec, position?: number): number {
    const c = this.chain(chain);
    const rule = compile(this.nextId, chain, spec);
    if (c.rules.length >= this.maxRulesPerChain) {
      this.stats.inc('chainFull');
      throw new FilterError('CHAIN_FULL', `chain ${chain} holds its limit of ${this.maxRulesPerChain} rules`);
    }
    const at = position ?? c.rules.length;
    if (!Number.isInteger(at) || at < 0 || at > c.rules.length)
      throw new FilterError('INVALID_RULE', `position ${at} is outside 0..${c.rules.length}`);
    c.rules.splice(at, 0, rule);
    this.nextId++;
    return rule.id;
  }

  /** Appends a rule to `chain`; see {@link insertRule}. */
  appendRule(chain: Chain, spec: RuleSpec): number {
    return this.insertRule(chain, spec);
  }

  /** Deletes the rule with `id` from whichever chain holds it. Throws {@link FilterError} `NO_SUCH_RULE`. */
  deleteRule(id: number): void {
    for (const chain of CHAINS) {
      const rules = this.chains[chain].rules;
      const i = rules.findIndex((r) => r.id === id);
      if (i >= 0) {
        rules.splice(i, 1);
        return;
      }
    }
    throw new FilterError('NO_SUCH_RULE', `no rule with id ${id}`);
  }

  /** Removes every rule of `chain` (or of every chain). Policies and policy counters stay. */
  flush(chain?: Chain): void {
    for (const c of chain === undefined ? CHAINS : [chain]) this.chain(c).rules.length = 0;
  }

  /** Sets the default policy of `chain`. Throws {@link FilterError} `INVALID_CHAIN` or `INVALID_POLICY`. */
  setPolicy(chain: Chain, policy: ChainPolicy): void {
    const c = this.chain(chain);
    if (policy !== 'accept' && policy !== 'drop')
      throw new FilterError('INVALID_POLICY', `policy must be accept or drop, got ${String(policy)}`);
    c.policy = policy;
    c.policyVerdict = policyVerdict(policy);
  }

  /** The default policy of `chain` and the packets and bytes it decided. */
  policy(chain: Chain): { policy: ChainPolicy; packets: number; bytes: number } {
    const c = this.chain(chain);
    return { policy: c.policy, packets: c.policyPackets, bytes: c.policyBytes };
  }

  /** The rules of `chain` (or of every chain, input then forward then output) with their counters. */
  listRules(chain?: Chain): RuleInfo[] {
    const out: RuleInfo[] = [];
    for (const c of chain === undefined ? CHAINS : [chain]) {
      this.chain(c).rules.forEach((r, position) =>
        out.push({ id: r.id, chain: c, position, spec: r.spec, packets: r.packets, bytes: r.bytes }),
      );
    }
    return out;
  }

  /**
   * Decides the fate of the packet `m` on `chain` at `now`: classify with connection tracking, walk
   * the rules, fall back to the policy, commit accepted packets to the tracker. Never throws for any
   * field values of `m`.
   */
  evaluate(chain: Chain, m: PacketMeta, now: number): Verdict {
    if (!this.enabled) return DISABLED;
    const c = this.chains[chain];
    const state = this.conntrack.classify(m, now);
    this.lastState = state;
    const bit = STATE_BIT[state];
    let verdict: Verdict | undefined;
    const rules = c.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (matches(r, m, bit)) {
        r.packets++;
        r.bytes += m.length;
        verdict = r.verdict;
        break;
      }
    }
    if (verdict === undefined) {
      c.policyPackets++;
      c.policyBytes += m.length;
      verdict = c.policyVerdict;
    }
    if (verdict.action === 'accept') {
      if (!this.conntrack.commit(m, now)) {
        this.stats.inc('conntrackFull');
        this.stats.inc('dropped');
        return CONNTRACK_FULL;
      }
      this.stats.inc('accepted');
    } else {
      this.stats.inc(verdict.action === 'drop' ? 'dropped' : 'rejected');
    }
    return verdict;
  }

  private chain(chain: Chain): ChainState {
    const c = Object.hasOwn(this.chains, chain) ? this.chains[chain] : undefined;
    if (c === undefined)
      throw new FilterError('INVALID_CHAIN', `no chain ${JSON.stringify(chain)} (input, forward, output)`);
    return c;
  }
}

function matches(r: CompiledRule, m: PacketMeta, stateBit: number): boolean {
  return (
    (r.ifIn < 0 || r.ifIn === m.ifIn) &&
    (r.ifOut < 0 || r.ifOut === m.ifOut) &&
    (m.src & r.srcMask) >>> 0 === r.srcNet &&
    (m.dst & r.dstMask) >>> 0 === r.dstNet &&
    (r.protocol < 0 || r.protocol === m.protocol) &&
    m.srcPort >= r.spLo &&
    m.srcPort <= r.spHi &&
    m.dstPort >= r.dpLo &&
    m.dstPort <= r.dpHi &&
    (r.icmpType < 0 || r.icmpType === m.icmpType) &&
    (r.icmpCode < 0 || r.icmpCode === m.icmpCode) &&
    (m.tcpFlags & r.flagMask) === r.flagValue &&
    (r.states === 0 || (r.states & stateBit) !== 0)
  );
}

function policyVerdict(policy: ChainPolicy): Verdict {
  return Object.freeze({ action: policy, rejectWith: undefined, ruleId: undefined, reason: 'policy' });
}

function invalid(message: string): FilterError {
  return new FilterError('INVALID_RULE', message);
}

function compile(id: number, chain: Chain, spec: RuleSpec): CompiledRule {
  if (!Object.hasOwn({ input: 1, forward: 1, output: 1 }, chain))
    throw new FilterError('INVALID_CHAIN', `no chain ${JSON.stringify(chain)} (input, forward, output)`);
  if (spec.action !== 'accept' && spec.action !== 'drop' && spec.action !== 'reject')
    throw invalid(`action must be accept, drop or reject, got ${String(spec.action)}`);
  const iface = (v: number | undefined, what: string): number => {
    if (v === undefined) return NO_INTERFACE;
    if (!Number.isInteger(v) || v < 0) throw invalid(`${what} must be a non-negative integer`);
    return v;
  };
  if (chain === 'input' && spec.ifOut !== undefined) throw invalid('the input chain has no outgoing interface');
  if (chain === 'output' && spec.ifIn !== undefined) throw invalid('the output chain has no incoming interface');
  const prefix = (p: PrefixMatch | undefined, what: string): [number, number] => {
    if (p === undefined) return [0, 0];
    if (!isIpv4Address(p.prefix) || !isPrefixLength(p.length))
      throw invalid(`${what} must be an IPv4 address with a length 0..32`);
    if (networkOf(p.prefix, p.length) !== p.prefix) throw invalid(`${what} has host bits set`);
    return [prefixMask(p.length), p.prefix];
  };
  const protocol = spec.protocol ?? -1;
  if (spec.protocol !== undefined && (!Number.isInteger(protocol) || protocol < 0 || protocol > 255))
    throw invalid('protocol must be 0..255');
  const ports = (range: PortRange | undefined, what: string): [number, number] => {
    if (range === undefined) return [0, 0xffff];
    if (protocol !== PROTO_TCP && protocol !== PROTO_UDP) throw invalid(`${what} needs protocol tcp (6) or udp (17)`);
    const { from, to } = range;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > 0xffff || from > to)
      throw invalid(`${what} must be a range within 0..65535 with from <= to`);
    return [from, to];
  };
  if ((spec.icmpType !== undefined || spec.icmpCode !== undefined) && protocol !== PROTO_ICMP)
    throw invalid('an ICMP match needs protocol icmp (1)');
  if (spec.icmpCode !== undefined && spec.icmpType === undefined)
    throw invalid('an ICMP code match needs an ICMP type');
  for (const [v, what] of [
    [spec.icmpType, 'icmpType'],
    [spec.icmpCode, 'icmpCode'],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 255)) throw invalid(`${what} must be 0..255`);
  }
  let flagMask = 0;
  let flagValue = 0;
  if (spec.tcpFlags !== undefined) {
    if (protocol !== PROTO_TCP) throw invalid('a TCP flag match needs protocol tcp (6)');
    ({ mask: flagMask, value: flagValue } = spec.tcpFlags);
    if (
      !Number.isInteger(flagMask) ||
      !Number.isInteger(flagValue) ||
      flagMask < 0 ||
      flagMask > 0xff ||
      (flagValue & ~flagMask) !== 0
    ) {
      throw invalid('tcpFlags needs a mask 0..255 and a value within the mask');
    }
  }
  let states = 0;
  for (const s of spec.states ?? []) {
    if (!Object.hasOwn(STATE_BIT, s)) throw invalid(`unknown connection state ${JSON.stringify(s)}`);
    states |= STATE_BIT[s];
  }
  let rejectWith: RejectWith | undefined;
  if (spec.rejectWith !== undefined && spec.action !== 'reject')
    throw invalid('rejectWith is only for the reject action');
  if (spec.action === 'reject') {
    rejectWith = spec.rejectWith ?? REJECT_PORT_UNREACHABLE;
    if (rejectWith.kind === 'tcp-reset') {
      if (protocol !== PROTO_TCP) throw invalid('reject with tcp-reset needs protocol tcp (6)');
    } else if (
      rejectWith.kind !== 'icmp-unreachable' ||
      !Number.isInteger(rejectWith.code) ||
      rejectWith.code < 0 ||
      rejectWith.code > 15
    ) {
      throw invalid('reject needs tcp-reset or icmp-unreachable with a code 0..15');
    }
    rejectWith = Object.freeze({ ...rejectWith });
  }
  const [srcMask, srcNet] = prefix(spec.src, 'src');
  const [dstMask, dstNet] = prefix(spec.dst, 'dst');
  const [spLo, spHi] = ports(spec.srcPorts, 'srcPorts');
  const [dpLo, dpHi] = ports(spec.dstPorts, 'dstPorts');
  return {
    id,
    spec: Object.freeze({ ...spec }),
    ifIn: iface(spec.ifIn, 'ifIn'),
    ifOut: iface(spec.ifOut, 'ifOut'),
    srcMask,
    srcNet,
    dstMask,
    dstNet,
    protocol,
    spLo,
    spHi,
    dpLo,
    dpHi,
    icmpType: spec.icmpType ?? -1,
    icmpCode: spec.icmpCode ?? -1,
    flagMask,
    flagValue,
    states,
    verdict: Object.freeze({ action: spec.action, rejectWith, ruleId: id, reason: 'rule' }),
    packets: 0,
    bytes: 0,
  };
}
