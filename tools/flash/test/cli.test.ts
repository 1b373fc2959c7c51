// postern-flash's command line: keygen, build, flash (plain progress lines off a TTY), info, and one
// clear line with a non-zero status for each failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SimulatedBootloader,
  buildImage,
  keyFingerprint,
  loadPrivateKey,
  loadPublicKey,
  parseImage,
  verifyImage,
} from '@postern/firmware';
import { createSimulator } from '@postern/device-simulator';
import { runFlashCli, runKeygenCli } from '../src/cli.js';
import { stallingProxy } from './support.js';

let dir: string;
let bootloader: SimulatedBootloader;
let server: Server;
let port: string;
const sockets = new Set<Socket>();

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runFlashCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), tty: false });
  return { code, out, err };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-flash-cli-'));
  expect((await run('keygen', '--out', join(dir, 'dev'))).code).toBe(0);
  bootloader = SimulatedBootloader.open({
    flashFile: join(dir, 'flash'),
    boardId: 'postern-devboard-1',
    trustedKey: readFileSync(join(dir, 'dev.pub'), 'utf8'),
  });
  server = createServer((s) => {
    s.on('error', () => {});
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    bootloader.attach(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = `socket://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  bootloader.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('postern-flash', () => {
  it('builds a signed gateway image and flashes it, printing plain progress lines', async () => {
    const fw = join(dir, 'out', 'gateway.fw');
    const b = await run('build', '--key', join(dir, 'dev.key'), '--out', fw);
    expect(b.code, b.err).toBe(0);
    const image = new Uint8Array(readFileSync(fw));
    const { manifest } = verifyImage(image, readFileSync(join(dir, 'dev.pub'), 'utf8'), 'postern-devboard-1');
    expect(manifest.name).toBe('@postern/gateway');
    expect(manifest.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['app/image-entry.mjs', 'ui/index.html', 'config.schema.json']),
    );
    const f = await run('--port', port, fw);
    expect(f.code, f.err).toBe(0);
    expect(f.out).toMatch(/^flashed @postern\/gateway .* into slot A of postern-devboard-1/);
    expect(f.err).toMatch(/write \d+\/\d+ chunks \(100%\)/);
    expect(f.err).not.toContain('\r');
    expect(bootloader.boot()).toMatchObject({
      slot: 0,
      trial: true,
      manifest: { sha256: parseImage(image).manifest.sha256 },
    });
    const i = await run('info', '--port', port);
    expect(i.out).toContain('running A (trial)');
  });

  it('fails with one line and status 1 for a bad image, a missing device, a wrong key', async () => {
    writeFileSync(join(dir, 'junk.fw'), 'not an image');
    const junk = await run('--port', port, join(dir, 'junk.fw'));
    expect(junk.code).toBe(1);
    expect(junk.err.trim().split('\n').at(-1)).toMatch(/^postern-flash: not a valid image/);
    const missing = await run('--port', 'socket://127.0.0.1:1', join(dir, 'junk.fw'));
    expect(missing.code).toBe(1);
    expect((await run('--port', port, join(dir, 'nope.fw'))).err).toMatch(/cannot read .*nope\.fw: ENOENT/);
    await run('keygen', '--out', join(dir, 'other'));
    const fw = join(dir, 'other.fw');
    expect((await run('build', '--key', join(dir, 'other.key'), '--out', fw)).code).toBe(0);
    const wrong = await run('--port', port, fw);
    expect(wrong.code).toBe(1);
    expect(wrong.err.trim().split('\n').at(-1)).toMatch(/^postern-flash: the board does not trust key [0-9a-f]{16} /);
    // A flipped signature byte in an image signed with the trusted key: damaged, not untrusted, and nothing is sent.
    const damaged = new Uint8Array(readFileSync(join(dir, 'out', 'gateway.fw')));
    damaged[damaged.length - 3]! ^= 0x08;
    writeFileSync(join(dir, 'damaged.fw'), damaged);
    const written = bootloader.stats.chunksWritten;
    const bad = await run('--port', port, join(dir, 'damaged.fw'));
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n').at(-1)).toMatch(
      /^postern-flash: the image's signature does not verify with key [0-9a-f]{16}: the image is damaged or was signed by another key$/,
    );
    expect(bootloader.stats.chunksWritten).toBe(written);
  });

  it('says so when the port is a plain USB Ethernet device, not a bootloader', async () => {
    const sim = await createSimulator({ serial: 'socket://127.0.0.1:0' });
    try {
      const r = await run('info', '--port', sim.device.endpoint.address!);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err).toBe(
        `postern-flash: ${sim.device.endpoint.address!} answers as a USB Ethernet device, not a bootloader: start the board in bootloader mode (postern-sim --flash FILE)\n`,
      );
    } finally {
      await sim.close();
    }
  });

  it('exits 2 with one line naming the flag or argument for a bad command line, before touching anything', async () => {
    const cases: Array<[string[], string]> = [
      [['--port', port], 'an image file is required'],
      [['--nope'], '--nope'],
      [['a.fw'], '--port is required'],
      [['--port'], '--port'],
      [['--port', port, 'a.fw', 'b.fw'], '"b.fw"'],
      [['info', '--port', port, 'extra'], '"extra"'],
      [['reboot', '--port', port, 'now'], '"now"'],
      [['info', '--port', port, '--out', 'x'], '--out does not apply to info'],
      [['build', '--out', join(dir, 'x.fw'), '--port', port], '--port does not apply to build'],
      [['build', '--out', join(dir, 'x.fw'), '--serialport', 'usb'], '--serialport'],
      [['--port', port, '--timeout', 'soon', 'a.fw'], '--timeout'],
      [['keygen', '--out', join(dir, 'extra'), 'more'], '"more"'],
      [['keygen'], '--out is required'],
    ];
    const requests = bootloader.stats.requests;
    for (const [argv, names] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.split('\n'), argv.join(' ')).toHaveLength(2);
      expect(r.err, argv.join(' ')).toContain(names);
    }
    expect(bootloader.stats.requests).toBe(requests);
    expect(existsSync(join(dir, 'extra.key'))).toBe(false);
    expect(existsSync(join(dir, 'x.fw'))).toBe(false);
  });

  it('build without --out exits 2 and creates no development key', async () => {
    const home = mkdtempSync(join(tmpdir(), 'postern-home-'));
    const saved = { HOME: process.env['HOME'], key: process.env['POSTERN_SIGNING_KEY'] };
    process.env['HOME'] = home;
    delete process.env['POSTERN_SIGNING_KEY'];
    try {
      expect(homedir()).toBe(home);
      const r = await run('build');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--out is required/);
      expect(readdirSync(home)).toEqual([]);
    } finally {
      if (saved.HOME === undefined) delete process.env['HOME'];
      else process.env['HOME'] = saved.HOME;
      if (saved.key !== undefined) process.env['POSTERN_SIGNING_KEY'] = saved.key;
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('postern-keygen', () => {
  const keygen = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await runKeygenCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), tty: false });
    return { code, out, err };
  };

  it('refuses to replace an existing key or .pub without --force, changing nothing', async () => {
    const prefix = join(dir, 'kept');
    expect((await keygen('--out', prefix)).code).toBe(0);
    const before = [readFileSync(`${prefix}.key`, 'utf8'), readFileSync(`${prefix}.pub`, 'utf8')];
    const again = await keygen('--out', prefix);
    expect(again.code).toBe(1);
    expect(again.err).toBe(`postern-keygen: ${prefix}.key and ${prefix}.pub already exist; --force replaces them\n`);
    expect([readFileSync(`${prefix}.key`, 'utf8'), readFileSync(`${prefix}.pub`, 'utf8')]).toEqual(before);
    // Only the .pub there: still refused, and no .key appears.
    const lonely = join(dir, 'lonely');
    writeFileSync(`${lonely}.pub`, 'old');
    const r = await keygen('--out', lonely);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${lonely}.pub already exists`);
    expect(existsSync(`${lonely}.key`)).toBe(false);
  });

  it('with --force writes a new private key with mode 0600 over a world-readable one, as a new file', async () => {
    const prefix = join(dir, 'loose');
    writeFileSync(`${prefix}.key`, 'old secret');
    chmodSync(`${prefix}.key`, 0o644);
    linkSync(`${prefix}.key`, join(dir, 'loose-link'));
    const r = await keygen('--out', prefix, '--force');
    expect(r.code, r.err).toBe(0);
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${prefix}.pub`).mode & 0o777).toBe(0o644);
    const pem = readFileSync(`${prefix}.key`, 'utf8');
    expect(loadPrivateKey(pem).asymmetricKeyType).toBe('ed25519');
    expect(keyFingerprint(loadPublicKey(readFileSync(`${prefix}.pub`, 'utf8')))).toBe(
      keyFingerprint(loadPrivateKey(pem)),
    );
    // The old inode was not rewritten: its other link still holds the old bytes.
    expect(readFileSync(join(dir, 'loose-link'), 'utf8')).toBe('old secret');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('an interrupted flash', () => {
  it('stops on SIGINT saying where (status 130), and the same command again resumes, completes and the image boots', async () => {
    const img = buildImage(
      [
        { path: 'app/main.mjs', data: new TextEncoder().encode('1') },
        { path: 'blob', data: new Uint8Array(150_000).map((_, i) => (i * 7) & 0xff) },
      ],
      {
        name: 'sigint',
        version: '1.0.0',
        target: 'postern-devboard-1',
        entry: 'app/main.mjs',
        runtime: '>=20',
        defaultConfig: {},
      },
      readFileSync(join(dir, 'dev.key'), 'utf8'),
    );
    const fw = join(dir, 'sigint.fw');
    writeFileSync(fw, img);
    const total = Math.ceil(img.length / 1024);
    bootloader.boot(); // a reset: the trial the first test left running is rolled back, nothing runs
    const proxy = await stallingProxy(Number(/:(\d+)$/.exec(port)![1]), 60_000);
    const signals = new EventEmitter();
    try {
      let err = '';
      const running = runFlashCli(['--port', proxy.url, '--timeout', '60000', fw], {
        out: () => {},
        err: (t) => void (err += t),
        tty: true,
        signals,
      });
      await proxy.stalled;
      signals.emit('SIGINT');
      signals.emit('SIGINT');
      expect(await running).toBe(130);
      const last = err.split('\n').at(-2)!;
      const m = /^postern-flash: interrupted at chunk (\d+)\/(\d+); run the same command again to resume$/.exec(last);
      expect(m, err).not.toBeNull();
      expect(Number(m![2])).toBe(total);
      expect(signals.listenerCount('SIGINT')).toBe(0);
      const done = Number(m![1]);
      expect(done).toBeGreaterThan(0);
      const again = await run('--port', proxy.url, '--timeout', '60000', fw);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toContain(`(${total - done} chunks sent, ${done} already there)`);
    } finally {
      await proxy.close();
    }
    const t = bootloader.boot()!;
    expect(t.trial).toBe(true);
    expect(Buffer.from(t.image).equals(Buffer.from(img))).toBe(true);
  });

  it('stops on SIGTERM with status 143, and before any transfer says nothing changed', async () => {
    bootloader.boot();
    const fw = join(dir, 'sigint.fw');
    // The proxy passes 4 bytes (the flush) and holds INFO: the board never answers.
    const proxy = await stallingProxy(Number(/:(\d+)$/.exec(port)![1]), 4);
    const signals = new EventEmitter();
    try {
      let err = '';
      const running = runFlashCli(['--port', proxy.url, '--timeout', '60000', fw], {
        out: () => {},
        err: (t) => void (err += t),
        tty: false,
        signals,
      });
      await proxy.stalled;
      signals.emit('SIGTERM');
      expect(await running).toBe(143);
      expect(err.trim().split('\n').at(-1)).toBe(
        'postern-flash: interrupted before anything was written; nothing changed on the board',
      );
    } finally {
      await proxy.close();
    }
  });
});
