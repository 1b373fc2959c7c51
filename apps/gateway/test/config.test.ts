import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SIM_IP, parseConfigText, parseHostForward, validateConfig, validateFilterRule, requireRunnable } from '../src/config.js';
import { parseNicSpec, formatNicSpec } from '../src/nic-spec.js';
import { parseIpv4Prefix, parsePortRange, parseRouteDestination } from '../src/addresses.js';

/** The message validateConfig throws for `doc`, or 'ok'. */
function problem(doc: unknown): string {
  try {
    validateConfig(doc);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
}

const sim = { interfaces: [{ nic: 'sim' }] };

describe('validateConfig', () => {
  it('fills defaults for a minimal file', () => {
    const c = validateConfig(sim);
    expect(c.interfaces).toEqual([{ name: 'eth0', nic: 'sim', ip: DEFAULT_SIM_IP, mtu: undefined }]);
    expect(c.http).toEqual({ port: 80, www: undefined, workers: 64 });
    expect(c.admin).toEqual({ user: 'admin', password: undefined });
    expect(c.firewall).toBe(false);
    expect(c.forwarding).toBe(false);
    expect(c.filter.policy).toEqual({ input: 'accept', forward: 'accept', output: 'accept' });
    expect(Object.isFrozen(c.interfaces[0])).toBe(true);
  });

  it('accepts a full file', () => {
    const c = validateConfig({
      interfaces: [{ name: 'lan', nic: 'serial:/dev/ttyACM0?baud=115200', ip: '10.0.0.1/24', mtu: 1400 }, { nic: 'tap:pst0', ip: '10.1.0.1/16' }],
      routes: [{ to: 'default', via: '10.0.0.254' }, { to: '172.16.0.0/12', via: '10.1.0.9', metric: 5 }],
      forwarding: true,
      filter: { policy: { forward: 'drop' }, rules: [{ chain: 'input', protocol: 'tcp', dstPort: '20-23', action: 'reject', rejectWith: 'tcp-reset', comment: 'x' }] },
      http: { port: 8080, www: '/srv', workers: 1 },
      admin: { user: 'root', password: 'pw' },
      pcap: 'a.pcap',
      sim: { hostForward: ['tcp:127.0.0.1:0-10.0.0.1:80'] },
    });
    expect(c.interfaces[1]!.name).toBe('eth1');
    expect(c.routes[1]).toEqual({ to: '172.16.0.0/12', via: '10.1.0.9', metric: 5 });
    expect(c.firewall).toBe(true); // rules given, firewall not said
    expect(c.filter.rules[0]!.dstPort).toBe('20-23');
    expect(c.http.workers).toBe(1);
    expect(problem({ ...sim, http: { workers: 0 } })).toBe('config: http.workers: 0 is not an integer in 1..4096');
  });

  it.each([
    [{ interfaces: [{ nic: 'sim', ip: '10.0.0.300/24' }] }, 'config: interfaces[0].ip: "10.0.0.300/24" is not an IPv4 prefix'],
    [{ interfaces: [{ nic: 'sim', ip: '10.0.0.1' }] }, 'config: interfaces[0].ip: "10.0.0.1" is not an IPv4 prefix'],
    [{ interfaces: [{ nic: 'sim', ip: '10.0.0.0/24' }] }, 'config: interfaces[0].ip: "10.0.0.0/24" is the network or broadcast address of its prefix'],
    [{ interfaces: [{ nic: 'sim', ip: '10.0.0.1/31' }] }, 'config: interfaces[0].ip: "10.0.0.1/31" has prefix length 31, expected 1..30 or 32'],
    [{ interfaces: [{ nic: 'usb' }] }, 'config: interfaces[0].nic: "usb" is not a NIC spec (sim, serial:PATH[?baud=N], socket://HOST:PORT or tap:NAME)'],
    [{ interfaces: [{ ip: '10.0.0.1/24' }] }, 'config: interfaces[0].nic: is missing (sim, serial:PATH, socket://HOST:PORT or tap:NAME)'],
    [{ interfaces: [{ nic: 'tap:x' }] }, 'config: interfaces[0].ip: is missing (ADDR/PREFIX, e.g. 192.168.1.1/24)'],
    [{ interfaces: [{ nic: 'sim', mtu: 100 }] }, 'config: interfaces[0].mtu: 100 is not an integer in 576..9000'],
    [{ interfaces: [{ nic: 'sim', name: 'a' }, { nic: 'sim', name: 'a', ip: '10.9.0.1/24' }] }, 'config: interfaces[1].name: "a" is used twice'],
    [{ interfaces: [{ nic: 'sim', speed: 100 }] }, 'config: interfaces[0].speed: is not a known field'],
    [{ ...sim, extra: 1 }, 'config: extra: is not a known field'],
    [{ interfaces: 'sim' }, 'config: interfaces: is string "sim", expected an array'],
    [[1], 'config: is an array, expected an object'],
    [{ ...sim, routes: [{ to: '10.1.0.1/16', via: '10.0.0.1' }] }, 'config: routes[0].to: "10.1.0.1/16" has host bits set'],
    [{ ...sim, routes: [{ to: 'default', via: 'gw' }] }, 'config: routes[0].via: "gw" is not an IPv4 address'],
    [{ ...sim, routes: [{ to: 'default' }] }, 'config: routes[0].via: is missing (the gateway address)'],
    [{ ...sim, http: { port: 0 } }, 'config: http.port: 0 is not an integer in 1..65535'],
    [{ ...sim, http: { port: '80' } }, 'config: http.port: "80" is not an integer in 1..65535'],
    [{ ...sim, forwarding: 'yes' }, 'config: forwarding: is string "yes", expected true or false'],
    [{ ...sim, admin: { password: '' } }, 'config: admin.password: is empty (leave it out to disable changes)'],
    [{ ...sim, admin: { user: 'a:b', password: 'x' } }, 'config: admin.user: must be non-empty and contain no colon'],
    [{ ...sim, filter: { policy: { input: 'reject' } } }, 'config: filter.policy.input: "reject" is not accept or drop'],
    [{ ...sim, filter: { rules: [{ chain: 'prerouting', action: 'drop' }] } }, 'config: filter.rules[0].chain: "prerouting" is not a chain (input, forward or output)'],
    [{ ...sim, filter: { rules: [{ chain: 'input', action: 'drop', dstPort: 80 }] } }, 'config: filter.rules[0].dstPort: needs protocol tcp or udp'],
    [{ ...sim, filter: { rules: [{ chain: 'input', action: 'drop', protocol: 'tcp', dstPort: '90-80' }] } }, 'config: filter.rules[0].dstPort: "90-80" is not a port or a range N-M in 0..65535'],
    [{ ...sim, filter: { rules: [{ chain: 'input', action: 'drop', rejectWith: 'icmp' }] } }, 'config: filter.rules[0].rejectWith: is only for action reject'],
    [{ ...sim, filter: { rules: [{ chain: 'input', action: 'reject', protocol: 'udp', rejectWith: 'tcp-reset' }] } }, 'config: filter.rules[0].rejectWith: tcp-reset needs protocol tcp'],
    [{ ...sim, filter: { rules: [{ chain: 'input', action: 'drop', src: '10.0.0.1/8' }] } }, 'config: filter.rules[0].src: "10.0.0.1/8" is not an IPv4 network (NET/PREFIX with host bits clear, or an address)'],
    [{ ...sim, sim: { hostForward: ['udp:1:2-3:4'] } }, 'config: sim.hostForward[0]: "udp:1:2-3:4" is not tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT'],
  ])('refuses %j with one message', (doc, message) => {
    expect(problem(doc)).toBe(message);
  });

  it('names the path of the error', () => {
    try {
      validateConfig({ interfaces: [{ nic: 'sim' }, { nic: 'sim', ip: '1.2.3/8' }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ path: 'interfaces[1].ip', problem: '"1.2.3/8" is not an IPv4 prefix' });
    }
  });

  it('an empty interface list is valid JSON but not runnable', () => {
    expect(() => requireRunnable(validateConfig({}))).toThrow('config: interfaces: is empty: configure at least one interface (or pass --nic)');
  });

  it('reports JSON syntax errors as a config error', () => {
    expect(() => parseConfigText('{"interfaces": [')).toThrow(/^config: not valid JSON: /);
  });

  it('explicit firewall false wins over configured rules', () => {
    expect(validateConfig({ ...sim, firewall: false, filter: { rules: [{ chain: 'input', action: 'drop' }] } }).firewall).toBe(false);
  });

  it('validateFilterRule reports under the path it is given', () => {
    expect(() => validateFilterRule({ chain: 'input' }, 'body')).toThrow('config: body.action: is missing (accept, drop or reject)');
    expect(validateFilterRule({ chain: 'output', action: 'accept', protocol: 17, srcPort: 53 }, 'body')).toMatchObject({ protocol: 17, srcPort: 53 });
  });
});

describe('NIC specs', () => {
  it.each(['sim', 'serial:/dev/ttyACM0', 'serial:/dev/pts/3?baud=115200', 'socket://127.0.0.1:5555', 'socket://[::1]:5555', 'tap:pst0'])('round-trips %s', (text) => {
    const spec = parseNicSpec(text);
    expect(typeof spec).toBe('object');
    expect(formatNicSpec(spec as Exclude<typeof spec, string>)).toBe(text);
  });

  it.each(['', 'simulator', 'serial:', 'serial:/dev/x?speed=9', 'socket://host', 'socket://h:0', 'socket://h:70000', 'tap:', 'tap:waytoolongname0123'])('refuses %j', (text) => {
    expect(typeof parseNicSpec(text)).toBe('string');
  });

  it('parses the parts', () => {
    expect(parseNicSpec('serial:/dev/ttyUSB0?baud=921600')).toEqual({ kind: 'serial', path: '/dev/ttyUSB0', baudRate: 921600 });
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
    expect(parseHostForward('tcp:127.0.0.1:8080-198.18.0.1:80')).toEqual({ hostAddress: '127.0.0.1', hostPort: 8080, guestAddress: '198.18.0.1', guestPort: 80 });
    expect(parseHostForward('tcp:127.0.0.1:8080-198.18.0.1:0')).toBeUndefined();
  });
});
