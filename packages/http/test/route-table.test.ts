import { describe, expect, it } from 'vitest';
import { ANY_METHOD, RoutePatternError, RouteTable } from '../src/index.js';

/** A table whose handlers are their own names, so a lookup shows which route won. */
function table(): RouteTable<string> {
  return new RouteTable<string>()
    .add('GET', '/api', 'api')
    .add('GET', '/api/routes', 'list')
    .add('POST', '/api/routes', 'add')
    .add('DELETE', '/api/routes/*', 'remove')
    .add(['GET', 'PUT'], '/api/policy/:chain', 'policy')
    .add(ANY_METHOD, '/files/*', 'files');
}

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
