/**
 * Test fixture: the route table the route tests share.
 */
import { ANY_METHOD, RouteTable } from '../src/index.js';

/** A table whose handlers are their own names, so a lookup shows which route won. */
export function routeTable(): RouteTable<string> {
  return new RouteTable<string>()
    .add('GET', '/api', 'api')
    .add('GET', '/api/routes', 'list')
    .add('POST', '/api/routes', 'add')
    .add('DELETE', '/api/routes/*', 'remove')
    .add(['GET', 'PUT'], '/api/policy/:chain', 'policy')
    .add(ANY_METHOD, '/files/*', 'files');
}
