import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP_TEXT, UsageError, applyCommandLine, parseCommandLine } from '../src/cli.js';
import { ConfigError, validateConfig } from '../src/config.js';
import { ADMIN_PASSWORD_ENV, loadConfig } from '../src/load-config.js';

function usage(argv: string[]): string {
  try {
    parseCommandLine(argv);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
}

describe('parseCommandLine', () => {
  it('parses every flag', () => {
    const cli = parseCommandLine([
      '--config', 'g.json', '--nic', 'sim', '--ip=10.0.0.1/24', '--route', 'default', 'via', '10.0.0.254', '--route', '10.8.0.0/16 via 10.0.0.9',
      '--http-port', '8081', '--www', 'site', '--pcap', 'x.pcap', '--hostfwd', 'tcp:127.0.0.1:0-10.0.0.1:8081',
    ]);
    expect(cli).toEqual({
      help: false, config: 'g.json', nic: 'sim', ip: '10.0.0.1/24',
      routes: [{ to: 'default', via: '10.0.0.254' }, { to: '10.8.0.0/16', via: '10.0.0.9' }],
      httpPort: 8081, www: 'site', pcap: 'x.pcap', hostForward: ['tcp:127.0.0.1:0-10.0.0.1:8081'],
    });
  });

  it('help', () => {
    expect(parseCommandLine(['-h']).help).toBe(true);
    expect(parseCommandLine(['--help']).help).toBe(true);
    for (const flag of ['--config', '--nic', '--ip', '--route', '--http-port', '--www', '--pcap', '--hostfwd', 'POSTERN_ADMIN_PASSWORD']) expect(HELP_TEXT).toContain(flag);
  });

  it.each([
    [['--bogus'], 'postern-gateway: unknown option --bogus (see --help)'],
    [['stray'], 'postern-gateway: unexpected argument "stray" (see --help)'],
    [['--nic'], 'postern-gateway: --nic needs a value (see --help)'],
    [['--nic', 'usb0'], 'postern-gateway: --nic: "usb0" is not a NIC spec (sim, serial:PATH[?baud=N], socket://HOST:PORT or tap:NAME) (see --help)'],
    [['--ip', '10.0.0.300/24'], 'postern-gateway: --ip: "10.0.0.300/24" is not an IPv4 prefix (ADDR/PREFIX) (see --help)'],
    [['--route', 'default', 'through', '1.2.3.4'], 'postern-gateway: --route: expected PREFIX via ADDR, got "default through 1.2.3.4" (see --help)'],
    [['--route', '10.0.0.1/8 via 10.0.0.9'], 'postern-gateway: --route: "10.0.0.1/8" is not NET/PREFIX (host bits clear) or default (see --help)'],
    [['--route', 'default'], 'postern-gateway: --route: expected PREFIX via ADDR, got "default" (see --help)'],
    [['--http-port', '65536'], 'postern-gateway: --http-port: "65536" is not a port in 1..65535 (see --help)'],
    [['--http-port', '08'], 'postern-gateway: --http-port: "08" is not a port in 1..65535 (see --help)'],
    [['--hostfwd', 'tcp:8080-80'], 'postern-gateway: --hostfwd: "tcp:8080-80" is not tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT (see --help)'],
  ])('refuses %j', (argv, message) => {
    expect(usage(argv)).toBe(message);
  });
});

describe('applyCommandLine (flags override the file)', () => {
  const file = {
    interfaces: [{ name: 'lan', nic: 'tap:pst0', ip: '10.0.0.1/24' }, { nic: 'tap:pst1', ip: '10.1.0.1/24' }],
    routes: [{ to: 'default', via: '10.0.0.254' }],
    http: { port: 8000, workers: 1 },
  };

  it('sets the first interface, replaces routes, merges http', () => {
    const doc = applyCommandLine(file, parseCommandLine(['--nic', 'sim', '--ip', '192.168.5.1/24', '--route', '10.9.0.0/16 via 192.168.5.2', '--http-port', '81']));
    const c = validateConfig(doc);
    expect(c.interfaces[0]).toEqual({ name: 'lan', nic: 'sim', ip: '192.168.5.1/24', mtu: undefined });
    expect(c.interfaces[1]!.nic).toBe('tap:pst1');
    expect(c.routes).toEqual([{ to: '10.9.0.0/16', via: '192.168.5.2', metric: 0 }]);
    expect(c.http).toEqual({ port: 81, www: undefined, workers: 1 });
    expect(file.interfaces[0]!.nic).toBe('tap:pst0'); // input untouched
  });

  it('creates the interface when there is no file', () => {
    const c = validateConfig(applyCommandLine(undefined, parseCommandLine(['--nic', 'sim', '--www', 'site', '--pcap', 'p.pcap'])));
    expect(c.interfaces).toHaveLength(1);
    expect(c.http.www).toBe('site');
    expect(c.pcap).toBe('p.pcap');
  });

  it('keeps a non-object file for the validator to refuse', () => {
    expect(() => validateConfig(applyCommandLine([], parseCommandLine(['--nic', 'sim'])))).toThrow('config: is an array, expected an object');
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-gw-cfg-'));

  it('reads the file, applies flags and the password from the environment', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ interfaces: [{ nic: 'sim' }], admin: { password: 'file' } }));
    const c = loadConfig(parseCommandLine(['--config', path, '--ip', '10.2.0.1/24']), { [ADMIN_PASSWORD_ENV]: 'env' });
    expect(c.interfaces[0]!.ip).toBe('10.2.0.1/24');
    expect(c.admin.password).toBe('env');
    expect(loadConfig(parseCommandLine(['--config', path]), {}).admin.password).toBe('file');
  });

  it('one message for a missing file, bad JSON, a bad field', () => {
    expect(() => loadConfig(parseCommandLine(['--config', join(dir, 'none.json')]), {})).toThrow(`config: cannot read ${join(dir, 'none.json')}: no such file`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "interfaces": ');
    expect(() => loadConfig(parseCommandLine(['--config', bad]), {})).toThrow(ConfigError);
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ interfaces: [{ nic: 'sim', ip: '10.0.0.300/24' }] }));
    expect(() => loadConfig(parseCommandLine(['--config', wrong]), {})).toThrow('config: interfaces[0].ip: "10.0.0.300/24" is not an IPv4 prefix');
    expect(() => loadConfig(parseCommandLine([]), {})).toThrow('config: interfaces: is empty');
  });
});
