import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  ConfigError,
  DEFAULT_ADMIN_USER,
  DEFAULT_HTTP_PORT,
  DEFAULT_HTTP_WORKERS,
  DEFAULT_SIM_IP,
  parseConfigText,
  requireRunnable,
  validateConfig,
  validateFilterRule,
} from '../src/config.js';
import { hostForwardProblem, interfaceAddressProblem, networkProblem } from '../src/config-checks.js';
import { CONFIG_SCHEMA, jsonPath } from '../src/config-schema.js';
import { parseNicSpec, formatNicSpec } from '../src/nic-spec.js';
import { parseIpv4Prefix, parsePortRange, parseRouteDestination } from '../src/addresses.js';

/** The message validateConfig throws for `doc`, or 'ok'. */
function problem(doc: unknown): string {
  try {
    validateConfig(doc);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
}

const sim = { interfaces: [{ nic: 'sim' }] };

/** The JSON example of the README's "Configuration file" section. */
function readmeExample(): unknown {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration file'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  expect(block).not.toBeNull();
  return JSON.parse(block![1]!);
}

describe('the JSON Schema', () => {
  it('is draft 2020-12 and compiles in strict mode', () => {
    expect(CONFIG_SCHEMA['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    const ajv = new Ajv2020({ strict: true, strictRequired: false });
    expect(() => ajv.compile(CONFIG_SCHEMA)).not.toThrow();
  });

  it("the README's example config validates against it, and the gateway accepts it", () => {
    const example = readmeExample();
    const validate = new Ajv2020({ strict: true, strictRequired: false }).compile(CONFIG_SCHEMA);
    expect(validate.errors ?? validate(example)).toBe(true);
    expect(validateConfig(example).interfaces[0]!.nic).toBe('sim');
  });

  it('every property has a title and a description, for editors', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const props = (node as Record<string, unknown>)['properties'];
      if (typeof props === 'object' && props !== null) {
        for (const [name, sub] of Object.entries(props)) {
          const s = sub as Record<string, unknown>;
          if (typeof s['title'] !== 'string' || typeof s['description'] !== 'string') missing.push(`${path}/${name}`);
        }
      }
      // An if/then/else condition is not a property editors show.
      for (const [k, v] of Object.entries(node)) if (k !== 'if') walk(v, `${path}/${k}`);
    };
    walk(CONFIG_SCHEMA, '#');
    expect(missing).toEqual([]);
  });

  it('its defaults are the gateway defaults', () => {
    const http = (CONFIG_SCHEMA['properties'] as Record<string, { properties: Record<string, { default?: unknown }> }>)[
      'http'
    ]!.properties;
    const admin = (
      CONFIG_SCHEMA['properties'] as Record<string, { properties: Record<string, { default?: unknown }> }>
    )['admin']!.properties;
    expect([http['port']!.default, http['workers']!.default, admin['user']!.default]).toEqual([
      DEFAULT_HTTP_PORT,
      DEFAULT_HTTP_WORKERS,
      DEFAULT_ADMIN_USER,
    ]);
  });

  it('a config file may name the schema with "$schema"', () => {
    expect(problem({ $schema: './node_modules/@postern/gateway/config.schema.json', ...sim })).toBe('ok');
  });

  it('JSON Pointer to path text', () => {
    expect(jsonPath('/interfaces/1/ip')).toBe('interfaces[1].ip');
    expect(jsonPath('/action', 'body')).toBe('body.action');
    expect(jsonPath('')).toBe('');
  });
});

describe('validateConfig', () => {
  it('fills defaults for a minimal file', () => {
    const c = validateConfig(sim);
    expect(c.interfaces).toEqual([{ name: 'eth0', nic: 'sim', ip: DEFAULT_SIM_IP, mtu: undefined }]);
    expect(c.http).toMatchObject({
      port: 80,
      www: undefined,
      workers: 64,
      queue: 1024,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 5000,
      maxConnections: 10_000,
    });
    expect(c.admin).toEqual({ user: 'admin', password: undefined });
    expect(c.firewall).toBe(false);
    expect(c.forwarding).toBe(false);
    expect(c.routes).toEqual([]);
    expect(c.filter.policy).toEqual({ input: 'accept', forward: 'accept', output: 'accept' });
    expect(Object.isFrozen(c.interfaces[0])).toBe(true);
  });

  it('does not modify its input', () => {
    const doc = { interfaces: [{ nic: 'sim' }] };
    validateConfig(doc);
    expect(doc).toEqual({ interfaces: [{ nic: 'sim' }] });
  });

  it('accepts a full file', () => {
    const c = validateConfig({
      interfaces: [
        { name: 'lan', nic: 'serial:/dev/ttyACM0?baud=115200', ip: '10.0.0.1/24', mtu: 1400 },
        { nic: 'sim', ip: '10.1.0.1/16' },
      ],
      routes: [
        { to: 'default', via: '10.0.0.254' },
        { to: '172.16.0.0/12', via: '10.1.0.9', metric: 5 },
      ],
      forwarding: true,
      filter: {
        policy: { forward: 'drop' },
        rules: [
          {
            chain: 'input',
            protocol: 'tcp',
            dstPort: '20-23',
            action: 'reject',
            rejectWith: 'tcp-reset',
            comment: 'x',
          },
        ],
      },
      http: { port: 8080, www: '/srv', workers: 1 },
      admin: { user: 'root', password: 'pw' },
      pcap: 'a.pcap',
      sim: { hostForward: ['tcp:127.0.0.1:0-10.0.0.1:80'] },
    });
    expect(c.interfaces[1]!.name).toBe('eth1');
    expect(c.routes[1]).toEqual({ to: '172.16.0.0/12', via: '10.1.0.9', metric: 5 });
    expect(c.firewall).toBe(true); // rules given, firewall not said
    expect(c.filter.policy).toEqual({ input: 'accept', forward: 'drop', output: 'accept' });
    expect(c.filter.rules[0]).toEqual({
      chain: 'input',
      action: 'reject',
      protocol: 'tcp',
      src: undefined,
      dst: undefined,
      srcPort: undefined,
      dstPort: '20-23',
      rejectWith: 'tcp-reset',
      comment: 'x',
    });
    expect(c.http.workers).toBe(1);
    expect(c.sim.hostForward).toEqual(['tcp:127.0.0.1:0-10.0.0.1:80']);
  });

  it('passes the HTTP server limits in "http" through (the schema declares each; test/http-limits.test.ts maps them)', () => {
    const c = validateConfig({ ...sim, http: { port: 81, headerTimeoutMs: 5000 } });
    expect(c.http).toMatchObject({ port: 81, www: undefined, workers: 64, headerTimeoutMs: 5000 });
  });

  it.each([
    // Structure (the schema).
    [
      { interfaces: [{ nic: 'sim', ip: '10.0.0.300/24' }] },
      'config: interfaces[0].ip "10.0.0.300/24": is not an IPv4 prefix ADDR/LEN with LEN 1..30 or 32',
    ],
    [
      { interfaces: [{ nic: 'sim', ip: '10.0.0.1' }] },
      'config: interfaces[0].ip "10.0.0.1": is not an IPv4 prefix ADDR/LEN with LEN 1..30 or 32',
    ],
    [
      { interfaces: [{ nic: 'usb' }] },
      'config: interfaces[0].nic "usb": is not a NIC spec (sim, serial:PATH[?baud=N], socket://HOST:PORT or tap:NAME)',
    ],
    [{ interfaces: [{ ip: '10.0.0.1/24' }] }, 'config: interfaces[0].nic: is missing'],
    [{ interfaces: [{ nic: 'tap:x' }] }, 'config: interfaces[0].ip: is missing'],
    [{ interfaces: [{ nic: 'sim', mtu: 100 }] }, 'config: interfaces[0].mtu 100: must be an integer in 576..9000'],
    [{ interfaces: [{ nic: 'sim', speed: 100 }] }, 'config: interfaces[0].speed: is not a known field'],
    [
      { interfaces: [{ nic: 'sim', name: 'a b' }] },
      'config: interfaces[0].name "a b": is not a name of 1..15 characters A-Z a-z 0-9 _ . -',
    ],
    [{ ...sim, extra: 1 }, 'config: extra: is not a known field'],
    [{ interfaces: 'sim' }, 'config: interfaces "sim": must be an array'],
    [[1], 'config: must be an object'],
    [{ ...sim, routes: [{ to: 'default', via: 'gw' }] }, 'config: routes[0].via "gw": is not an IPv4 address'],
    [{ ...sim, routes: [{ to: 'default' }] }, 'config: routes[0].via: is missing'],
    [{ ...sim, http: { port: 0 } }, 'config: http.port 0: must be an integer in 1..65535'],
    [{ ...sim, http: { port: '80' } }, 'config: http.port "80": must be an integer'],
    [{ ...sim, http: { workers: 0 } }, 'config: http.workers 0: must be an integer in 1..4096'],
    [{ ...sim, http: { www: '' } }, 'config: http.www "": must not be empty'],
    [{ ...sim, forwarding: 'yes' }, 'config: forwarding "yes": must be a boolean'],
    [{ ...sim, admin: { password: '' } }, 'config: admin.password "": must not be empty'],
    [{ ...sim, admin: { user: 'a:b', password: 'x' } }, 'config: admin.user "a:b": is not a user name without a colon'],
    [
      { ...sim, filter: { policy: { input: 'reject' } } },
      'config: filter.policy.input "reject": must be "accept" or "drop"',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'prerouting', action: 'drop' }] } },
      'config: filter.rules[0].chain "prerouting": must be "input", "forward" or "output"',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'drop', protocol: 'sctp' }] } },
      'config: filter.rules[0].protocol "sctp": is not a protocol tcp, udp, icmp or 0..255',
    ],
    [
      { ...sim, sim: { hostForward: ['udp:1:2-3:4'] } },
      'config: sim.hostForward[0] "udp:1:2-3:4": is not a host forward tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT',
    ],
    // What a schema cannot say.
    [
      { interfaces: [{ nic: 'sim', ip: '10.0.0.0/24' }] },
      'config: interfaces[0].ip "10.0.0.0/24": is the network address of its prefix',
    ],
    [
      { interfaces: [{ nic: 'sim', ip: '10.0.0.255/24' }] },
      'config: interfaces[0].ip "10.0.0.255/24": is the broadcast address of its prefix',
    ],
    [
      { interfaces: [{ nic: 'sim', ip: '10.0.0.1/32' }] },
      'config: interfaces[0].ip "10.0.0.1/32": leaves no address for the simulated host (the simulator needs a prefix length of at most 30)',
    ],
    [
      { interfaces: [{ nic: 'socket://h:70000', ip: '10.0.0.1/24' }] },
      'config: interfaces[0].nic "socket://h:70000": is not socket://HOST:PORT with PORT in 1..65535',
    ],
    [
      {
        interfaces: [
          { nic: 'sim', name: 'a' },
          { nic: 'tap:x', name: 'a', ip: '10.9.0.1/24' },
        ],
      },
      'config: interfaces[1].name "a": is used by interfaces[0] too',
    ],
    [
      {
        interfaces: [
          { nic: 'tap:x', name: 'eth1', ip: '10.8.0.1/24' },
          { nic: 'tap:y', ip: '10.9.0.1/24' },
        ],
      },
      'config: interfaces[1].name "eth1": is used by interfaces[0] too',
    ],
    [
      { interfaces: [{ nic: 'sim' }, { nic: 'sim', ip: '10.9.0.1/24' }] },
      'config: interfaces[1].nic "sim": only one interface may use the simulator (interfaces[0] does)',
    ],
    [
      {
        interfaces: [
          { nic: 'tap:a', ip: '10.0.0.1/16' },
          { nic: 'tap:b', ip: '10.0.5.1/24' },
        ],
      },
      'config: interfaces[1].ip "10.0.5.1/24": overlaps the network of interfaces[0].ip (10.0.0.1/16)',
    ],
    [
      { ...sim, routes: [{ to: '10.1.0.1/16', via: '198.18.0.100' }] },
      'config: routes[0].to "10.1.0.1/16": has host bits set (the network is 10.1.0.0/16)',
    ],
    [
      { ...sim, routes: [{ to: 'default', via: '10.0.0.1' }] },
      'config: routes[0].via "10.0.0.1": is on no interface\'s network',
    ],
    [
      {
        ...sim,
        routes: [
          { to: 'default', via: '198.18.0.100' },
          { to: '0.0.0.0/0', via: '198.18.0.101' },
        ],
      },
      'config: routes[1].to "0.0.0.0/0": routes[0] has the same destination and metric',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'drop', dstPort: 80 }] } },
      'config: filter.rules[0].dstPort: needs protocol tcp or udp',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'drop', protocol: 'tcp', dstPort: '90-80' }] } },
      'config: filter.rules[0].dstPort "90-80": is not a port or a range N-M with N <= M in 0..65535',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'drop', rejectWith: 'icmp' }] } },
      'config: filter.rules[0].rejectWith: is only for action reject',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'reject', protocol: 'udp', rejectWith: 'tcp-reset' }] } },
      'config: filter.rules[0].rejectWith: tcp-reset needs protocol tcp',
    ],
    [
      { ...sim, filter: { rules: [{ chain: 'input', action: 'drop', src: '10.0.0.1/8' }] } },
      'config: filter.rules[0].src "10.0.0.1/8": has host bits set (the network is 10.0.0.0/8)',
    ],
    [
      { ...sim, sim: { hostForward: ['tcp:0.0.0.0:8080-:80'] } },
      'config: sim.hostForward[0] "tcp:0.0.0.0:8080-:80": the host address must be in 127.0.0.0/8',
    ],
    [
      { interfaces: [{ nic: 'tap:x', ip: '10.0.0.1/24' }], sim: { hostForward: ['tcp::0-:80'] } },
      'config: sim.hostForward[0] "tcp::0-:80": needs an interface with nic "sim"',
    ],
  ])('refuses %j with one line naming the path', (doc, message) => {
    expect(problem(doc)).toBe(message);
  });

  it('names the path of the error', () => {
    try {
      validateConfig({ interfaces: [{ nic: 'sim' }, { nic: 'tap:x', ip: '1.2.3/8' }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ path: 'interfaces[1].ip', value: '1.2.3/8', source: undefined });
    }
  });

  it('an empty interface list is valid JSON but not runnable', () => {
    expect(() => requireRunnable(validateConfig({}))).toThrow(
      'config: interfaces: is empty: configure at least one interface (or pass --nic)',
    );
  });

  it('reports JSON syntax errors as a config error; accepts a UTF-8 byte-order mark', () => {
    expect(() => parseConfigText('{"interfaces": [')).toThrow(/^config: is not valid JSON: /);
    expect(parseConfigText(`\uFEFF${JSON.stringify(sim)}`).interfaces[0]!.nic).toBe('sim');
  });

  it('explicit firewall false wins over configured rules', () => {
    expect(
      validateConfig({ ...sim, firewall: false, filter: { rules: [{ chain: 'input', action: 'drop' }] } }).firewall,
    ).toBe(false);
  });

  it('validateFilterRule (the admin API body) reports under the path it is given', () => {
    expect(() => validateFilterRule({ chain: 'input' }, 'body')).toThrow('config: body.action: is missing');
    expect(() =>
      validateFilterRule({ chain: 'input', action: 'drop', protocol: 'udp', dstPort: '9-1' }, 'body'),
    ).toThrow('config: body.dstPort "9-1": is not a port');
    expect(validateFilterRule({ chain: 'output', action: 'accept', protocol: 17, srcPort: 53 }, 'body')).toMatchObject({
      protocol: 17,
      srcPort: 53,
      rejectWith: undefined,
    });
  });
});

describe('NIC specs', () => {
  it.each([
    'sim',
    'serial:/dev/ttyACM0',
    'serial:/dev/pts/3?baud=115200',
    'socket://127.0.0.1:5555',
    'socket://[::1]:5555',
    'tap:pst0',
  ])('round-trips %s', (text) => {
    const spec = parseNicSpec(text);
    expect(typeof spec).toBe('object');
    expect(formatNicSpec(spec as Exclude<typeof spec, string>)).toBe(text);
    expect(problem({ interfaces: [{ nic: text, ip: '10.0.0.1/24' }] })).toBe('ok');
  });

  it.each([
    '',
    'simulator',
    'serial:',
    'serial:/dev/x?speed=9',
    'socket://host',
    'socket://h:0',
    'socket://h:70000',
    'tap:',
    'tap:waytoolongname0123',
  ])('refuses %j', (text) => {
    expect(typeof parseNicSpec(text)).toBe('string');
    expect(problem({ interfaces: [{ nic: text, ip: '10.0.0.1/24' }] })).toMatch(/^config: interfaces\[0\]\.nic /);
  });

  it('parses the parts', () => {
    expect(parseNicSpec('serial:/dev/ttyUSB0?baud=921600')).toEqual({
      kind: 'serial',
      path: '/dev/ttyUSB0',
      baudRate: 921600,
    });
    expect(parseNicSpec('socket://localhost:7000')).toEqual({ kind: 'socket', host: 'localhost', port: 7000 });
  });
});

describe('address text', () => {
  it('prefixes, destinations, ports, host forwards', () => {
    expect(parseIpv4Prefix('192.168.1.1/24')).toEqual({ address: 0xc0a80101, length: 24 });
    expect(parseIpv4Prefix('192.168.1.1/33')).toBeUndefined();
    expect(parseIpv4Prefix('192.168.01.1/24')).toBeUndefined();
    expect(parseRouteDestination('default')).toEqual({ address: 0, length: 0 });
    expect(parseRouteDestination('10.0.0.7')).toEqual({ address: 0x0a000007, length: 32 });
    expect(parseRouteDestination('10.0.0.7/24')).toBeUndefined();
    expect(parsePortRange('1-65535')).toEqual({ from: 1, to: 65535 });
    expect(parsePortRange(65536)).toBeUndefined();
    expect(interfaceAddressProblem('10.0.0.1/31')).toBe('has prefix length 31, expected 1..30 or 32');
    expect(interfaceAddressProblem('10.0.0.1/32')).toBeUndefined();
    expect(networkProblem('10.0.0.7')).toBeUndefined();
    expect(hostForwardProblem('tcp:127.0.0.1:8080-198.18.0.1:80')).toBeUndefined();
    expect(hostForwardProblem('tcp::8080-:80')).toBeUndefined();
    expect(hostForwardProblem('tcp:127.0.0.1:8080-198.18.0.1:0')).toBe('the guest port 0 is not in 1..65535');
    expect(hostForwardProblem('tcp:10.0.0.1:8080-198.18.0.1:80')).toBe('the host address must be in 127.0.0.0/8');
  });
});
