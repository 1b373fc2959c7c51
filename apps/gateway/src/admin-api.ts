/**
 * {@link AdminApi}: the gateway's JSON API under `/api/`, independent of the HTTP server that
 * carries it (it takes a method, a path, the `Authorization` header and the body text, and returns
 * a status, headers and a body), so it is tested without a network and mounted on any server.
 *
 * Reading is open: `GET /api/` (everything the UI shows, in one document), `/api/interfaces`,
 * `/api/trace` (the last captured path of one request through the layers: `{ state, capture }`),
 * `/api/arp`, `/api/routes`, `/api/filter`, `/api/tcp`, `/api/scheduler`, `/api/http`,
 * `/api/traffic`, `/api/counters`, `/api/lan` (DHCP leases and clients, the DNS forwarder and its
 * cache; also in `GET /api/` as `lan`), `/api/nat` (NAT rules, port forwards, the mapping table with
 * its timers, NAT counters; also in `GET /api/` as `nat`).
 *
 * Changing needs HTTP Basic authentication as the admin (see `auth.ts`; 401 or 403 otherwise),
 * checked before anything else about the request:
 * - `POST /api/trace` -> 202: capture the path of the next frame that arrives (and its answer);
 *   `DELETE /api/trace` -> 200: stop waiting
 * - `POST /api/routes` `{ "to": "10.1.0.0/16" | "default", "via": "ADDR", "metric"?: N }` -> 201
 * - `DELETE /api/routes/NET/LEN` (or `/api/routes/default`) -> 200
 * - `POST /api/filter/rules` (a rule as in the config file's `filter.rules`) -> 201 `{ id }`
 * - `DELETE /api/filter/rules/ID` -> 200
 * - `PUT /api/filter/policy/CHAIN` `{ "policy": "accept" | "drop" }` -> 200
 * - `PUT /api/settings` `{ "forwarding"?: bool, "firewall"?: bool }` -> 200
 * - `POST /api/reboot` -> 202, then the gateway restarts its stack (see `GatewayControl.reboot`)
 * - `DELETE /api/lan/dns-cache` -> 200 `{ flushed: N }`
 * - `DELETE /api/nat/mappings` -> 200 `{ flushed: N }`: forgets every masquerade mapping (port forwards stay)
 *
 * Cross-site requests cannot change anything (checked first, see {@link crossSiteRefusal}): a
 * changing call that names a foreign `Origin` (or `Origin: null`), or a `Sec-Fetch-Site` other than
 * `same-origin`, gets 403; one with a body must say `Content-Type: application/json` (415 otherwise),
 * which a cross-site "simple" request (form, `text/plain`) cannot. Clients that send neither header
 * (curl, scripts) are not browsers acting for another site and pass on to the credentials check.
 *
 * Reading answers carry no host paths: the `www` directory shows only whether one is served, and a
 * serial device only as `serial`.
 *
 * The endpoints are matched by `@postern/http`'s `RouteTable` (so a `405` lists the methods the
 * path has, with `HEAD` beside `GET`).
 *
 * Errors are JSON `{ "error": "..." }`: 400 for a malformed body, value or percent-escape, 403 for a
 * cross-site change, 404 for an unknown path or rule, 405 (with `Allow`) for a wrong method, 409 for
 * a duplicate or a full table, 415 for a body that is not JSON; an unexpected failure is a 500 that
 * says only that.
 */
import { RouteTable } from '@postern/http';
import type { PathTrace } from '@postern/irq';
import { FilterError, RouteError, type Chain, type Stack } from '@postern/netstack';
import { parseRouteDestination } from './addresses.js';
import { checkBasicAuth, WWW_AUTHENTICATE } from './auth.js';
import { ConfigError, validateFilterRule, type GatewayConfig, type RouteConfig } from './config.js';
import { addRoute, ruleSpecOf } from './stack-config.js';
import { natJson } from './nat-config.js';
import {
  arpJson,
  filterJson,
  interfacesJson,
  withConnections,
  routesJson,
  schedulerJson,
  statusJson,
  tcpJson,
  type StatusSources,
} from './status.js';

/** A request as the API sees it. */
export interface AdminRequest {
  /** Upper-case method. */
  readonly method: string;
  /** The path without query, starting with `/api`. */
  readonly path: string;
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
  /** The body as text (empty when none). */
  readonly body: string;
  /** The `Content-Type` header, if any. */
  readonly contentType?: string | undefined;
  /** The `Origin` header, if any. */
  readonly origin?: string | undefined;
  /** The `Sec-Fetch-Site` header, if any. */
  readonly secFetchSite?: string | undefined;
  /** The `Host` header the request was sent with (the gateway's own origin is `http://HOST`). */
  readonly host?: string | undefined;
}

/** A response: status, headers, JSON body text. */
export interface AdminResponse {
  /** HTTP status code. */
  readonly status: number;
  /** Header fields (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON text. */
  readonly body: string;
}

/** What the API may do to the gateway besides reading. */
export interface AdminControl extends StatusSources {
  /** The credentials mutating calls are checked against. */
  readonly admin: GatewayConfig['admin'];
  /** Restarts the gateway's stack (called after the 202 is built; the restart itself is asynchronous). */
  reboot(): void;
  /** The LAN services (DHCP, DNS) as `/api/lan` shows them; absent: `null`. */
  lan?(): unknown;
  /** The NAT rules and port forwards as configured (`/api/nat`); absent: none. */
  readonly natRules?: Pick<GatewayConfig, 'nat' | 'portForwards'>;
  /** Empties the DNS forwarder's cache; returns how many responses it held. */
  flushDnsCache?(): number;
  /** The path trace of the gateway's scheduler (`/api/trace`); absent: 404. */
  readonly trace?: PathTrace;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;
const READ_METHODS = new Set(['GET', 'HEAD']);
const CHAINS: readonly Chain[] = ['input', 'forward', 'output'];

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

function json(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): AdminResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(value) };
}

/** An endpoint of the API: the request and its route parameters (decoded; `*` still encoded). */
type Endpoint = (req: AdminRequest, params: Readonly<Record<string, string>>) => AdminResponse;

/** The admin JSON API. See the module comment for the endpoints and the rules. */
export class AdminApi {
  /** The endpoints by method and path, matched by `@postern/http`'s route table. */
  private readonly endpoints = new RouteTable<Endpoint>();

  constructor(private readonly control: AdminControl) {
    const c = control;
    const read = (pattern: string, answer: () => unknown): void =>
      void this.endpoints.add('GET', pattern, () => json(200, answer()));
    read('/api', () => ({
      ...statusJson({ ...c, info: () => publicInfo(c.info()) }),
      lan: c.lan?.() ?? null,
      nat: this.nat(),
    }));
    read('/api/interfaces', () => withConnections(interfacesJson(c.stack.snapshot()), c.connections?.()));
    read('/api/arp', () => arpJson(c.stack.snapshot()));
    read('/api/tcp', () => tcpJson(c));
    read('/api/scheduler', () => schedulerJson(c.schedulerStats));
    read('/api/http', () => ({ byStatus: c.httpStatusCounts(), counters: c.httpCounters() }));
    read('/api/traffic', () => c.traffic.list());
    read('/api/counters', () => c.stack.counters());
    read('/api/routes', () => routesJson(c.stack.snapshot()));
    read('/api/filter', () => filterJson(c.stack.snapshot()));
    read('/api/filter/rules', () => (filterJson(c.stack.snapshot()) as { rules: unknown }).rules);
    read('/api/settings', () => settingsOf(c.stack));
    read('/api/lan', () => c.lan?.() ?? null);
    read('/api/nat', () => this.nat());
    this.endpoints
      .add('POST', '/api/routes', (req) => this.addRoute(req))
      .add('DELETE', '/api/routes/*', (_req, params) => this.deleteRoute(params['*']!))
      .add('POST', '/api/filter/rules', (req) => {
        const rule = validateFilterRule(body(req), 'body');
        return json(201, { id: c.stack.filter.appendRule(rule.chain, ruleSpecOf(rule)) });
      })
      .add('DELETE', '/api/filter/rules/:id', (_req, params) => this.deleteRule(params['id']!))
      .add(['GET', 'PUT'], '/api/filter/policy/:chain', (req, params) => this.policy(req, params['chain']!))
      .add('PUT', '/api/settings', (req) => json(200, this.putSettings(body(req))))
      .add('DELETE', '/api/lan/dns-cache', () => json(200, { flushed: c.flushDnsCache?.() ?? 0 }))
      .add('DELETE', '/api/nat/mappings', () => {
        const before = c.stack.nat?.table.dynamicSize ?? 0;
        c.stack.nat?.table.clearDynamic();
        return json(200, { flushed: before });
      })
      .add(['GET', 'POST', 'DELETE'], '/api/trace', (req) => this.traceCall(req))
      .add('POST', '/api/reboot', () => {
        c.reboot();
        return json(202, { rebooting: true });
      });
  }

  /** Answers one request. Never throws: every failure becomes a JSON error response. */
  handle(req: AdminRequest): AdminResponse {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof HttpProblem) return json(err.status, { error: err.message }, err.headers);
      if (err instanceof ConfigError) return json(400, { error: err.message.replace(/^config: /, '') });
      if (err instanceof RouteError) return json(routeStatus(err), { error: err.message, code: err.code });
      if (err instanceof FilterError)
        return json(err.code === 'NO_SUCH_RULE' ? 404 : err.code === 'CHAIN_FULL' ? 409 : 400, {
          error: err.message,
          code: err.code,
        });
      return json(500, { error: 'internal error' });
    }
  }

  private nat(): Record<string, unknown> {
    const c = this.control;
    return natJson(c.stack, c.natRules?.nat ?? [], c.natRules?.portForwards ?? []);
  }

  /**
   * Finds the endpoint (a broken percent-escape is 400 at once), then, for a changing method on any
   * path, refuses cross-site requests (403) and checks the credentials (401/403) and the body's type
   * (415), and only then says 404 or 405.
   */
  private route(req: AdminRequest): AdminResponse {
    const path = req.path.replace(/\/+$/, '') || '/';
    const found = this.endpoints.lookup(req.method, path);
    if (found.kind === 'bad-path') throw new HttpProblem(400, 'malformed percent-escape in the path');
    if (!READ_METHODS.has(req.method)) {
      const refusal = crossSiteRefusal(req);
      if (refusal !== undefined) throw new HttpProblem(403, refusal);
      const auth = checkBasicAuth(req.authorization, this.control.admin);
      if (!auth.ok)
        throw new HttpProblem(
          auth.status,
          auth.reason,
          auth.status === 401 ? { 'www-authenticate': WWW_AUTHENTICATE } : {},
        );
      if (req.body.trim() !== '' && !isJsonType(req.contentType))
        throw new HttpProblem(415, 'the body must be sent as Content-Type: application/json');
    }
    switch (found.kind) {
      case 'found':
        return found.handler(req, found.params);
      case 'wrong-method': {
        const list = found.methods.includes('GET') ? [...found.methods, 'HEAD'] : found.methods;
        throw new HttpProblem(405, `${req.method} is not allowed here`, { allow: list.join(', ') });
      }
      default:
        throw new HttpProblem(404, 'no such path');
    }
  }

  private addRoute(req: AdminRequest): AdminResponse {
    const stack = this.control.stack;
    const b = objectBody(req);
    const unknown = Object.keys(b).find((k) => !['to', 'via', 'metric'].includes(k));
    if (unknown !== undefined) throw new HttpProblem(400, `${unknown}: is not a known field`);
    const { to, via, metric } = b;
    if (typeof to !== 'string' || parseRouteDestination(to) === undefined)
      throw new HttpProblem(400, `to: ${JSON.stringify(to)} is not NET/PREFIX (host bits clear) or default`);
    if (typeof via !== 'string') throw new HttpProblem(400, `via: ${JSON.stringify(via)} is not an IPv4 address`);
    if (metric !== undefined && (typeof metric !== 'number' || !Number.isInteger(metric) || metric < 0))
      throw new HttpProblem(400, `metric: ${JSON.stringify(metric)} is not a non-negative integer`);
    const route: RouteConfig = { to, via, metric: (metric as number | undefined) ?? 0 };
    const added = addRoute(stack, route);
    return json(201, { to, via, metric: added.metric, interface: stack.interfaceAt(added.ifIndex)?.name ?? null });
  }

  /** `DELETE /api/routes/NET/LEN` or `/api/routes/default`; `rest` is the encoded rest of the path. */
  private deleteRoute(rest: string): AdminResponse {
    const text = rest.split('/').map(decodeSegment).join('/');
    const p = parseRouteDestination(text);
    if (p === undefined) throw new HttpProblem(400, `${JSON.stringify(text)} is not NET/PREFIX or default`);
    this.control.stack.routes.removeStatic(p.address, p.length);
    return json(200, { deleted: text });
  }

  private deleteRule(arg: string): AdminResponse {
    const id = /^[1-9][0-9]{0,9}$/.test(arg) ? Number(arg) : NaN;
    if (Number.isNaN(id)) throw new HttpProblem(404, `no rule with id ${JSON.stringify(arg)}`);
    this.control.stack.filter.deleteRule(id);
    return json(200, { deleted: id });
  }

  private policy(req: AdminRequest, chain: string): AdminResponse {
    const f = this.control.stack.filter;
    if (!(CHAINS as readonly string[]).includes(chain))
      throw new HttpProblem(404, `no chain ${JSON.stringify(chain)} (input, forward or output)`);
    if (req.method === 'PUT') {
      const { policy } = objectBody(req);
      if (policy !== 'accept' && policy !== 'drop')
        throw new HttpProblem(400, `policy: ${JSON.stringify(policy)} is not accept or drop`);
      f.setPolicy(chain as Chain, policy);
    }
    return json(200, f.policy(chain as Chain));
  }

  private traceCall(req: AdminRequest): AdminResponse {
    const trace = this.control.trace;
    if (trace === undefined) throw new HttpProblem(404, 'no path trace on this gateway');
    if (READ_METHODS.has(req.method)) return json(200, { state: trace.state, capture: trace.last ?? null });
    if (req.method === 'POST') trace.arm();
    else trace.disarm();
    return json(req.method === 'POST' ? 202 : 200, { state: trace.state });
  }

  private putSettings(b: unknown): unknown {
    const o = asObject(b);
    const stack = this.control.stack;
    for (const [k, v] of Object.entries(o)) {
      if (k !== 'forwarding' && k !== 'firewall')
        throw new HttpProblem(400, `${k}: is not a known setting (forwarding, firewall)`);
      if (typeof v !== 'boolean') throw new HttpProblem(400, `${k}: ${JSON.stringify(v)} is not true or false`);
    }
    if (typeof o['forwarding'] === 'boolean') stack.forwarding = o['forwarding'];
    if (typeof o['firewall'] === 'boolean') stack.filter.enabled = o['firewall'];
    return settingsOf(stack);
  }
}

/**
 * Why a changing request is refused as cross-site, or `undefined` when it may go on: a browser names
 * the page's origin in `Origin` (every cross-origin POST, PUT, DELETE) and the relation in
 * `Sec-Fetch-Site`; either one pointing elsewhere refuses the request.
 */
export function crossSiteRefusal(req: Pick<AdminRequest, 'origin' | 'secFetchSite' | 'host'>): string | undefined {
  const site = req.secFetchSite?.trim().toLowerCase();
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused (Sec-Fetch-Site: ${site})`;
  const origin = req.origin?.trim();
  if (origin === undefined) return undefined;
  const own = req.host === undefined ? undefined : `http://${req.host.trim().toLowerCase()}`;
  if (own === undefined || origin.toLowerCase() !== own)
    return 'cross-site request refused (Origin is not this gateway)';
  return undefined;
}

/** True for `application/json` with or without parameters. */
function isJsonType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json[ \t]*(;|$)/i.test(contentType.trim());
}

/** A path segment, percent-decoded; a malformed escape is a 400 (without the decoder's message). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpProblem(400, 'malformed percent-escape in the path');
  }
}

/** `info` without host paths: `www` only as whether one is served, a serial device only as `serial`. */
function publicInfo(info: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...info };
  if ('www' in out) out['www'] = out['www'] !== null && out['www'] !== undefined;
  if (Array.isArray(out['interfaces'])) {
    out['interfaces'] = (out['interfaces'] as unknown[]).map((i) => {
      if (typeof i !== 'object' || i === null) return i;
      const nic = (i as { nic?: unknown }).nic;
      return typeof nic === 'string' && nic.startsWith('serial:') ? { ...i, nic: 'serial' } : i;
    });
  }
  return out;
}

function settingsOf(stack: Stack): { forwarding: boolean; firewall: boolean } {
  return { forwarding: stack.forwarding, firewall: stack.filter.enabled };
}

function body(req: AdminRequest): unknown {
  if (req.body.trim() === '') throw new HttpProblem(400, 'the request needs a JSON body');
  try {
    return JSON.parse(req.body);
  } catch (err) {
    throw new HttpProblem(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new HttpProblem(400, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

function objectBody(req: AdminRequest): Record<string, unknown> {
  return asObject(body(req));
}

function routeStatus(err: RouteError): number {
  switch (err.code) {
    case 'NOT_FOUND':
      return 404;
    case 'DUPLICATE':
    case 'TABLE_FULL':
      return 409;
    default:
      return 400;
  }
}
