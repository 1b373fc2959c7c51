/**
 * {@link openPtyPair}: a pseudo-terminal for the gateway to open as it would open /dev/ttyACM0.
 *
 * A small Python 3 helper process (its standard library has `pty`) allocates the pair, puts the
 * terminal in raw mode, prints the slave's path, and relays bytes between the master and its own
 * standard input and output. The simulator talks to the helper over those pipes, so the helper's
 * stdio pair is the board's byte stream. The helper keeps the slave open itself, so the gateway may
 * close and reopen the terminal without the master seeing a hang-up; it exits when its stdin closes
 * (the simulator went away).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import { SimulatorError } from './errors.js';

const HELPER = String.raw`
import os, pty, select, sys, tty
master, slave = pty.openpty()
tty.setraw(slave)
tty.setraw(master)
os.set_blocking(master, False)
sys.stderr.write("PTY " + os.ttyname(slave) + "\n")
sys.stderr.flush()
stdin = sys.stdin.fileno()
stdout = sys.stdout.fileno()
to_master = b""
to_stdout = b""
while True:
    rl = []
    wl = []
    if not to_master:
        rl.append(stdin)
    else:
        wl.append(master)
    if not to_stdout:
        rl.append(master)
    else:
        wl.append(stdout)
    r, w, _ = select.select(rl, wl, [])
    if stdin in r:
        data = os.read(stdin, 65536)
        if not data:
            break
        to_master = data
    if master in r:
        try:
            to_stdout = os.read(master, 65536)
        except OSError:
            to_stdout = b""
    if master in w:
        try:
            n = os.write(master, to_master)
            to_master = to_master[n:]
        except BlockingIOError:
            pass
    if stdout in w:
        n = os.write(stdout, to_stdout)
        to_stdout = to_stdout[n:]
`;

/** An open pseudo-terminal pair. */
export interface PtyPair {
  /** The terminal path the gateway opens (e.g. `/dev/pts/5`). */
  readonly path: string;
  /** The byte stream to whoever opens {@link PtyPair.path}. */
  readonly stream: Duplex;
  /** Ends the helper; resolves once it exited. */
  close(): Promise<void>;
}

/**
 * Starts the helper and resolves once the terminal exists.
 * @throws {@link SimulatorError} `DEVICE_NOT_FOUND` when `python3` is missing, `PTY_FAILED` otherwise.
 */
export function openPtyPair(python = 'python3'): Promise<PtyPair> {
  const child: ChildProcess = spawn(python, ['-u', '-c', HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    let settled = false;
    const fail = (e: SimulatorError): void => {
      if (settled) return;
      settled = true;
      child.kill();
      reject(e);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      fail(
        e.code === 'ENOENT'
          ? new SimulatorError('DEVICE_NOT_FOUND', `--serial pty needs ${python} (not found)`, { cause: e })
          : new SimulatorError('PTY_FAILED', `--serial pty: cannot start ${python}: ${e.message}`, { cause: e }),
      );
    });
    child.once('exit', (code) =>
      fail(
        new SimulatorError(
          'PTY_FAILED',
          `--serial pty: the pty helper exited (${code ?? 'signal'}): ${err.trim().split('\n').pop() ?? ''}`,
        ),
      ),
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      err += text;
      const m = /^PTY (\S+)$/m.exec(err);
      if (m === null || settled) return;
      settled = true;
      const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
      stream.on('error', () => {});
      const exited = new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) r();
        else child.once('exit', () => r());
      });
      resolve({
        path: m[1]!,
        stream,
        close: async () => {
          child.stdin!.end();
          child.kill();
          await exited;
        },
      });
    });
  });
}
