/**
 * The kernel's HTTP clients of the `http-compare` benchmarks, run inside a network namespace (or
 * the root one) and bounded in time: `curl` for a bulk download, `wrk` (or `ab -k` when wrk is
 * missing) for a keep-alive load, and a one-at-a-time loop of HTTP/1.0 connections (python3) that
 * counts stalls. The parsers of their outputs are pure functions (tested on real outputs).
 */
import { execFile } from 'node:child_process';
import { tryCommand, type CommandResult } from '@postern/netlab';
import { pinnedCommand } from './cpu-pinning.js';

/** Where a client runs: inside a namespace (`ip netns exec`) or, undefined, in the root namespace. */
export type ClientNamespace = string | undefined;

/** Runs `program args` in `ns` (or the root namespace), bounded by `timeoutMs`; never rejects. */
export function runIn(
  ns: ClientNamespace,
  program: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<CommandResult> {
  return ns === undefined
    ? tryCommand(program, args, { timeoutMs })
    : tryCommand('ip', ['netns', 'exec', ns, program, ...args], { timeoutMs });
}

/**
 * {@link runIn} that also hands the client's PID to `onSpawn` as soon as it starts (`ip netns exec`
 * execs the program, so the PID is the client's own): for instruments that watch it during the run.
 * Same bound (SIGKILL after `timeoutMs`) and result; never rejects.
 */
export function runInWatched(
  ns: ClientNamespace,
  program: string,
  args: readonly string[],
  timeoutMs: number,
  onSpawn: (pid: number | undefined) => void,
): Promise<CommandResult> {
  const [file, argv] = ns === undefined ? [program, args] : ['ip', ['netns', 'exec', ns, program, ...args]];
  return new Promise((resolve) => {
    const child = execFile(
      file,
      argv,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve({ code: 0, stdout, stderr });
        const e = error as NodeJS.ErrnoException & { code?: unknown };
        const code = typeof e.code === 'number' ? e.code : null;
        resolve({ code: code ?? 127, stdout, stderr: stderr || e.message });
      },
    );
    onSpawn(child.pid);
  });
}

/** Whether `program` is on the PATH. */
export async function hasProgram(program: string): Promise<boolean> {
  return (await tryCommand('sh', ['-c', `command -v ${program}`])).code === 0;
}

// ---------------------------------------------------------------------------------------- curl

/** Longest one bulk download may take, in seconds (curl's `--max-time`). */
export const CURL_MAX_SECONDS = 60;

/**
 * Downloads `url` once with curl (body discarded) and resolves with MB/s (10^6 bytes per second)
 * from curl's own `%{speed_download}`. Rejects unless curl exits with 0 and received exactly
 * `expectedBytes`.
 */
export async function curlDownloadMBps(ns: ClientNamespace, url: string, expectedBytes: number): Promise<number> {
  const r = await runIn(
    ns,
    'curl',
    ['-sS', '--max-time', String(CURL_MAX_SECONDS), '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', url],
    (CURL_MAX_SECONDS + 5) * 1000,
  );
  const [size, speed] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== expectedBytes || speed === undefined || !Number.isFinite(speed)) {
    throw new Error(
      `curl ${url}: exit ${String(r.code)}, ${String(size)} of ${expectedBytes} bytes: ${r.stderr.trim()}`,
    );
  }
  return speed / 1e6;
}

/**
 * Downloads every server makes before its first bulk sample, not measured (the harness's discarded
 * warm-up sample comes on top of them). A freshly started gateway (shipped bin, fresh namespace, ten
 * `/big` downloads in a row, V8's --trace-opt) finished 100-170 optimizing compilations in each of its
 * first five downloads and 8-18 in each of the next four, and a bench run's first bulk row measured its
 * downloads 2-4 at 249-333 MB/s against 382-395 MB/s for downloads 6-8 (the "share of the ceiling"
 * row) in the same minute: the first row measured the gateway's start-up. The same count for every
 * server, so the comparison stays fair.
 */
export const BULK_WARMUP_DOWNLOADS = 4;
/** No bulk warm-up download starts after this much time, ms (each download is bounded by {@link CURL_MAX_SECONDS}). */
export const BULK_WARMUP_BUDGET_MS = 8000;

/**
 * Runs `download` (one bulk download, resolving with its MB/s) up to `count` times, one after
 * another, and starts none after `budgetMs` of `now` since the first (which always runs when `count`
 * is at least 1). Resolves with the speeds in the order taken; a failing download rejects.
 */
export async function warmUpDownloads(
  download: () => Promise<number>,
  count: number = BULK_WARMUP_DOWNLOADS,
  budgetMs: number = BULK_WARMUP_BUDGET_MS,
  now: () => number = () => performance.now(),
): Promise<number[]> {
  const speeds: number[] = [];
  const start = now();
  while (speeds.length < count && (speeds.length === 0 || now() - start < budgetMs)) speeds.push(await download());
  return speeds;
}

// ------------------------------------------------------------------------------- wrk and ab -k

/** What one keep-alive load reported. */
export interface KeepAliveResult {
  /** Completed requests per second. */
  readonly requestsPerSecond: number;
  /** 99th percentile latency, milliseconds. */
  readonly p99Ms: number;
  /** Median latency, milliseconds (wrk only; NaN from ab). */
  readonly p50Ms: number;
  /** Socket errors (connect, read, write, timeout) plus responses that were not 2xx/3xx. */
  readonly errors: number;
}

function toMs(value: number, unit: string): number {
  switch (unit) {
    case 'us':
      return value / 1000;
    case 'ms':
      return value;
    case 's':
      return value * 1000;
    case 'm':
      return value * 60_000;
    default:
      throw new Error(`unknown latency unit ${JSON.stringify(unit)}`);
  }
}

/**
 * Parses the output of `wrk --latency`: `Requests/sec:`, the `99%` line of its latency
 * distribution, `Socket errors:` and `Non-2xx or 3xx responses:`. Throws when a figure is missing.
 */
export function parseWrkOutput(text: string): KeepAliveResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\b/m.exec(text);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\b/m.exec(text);
  if (rps === null || p99 === null || p50 === null)
    throw new Error(`wrk: no Requests/sec, 50% or 99% latency in its output: ${text.trim().slice(0, 300)}`);
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (socket !== null) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx !== null) errors += Number(non2xx[1]);
  return {
    requestsPerSecond: Number(rps[1]),
    p99Ms: toMs(Number(p99[1]), p99[2]!),
    p50Ms: toMs(Number(p50[1]), p50[2]!),
    errors,
  };
}

/**
 * Parses the output of ApacheBench (`ab -k`): `Requests per second:`, the `99%` line of its
 * percentile table (milliseconds), `Failed requests:` and `Non-2xx responses:`.
 */
export function parseAbOutput(text: string): KeepAliveResult {
  const rps = /^Requests per second:\s+([\d.]+)/m.exec(text);
  const p99 = /^\s+99%\s+(\d+)/m.exec(text);
  if (rps === null || p99 === null)
    throw new Error(`ab: no Requests per second or 99% line in its output: ${text.trim().slice(0, 300)}`);
  let errors = 0;
  const failed = /^Failed requests:\s+(\d+)/m.exec(text);
  if (failed !== null) errors += Number(failed[1]);
  const non2xx = /^Non-2xx responses:\s+(\d+)/m.exec(text);
  if (non2xx !== null) errors += Number(non2xx[1]);
  return { requestsPerSecond: Number(rps[1]), p99Ms: Number(p99[1]), p50Ms: Number.NaN, errors };
}

/** Persistent connections of the keep-alive load (`wrk -c`, `ab -c`). */
export const KEEPALIVE_CONNECTIONS = 32;

/** The keep-alive load generator found on this machine: wrk, else ab, else none. */
export async function keepAliveTool(): Promise<'wrk' | 'ab' | undefined> {
  if (await hasProgram('wrk')) return 'wrk';
  if (await hasProgram('ab')) return 'ab';
  return undefined;
}

/**
 * A wrk script (`wrk -s FILE`) whose requests all differ: request `n` of a connection's thread asks
 * for the URL's path with the query `?v=<n>` and carries `X-Request-Id: <n>` and an `Accept` that
 * alternates between two values, so that a server cannot answer it from a head it saw before (the
 * repeated-head shortcut) or from the route of the previous request's exact target. wrk calls
 * `request()` once per request; the rest of the head (Host) is wrk's own.
 */
export const VARYING_REQUESTS_LUA = `local n = 0
request = function()
  n = n + 1
  local headers = { ["Host"] = wrk.headers["Host"], ["X-Request-Id"] = tostring(n) }
  if n % 2 == 0 then headers["Accept"] = "text/plain" else headers["Accept"] = "*/*" end
  return wrk.format("GET", wrk.path .. "?v=" .. n, headers)
end
`;

/**
 * Runs `wrk -t1 -c<connections> -d<seconds>s --latency url` (default 32 connections; or `ab -k -c 32 -t <seconds>` with `tool: 'ab'`)
 * and parses its figures. With `script` (a wrk Lua file, e.g. {@link VARYING_REQUESTS_LUA} written to
 * disk), wrk runs it with `-s`; ab cannot, so `script` with `tool: 'ab'` rejects. `onSpawn` gets the
 * load generator's PID as it starts (see {@link runInWatched}). With `cpu`, the load generator runs
 * on that CPU alone (`taskset -c`, inside the namespace; its PID stays its own). Rejects when the
 * tool fails or completes no request.
 */
export async function keepAliveLoad(
  ns: ClientNamespace,
  url: string,
  seconds: number,
  tool: 'wrk' | 'ab',
  connections = KEEPALIVE_CONNECTIONS,
  script?: string,
  onSpawn?: (pid: number | undefined) => void,
  cpu?: number,
): Promise<KeepAliveResult> {
  if (script !== undefined && tool !== 'wrk') throw new Error(`${tool} ${url}: only wrk runs a request script`);
  const s = String(Math.max(1, Math.round(seconds)));
  const limitMs = (Number(s) + 15) * 1000;
  const scriptArgs = script === undefined ? [] : ['-s', script];
  const args =
    tool === 'wrk'
      ? ['-t1', `-c${connections}`, `-d${s}s`, '--latency', ...scriptArgs, url]
      : ['-k', '-q', '-c', String(connections), '-t', s, '-n', '50000000', url];
  const [program, argv] = pinnedCommand(tool, args, cpu);
  const r =
    onSpawn === undefined
      ? await runIn(ns, program, argv, limitMs)
      : await runInWatched(ns, program, argv, limitMs, onSpawn);
  if (r.code !== 0)
    throw new Error(`${tool} ${url}: exit ${String(r.code)}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  const result = tool === 'wrk' ? parseWrkOutput(r.stdout) : parseAbOutput(r.stdout);
  if (!(result.requestsPerSecond > 0)) throw new Error(`${tool} ${url}: no request completed`);
  return result;
}

// ------------------------------------------------------------------- short connections (python)

/** A connection that took longer than this (connect to the server's close) counts as stalled. */
export const STALL_MS = 1000;
/** Most connections one short-connection sample makes. */
export const SHORT_MAX_CONNECTIONS = 2000;
/**
 * Connections a server answers, one at a time, before its first short-connection sample (the same
 * for every server). A freshly started gateway (shipped bin, 2 cores at load 6-8, 1,000-connection
 * buckets of the loop below, CPU from /proc/PID/stat) spent 1.2-1.5 ms of CPU per connection over its
 * first 1,000 connections, 0.70-0.85 ms over the second, 0.38-0.52 ms over the third, 0.30-0.38 ms
 * over the fifth and 0.21-0.33 ms from the sixth on (JIT tiers and heap growth); V8 still optimized
 * functions between the 6,000th and the 15,000th connection (780 -> 808, with ~12 us per connection
 * of compiler-thread CPU after the 6,000th), so the warm-up is 10,000: the samples see the server a
 * user runs for hours, not its start-up.
 */
export const SHORT_WARMUP_CONNECTIONS = 10_000;
/** Bound of the warm-up loop, ms (a cold gateway on a loaded machine made ~500 connections/s at first). */
export const SHORT_WARMUP_BUDGET_MS = 45_000;
/** A connection that took longer than this counts as failed (and the loop goes on). */
export const SHORT_CONNECTION_TIMEOUT_S = 5;

/**
 * The one-at-a-time loop: connect (from the source address in the optional 8th argument, else the
 * kernel's choice), send one HTTP/1.0 GET, read until the server closes, close; repeat until
 * `budget` seconds passed or `limit` connections were made. Prints one JSON line, with the loop's
 * own CPU seconds (user + system, from getrusage) as `clientCpuSeconds`.
 */
export const SHORT_CONNECTIONS_SCRIPT = `
import json, resource, socket, sys, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
budget, limit, stall, timeout = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
source = (sys.argv[8], 0) if len(sys.argv) > 8 and sys.argv[8] else None
req = ("GET %s HTTP/1.0\\r\\nHost: bench\\r\\n\\r\\n" % path).encode()
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
fine = stalled = failed = 0
worst = 0.0
cpu0 = cpu()
start = time.monotonic()
end = start + budget
while fine + stalled + failed < limit and time.monotonic() < end:
    t0 = time.monotonic()
    ok = False
    try:
        s = socket.create_connection((host, port), timeout=timeout, source_address=source)
        try:
            s.sendall(req)
            got = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += b
            ok = got.startswith(b"HTTP/1.") and b" 200 " in got[:16]
        finally:
            s.close()
    except OSError:
        ok = False
    dt = time.monotonic() - t0
    worst = max(worst, dt)
    if not ok:
        failed += 1
    elif dt > stall:
        stalled += 1
    else:
        fine += 1
print(json.dumps({"fine": fine, "stalled": stalled, "failed": failed, "seconds": time.monotonic() - start, "worstSeconds": worst, "clientCpuSeconds": cpu() - cpu0}))
`;

/** What one short-connection loop reported. */
export interface ShortConnectionsResult {
  /** Connections answered within {@link STALL_MS}. */
  readonly fine: number;
  /** Connections answered, but after more than {@link STALL_MS} (a lost SYN, a retransmission timeout). */
  readonly stalled: number;
  /** Connections refused, reset, timed out or answered with something other than 200. */
  readonly failed: number;
  /** Wall time of the loop, seconds. */
  readonly seconds: number;
  /** The slowest connection, seconds. */
  readonly worstSeconds: number;
  /** CPU seconds the loop itself used (user + system; NaN when the output does not say). */
  readonly clientCpuSeconds: number;
}

/** Answered connections (fine or stalled) per second. */
export function connectionsPerSecond(r: ShortConnectionsResult): number {
  return r.seconds > 0 ? (r.fine + r.stalled) / r.seconds : 0;
}

/** Parses the JSON line of {@link SHORT_CONNECTIONS_SCRIPT}; throws on anything else. */
export function parseShortConnections(text: string): ShortConnectionsResult {
  const line = text.trim().split('\n').pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`short connections: not a JSON result: ${text.trim().slice(0, 300)}`);
  }
  const v = value as Record<string, unknown>;
  const keys = ['fine', 'stalled', 'failed', 'seconds', 'worstSeconds'] as const;
  for (const k of keys) {
    if (typeof v[k] !== 'number' || !Number.isFinite(v[k]))
      throw new Error(`short connections: field ${k} missing in ${line}`);
  }
  return {
    fine: v.fine as number,
    stalled: v.stalled as number,
    failed: v.failed as number,
    seconds: v.seconds as number,
    worstSeconds: v.worstSeconds as number,
    clientCpuSeconds: typeof v.clientCpuSeconds === 'number' ? v.clientCpuSeconds : Number.NaN,
  };
}

/**
 * Runs the one-at-a-time HTTP/1.0 loop against `host:port` for about `budgetMs` (at most `limit`
 * connections, default {@link SHORT_MAX_CONNECTIONS}; one more connection may overrun the budget by up
 * to {@link SHORT_CONNECTION_TIMEOUT_S}), from the local address `source` when given (it must be an
 * address of the namespace). Rejects only when python3 fails; a loop with no answered connection
 * resolves with its failures counted.
 */
export async function shortConnections(
  ns: ClientNamespace,
  host: string,
  port: number,
  path: string,
  budgetMs: number,
  limit = SHORT_MAX_CONNECTIONS,
  source?: string,
): Promise<ShortConnectionsResult> {
  const args = [
    '-c',
    SHORT_CONNECTIONS_SCRIPT,
    host,
    String(port),
    path,
    String(budgetMs / 1000),
    String(limit),
    String(STALL_MS / 1000),
    String(SHORT_CONNECTION_TIMEOUT_S),
    ...(source === undefined ? [] : [source]),
  ];
  const r = await runIn(ns, 'python3', args, budgetMs + (SHORT_CONNECTION_TIMEOUT_S + 10) * 1000);
  if (r.code !== 0)
    throw new Error(`short connections to ${host}:${port}: exit ${String(r.code)}: ${r.stderr.trim().slice(0, 300)}`);
  // A sample where no connection was answered is a measurement (0 conn/s, its failures counted), not an error.
  return parseShortConnections(r.stdout);
}

// ------------------------------------------------------------------------------------------ ping

/** Parses `ping -q`'s summary line (`rtt min/avg/max/mdev = a/b/c/d ms`) into the average RTT, ms. */
export function parsePingAverageMs(text: string): number {
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(text);
  if (m === null) throw new Error(`ping: no rtt summary in its output: ${text.trim().slice(0, 300)}`);
  return Number(m[1]);
}

/** Echo requests in one ping sample, and the interval between them (seconds; below 0.2 needs root). */
export const PING_COUNT = 25;
export const PING_INTERVAL_S = 0.02;

/**
 * Pings `host` from `ns` {@link PING_COUNT} times, {@link PING_INTERVAL_S} apart, and resolves with
 * the average round-trip time in ms. Rejects when ping fails or loses every echo.
 */
export async function pingAverageMs(ns: ClientNamespace, host: string): Promise<number> {
  const r = await runIn(
    ns,
    'ping',
    ['-q', '-c', String(PING_COUNT), '-i', String(PING_INTERVAL_S), '-W', '1', host],
    30_000,
  );
  if (r.code !== 0)
    throw new Error(`ping ${host}: exit ${String(r.code)}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  return parsePingAverageMs(r.stdout);
}
