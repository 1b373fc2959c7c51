/**
 * Which Python 3 the TAP attach helper runs ({@link resolvePython3}): a real interpreter on PATH, never
 * a version manager's shim when anything else exists, the well-known system paths when PATH has none,
 * a shim asked once for the interpreter it stands for as the last resort, and a clear error when
 * there is no Python 3 at all. Every PATH here is a temporary directory of scripts made by the test.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NicError } from '../src/driver.js';
import { openTapFd, resolvePython3 } from '../src/tap/attach.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'pst-python-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes an executable `python3` script in `dir` (made as needed); returns its path. */
function fakePython(dir: string, body: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'python3');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('resolvePython3', () => {
  const shim = fakePython(join(root, 'pyenv', 'shims'), `echo ${join(root, 'pyenv', 'versions', 'python3')}`);
  const behindShim = fakePython(join(root, 'pyenv', 'versions'), 'exit 0');
  const plain = fakePython(join(root, 'usr', 'bin'), 'exit 0');
  const notExecutable = join(root, 'noexec');
  mkdirSync(notExecutable);
  writeFileSync(join(notExecutable, 'python3'), '#!/bin/sh\n');

  it('takes the first real python3 on PATH, skipping a shim before it and files that do not run', () => {
    const path = [join(root, 'empty'), notExecutable, join(root, 'pyenv', 'shims'), join(root, 'usr', 'bin')];
    expect(resolvePython3(path.join(delimiter), [])).toBe(plain);
  });

  it('prefers a system interpreter to a shim when PATH has only the shim', () => {
    expect(resolvePython3(join(root, 'pyenv', 'shims'), [join(root, 'missing'), plain])).toBe(plain);
  });

  it('asks a shim once for sys.executable when nothing else exists', () => {
    expect(resolvePython3(join(root, 'pyenv', 'shims'), [])).toBe(behindShim);
    expect(shim).toContain('shims');
  });

  it('resolves a symbolic link to the interpreter itself', () => {
    const linked = join(root, 'linked');
    mkdirSync(linked);
    symlinkSync(plain, join(linked, 'python3'));
    expect(resolvePython3(linked, [])).toBe(plain);
  });

  it('is undefined without any Python 3 (a shim that answers nothing usable does not count)', () => {
    const broken = fakePython(join(root, 'broken', 'shims'), 'exit 1');
    expect(resolvePython3(join(root, 'empty'), [join(root, 'missing')])).toBeUndefined();
    expect(resolvePython3(join(root, 'broken', 'shims'), [])).toBeUndefined();
    expect(broken).toContain('broken');
  });

  it('the real PATH of this machine gives an absolute interpreter that is not a shim (when one exists)', () => {
    const found = resolvePython3();
    if (found === undefined) return; // no python3 here: the error path is checked below
    expect(found.startsWith('/')).toBe(true);
    expect(found.split('/')).not.toContain('shims');
  });
});

describe('openTapFd with an interpreter that cannot run', () => {
  it('rejects with DEVICE_NOT_FOUND naming the device and the interpreter, leaving nothing open', async () => {
    const missing = join(root, 'no-such-python3');
    const err = await openTapFd('pst-nopy', { python: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NicError);
    // Without /dev/net/tun or the rights to it the open fails first, with its own clear code.
    expect(['DEVICE_NOT_FOUND', 'PERMISSION_DENIED']).toContain((err as NicError).code);
    expect((err as Error).message).toContain('tap:pst-nopy');
    if (existsSync('/dev/net/tun') && (err as NicError).code === 'DEVICE_NOT_FOUND')
      expect((err as Error).message).toContain(missing);
  });
});
