// The postern-board command: `install --root DIR` writes the gadget script, the systemd unit, the
// modules list and the trusted key into a staging tree (the script is valid sh, the unit runs this
// program with the board's flags); a bad command line is one line on stderr and exit status 2,
// checked before anything is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPair } from '@postern/firmware';
import { INSTALL_PATHS } from '../src/install.js';
import { BIN, runProgram } from './support.js';

let dir: string;
let pub: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-board-cli-'));
  pub = join(dir, 'dev.pub');
  writeFileSync(pub, generateSigningKeyPair().publicKeyPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const board = (args: readonly string[]) => runProgram(process.execPath, [BIN.board, ...args], 30_000);

describe('postern-board install', () => {
  it('writes the gadget script, the unit, the modules and the key under --root', async () => {
    const root = join(dir, 'root');
    const r = await board([
      'install',
      '--root',
      root,
      '--trusted-key',
      pub,
      '--board-id',
      'pi-zero-7',
      '--eth',
      'end0',
    ]);
    expect(r.code, r.output).toBe(0);
    for (const p of Object.values(INSTALL_PATHS).filter((p) => p !== INSTALL_PATHS.state))
      expect(existsSync(join(root, p)), p).toBe(true);
    const script = join(root, INSTALL_PATHS.gadgetScript);
    expect(statSync(script).mode & 0o111).not.toBe(0);
    const syntax = await runProgram('sh', ['-n', script], 10_000);
    expect(syntax.code, syntax.output).toBe(0);
    expect(readFileSync(script, 'utf8')).toContain('functions/acm.usb0');
    const unit = readFileSync(join(root, INSTALL_PATHS.unit), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.split(' ') ?? [];
    expect(exec.slice(0, 3)).toEqual([process.execPath, BIN.board, 'run']);
    const flag = (name: string): string | undefined => exec[exec.indexOf(name) + 1];
    expect(flag('--port')).toBe('/dev/ttyGS0');
    expect(flag('--eth')).toBe('end0');
    expect(flag('--board-id')).toBe('pi-zero-7');
    expect(flag('--trusted-key')).toBe(INSTALL_PATHS.trustedKey);
    expect(unit).toMatch(new RegExp(`^ExecStartPre=/bin/sh ${INSTALL_PATHS.gadgetScript}$`, 'm'));
    expect(readFileSync(join(root, INSTALL_PATHS.trustedKey), 'utf8')).toBe(readFileSync(pub, 'utf8'));
    expect(readFileSync(join(root, INSTALL_PATHS.modules), 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['dwc2', 'libcomposite']),
    );
  });

  it.each([
    [['install', '--root', join(tmpdir(), 'never-made-1')], '--trusted-key'],
    [['install', '--trusted-key', '/nonexistent/key.pub', '--root', join(tmpdir(), 'never-made-2')], '--trusted-key'],
    [
      ['install', '--trusted-key', 'PUB', '--eth', 'this-name-is-too-long', '--root', join(tmpdir(), 'never-made-3')],
      '--eth',
    ],
    [['run', '--trusted-key', 'PUB', '--image-ip', '198.18.0.1'], '--image-ip'],
    [['run', '--trusted-key', 'PUB', '--trial-timeout', '-1'], '--trial-timeout'],
    [['run', '--trusted-key', 'PUB', '--mac', 'zz'], '--mac'],
    [['run', '--bogus'], '--bogus'],
    [['flash'], 'flash'],
  ])('%j: one line naming %s, exit 2, nothing written', async (args, named) => {
    const r = await board(args.map((a) => (a === 'PUB' ? pub : a)));
    expect(r.code).toBe(2);
    const lines = r.output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(named);
    for (const n of [1, 2, 3]) expect(existsSync(join(tmpdir(), `never-made-${n}`))).toBe(false);
  });

  it('--help exits 0 and names both commands', async () => {
    const r = await board(['--help']);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/postern-board run/);
    expect(r.output).toMatch(/postern-board install/);
  });
});
