/**
 * The web front: the `@postern/http` server listening on the gateway's own stack (through the
 * socket library's light connection face, `LightServer`: no Node stream per connection), serving
 * - `/api/...`: the {@link AdminApi} (JSON);
 * - `/admin/`: the admin UI (`ui/index.html`, `ui/app.js`, `ui/style.css`, read once at start);
 * - `/`: the `www` directory when configured (static files), else the admin UI's page.
 *
 * Paths are routed by `@postern/http`'s `Router` (segments percent-decoded); static files come from
 * its `serveStatic` (GET/HEAD only, paths confined to the directory, `index.html` for a directory,
 * streamed).
 *
 * Also: `OPTIONS *` is answered 204 with `Allow`; a path starting with `//` is redirected to its
 * single-slash form (so no redirect can read as another host); the admin pages and the API carry
 * `X-Frame-Options: DENY` and a Content-Security-Policy that allows only the gateway's own files; the
 * listener allows half-open connections, so a client that sends its FIN right after its request
 * still gets the answer.
 */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HTTP_SERVER_DEFAULTS,
  HttpServer,
  Router,
  schedulerClock,
  serveStatic,
  type HttpRequest,
  type HttpResponse,
  type HttpServerOptions,
} from '@postern/http';
import type { Scheduler } from '@postern/irq';
import type { Stack } from '@postern/netstack';
import { LightServer, type Sockets } from '@postern/socket';
import type { AdminApi } from './admin-api.js';
import type { GatewayConfig } from './config.js';
import { GatewayStartError } from './errors.js';

/** Largest admin API request body, bytes. */
export const MAX_API_BODY_BYTES = 64 * 1024;

/** Where the UI files live: `apps/gateway/ui/`. */
export const UI_DIRECTORY = fileURLToPath(new URL('../ui/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The HTTP counters the admin API shows. */
export interface HttpCounterSources {
  /** Responses by status code. */
  httpStatusCounts(): Readonly<Record<string, number>>;
  /** The server's other counters. */
  httpCounters(): Readonly<Record<string, number>>;
}

/** What {@link startWeb} needs. */
export interface WebOptions {
  /** The gateway's scheduler (the HTTP server's timeouts run on it). */
  readonly scheduler: Scheduler;
  /** The gateway's stack. */
  readonly stack: Stack;
  /** The socket table the listener is made on. */
  readonly sockets: Sockets;
  /** The configuration (`http.port`, `http.www`, `http.workers`). */
  readonly config: GatewayConfig;
  /** Builds the admin API once the HTTP counters exist. */
  readonly api: (http: HttpCounterSources) => AdminApi;
}

/** The running web front. */
export interface WebFront {
  /** The HTTP server (its `stats` hold the counters by status). */
  readonly server: HttpServer;
  /** The admin API it serves. */
  readonly api: AdminApi;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** The Content-Security-Policy of the admin pages and the API: only the gateway's own files, no framing. */
export const ADMIN_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Methods the gateway's server answers, sent in `Allow` for `OPTIONS *`. */
const SERVER_METHODS = 'GET, HEAD, POST, PUT, DELETE, OPTIONS';

/** The HTTP server's limits from the gateway configuration (unset ones keep the server's defaults). */
export function httpServerLimits(http: GatewayConfig['http']): HttpServerOptions {
  const h = http as GatewayConfig['http'] &
    Partial<Record<(typeof LIMIT_KEYS)[number], number>> & { readonly queue?: number };
  const out: Record<string, unknown> = {};
  for (const key of LIMIT_KEYS) if (h[key] !== undefined) out[key] = h[key];
  out['pool'] = { workers: h.workers, ...(h.queue === undefined ? {} : { queue: h.queue }) };
  return out as HttpServerOptions;
}

/**
 * The TCP connection table (and socket descriptor table) the gateway's stack needs for its HTTP server: the server's connection cap
 * plus room for connections being closed (TIME-WAIT, the lingering ones), never below the TCP
 * module's own default of 4096.
 */
export function tcpConnectionLimit(http: GatewayConfig['http']): number {
  const max = httpServerLimits(http).maxConnections ?? HTTP_SERVER_DEFAULTS.maxConnections;
  return Math.max(4096, max + Math.ceil(max / 2));
}

/** `http` config fields that map one-to-one onto {@link HttpServerOptions}. */
const LIMIT_KEYS = [
  'headerTimeoutMs',
  'headerMaxTimeoutMs',
  'headerMinRate',
  'bodyTimeoutMs',
  'bodyMinRate',
  'idleTimeoutMs',
  'maxConnections',
  'maxConnectionsPerClient',
] as const;

function adminHeaders(res: HttpResponse): void {
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', ADMIN_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
}

interface UiFile {
  readonly body: Buffer;
  readonly type: string;
}

function loadUi(): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  for (const name of ['index.html', 'app.js', 'style.css']) {
    files.set(name, { body: readFileSync(join(UI_DIRECTORY, name)), type: CONTENT_TYPES[extname(name)]! });
  }
  return files;
}

/**
 * Starts the HTTP server on the stack at `config.http.port` (every address).
 * @throws {@link GatewayStartError} `ADDRESS_IN_USE` when the port is taken on the stack, `FILE`
 *   when the UI files or the www directory are missing.
 */
export async function startWeb(options: WebOptions): Promise<WebFront> {
  const { config, sockets, scheduler } = options;
  let ui: Map<string, UiFile>;
  try {
    ui = loadUi();
  } catch (err) {
    throw new GatewayStartError('FILE', `admin UI files missing in ${UI_DIRECTORY}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const www = config.http.www === undefined ? undefined : resolve(config.http.www);
  if (www !== undefined) {
    const st = await stat(www).catch(() => undefined);
    if (st === undefined || !st.isDirectory())
      throw new GatewayStartError('FILE', `--www ${config.http.www}: no such directory`);
  }

  // One clock for the server and the file cache; on the real clock it reads the host clock at most once per turn.
  const clock = schedulerClock(scheduler, () => scheduler.wallTime());
  // Files revalidated at most once a second.
  const wwwHandler = www === undefined ? undefined : serveStatic(www, { cache: { now: () => clock.now() } });
  let server: HttpServer | undefined = undefined;
  const counters: HttpCounterSources = {
    httpStatusCounts: () => {
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(server?.stats.responses ?? {})) out[k] = v as number;
      return out;
    },
    httpCounters: () => {
      const s = server?.stats;
      if (s === undefined) return {};
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = v;
      return out;
    },
  };
  const api = options.api(counters);

  const apiHandler = async (req: HttpRequest, res: HttpResponse): Promise<void> => {
    adminHeaders(res);
    let body = '';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await req.body.text(MAX_API_BODY_BYTES);
      } catch {
        res.json({ error: `the body is larger than ${MAX_API_BODY_BYTES} bytes` }, 413);
        return;
      }
    }
    const out = api.handle({
      method: req.method,
      path: req.path,
      authorization: req.headers.get('authorization'),
      body,
      contentType: req.headers.get('content-type'),
      origin: req.headers.get('origin'),
      secFetchSite: req.headers.get('sec-fetch-site'),
      host: req.headers.get('host'),
    });
    res.status(out.status);
    for (const [k, v] of Object.entries(out.headers)) res.setHeader(k, v);
    res.end(out.body);
  };
  const uiHandler = (req: HttpRequest, res: HttpResponse): void => {
    adminHeaders(res);
    sendUi(req, res, ui, req.params['*'] || 'index.html');
  };
  // Every method reaches these routes: the API and the UI answer 405 themselves, with their own bodies.
  const router = new Router()
    .all('//*', (req, res) => {
      // `//NAME` would read as another host in a Location: redirect to the single-slash form.
      const q = req.query === '' ? '' : `?${req.query}`;
      res.redirect(`/${req.path.replace(/^\/+/, '')}${q}`, 301);
    })
    .all('/api', apiHandler)
    .all('/api/*', apiHandler)
    .all('/admin', (_req, res) => res.redirect('/admin/', 301))
    .all('/admin/*', uiHandler)
    .all('/*', wwwHandler ?? uiHandler);

  const handler = (req: HttpRequest, res: HttpResponse): void | Promise<void> => {
    const trace = scheduler.trace;
    if (trace.on) {
      // The admin UI's path trace: the request reached the HTTP layer; its answer left it.
      trace.mark('http', `request ${req.method} ${req.path}`);
      void res.whenSettled().then(() => trace.on && trace.mark('http', 'response complete'));
    }
    if (req.head.targetForm === 'asterisk') {
      res
        .status(req.method === 'OPTIONS' ? 204 : 400)
        .setHeader('Allow', SERVER_METHODS)
        .end();
      return;
    }
    return router.handle(req, res);
  };

  const http = new HttpServer(handler, { ...httpServerLimits(config.http), clock });
  server = http;
  // The light connection face: each connection is a small event object, not a Node Duplex.
  // Half-open: a client's FIN right after its request must not end our side before the answer.
  // No delay on the listener: accepted connections inherit it (the HTTP server turns it on anyway; set
  // on each accepted socket it cost a setsockopt and a copy of the listener's options per connection).
  const listener = new LightServer({ sockets, allowHalfOpen: true, noDelay: true });
  try {
    listener.listen(config.http.port);
  } catch (err) {
    const e = err as Error & { code?: string };
    throw e.code === 'EADDRINUSE'
      ? new GatewayStartError(
          'ADDRESS_IN_USE',
          `http: port ${config.http.port} is already in use on the gateway's stack`,
          {
            cause: err,
          },
        )
      : new GatewayStartError('INTERNAL', `http: cannot listen on port ${config.http.port}: ${e.message}`, {
          cause: err,
        });
  }
  http.attach(listener);
  let closing: Promise<void> | undefined;
  return {
    server: http,
    api,
    close: () =>
      (closing ??= (async () => {
        // Stop accepting first; the listener's 'close' waits for its connections, which the HTTP
        // server's close ends (idle keep-alive connections are closed at once).
        const listenerClosed = new Promise<void>((r) => listener.close(() => r()));
        await http.close();
        await listenerClosed;
      })()),
  };
}

function sendUi(req: HttpRequest, res: HttpResponse, ui: Map<string, UiFile>, name: string): void {
  const file = ui.get(name);
  if (file === undefined) {
    res.status(404).send('not found\n', 'text/plain; charset=utf-8');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.status(405).setHeader('allow', 'GET, HEAD').send('method not allowed\n', 'text/plain; charset=utf-8');
    return;
  }
  res.setHeader('cache-control', 'no-cache');
  res.send(file.body, file.type);
}
