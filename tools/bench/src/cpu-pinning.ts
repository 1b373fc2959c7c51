/**
 * CPU pinning of a keep-alive sample of the `http-compare` benchmarks: the server process (every one
 * of its threads) on one CPU, the load generator on another, so that where the kernel happens to
 * place the two (the same CPU, or each migrating between both) does not decide the figure. The rule
 * is the same for every server: one CPU for the server, one for the client.
 *
 * The server is pinned after it started and unpinned right after the sample
 * ({@link pinProcess}: `taskset -a -p -c`, then back to the CPUs it was allowed before), so that
 * the other samples see it as users run it; the client is started pinned ({@link pinnedCommand}:
 * `taskset -c CPU program ...`, which execs the program, so its PID stays the client's).
 *
 * The parsers are pure functions; the readers return undefined for a process that is gone.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { tryCommand } from '@postern/netlab';

/**
 * Parses a kernel CPU list (`Cpus_allowed_list` of `/proc/PID/status`, `taskset -c` syntax), e.g.
 * `0-2,5` -> [0, 1, 2, 5], ascending and without repeats. Throws on anything else.
 */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs a task may run on, from `Cpus_allowed_list` in a `/proc/.../status` text. */
export function parseAllowedCpus(status: string): number[] {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (m === null) throw new Error('no Cpus_allowed_list line in a /proc status text');
  return parseCpuList(m[1]!);
}

/** The CPUs process `pid` (its main thread; `'self'`: this process) may run on; undefined when it is gone. */
export function allowedCpus(pid: number | 'self' = 'self'): number[] | undefined {
  try {
    return parseAllowedCpus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The CPUs each thread of `pid` may run on, by thread id (threads that end meanwhile are left out); undefined when it is gone. */
export function threadCpus(pid: number): Map<number, number[]> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const threads = new Map<number, number[]>();
  for (const tid of tids) {
    try {
      threads.set(Number(tid), parseAllowedCpus(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** Which CPU the server and which the client get. */
export interface PinPlan {
  readonly server: number;
  readonly client: number;
}

/**
 * The plan for the CPUs `cpus` this process may use: the server on the first, the client on the
 * second; a string saying why not when there are fewer than two.
 */
export function pinPlan(cpus: readonly number[] | undefined): PinPlan | string {
  if (cpus === undefined) return 'the CPUs this process may use cannot be read (/proc/self/status)';
  if (cpus.length < 2)
    return `one CPU (${cpus.join(',') || 'none'}) allowed: the pinned rows need one for the server and another for the client`;
  return { server: cpus[0]!, client: cpus[1]! };
}

/** `program args` started on CPU `cpu` (`taskset -c`), or unchanged without a CPU. */
export function pinnedCommand(
  program: string,
  args: readonly string[],
  cpu: number | undefined,
): [program: string, args: string[]] {
  return cpu === undefined ? [program, [...args]] : ['taskset', ['-c', String(cpu), program, ...args]];
}

/** A process pinned by {@link pinProcess}. */
export interface Pinned {
  /** Threads found on the CPU after pinning. */
  readonly threads: number;
  /** Gives every thread of the process the CPUs the main thread had before pinning. Never rejects. */
  unpin(): Promise<void>;
}

/**
 * Pins every thread of process `pid` to CPU `cpu` (`taskset -a -p -c`) and checks that each one
 * now may run on that CPU alone (threads started afterwards inherit it). Rejects, with the process
 * unpinned again, when taskset fails or a thread is left elsewhere.
 */
export async function pinProcess(pid: number, cpu: number): Promise<Pinned> {
  const before = allowedCpus(pid);
  if (before === undefined) throw new Error(`pin: process ${pid} is gone`);
  const set = (cpus: readonly number[]) =>
    tryCommand('taskset', ['-a', '-p', '-c', cpus.join(','), String(pid)], { timeoutMs: 10_000 });
  const unpin = async () => {
    await set(before);
  };
  const r = await set([cpu]);
  if (r.code !== 0) {
    await unpin();
    throw new Error(`pin: taskset exit ${String(r.code)}: ${r.stderr.trim().slice(0, 200)}`);
  }
  const threads = threadCpus(pid) ?? new Map<number, number[]>();
  const elsewhere = [...threads].filter(([, cpus]) => cpus.length !== 1 || cpus[0] !== cpu);
  if (threads.size === 0 || elsewhere.length > 0) {
    await unpin();
    throw new Error(
      `pin: ${elsewhere.length} of ${threads.size} threads of ${pid} not on CPU ${cpu} after taskset (${elsewhere
        .map(([tid, cpus]) => `${tid}: ${cpus.join(',')}`)
        .join('; ')})`,
    );
  }
  return { threads: threads.size, unpin };
}
