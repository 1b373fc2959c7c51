import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HELP_TEXT, UsageError, applyCommandLine, flagSource, parseCommandLine } from '../src/cli.js';
import { ConfigError, validateConfig } from '../src/config.js';
import { ADMIN_PASSWORD_ENV, loadConfig } from '../src/load-config.js';
import { main } from '../src/run.js';

function usage(argv: string[]): string {
  try {
    parseCommandLine(argv);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
}

/** The one-line message loadConfig throws for `argv`. */
function refusal(argv: string[]): string {
  try {
    loadConfig(parseCommandLine(argv), {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`accepted ${JSON.stringify(argv)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'postern-gw-cfg-'));

describe('parseCommandLine', () => {
  it('parses every flag', () => {
    const cli = parseCommandLine([
      '--config',
      'g.json',
      '--nic',
      'sim',
      '--ip=10.0.0.1/24',
      '--route',
      'default',
      'via',
      '10.0.0.254',
      '--route',
      '10.8.0.0/16 via 10.0.0.9',
      '--http-port',
      '8081',
      '--www',
      'site',
      '--pcap',
      'x.pcap',
      '--hostfwd',
      'tcp:127.0.0.1:0-10.0.0.1:8081',
      '--hostfwd=tcp::0-:80',
    ]);
    expect(cli).toEqual({
      help: false,
      config: 'g.json',
      nic: 'sim',
      ip: '10.0.0.1/24',
      routes: [
        { to: 'default', via: '10.0.0.254' },
        { to: '10.8.0.0/16', via: '10.0.0.9' },
      ],
      httpPort: 8081,
      www: 'site',
      pcap: 'x.pcap',
      hostForward: ['tcp:127.0.0.1:0-10.0.0.1:8081', 'tcp::0-:80'],
    });
  });

  it('help', () => {
    expect(parseCommandLine(['-h']).help).toBe(true);
    expect(parseCommandLine(['--help']).help).toBe(true);
    for (const flag of [
      '--config',
      '--nic',
      '--ip',
      '--route',
      '--http-port',
      '--www',
      '--pcap',
      '--hostfwd',
      'POSTERN_ADMIN_PASSWORD',
      'config.schema.json',
    ])
      expect(HELP_TEXT).toContain(flag);
  });

  it.each([
    [['--bogus'], 'postern-gateway: unknown flag --bogus (see --help)'],
    [['stray'], 'postern-gateway: unexpected argument "stray" (see --help)'],
    [['--nic'], 'postern-gateway: --nic needs a value (see --help)'],
    [['--nic', '--ip', '10.0.0.1/24'], 'postern-gateway: --nic needs a value (see --help)'],
    [['--help=1'], 'postern-gateway: --help takes no value (see --help)'],
    [
      ['--nic', 'usb0'],
      'postern-gateway: --nic usb0: is not a NIC spec (sim, serial:PATH[?baud=N], socket://HOST:PORT or tap:NAME)',
    ],
    [['--ip', '10.0.0.300/24'], 'postern-gateway: --ip 10.0.0.300/24: is not an IPv4 prefix ADDR/LEN (or dhcp)'],
    [['--ip', 'DHCP'], 'postern-gateway: --ip DHCP: is not an IPv4 prefix ADDR/LEN (or dhcp)'],
    [['--ip', '10.0.0.0/24'], 'postern-gateway: --ip 10.0.0.0/24: is the network address of its prefix'],
    [['--route', 'default', 'through', '1.2.3.4'], 'postern-gateway: unexpected argument "through" (see --help)'],
    [
      ['--route', '10.0.0.1/8 via 10.0.0.9'],
      'postern-gateway: --route 10.0.0.1/8 via 10.0.0.9: 10.0.0.1/8 has host bits set (the network is 10.0.0.0/8)',
    ],
    [['--route', 'default'], 'postern-gateway: --route default: is not PREFIX via ADDR'],
    [['--route', 'default', 'via', 'gw'], 'postern-gateway: --route default via gw: gw is not an IPv4 address'],
    [['--route', 'default', 'via'], 'postern-gateway: --route default via : is not PREFIX via ADDR'],
    [['--route', 'default', 'via', '--nic', 'sim'], 'postern-gateway: --route default via : is not PREFIX via ADDR'],
    [['--http-port', '65536'], 'postern-gateway: --http-port 65536: is not a port in 1..65535'],
    [['--http-port', '08'], 'postern-gateway: --http-port 08: is not a port in 1..65535'],
    [['--http-port', '-5'], 'postern-gateway: --http-port -5: is not a port in 1..65535'],
    [['--www', ''], 'postern-gateway: --www : needs a directory'],
    [
      ['--hostfwd', 'tcp:8080-80'],
      'postern-gateway: --hostfwd tcp:8080-80: is not tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT',
    ],
    [
      ['--hostfwd', 'tcp:0.0.0.0:8080-:80'],
      'postern-gateway: --hostfwd tcp:0.0.0.0:8080-:80: the host address must be in 127.0.0.0/8',
    ],
  ])('refuses %j with one line naming the flag', (argv, message) => {
    expect(usage(argv)).toBe(message);
  });
});

describe('applyCommandLine (flags override the file)', () => {
  const file = {
    interfaces: [
      { name: 'lan', nic: 'tap:pst0', ip: '10.0.0.1/24' },
      { nic: 'tap:pst1', ip: '10.1.0.1/24' },
    ],
    routes: [{ to: 'default', via: '10.0.0.254' }],
    http: { port: 8000, workers: 1 },
  };

  it('sets the first interface, replaces routes, merges http', () => {
    const doc = applyCommandLine(
      file,
      parseCommandLine([
        '--nic',
        'sim',
        '--ip',
        '192.168.5.1/24',
        '--route',
        '10.9.0.0/16 via 192.168.5.2',
        '--http-port',
        '81',
      ]),
    );
    const c = validateConfig(doc);
    expect(c.interfaces[0]).toEqual({ name: 'lan', nic: 'sim', ip: '192.168.5.1/24', mtu: undefined });
    expect(c.interfaces[1]!.nic).toBe('tap:pst1');
    expect(c.routes).toEqual([{ to: '10.9.0.0/16', via: '192.168.5.2', metric: 0 }]);
    expect(c.http).toMatchObject({ port: 81, www: undefined, workers: 1 });
    expect(file.interfaces[0]!.nic).toBe('tap:pst0'); // input untouched
  });

  it('creates the interface when there is no file', () => {
    const c = validateConfig(
      applyCommandLine(undefined, parseCommandLine(['--nic', 'sim', '--www', 'site', '--pcap', 'p.pcap'])),
    );
    expect(c.interfaces).toHaveLength(1);
    expect(c.http.www).toBe('site');
    expect(c.pcap).toBe('p.pcap');
  });

  it('keeps a non-object file for the validator to refuse', () => {
    expect(() => validateConfig(applyCommandLine([], parseCommandLine(['--nic', 'sim'])))).toThrow(
      'config: must be an object',
    );
  });

  it('flagSource names the flag that set a path', () => {
    const cli = parseCommandLine(['--ip', '10.0.0.1/24', '--route', 'default via 10.0.0.9', '--hostfwd', 'tcp::0-:80']);
    expect(flagSource('interfaces[0].ip', cli)).toEqual({ kind: 'flag', flag: '--ip', value: '10.0.0.1/24' });
    expect(flagSource('routes[0].via', cli)).toEqual({ kind: 'flag', flag: '--route', value: 'default via 10.0.0.9' });
    expect(flagSource('sim.hostForward[0]', cli)).toEqual({ kind: 'flag', flag: '--hostfwd', value: 'tcp::0-:80' });
    expect(flagSource('interfaces[0].nic', cli)).toBeUndefined();
    expect(flagSource('interfaces[1].ip', cli)).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('reads the file, applies flags and the password from the environment', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(path, JSON.stringify({ interfaces: [{ nic: 'sim' }], admin: { password: 'file' } }));
    const c = loadConfig(parseCommandLine(['--config', path, '--ip', '10.2.0.1/24']), { [ADMIN_PASSWORD_ENV]: 'env' });
    expect(c.interfaces[0]!.ip).toBe('10.2.0.1/24');
    expect(c.admin.password).toBe('env');
    expect(loadConfig(parseCommandLine(['--config', path]), {}).admin.password).toBe('file');
  });

  it('--ip dhcp gives the first interface a DHCP client, the same as ip "dhcp" in the file', () => {
    const fromFlag = loadConfig(parseCommandLine(['--nic', 'tap:pst9', '--ip', 'dhcp']), {});
    const path = join(dir, 'dhcp.json');
    writeFileSync(path, JSON.stringify({ interfaces: [{ nic: 'tap:pst9', ip: 'dhcp' }] }));
    const fromFile = loadConfig(parseCommandLine(['--config', path]), {});
    expect(fromFlag.interfaces[0]!.ip).toBe('dhcp');
    expect(fromFlag.interfaces).toEqual(fromFile.interfaces);
    // The flag overrides a static address in the file, and the reverse.
    writeFileSync(path, JSON.stringify({ interfaces: [{ nic: 'tap:pst9', ip: '10.5.0.1/24' }] }));
    expect(loadConfig(parseCommandLine(['--config', path, '--ip', 'dhcp']), {}).interfaces[0]!.ip).toBe('dhcp');
  });

  it('accepts a file that starts with a UTF-8 byte-order mark', () => {
    const path = join(dir, 'bom.json');
    writeFileSync(
      path,
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(JSON.stringify({ interfaces: [{ nic: 'sim', ip: '10.3.0.1/24' }] })),
      ]),
    );
    expect(loadConfig(parseCommandLine(['--config', path]), {}).interfaces[0]!.ip).toBe('10.3.0.1/24');
  });

  it('a problem in the file names the file and the JSON path, never a flag', () => {
    const wrong = join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ interfaces: [{ nic: 'sim' }, { nic: 'tap:x', ip: '10.0.0.300/24' }] }));
    expect(refusal(['--config', wrong])).toBe(
      `config ${wrong}: interfaces[1].ip "10.0.0.300/24": is not an IPv4 prefix ADDR/LEN with LEN 1..30 or 32`,
    );
    const fwd = join(dir, 'fwd.json');
    writeFileSync(
      fwd,
      JSON.stringify({ interfaces: [{ nic: 'sim' }], sim: { hostForward: ['tcp:0.0.0.0:8080-:80'] } }),
    );
    expect(refusal(['--config', fwd])).toBe(
      `config ${fwd}: sim.hostForward[0] "tcp:0.0.0.0:8080-:80": the host address must be in 127.0.0.0/8`,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "interfaces": ');
    expect(refusal(['--config', bad])).toMatch(new RegExp(`^config ${bad}: is not valid JSON: `));
  });

  it('a problem in a value a flag set names the flag', () => {
    const path = join(dir, 'two.json');
    writeFileSync(path, JSON.stringify({ interfaces: [{ nic: 'sim' }, { nic: 'tap:x', ip: '10.1.0.1/24' }] }));
    expect(refusal(['--config', path, '--route', 'default via 10.9.9.9'])).toBe(
      "--route default via 10.9.9.9: is on no interface's network",
    );
    expect(refusal(['--config', path, '--ip', '10.1.0.2/16'])).toBe(
      `config ${path}: interfaces[1].ip "10.1.0.1/24": overlaps the network of interfaces[0].ip (10.1.0.2/16)`,
    );
    expect(refusal(['--config', join(dir, 'none.json')])).toBe(`--config ${join(dir, 'none.json')}: no such file`);
    expect(refusal([])).toBe('config: interfaces: is empty: configure at least one interface (or pass --nic)');
    expect(refusal(['--nic', 'tap:pst9'])).toBe(
      '--nic tap:pst9: needs --ip ADDR/PREFIX or --ip dhcp too (only sim has a default address)',
    );
    expect(refusal(['--nic', 'sim', '--ip', 'dhcp'])).toBe(
      '--ip dhcp: dhcp is not for nic "sim" (the simulated segment has no DHCP server)',
    );
    expect(refusal(['--nic', 'tap:pst9', '--ip', '10.4.0.1/24', '--hostfwd', 'tcp::0-:80'])).toBe(
      '--hostfwd tcp::0-:80: needs an interface with nic "sim"',
    );
  });

  it('checks the www directory and the capture directory before anything starts', () => {
    const file = join(dir, 'plain.txt');
    writeFileSync(file, 'x');
    expect(refusal(['--nic', 'sim', '--www', '/nonexistent'])).toBe('--www /nonexistent: no such directory');
    expect(refusal(['--nic', 'sim', '--www', file])).toBe(`--www ${file}: is not a directory`);
    expect(refusal(['--nic', 'sim', '--pcap', '/nonexistent/x.pcap'])).toBe(
      '--pcap /nonexistent/x.pcap: its directory /nonexistent does not exist',
    );
    expect(refusal(['--nic', 'sim', '--pcap', dir])).toBe(`--pcap ${dir}: is a directory`);
    const cfg = join(dir, 'www.json');
    writeFileSync(cfg, JSON.stringify({ interfaces: [{ nic: 'sim' }], http: { www: '/nonexistent' } }));
    expect(refusal(['--config', cfg])).toBe(`config ${cfg}: http.www "/nonexistent": no such directory`);
    const site = join(dir, 'site');
    mkdirSync(site);
    expect(
      loadConfig(parseCommandLine(['--nic', 'sim', '--www', site, '--pcap', join(dir, 'ok.pcap')]), {}).http.www,
    ).toBe(site);
  });
});

describe('main (in process): a bad command line or configuration exits 2 with one line and starts nothing', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function runMain(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
    let stderr = '';
    let stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((stderr += String(chunk)), true),
    );
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => ((stdout += String(chunk)), true),
    );
    vi.stubEnv('POSTERN_QUIET', '');
    const code = await main(argv);
    vi.unstubAllEnvs();
    return { code, stderr, stdout };
  }

  it.each([
    [['--www', '/nonexistent', '--nic', 'sim'], 'postern-gateway: --www /nonexistent: no such directory\n'],
    [
      ['--nic', 'sim', '--hostfwd', 'tcp:0.0.0.0:8080-:80'],
      'postern-gateway: --hostfwd tcp:0.0.0.0:8080-:80: the host address must be in 127.0.0.0/8\n',
    ],
    [['--nic', 'sim', '--http-port', '-5'], 'postern-gateway: --http-port -5: is not a port in 1..65535\n'],
    [
      ['--nic', 'sim', '--ip', '198.18.0.1/32'],
      'postern-gateway: --ip 198.18.0.1/32: leaves no address for the simulated host (the simulator needs a prefix length of at most 30)\n',
    ],
  ])('%j', async (argv, line) => {
    const r = await runMain(argv);
    expect(r).toEqual({ code: 2, stderr: line, stdout: '' });
  });
});
