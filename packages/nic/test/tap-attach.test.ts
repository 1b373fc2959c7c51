/**
 * The TAP attach helper, `src/tap/tap-attach.py`, as a program of its own: it compiles, it is where
 * the driver looks for it, and it keeps its side of the protocol with `attach.ts` (one JSON line,
 * exit 0; a usage error exits 2) without a TAP device: handed a descriptor that is not
 * `/dev/net/tun`, it refuses with the kernel's errno. Attaching for real is in `tap.test.ts` (root).
 * Needs python3 (the driver does too); skips with the reason without it.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TAP_ATTACH_SCRIPT } from '../src/tap/attach.js';

const python = spawnSync('python3', ['--version']);
const skip = python.error === undefined && python.status === 0 ? undefined : 'python3 is not installed';
const pyIt = it.skipIf(skip !== undefined);
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);

/** Runs the helper with `args` and `fd3` as its descriptor 3 (the driver's /dev/net/tun). */
function runHelper(args: string[], fd3: number | 'ignore') {
  return spawnSync('python3', ['-I', '-S', TAP_ATTACH_SCRIPT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', fd3],
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('the TAP attach helper (tap-attach.py)', () => {
  it('lies beside the module that runs it', () => {
    expect(TAP_ATTACH_SCRIPT.endsWith(join('src', 'tap', 'tap-attach.py'))).toBe(true);
    expect(existsSync(TAP_ATTACH_SCRIPT)).toBe(true);
  });

  pyIt(title('compiles (py_compile)'), () => {
    const out = mkdtempSync(join(tmpdir(), 'pst-pyc-'));
    try {
      const r = spawnSync(
        'python3',
        [
          '-c',
          'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)',
          TAP_ATTACH_SCRIPT,
          join(out, 'tap-attach.pyc'),
        ],
        { encoding: 'utf8' },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  pyIt(title('refuses a bad command line with exit 2 and a usage line'), () => {
    for (const args of [[], ['pst0'], ['pst0', 'yes'], ['pst0', '1', 'vnet'], ['pst0', '1', '1', '1']]) {
      const r = runHelper(args, 'ignore');
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^usage: tap-attach\.py NAME 0\|1 \[0\|1\]\n$/);
    }
  });

  pyIt(title('answers one JSON object naming the errno when fd 3 is not a TUN/TAP descriptor'), () => {
    const fd = openSync('/dev/null', 'r+');
    try {
      const r = runHelper(['pst-none', '1'], fd);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ ok: false, errno: 'ENOTTY', message: expect.any(String) });
    } finally {
      closeSync(fd);
    }
  });

  pyIt(title('without leave to create, a missing device is ENODEV before any ioctl'), () => {
    const r = runHelper(['pst-no-such', '0'], 'ignore');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: false, errno: 'ENODEV', message: 'no such device' });
  });
});
