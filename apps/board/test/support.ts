/**
 * The dev board without hardware, for the board's tests: the board runs in a network namespace of
 * its own with a veth as its `eth0`, a socat PTY pair is the USB cable (the board opens one end as
 * its /dev/ttyGS0, the host the other as its /dev/ttyACM0), and a third namespace on the far end of
 * the veth is the network the board's Ethernet is plugged into, where the kernel's curl runs.
 *
 * ```
 *  host (this namespace)          board namespace                          peer namespace
 *  gateway / postern-flash ═PTY═ postern-board ─ pbr0 ─ eth0 (veth) ────── veth 198.18.N.2/24 ── curl
 * ```
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKeyPair } from '@postern/firmware';
import type { SigningKeyPair } from '@postern/firmware';
import { NetLab, eventually, ip } from '@postern/netlab';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The programs. */
export const BIN = {
  board: join(ROOT, 'apps/board/bin/postern-board.mjs'),
  gateway: join(ROOT, 'apps/gateway/bin/postern-gateway.mjs'),
  flash: join(ROOT, 'tools/flash/bin/postern-flash.mjs'),
} as const;

/** A started program with its output so far. */
export interface Program {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the output matches `pattern`; rejects after `limitMs` or when the program exits first. */
  waitFor(pattern: RegExp, limitMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it exited. */
  stop(): Promise<void>;
}

/** Starts `command args` with its output collected (stdout and stderr). `group`: in its own process group. */
export function startProgram(command: string, args: readonly string[], group = false): Program {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: group });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (out += t));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitFor: async (pattern, limitMs) => {
      let done = false;
      void exited.then(() => (done = true));
      const ok = await eventually(() => pattern.test(out) || done, limitMs);
      if (!ok || !pattern.test(out))
        throw new Error(
          `${command} ${args.join(' ')}: no ${pattern} within ${limitMs} ms${done ? ' (it exited)' : ''}; output:\n${out.slice(-3000)}`,
        );
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(kill);
    },
  };
}

/** Runs a program to its end (bounded by `limitMs`): exit code and output. */
export function runProgram(
  command: string,
  args: readonly string[],
  limitMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = startProgram(command, args);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), limitMs);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: p.output() });
    });
  });
}

/** The lab: namespaces, the cable and the key. */
export interface BoardLab {
  readonly lab: NetLab;
  readonly dir: string;
  readonly boardNs: string;
  readonly peerNs: string;
  /** The board's end of the cable (its /dev/ttyGS0). */
  readonly boardPort: string;
  /** The host's end (its /dev/ttyACM0). */
  readonly hostPort: string;
  readonly keys: SigningKeyPair;
  readonly publicKeyFile: string;
  readonly privateKeyFile: string;
  /** The gateway's (or the image's) address on the board's network, and the peer's. */
  readonly gatewayIp: string;
  readonly peerIp: string;
  readonly prefix: number;
  /** Starts `postern-board run` in the board namespace (in a process group of its own: {@link powerCut} kills it whole). */
  startBoard(extra?: readonly string[]): Promise<Program>;
  /** SIGKILL to the board's whole process group (the board and the firmware it runs): a power cut. */
  powerCut(board: Program): Promise<void>;
  /** curl in the peer namespace: the HTTP status of `http://GATEWAY/path` (0 when no answer). */
  curl(path?: string): Promise<number>;
  close(): Promise<void>;
}

/** Makes the lab; `subnet` picks 198.18.`subnet`.0/24. */
export async function makeBoardLab(subnet: number): Promise<BoardLab> {
  const lab = new NetLab({ disableIpv6: true });
  const dir = mkdtempSync(join(tmpdir(), 'postern-board-test-'));
  const cleanups: Array<() => Promise<void> | void> = [
    () => lab.cleanup().then(() => {}),
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  const boardNs = await lab.namespace();
  const peerNs = await lab.namespace();
  const [vb, vp] = await lab.veth();
  await lab.moveToNamespace(vb, boardNs);
  await lab.moveToNamespace(vp, peerNs);
  await ip(['link', 'set', 'dev', vb, 'name', 'eth0'], boardNs);
  const gatewayIp = `198.18.${subnet}.1`;
  const peerIp = `198.18.${subnet}.2`;
  await lab.setAddress(vp, `${peerIp}/24`, peerNs);
  await lab.linkUp(vp, peerNs);

  const boardPort = join(dir, 'ttyGS0');
  const hostPort = join(dir, 'ttyACM0');
  const socat = startProgram('socat', [`pty,raw,echo=0,link=${boardPort}`, `pty,raw,echo=0,link=${hostPort}`]);
  cleanups.unshift(() => socat.stop());
  if (!(await eventually(() => existsSync(boardPort) && existsSync(hostPort), 5000)))
    throw new Error(`socat made no PTY pair: ${socat.output()}`);

  const keys = generateSigningKeyPair();
  const publicKeyFile = join(dir, 'dev.pub');
  const privateKeyFile = join(dir, 'dev.key');
  writeFileSync(publicKeyFile, keys.publicKeyPem);
  writeFileSync(privateKeyFile, keys.privateKeyPem, { mode: 0o600 });
  const boards: Program[] = [];
  cleanups.unshift(async () => {
    for (const b of boards) await b.stop();
  });
  return {
    lab,
    dir,
    boardNs,
    peerNs,
    boardPort,
    hostPort,
    keys,
    publicKeyFile,
    privateKeyFile,
    gatewayIp,
    peerIp,
    prefix: 24,
    startBoard: async (extra = []) => {
      const board = startProgram(
        'ip',
        [
          'netns',
          'exec',
          boardNs,
          process.execPath,
          BIN.board,
          'run',
          '--port',
          boardPort,
          '--eth',
          'eth0',
          '--state',
          join(dir, 'state'),
          '--trusted-key',
          publicKeyFile,
          '--image-ip',
          `${gatewayIp}/24`,
          ...extra,
        ],
        true,
      );
      boards.push(board);
      await board.waitFor(/postern-board: ready/, 20_000);
      return board;
    },
    powerCut: async (board) => {
      const exited = new Promise<void>((resolve) =>
        board.child.exitCode !== null ? resolve() : board.child.once('exit', () => resolve()),
      );
      process.kill(-board.child.pid!, 'SIGKILL');
      await exited;
    },
    curl: async (path = '/') => {
      const r = await lab.tryExec(
        peerNs,
        'curl',
        ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', `http://${gatewayIp}${path}`],
        { timeoutMs: 6000 },
      );
      return Number(r.stdout.trim() || '0');
    },
    close: async () => {
      for (const c of cleanups) await c();
    },
  };
}

/** Polls {@link BoardLab.curl} until it answers `status`, for at most `limitMs`. */
export async function curlUntil(l: BoardLab, status: number, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if ((await l.curl()) === status) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
