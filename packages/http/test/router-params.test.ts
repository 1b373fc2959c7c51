import { describe, expect, it } from 'vitest';
import { HttpRequest, Router, type HttpResponse, type RouteTable } from '../src/index.js';
import { routeTable } from './route-fixtures.js';
import { parseText } from './parser-helpers.js';

/** A request as the server makes it, for `method` on `target`. */
function request(method: string, target: string): HttpRequest {
  const parsed = parseText(`${method} ${target} HTTP/1.1\r\nHost: t\r\n\r\n`);
  if (parsed.error !== null) throw parsed.error;
  return new HttpRequest(parsed.messages[0]!.head, undefined, '198.18.0.1');
}

/** The shared route table, plus a repeated parameter name and one that exists on Object.prototype. */
function table(): RouteTable<string> {
  return routeTable().add('GET', '/u/:user/:user/:item', 'twice').add('GET', '/c/:constructor/*', 'proto');
}

const PATHS = [
  '/api',
  '/api/',
  '/api/routes',
  '/api/routes/10.0.0.0/8',
  '/api/routes/',
  '/api/policy/in',
  '/api/policy/in%20put',
  '/api/policy/%zz',
  '/api/policy/',
  '/u/ann/bo/7',
  '/u/a%2Fb/bo/7',
  '/c/x/y/z',
  '/c/%41/y%ff',
  '/files/',
  '/files/a/b',
  '/files/%ff',
  '/nope',
  '/',
  '',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'];
const NAMES = ['chain', 'user', 'item', '*', 'constructor', 'toString', 'hasOwnProperty', 'missing'];

describe('RouteTable.find', () => {
  it('finds what lookup finds, with the same parameters, whole or one by one; unrouted says why not', () => {
    const t = table();
    let found = 0;
    // Twice over, so the second pass runs through the remembered route.
    for (const pass of [1, 2]) {
      for (const path of PATHS) {
        for (const method of METHODS) {
          const want = table().lookup(method, path);
          const got = t.find(method, path);
          const at = `${method} ${path} (pass ${pass})`;
          if (want.kind !== 'found') {
            expect(got, at).toBeUndefined();
            expect(t.unrouted(method, path), at).toEqual(want);
            continue;
          }
          found++;
          expect(got?.handler, at).toBe(want.handler);
          expect(got!.paramsFor(path), at).toEqual(want.params);
          for (const name of NAMES)
            expect(got!.paramFor(path, name), `${at} ${name}`).toBe(
              Object.hasOwn(want.params, name) ? want.params[name] : undefined,
            );
          expect(t.lookup(method, path), at).toEqual(want);
        }
      }
    }
    expect(found).toBeGreaterThan(40);
  });

  it("gives the table's own route, the same object for every path of it, and fresh parameters each call", () => {
    const t = table();
    const a = t.find('GET', '/files/a');
    expect(t.find('GET', '/files/a')).toBe(a);
    expect(t.find('PUT', '/files/b/c')).toBe(a);
    const first = a!.paramsFor('/files/a');
    first['*'] = 'changed';
    expect(a!.paramsFor('/files/a')).toEqual({ '*': 'a' });
    expect(a!.paramsFor('/files/a')).not.toBe(a!.paramsFor('/files/a'));
  });
  it('paramFor answers a repeated question as before, and a new path or name afresh', () => {
    const route = table().find('GET', '/c/x/y')!;
    const asked: Array<[string, string]> = [
      ['/c/x/y', '*'],
      ['/c/x/y', '*'],
      ['/c/x/y', 'constructor'],
      ['/c/x/y', 'constructor'],
      ['/c/z/y/w', 'constructor'],
      ['/c/z/y/w', '*'],
      ['/c/%41/y', 'constructor'],
      ['/c/%41/y', 'constructor'],
      ['/c/%41/y', '*'],
      ['/c/x/y', '*'],
      ['/c/x/y', 'missing'],
    ];
    expect(asked.map(([path, name]) => route.paramFor(path, name))).toEqual(
      asked.map(([path, name]) => {
        const params = route.paramsFor(path);
        return Object.hasOwn(params, name) ? params[name] : undefined;
      }),
    );
    expect(asked.map(([path, name]) => route.paramFor(path, name))).toEqual([
      'y',
      'y',
      'x',
      'x',
      'z',
      'y/w',
      'A',
      'A',
      'y',
      'y',
      undefined,
    ]);
  });
});

describe('Router: request parameters', () => {
  /** A router whose handlers record what they saw of `req.params` and `req.param` and then scribble on the params. */
  function recorder(): { router: Router; seen: unknown[] } {
    const seen: unknown[] = [];
    const record = (req: HttpRequest): void => {
      seen.push({ param: NAMES.map((n) => req.param(n)), params: { ...req.params } });
      req.params['user'] = 'leaked';
      req.params['extra'] = 'leaked';
    };
    const router = new Router()
      .get('/u/:user/*', (req) => record(req))
      .get('/plain', (req) => record(req))
      .all('/*', (req) => record(req));
    return { router, seen };
  }

  const res = {} as HttpResponse;

  it('never leak from one request into the next, on the same path or another', async () => {
    const { router, seen } = recorder();
    const targets = ['/u/ann/x/y', '/u/ann/x/y', '/plain', '/plain', '/u/bo/z', '/u/ann/x/y', '/other', '/other?q'];
    for (const target of targets) await router.handle(request('GET', target), res);
    const own = (params: Record<string, string>) => ({
      param: NAMES.map((n) => (Object.hasOwn(params, n) ? params[n] : undefined)),
      params,
    });
    expect(seen).toEqual([
      own({ user: 'ann', '*': 'x/y' }),
      own({ user: 'ann', '*': 'x/y' }),
      own({}),
      own({}),
      own({ user: 'bo', '*': 'z' }),
      own({ user: 'ann', '*': 'x/y' }),
      own({ '*': 'other' }),
      own({ '*': 'other' }),
    ]);
  });

  it('are the params object once read or set: param reads what a handler changed, HEAD takes the GET route', async () => {
    const router = new Router().get('/u/:user', (req) => {
      expect(req.param('user')).toBe('ann b');
      expect(req.params).toBe(req.params);
      req.params['user'] = 'changed';
      expect(req.param('user')).toBe('changed');
      req.params = { other: 'set' };
      expect([req.param('user'), req.param('other')]).toEqual([undefined, 'set']);
    });
    for (const method of ['GET', 'HEAD']) {
      const req = request(method, '/u/ann%20b');
      req.params = { before: 'routing' };
      await router.handle(req, res);
      expect(req.params).toEqual({ other: 'set' });
    }
  });

  it('without a router: empty, and param finds nothing', () => {
    const req = request('GET', '/u/ann');
    expect(req.param('user')).toBeUndefined();
    expect(req.params).toEqual({});
  });
});
