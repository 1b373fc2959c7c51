import { describe, expect, it } from 'vitest';
import {
  NO_PLACEMENT,
  addPlacement,
  busiestProcessor,
  keepAliveDetail,
  parseContextSwitches,
  parsePerfStatCsv,
  parseTaskStat,
  readTasks,
  syscallCounts,
  threadsDelta,
  type TaskCounters,
} from '../src/sample-instruments.js';

// A real /proc/PID/stat line of the shipped gateway (utime 505, stime 128, last on CPU 1).
const STAT =
  '7047 (node) S 1 7047 7047 0 -1 4194560 21841 1257 0 0 505 128 2 4 20 0 11 0 6513376 1205428224 20095 18446744073709551615 11988992 39846385 140728765269552 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0 90418888 90555584 152911872 140728765270444 140728765270570 140728765270570 140728765272042 0\n';

const task = (
  tid: number,
  cpuTicks: number,
  voluntary = 0,
  involuntary = 0,
  processor = 0,
  systemTicks = 0,
): TaskCounters => ({
  tid,
  cpuTicks,
  systemTicks,
  processor,
  voluntary,
  involuntary,
});

describe('parseTaskStat', () => {
  it('reads utime + stime and the last CPU (field 39)', () => {
    expect(parseTaskStat(STAT)).toEqual({ cpuTicks: 633, systemTicks: 128, processor: 1 });
  });
  it('finds the fields after a command name holding spaces and parentheses', () => {
    expect(parseTaskStat(STAT.replace('(node)', '(V8 (Default) x)'))).toEqual({
      cpuTicks: 633,
      systemTicks: 128,
      processor: 1,
    });
  });
  it('rejects what is not a stat line', () => {
    expect(() => parseTaskStat('no parenthesis')).toThrow(/not a \/proc stat line/);
    expect(() => parseTaskStat('1 (x) S 1 2')).toThrow(/short/);
  });
});

describe('parseContextSwitches', () => {
  it('reads both counts of a status text', () => {
    const status = 'Name:\tnode\nvoluntary_ctxt_switches:\t16078\nnonvoluntary_ctxt_switches:\t9228\n';
    expect(parseContextSwitches(status)).toEqual({ voluntary: 16078, involuntary: 9228 });
    expect(() => parseContextSwitches('Name:\tnode\n')).toThrow(/ctxt_switches/);
  });
});

describe('readTasks', () => {
  it('reads every thread of this process, the main one included', () => {
    const tasks = readTasks(process.pid)!;
    expect(tasks.map((t) => t.tid)).toContain(process.pid);
    expect(tasks.every((t) => t.cpuTicks >= 0 && t.voluntary >= 0)).toBe(true);
  });
  it('gives undefined for a process that does not exist', () => {
    expect(readTasks(2 ** 30)).toBeUndefined();
  });
});

describe('threadsDelta', () => {
  it('separates the main thread (tid = pid) from the others, in ms, and counts new threads from zero', () => {
    const before = [task(10, 100, 5, 1, 0, 40), task(11, 20, 3, 0), task(12, 7)];
    const after = [task(10, 150, 9, 4, 0, 61), task(11, 23, 4, 2), task(12, 7), task(13, 2, 1, 1)];
    expect(threadsDelta(10, before, after)).toEqual({
      mainMs: 500,
      mainSystemMs: 210,
      otherMs: 50,
      busiestOtherMs: 30,
      busyOthers: 2,
      mainVoluntary: 4,
      mainInvoluntary: 3,
      otherVoluntary: 2,
      otherInvoluntary: 3,
    });
  });
});

describe('parsePerfStatCsv', () => {
  it('reads perf stat -x, lines (real output) and skips events it could not count', () => {
    const text = '0,,cpu-migrations,767367,100.00,,\n1,,context-switches,767367,100.00,,\n';
    expect(parsePerfStatCsv(text)).toEqual(
      new Map([
        ['cpu-migrations', 0],
        ['context-switches', 1],
      ]),
    );
    expect(parsePerfStatCsv('<not supported>,,cpu-migrations,0,100.00,,\n').size).toBe(0);
  });
  it('takes read, EAGAIN read, write and epoll counts from the syscall tracepoints (real output)', () => {
    const text = [
      '5,,syscalls:sys_enter_read,1881402,100.00,,',
      '2,,syscalls:sys_exit_read,1881402,100.00,,',
      '7,,syscalls:sys_enter_write,1881402,100.00,,',
      '1,,syscalls:sys_enter_epoll_wait,1881402,100.00,,',
      '3,,syscalls:sys_enter_epoll_pwait,1881402,100.00,,',
    ].join('\n');
    expect(syscallCounts(parsePerfStatCsv(text))).toEqual({ reads: 5, emptyReads: 2, writes: 7, polls: 4 });
    expect(syscallCounts(parsePerfStatCsv('0,,cpu-migrations,767367,100.00,,\n'))).toBeUndefined();
  });
});

describe('placement and the detail line', () => {
  it('counts the polls that found both processes on one CPU', () => {
    let p = addPlacement(NO_PLACEMENT, 0, 0);
    p = addPlacement(p, 0, 1);
    p = addPlacement(p, undefined, 1);
    p = addPlacement(p, 1, 1);
    expect(p).toEqual({ polls: 3, sameCpu: 2, serverCpu: 1, clientCpu: 1 });
  });
  it("takes the CPU of the thread that used the most CPU since the last poll, else the main thread's", () => {
    const before = [task(10, 5, 0, 0, 0), task(11, 5, 0, 0, 0)];
    expect(busiestProcessor(10, before, [task(10, 6, 0, 0, 0), task(11, 9, 0, 0, 1)])).toBe(1);
    expect(busiestProcessor(10, before, [task(10, 5, 0, 0, 0), task(11, 5, 0, 0, 1)])).toBe(0);
    expect(busiestProcessor(10, [], [])).toBeUndefined();
  });

  it('states threads per 1,000 requests, switches, perf counts (or why none) and placement', () => {
    const threads = threadsDelta(10, [task(10, 0)], [task(10, 30, 100, 7, 0, 12), task(11, 2, 5, 0)]);
    const line = keepAliveDetail(
      threads,
      { migrations: 12, switches: 345, syscalls: { reads: 30_000, emptyReads: 2_000, writes: 20_000, polls: 500 } },
      { polls: 4, sameCpu: 1, serverCpu: 0, clientCpu: 1 },
      20_000,
    );
    expect(line).toContain('main 15.00 ms (system 6.00), other threads 1.00 ms (1 busy');
    expect(line).toContain('per request: 1.50 read (0.10 EAGAIN), 1.00 write, 0.03 epoll');
    expect(line).toContain('main vol 100 invol 7, others vol 5 invol 0');
    expect(line).toContain('perf: 12 cpu-migrations, 345 context-switches');
    expect(line).toContain('same CPU in 1 of 4 polls');
    expect(keepAliveDetail(undefined, { skipped: 'perf: not installed' }, NO_PLACEMENT, 1)).toBe(
      'perf: not installed; cpu placement: not polled',
    );
  });
});
