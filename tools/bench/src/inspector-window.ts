/**
 * Profiles a running Node process (started with `--inspect=HOST:PORT`) for exactly as long as a command
 * runs: connects to its inspector, starts the CPU profiler and/or the sampling heap profiler, runs the
 * command (e.g. one bounded `wrk` run), stops them and writes `.cpuprofile` / `.heapprofile` files that
 * cover only that window (no start-up, no warm-up). Needs Node's WebSocket client (Node 20:
 * `--experimental-websocket`; Node 22+: built in).
 *
 *   node --experimental-websocket --import tsx tools/bench/src/inspector-window.ts --port 9229 \
 *       [--host 127.0.0.1] [--cpu OUT.cpuprofile] [--cpu-interval-us 250] \
 *       [--heap OUT.heapprofile] [--heap-interval-bytes 16384] -- COMMAND [ARGS...]
 *
 * The heap profile counts every sampled allocation, also those already collected by a scavenge or a
 * mark-compact when the window ends (V8's `includeObjectsCollectedByMinorGC/MajorGC`), so its sizes are
 * bytes ALLOCATED in the window by each site, not bytes still live. Summarize either file with
 * bundle-profile.ts. The command's output passes through; this exits with its status.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** A minimal Chrome DevTools Protocol client over one WebSocket: `send` resolves with the result. */
export interface InspectorSession {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

/** The WebSocket URL of the first target the inspector at `host:port` lists. Rejects when it lists none. */
export async function inspectorUrl(host: string, port: number): Promise<string> {
  const res = await fetch(`http://${host}:${String(port)}/json/list`);
  const targets = (await res.json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets.find((t) => typeof t.webSocketDebuggerUrl === 'string')?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`inspector ${host}:${String(port)}: no debuggable target`);
  return url;
}

/** Opens a session on `url` (a `ws://` debugger URL). A protocol error rejects that call with its message. */
export function openInspector(url: string): Promise<InspectorSession> {
  const Ws = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (Ws === undefined) return Promise.reject(new Error('no WebSocket client: run node with --experimental-websocket'));
  const ws = new Ws(url);
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  let next = 1;
  ws.addEventListener('message', (ev: MessageEvent) => {
    const msg = JSON.parse(String(ev.data)) as {
      id?: number;
      result?: Record<string, unknown>;
      error?: { message: string };
    };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (msg.error !== undefined) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result ?? {});
  });
  return new Promise((resolve, reject) => {
    ws.addEventListener('error', () => reject(new Error(`inspector ${url}: connection failed`)));
    ws.addEventListener('open', () =>
      resolve({
        send(method, params = {}) {
          const id = next++;
          ws.send(JSON.stringify({ id, method, params }));
          return new Promise((res, rej) => pending.set(id, { resolve: res, reject: rej }));
        },
        close() {
          ws.close();
        },
      }),
    );
  });
}

/** Runs `command` with inherited stdio; resolves with its exit status (1 when killed by a signal). */
function run(command: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const dash = process.argv.indexOf('--');
  const { values } = parseArgs({
    args: process.argv.slice(2, dash < 0 ? undefined : dash),
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      cpu: { type: 'string' },
      'cpu-interval-us': { type: 'string', default: '250' },
      heap: { type: 'string' },
      'heap-interval-bytes': { type: 'string', default: '16384' },
    },
  });
  const command = dash < 0 ? [] : process.argv.slice(dash + 1);
  const port = Number(values.port);
  const cpuInterval = Number(values['cpu-interval-us']);
  const heapInterval = Number(values['heap-interval-bytes']);
  const bad =
    !Number.isInteger(port) || port <= 0 || port > 65535
      ? '--port: an inspector port (1-65535) is required'
      : !(cpuInterval > 0)
        ? '--cpu-interval-us: must be a positive number'
        : !(heapInterval > 0)
          ? '--heap-interval-bytes: must be a positive number'
          : values.cpu === undefined && values.heap === undefined
            ? 'give --cpu FILE and/or --heap FILE'
            : command.length === 0
              ? 'give the command to run after --'
              : undefined;
  if (bad !== undefined) {
    console.error(`inspector-window: ${bad}`);
    process.exit(2);
  }
  const session = await openInspector(await inspectorUrl(values.host, port));
  if (values.cpu !== undefined) {
    await session.send('Profiler.enable');
    await session.send('Profiler.setSamplingInterval', { interval: cpuInterval });
    await session.send('Profiler.start');
  }
  if (values.heap !== undefined) {
    await session.send('HeapProfiler.enable');
    await session.send('HeapProfiler.startSampling', {
      samplingInterval: heapInterval,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const status = await run(command);
  if (values.cpu !== undefined) {
    const { profile } = await session.send('Profiler.stop');
    writeFileSync(values.cpu, JSON.stringify(profile));
  }
  if (values.heap !== undefined) {
    const { profile } = await session.send('HeapProfiler.stopSampling');
    writeFileSync(values.heap, JSON.stringify(profile));
  }
  session.close();
  process.exit(status);
}
