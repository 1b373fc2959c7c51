/**
 * The `http` object of the configuration reaches the HTTP server: every limit the schema declares
 * maps onto the server option of the same name, the schema's defaults are the server's own, an
 * unknown `http` field is refused with its path, and the TCP table is sized for the connection cap.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_SERVER_DEFAULTS } from '@postern/http';
import { ConfigError, validateConfig } from '../src/config.js';
import { httpServerLimits, tcpConnectionLimit } from '../src/web.js';

const schema = JSON.parse(readFileSync(new URL('../config.schema.json', import.meta.url), 'utf8')) as {
  properties: { http: { properties: Record<string, { default?: unknown }> } };
};
const IFACE = { interfaces: [{ nic: 'sim', ip: '198.18.0.1/24' }] };
const LIMITS = [
  'headerTimeoutMs',
  'headerMaxTimeoutMs',
  'headerMinRate',
  'bodyTimeoutMs',
  'bodyMinRate',
  'idleTimeoutMs',
  'maxConnections',
  'maxConnectionsPerClient',
] as const;

describe('http limits in the gateway configuration', () => {
  it("the schema declares each server limit with the server's own default", () => {
    const props = schema.properties.http.properties;
    for (const key of LIMITS) expect([key, props[key]?.default]).toEqual([key, HTTP_SERVER_DEFAULTS[key]]);
    expect(props['queue']?.default).toBe(HTTP_SERVER_DEFAULTS.poolQueue);
  });

  it('maps every limit from the file onto the server options (defaults when absent)', () => {
    const given = {
      headerTimeoutMs: 1000,
      headerMaxTimeoutMs: 3000,
      headerMinRate: 100,
      bodyTimeoutMs: 2000,
      bodyMinRate: 50,
      idleTimeoutMs: 700,
      maxConnections: 300,
      maxConnectionsPerClient: 30,
    };
    const options = httpServerLimits(validateConfig({ ...IFACE, http: { ...given, workers: 8, queue: 16 } }).http);
    expect(options).toMatchObject({ ...given, pool: { workers: 8, queue: 16 } });
    const defaults = httpServerLimits(validateConfig(IFACE).http);
    for (const key of LIMITS) expect([key, defaults[key]]).toEqual([key, HTTP_SERVER_DEFAULTS[key]]);
  });

  it('refuses an unknown or out-of-range http field, naming it', () => {
    expect(() => validateConfig({ ...IFACE, http: { idleTimeoutMS: 5 } })).toThrow(ConfigError);
    expect(() => validateConfig({ ...IFACE, http: { idleTimeoutMS: 5 } })).toThrow(/idleTimeoutMS/);
    expect(() => validateConfig({ ...IFACE, http: { maxConnections: 0 } })).toThrow(/maxConnections/);
  });

  it('sizes the TCP table above the connection cap', () => {
    expect(tcpConnectionLimit(validateConfig({ ...IFACE, http: { maxConnections: 12_000 } }).http)).toBeGreaterThan(
      12_000,
    );
    expect(tcpConnectionLimit(validateConfig({ ...IFACE, http: { maxConnections: 100 } }).http)).toBe(4096);
  });
});
