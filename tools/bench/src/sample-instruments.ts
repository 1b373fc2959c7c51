/**
 * Instruments of one sample of the `http-compare` benchmarks: what the server process and the load
 * generator did besides the figure, read from `/proc` (and `perf stat` when it is installed), for
 * the line the benchmark prints after each sample (never a figure of its own):
 *
 * - CPU of the server's main thread beside its other threads (`/proc/PID/task/TID/stat`: V8's GC and
 *   compiler threads, libuv's pool), and their voluntary and involuntary context switches
 *   (`/proc/PID/task/TID/status`);
 * - CPU migrations and context switches of the whole process from `perf stat -e
 *   cpu-migrations,context-switches -p PID` (skipped, with the reason, without perf);
 * - on which CPU the server's busiest thread and the load generator last ran (field 39 of their
 *   `stat`), polled during the sample, and how often the two were found on the same CPU.
 *
 * The parsers and the arithmetic are pure functions (tested on real `/proc` and `perf` text); the
 * readers return undefined for a process that is gone, never throw.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { tryCommand } from '@postern/netlab';

/** Clock ticks per second of `/proc/PID/stat` times (USER_HZ; 100 on Linux). */
export const CLOCK_TICKS = 100;

/** The fields of one `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) line the instruments use. */
export interface TaskStat {
  /** `utime + stime`, clock ticks. */
  readonly cpuTicks: number;
  /** `stime`: the part of {@link TaskStat.cpuTicks} spent in the kernel, clock ticks. */
  readonly systemTicks: number;
  /** The CPU the task last ran on (field 39). */
  readonly processor: number;
}

/** Parses a `stat` line: fields after the command name (which may hold spaces and parentheses) start after the last `)`. */
export function parseTaskStat(text: string): TaskStat {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // fields[0] is field 3 (state): field N is fields[N - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  const processor = Number(fields[39 - 3]);
  if (![utime, stime, processor].every(Number.isFinite)) throw new Error(`short /proc stat line: ${text.slice(0, 80)}`);
  return { cpuTicks: utime + stime, systemTicks: stime, processor };
}

/** Context switches of one task, from its `status` file. */
export interface ContextSwitches {
  readonly voluntary: number;
  readonly involuntary: number;
}

/** Parses `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` out of a `/proc/.../status` text. */
export function parseContextSwitches(text: string): ContextSwitches {
  const voluntary = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(text);
  const involuntary = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text);
  if (voluntary === null || involuntary === null) throw new Error('no ctxt_switches lines in a /proc status text');
  return { voluntary: Number(voluntary[1]), involuntary: Number(involuntary[1]) };
}

/** One thread of a process at one moment. */
export interface TaskCounters extends TaskStat, ContextSwitches {
  readonly tid: number;
}

/** Every thread of `pid` now (a thread that ends while it is read is left out); undefined when the process is gone. */
export function readTasks(pid: number): TaskCounters[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const tasks: TaskCounters[] = [];
  for (const tid of tids) {
    try {
      const stat = parseTaskStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const switches = parseContextSwitches(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      tasks.push({ tid: Number(tid), ...stat, ...switches });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return tasks;
}

/** What the threads of one process did between two readings. */
export interface ThreadsDelta {
  /** CPU of the main thread (tid = pid), ms. */
  readonly mainMs: number;
  /** The part of {@link ThreadsDelta.mainMs} spent in the kernel (system calls, and the kernel's work done in them), ms. */
  readonly mainSystemMs: number;
  /** CPU of every other thread, ms. */
  readonly otherMs: number;
  /** CPU of the busiest other thread, ms. */
  readonly busiestOtherMs: number;
  /** Other threads that used any CPU. */
  readonly busyOthers: number;
  readonly mainVoluntary: number;
  readonly mainInvoluntary: number;
  readonly otherVoluntary: number;
  readonly otherInvoluntary: number;
}

/**
 * The difference of two {@link readTasks} readings of process `pid`, its main thread apart. A thread
 * that appears only in `after` counts from zero; one that is gone in `after` is left out.
 */
export function threadsDelta(
  pid: number,
  before: readonly TaskCounters[],
  after: readonly TaskCounters[],
): ThreadsDelta {
  const earlier = new Map(before.map((t) => [t.tid, t]));
  const ms = (ticks: number) => (ticks * 1000) / CLOCK_TICKS;
  let mainMs = 0;
  let mainSystemMs = 0;
  let otherMs = 0;
  let busiestOtherMs = 0;
  let busyOthers = 0;
  let mainVoluntary = 0;
  let mainInvoluntary = 0;
  let otherVoluntary = 0;
  let otherInvoluntary = 0;
  for (const t of after) {
    const b = earlier.get(t.tid);
    const cpu = ms(t.cpuTicks - (b?.cpuTicks ?? 0));
    const voluntary = t.voluntary - (b?.voluntary ?? 0);
    const involuntary = t.involuntary - (b?.involuntary ?? 0);
    if (t.tid === pid) {
      mainMs += cpu;
      mainSystemMs += ms(t.systemTicks - (b?.systemTicks ?? 0));
      mainVoluntary += voluntary;
      mainInvoluntary += involuntary;
    } else {
      otherMs += cpu;
      busiestOtherMs = Math.max(busiestOtherMs, cpu);
      if (cpu > 0) busyOthers++;
      otherVoluntary += voluntary;
      otherInvoluntary += involuntary;
    }
  }
  return {
    mainMs,
    mainSystemMs,
    otherMs,
    busiestOtherMs,
    busyOthers,
    mainVoluntary,
    mainInvoluntary,
    otherVoluntary,
    otherInvoluntary,
  };
}

/** The CPU `pid` last ran on, or undefined when it is gone. */
export function processorOf(pid: number): number | undefined {
  try {
    return parseTaskStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).processor;
  } catch {
    return undefined;
  }
}

/**
 * Parses `perf stat -x,` output (one `value,unit,event,...` line per event; `<not counted>` or
 * `<not supported>` as the value of an event it could not count) into event -> count.
 */
export function parsePerfStatCsv(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [value, , event] = line.split(',');
    if (event === undefined || event === '' || value === undefined) continue;
    const n = Number(value);
    if (value !== '' && Number.isFinite(n)) counts.set(event, n);
  }
  return counts;
}

/** System calls of a sample, counted by `perf stat` on the syscall tracepoints (undefined: not counted). */
export interface SyscallCounts {
  /** `read` calls (frames, the read-ahead's empty reads, and everything else the process reads). */
  readonly reads: number;
  /** `read` calls that returned EAGAIN (the queue was empty). */
  readonly emptyReads: number;
  readonly writes: number;
  /** `epoll_wait` and `epoll_pwait` calls (event-loop polls). */
  readonly polls: number;
}

/** What `perf stat` counted over a sample, or why it could not. */
export type PerfCounts =
  | { readonly migrations: number; readonly switches: number; readonly syscalls?: SyscallCounts }
  | { readonly skipped: string };

/** The syscall tracepoints {@link perfStat} asks for, each followed by its filter where it has one. */
const SYSCALL_EVENTS = [
  ['-e', 'syscalls:sys_enter_read'],
  ['-e', 'syscalls:sys_exit_read', '--filter', 'ret == -11'],
  ['-e', 'syscalls:sys_enter_write'],
  ['-e', 'syscalls:sys_enter_epoll_wait'],
  ['-e', 'syscalls:sys_enter_epoll_pwait'],
].flat();

/** The {@link SyscallCounts} in a {@link parsePerfStatCsv} map, or undefined when the tracepoints were not counted. */
export function syscallCounts(counts: ReadonlyMap<string, number>): SyscallCounts | undefined {
  const reads = counts.get('syscalls:sys_enter_read');
  const emptyReads = counts.get('syscalls:sys_exit_read');
  const writes = counts.get('syscalls:sys_enter_write');
  const polls =
    (counts.get('syscalls:sys_enter_epoll_wait') ?? 0) + (counts.get('syscalls:sys_enter_epoll_pwait') ?? 0);
  if (reads === undefined || emptyReads === undefined || writes === undefined) return undefined;
  return { reads, emptyReads, writes, polls };
}

/**
 * Counts `cpu-migrations` and `context-switches` of `pid` (all its threads) for `seconds` with
 * `perf stat`, started now, and its `read`/`write`/`epoll` calls where the syscall tracepoints are
 * available (perf is retried without them where they are not). Resolves with why not when perf is
 * missing or fails; never rejects.
 */
export async function perfStat(pid: number, seconds: number): Promise<PerfCounts> {
  const run = (events: string[]) =>
    tryCommand(
      'perf',
      [
        'stat',
        '-x,',
        '-e',
        'cpu-migrations,context-switches',
        ...events,
        '-p',
        String(pid),
        '--',
        'sleep',
        String(seconds),
      ],
      { timeoutMs: (seconds + 10) * 1000 },
    );
  let r = await run(SYSCALL_EVENTS);
  if (r.code !== 0 && !r.stderr.includes('cpu-migrations')) r = await run([]);
  if (r.code !== 0)
    return { skipped: `perf: ${(r.stderr.trim().split('\n')[0] ?? '').slice(0, 80) || `exit ${String(r.code)}`}` };
  const counts = parsePerfStatCsv(r.stderr);
  const migrations = counts.get('cpu-migrations');
  const switches = counts.get('context-switches');
  if (migrations === undefined || switches === undefined) return { skipped: 'perf: events not counted' };
  return { migrations, switches, syscalls: syscallCounts(counts) };
}

/** Where the server and the load generator ran, polled during a sample. */
export interface Placement {
  /** Polls that found both processes. */
  readonly polls: number;
  /** Polls that found both on the same CPU. */
  readonly sameCpu: number;
  /** The CPUs they last ran on at the last poll (undefined: never found). */
  readonly serverCpu: number | undefined;
  readonly clientCpu: number | undefined;
}

/** Adds one poll (the CPUs the server and the client last ran on; undefined: a process not found) to `p`. */
export function addPlacement(p: Placement, server: number | undefined, client: number | undefined): Placement {
  if (server === undefined || client === undefined) return p;
  return { polls: p.polls + 1, sameCpu: p.sameCpu + (server === client ? 1 : 0), serverCpu: server, clientCpu: client };
}

/** A placement with no poll yet. */
export const NO_PLACEMENT: Placement = { polls: 0, sameCpu: 0, serverCpu: undefined, clientCpu: undefined };

/**
 * The CPU the thread of `now` that used the most CPU since `before` last ran on (the main thread's
 * when none did, e.g. lwIP's reference does its work on a thread of its own); undefined without threads.
 */
export function busiestProcessor(
  pid: number,
  before: readonly TaskCounters[],
  now: readonly TaskCounters[],
): number | undefined {
  const earlier = new Map(before.map((t) => [t.tid, t.cpuTicks]));
  let best: TaskCounters | undefined;
  let bestDelta = 0;
  for (const t of now) {
    const delta = t.cpuTicks - (earlier.get(t.tid) ?? t.cpuTicks);
    if (delta > bestDelta) {
      best = t;
      bestDelta = delta;
    }
  }
  return (best ?? now.find((t) => t.tid === pid) ?? now[0])?.processor;
}

/**
 * Polls where the server `serverPid` (its busiest thread since the last poll) and a client (its pid
 * given later with {@link PlacementPoller.client}) run, every `everyMs`, until {@link PlacementPoller.stop}.
 */
export class PlacementPoller {
  private placement: Placement = NO_PLACEMENT;
  private clientPid: number | undefined;
  private lastTasks: TaskCounters[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly serverPid: number,
    everyMs = 200,
  ) {
    this.timer = setInterval(() => this.poll(), everyMs);
  }

  /** The client process to watch from now on. */
  client(pid: number | undefined): void {
    this.clientPid = pid;
  }

  private poll(): void {
    const tasks = readTasks(this.serverPid) ?? [];
    const server = busiestProcessor(this.serverPid, this.lastTasks, tasks);
    this.lastTasks = tasks;
    if (this.clientPid === undefined) return;
    this.placement = addPlacement(this.placement, server, processorOf(this.clientPid));
  }

  /** Stops polling; returns what the polls found. */
  stop(): Placement {
    clearInterval(this.timer);
    return this.placement;
  }
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** The detail line of one keep-alive sample: threads, context switches, perf counts and placement. */
export function keepAliveDetail(
  threads: ThreadsDelta | undefined,
  perf: PerfCounts | undefined,
  placement: Placement,
  requests: number,
): string {
  const parts: string[] = [];
  if (threads !== undefined) {
    const per1000 = (ms: number) => fixed((ms / Math.max(1, requests)) * 1000, 2);
    parts.push(
      `cpu/1000 req: main ${per1000(threads.mainMs)} ms (system ${per1000(threads.mainSystemMs)}), other threads ${per1000(threads.otherMs)} ms (${threads.busyOthers} busy, busiest ${fixed(threads.busiestOtherMs, 0)} ms in all)`,
      `ctx switches main vol ${threads.mainVoluntary} invol ${threads.mainInvoluntary}, others vol ${threads.otherVoluntary} invol ${threads.otherInvoluntary}`,
    );
  }
  if (perf !== undefined)
    parts.push(
      'skipped' in perf ? perf.skipped : `perf: ${perf.migrations} cpu-migrations, ${perf.switches} context-switches`,
    );
  if (perf !== undefined && !('skipped' in perf) && perf.syscalls !== undefined) {
    const per = (n: number) => fixed(n / Math.max(1, requests), 2);
    const s = perf.syscalls;
    parts.push(
      `per request: ${per(s.reads)} read (${per(s.emptyReads)} EAGAIN), ${per(s.writes)} write, ${per(s.polls)} epoll`,
    );
  }
  parts.push(
    placement.polls === 0
      ? 'cpu placement: not polled'
      : `server/client on the same CPU in ${placement.sameCpu} of ${placement.polls} polls (last: server cpu ${String(placement.serverCpu)}, client cpu ${String(placement.clientCpu)})`,
  );
  return parts.join('; ');
}

/** The one-minute load average now (NaN when /proc/loadavg cannot be read). */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}
