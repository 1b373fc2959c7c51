import { describe, expect, it } from 'vitest';
import { ANY_METHOD, RoutePatternError, RouteTable } from '../src/index.js';
import { routeTable } from './route-fixtures.js';

/** A table whose handlers are their own names, so a lookup shows which route won. */
const table = routeTable;

describe('RouteTable.lookup', () => {
  it('finds the route for the method, with decoded parameters', () => {
    expect(table().lookup('GET', '/api')).toEqual({ kind: 'found', handler: 'api', params: {} });
    expect(table().lookup('POST', '/api/routes')).toEqual({ kind: 'found', handler: 'add', params: {} });
    expect(table().lookup('PUT', '/api/policy/in%20put')).toEqual({
      kind: 'found',
      handler: 'policy',
      params: { chain: 'in put' },
    });
  });

  it('HEAD falls back to the GET route', () => {
    expect(table().lookup('HEAD', '/api/routes')).toMatchObject({ kind: 'found', handler: 'list' });
  });

  it('other methods only: those methods in registration order, each once', () => {
    expect(table().lookup('PUT', '/api/routes')).toEqual({ kind: 'wrong-method', methods: ['GET', 'POST'] });
    expect(table().lookup('DELETE', '/api/policy/input')).toEqual({ kind: 'wrong-method', methods: ['GET', 'PUT'] });
    expect(table().lookup('GET', '/api/routes/10.0.0.0/8')).toEqual({ kind: 'wrong-method', methods: ['DELETE'] });
  });

  it('a wildcard takes one or more raw segments, never none', () => {
    expect(table().lookup('DELETE', '/api/routes/10.0.0.0/8')).toEqual({
      kind: 'found',
      handler: 'remove',
      params: { '*': '10.0.0.0/8' },
    });
    expect(table().lookup('DELETE', '/api/routes/a%2Fb')).toMatchObject({ params: { '*': 'a%2Fb' } });
    expect(table().lookup('GET', '/files/')).toEqual({ kind: 'found', handler: 'files', params: { '*': '' } });
    expect(table().lookup('GET', '/files')).toEqual({ kind: 'not-found' });
    expect(new RouteTable<string>().add('GET', '/*', 'root').lookup('GET', '/')).toEqual({
      kind: 'found',
      handler: 'root',
      params: { '*': '' },
    });
  });

  it('an ANY_METHOD route takes every method', () => {
    for (const method of ['GET', 'POST', 'OPTIONS', 'PROPFIND'])
      expect(table().lookup(method, '/files/a')).toMatchObject({ kind: 'found', handler: 'files' });
  });

  it('parameters never match an empty segment; unknown paths are not-found', () => {
    expect(table().lookup('GET', '/api/policy/')).toEqual({ kind: 'not-found' });
    expect(table().lookup('GET', '/nothing')).toEqual({ kind: 'not-found' });
    expect(table().lookup('GET', '/api/routes/extra/')).toEqual({ kind: 'wrong-method', methods: ['DELETE'] });
  });

  it('a broken percent-escape is bad-path unless a wildcard takes it raw', () => {
    expect(table().lookup('GET', '/api/%ff')).toEqual({ kind: 'bad-path' });
    expect(table().lookup('PUT', '/api/policy/%zz')).toEqual({ kind: 'bad-path' });
    expect(table().lookup('GET', '/files/%ff')).toEqual({ kind: 'found', handler: 'files', params: { '*': '%ff' } });
  });

  it('the first route registered for the method wins', () => {
    const t = new RouteTable<string>().add('GET', '/a/:x', 'param').add('GET', '/a/b', 'literal');
    expect(t.lookup('GET', '/a/b')).toMatchObject({ handler: 'param', params: { x: 'b' } });
  });

  it('answers a lookup the same whatever lookups came before it, with parameters of its own each time', () => {
    const lookups: Array<[string, string]> = [
      ['GET', '/api/policy/in'],
      ['GET', '/api/policy/in'],
      ['PUT', '/api/policy/in'],
      ['HEAD', '/api/routes'],
      ['HEAD', '/api/routes'],
      ['POST', '/api/routes'],
      ['POST', '/api/routes'],
      ['GET', '/api/routes'],
      ['DELETE', '/api/routes'],
      ['GET', '/files/a/b'],
      ['GET', '/files/a/c'],
      ['GET', '/files/a/c'],
      ['GET', '/files/a%2Fc'],
      ['GET', '/nothing'],
    ];
    const shared = table();
    let previous: unknown;
    for (const [method, path] of lookups) {
      const found = shared.lookup(method, path);
      expect(found, `${method} ${path}`).toEqual(table().lookup(method, path));
      if (found.kind === 'found') {
        expect(found.params).not.toBe(previous);
        previous = found.params;
      }
    }
    // A route added later never takes a path from an earlier one, but is found for its own method.
    shared.add('PATCH', '/files/*', 'patch');
    expect(shared.lookup('GET', '/files/a/c')).toMatchObject({ handler: 'files', params: { '*': 'a/c' } });
    expect(shared.lookup('PATCH', '/api/routes')).toEqual({ kind: 'wrong-method', methods: ['GET', 'POST'] });
  });

  it('methodsFor and allMethods list methods in registration order', () => {
    expect(table().methodsFor('/api/routes')).toEqual(['GET', 'POST']);
    expect(table().methodsFor('/files/x')).toEqual([ANY_METHOD]);
    expect(table().methodsFor('/nothing')).toEqual([]);
    expect(table().allMethods()).toEqual(['GET', 'POST', 'DELETE', 'PUT', ANY_METHOD]);
  });

  it('refuses malformed patterns', () => {
    expect(() => new RouteTable().add('GET', 'api', 1)).toThrow(RoutePatternError);
    expect(() => new RouteTable().add('GET', '/a/*/b', 1)).toThrow(/last segment/);
    expect(() => new RouteTable().add('GET', '/a/:', 1)).toThrow(/without a name/);
  });
});

describe('RouteTable paths with and without escapes', () => {
  it('a path without "%" (walked in place) routes as the same path with an escaped letter (split and decoded)', () => {
    const t = new RouteTable<string>()
      .add('GET', '/', 'root')
      .add('GET', '//*', 'double')
      .add('GET', '/a', 'a')
      .add('GET', '/a/:p', 'a-param')
      .add('GET', '/a/:p/b', 'a-param-b')
      .add('GET', '/b/*', 'b-rest')
      .add('PUT', '/a/:p/:q', 'a-two');
    const pieces = ['', 'a', 'b', 'ab'];
    const paths = new Set<string>();
    for (const x of pieces)
      for (const y of [undefined, ...pieces])
        for (const z of [undefined, ...pieces]) paths.add('/' + [x, y, z].filter((s) => s !== undefined).join('/'));
    let found = 0;
    for (const path of paths) {
      if (!path.includes('a')) continue;
      const escaped = path.replace(/a/g, '%61');
      for (const method of ['GET', 'HEAD', 'PUT']) {
        const plain = t.lookup(method, path);
        const split = t.lookup(method, escaped);
        if (plain.kind === 'found' && split.kind === 'found') {
          found++;
          const { ['*']: rest, ...params } = split.params;
          expect(plain.handler, `${method} ${path}`).toBe(split.handler);
          expect({ ...params, ...(rest === undefined ? {} : { '*': rest.replace(/%61/g, 'a') }) }).toEqual(
            plain.params,
          );
        } else {
          expect(plain, `${method} ${path}`).toEqual(split);
        }
      }
      expect(t.methodsFor(path), path).toEqual(t.methodsFor(escaped));
    }
    expect(found).toBeGreaterThan(10);
  });

  it('a repeated lookup gives the same route and parameters as a fresh table, as a new object each time', () => {
    const t = table().add('GET', '/u/:user/:item', 'item');
    const paths = [
      '/u/ann/7',
      '/u/ann/7',
      '/u/ann/7',
      '/files/a/b',
      '/files/a/b',
      '/files/a/b',
      '/api/policy/in',
      '/u/bo/x',
    ];
    const seen: object[] = [];
    for (const path of paths) {
      const got = t.lookup('GET', path);
      expect(got).toEqual(table().add('GET', '/u/:user/:item', 'item').lookup('GET', path));
      if (got.kind !== 'found') throw new Error(`no route for ${path}`);
      expect(seen).not.toContain(got.params);
      seen.push(got.params);
      // A handler may change its params: the next lookup of the same path is not affected.
      got.params['user'] = 'changed';
      got.params['*'] = 'changed';
    }
    expect(t.lookup('GET', '/u/ann/7')).toEqual({ kind: 'found', handler: 'item', params: { user: 'ann', item: '7' } });
    expect(Object.keys((t.lookup('GET', '/u/ann/7') as { params: object }).params)).toEqual(['user', 'item']);
  });
});
