/**
 * The small parts of `Tcp` that carry no protocol state: the settings (defaults and checks), the
 * ephemeral port picker and the window scale chosen from the largest buffer.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionTable, ListenerTable, type Bound } from '../src/tcp/demux.js';
import { EphemeralPorts } from '../src/tcp/ephemeral-ports.js';
import { TcpError } from '../src/tcp/errors.js';
import { windowShiftFor } from '../src/tcp/lifecycle.js';
import { TCP_DEFAULT_BUFFER_SIZE, TCP_DEFAULT_MAX_CONNECTIONS, resolveTcpSettings } from '../src/tcp/options.js';
import { ReceiveBuffer } from '../src/tcp/recv-buffer.js';
import { RtoEstimator } from '../src/tcp/rto.js';
import { NewReno } from '../src/tcp/congestion.js';
import { SackScoreboard } from '../src/tcp/sack-scoreboard.js';
import { SendBuffer } from '../src/tcp/send-buffer.js';
import { Tcb } from '../src/tcp/tcb.js';
import { TimeWaitRecord } from '../src/tcp/time-wait-record.js';
import { TcbList } from '../src/tcp/tcb-list.js';

function tcb(localPort: number, remote: number, remotePort: number): Tcb {
  return new Tcb(
    1,
    localPort,
    remote,
    remotePort,
    false,
    new SendBuffer(1024),
    new ReceiveBuffer(1024),
    new RtoEstimator(),
    new NewReno({ mss: 1460 }),
    new SackScoreboard({ mss: 1460 }),
  );
}

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof TcpError) return e.code;
    throw e;
  }
  return undefined;
}

describe('resolveTcpSettings', () => {
  it('fills every default: half the connections may be in TIME-WAIT, the largest buffer is the larger default', () => {
    const s = resolveTcpSettings({ receiveBufferSize: 64 * 1024 });
    expect(s.maxConnections).toBe(TCP_DEFAULT_MAX_CONNECTIONS);
    expect(s.maxTimeWait).toBe(TCP_DEFAULT_MAX_CONNECTIONS / 2);
    expect(s.sendBufferSize).toBe(TCP_DEFAULT_BUFFER_SIZE);
    expect(s.maxBufferSize).toBe(TCP_DEFAULT_BUFFER_SIZE);
    expect(s.congestion).toBe('cubic');
    expect(s.synCookies).toBe(true);
  });

  it('caps the delayed ACK at 200 ms', () => {
    expect(resolveTcpSettings({ delayedAckMs: 500 }).delayedAckMs).toBe(200);
    expect(resolveTcpSettings({ delayedAckMs: 10 }).delayedAckMs).toBe(10);
  });

  it('refuses sizes and backlogs that are not positive integers, and a largest buffer under a default, with EINVAL', () => {
    expect(errorCode(() => resolveTcpSettings({ maxConnections: 0 }))).toBe('EINVAL');
    expect(errorCode(() => resolveTcpSettings({ sendBufferSize: 1.5 }))).toBe('EINVAL');
    expect(errorCode(() => resolveTcpSettings({ synBacklog: -1 }))).toBe('EINVAL');
    expect(errorCode(() => resolveTcpSettings({ maxBufferSize: 1024 }))).toBe('EINVAL');
    expect(errorCode(() => resolveTcpSettings({ maxBufferSize: 1 << 20 }))).toBeUndefined();
  });
});

describe('EphemeralPorts', () => {
  it('hands out ports in turn from the random start, wrapping inside the range', () => {
    const ports = new EphemeralPorts([100, 103], 0.5); // starts at 100 + floor(0.5 * 4) = 102
    const table = new ConnectionTable();
    const listeners = new ListenerTable<Bound>();
    expect([1, 2, 3, 4, 5].map(() => ports.pick(table, listeners, 1, 2, 80))).toEqual([102, 103, 100, 101, 102]);
  });

  it('skips ports a listener holds and 4-tuples in use, and reports EADDRNOTAVAIL when none is left', () => {
    const ports = new EphemeralPorts([100, 102], 0);
    const table = new ConnectionTable();
    const listeners = new ListenerTable<Bound>();
    listeners.add({ localAddress: 0, localPort: 100 });
    table.add(tcb(101, 2, 80));
    expect(ports.pick(table, listeners, 1, 2, 80)).toBe(102);
    // Port 101 is free toward another remote port.
    expect(ports.pick(table, listeners, 1, 2, 81)).toBe(101);
    table.add(tcb(102, 2, 80));
    expect(errorCode(() => ports.pick(table, listeners, 1, 2, 80))).toBe('EADDRNOTAVAIL');
  });
});

describe('windowShiftFor', () => {
  it('is the smallest shift that lets a 16-bit window reach the largest buffer, at most 14', () => {
    expect(windowShiftFor(65_535)).toBe(0);
    expect(windowShiftFor(65_536)).toBe(1);
    expect(windowShiftFor(256 * 1024)).toBe(3);
    expect(windowShiftFor(2 ** 31)).toBe(14);
  });
});

describe('ConnectionTable', () => {
  it('chains TCBs of one remote endpoint in one bucket: each found by its whole 4-tuple, removed from any place, listed in order', () => {
    const table = new ConnectionTable(1234);
    // Same remote endpoint (2:80): one bucket; local ports tell them apart. Plus one elsewhere.
    const a = tcb(1001, 2, 80);
    const b = tcb(1002, 2, 80);
    const c = tcb(1003, 2, 80);
    const other = tcb(1001, 3, 443);
    for (const t of [a, b, c, other]) table.add(t);
    expect(table.size).toBe(4);
    expect(table.all()).toEqual([a, b, c, other]);
    for (const t of [a, b, c, other]) expect(table.find(1, t.localPort, t.remoteAddress, t.remotePort)).toBe(t);
    expect(table.find(1, 1004, 2, 80)).toBeUndefined();
    expect(table.find(1, 1001, 2, 81)).toBeUndefined();
    table.remove(b); // middle of the chain
    expect(table.find(1, 1002, 2, 80)).toBeUndefined();
    expect(table.all()).toEqual([a, c, other]);
    table.remove(a); // head of the chain
    expect(table.find(1, 1003, 2, 80)).toBe(c);
    table.remove(a); // absent: nothing changes
    expect(table.size).toBe(2);
    expect(table.usesLocalPort(1003)).toBe(true);
    expect(table.usesLocalPort(1002)).toBe(false);
    table.remove(c); // last of its bucket
    table.add(b); // back into a new chain
    expect(table.all()).toEqual([other, b]);
    expect(table.find(1, 1002, 2, 80)).toBe(b);
    expect(table.size).toBe(2);
  });
});

describe('ConnectionTable local endpoints', () => {
  /** A TCB with local endpoint `localAddress:localPort`. */
  function local(localAddress: number, localPort: number, remote: number): Tcb {
    const t = tcb(localPort, remote, 80);
    t.localAddress = localAddress;
    return t;
  }

  it('tells which local endpoints its TCBs and TIME-WAIT records use, also a port in use on two addresses', () => {
    const table = new ConnectionTable(9);
    const a = local(1, 5000, 2);
    table.add(a);
    expect(table.usesLocal(1, 5000)).toBe(true);
    expect(table.usesLocal(7, 5000)).toBe(false);
    expect(table.usesLocal(1, 5001)).toBe(false);
    // The same port on another address: both are in use, a third address is not.
    const b = local(7, 5000, 3);
    table.add(b);
    expect([table.usesLocal(1, 5000), table.usesLocal(7, 5000), table.usesLocal(8, 5000)]).toEqual([true, true, false]);
    table.remove(a);
    table.remove(a); // absent: nothing changes
    expect([table.usesLocal(1, 5000), table.usesLocal(7, 5000)]).toEqual([false, true]);
    // A TIME-WAIT record on that port and the first address (its TCB left the table): in use again.
    const ra = new TimeWaitRecord(local(1, 5000, 4), 1000, 1000, 1000, 0);
    table.addTimeWait(ra);
    expect([table.usesLocal(1, 5000), table.usesLocal(7, 5000), table.usesLocal(8, 5000)]).toEqual([true, true, false]);
    // A record alone on its port.
    const rc = new TimeWaitRecord(local(9, 6000, 4), 1000, 1000, 1000, 0);
    table.addTimeWait(rc);
    expect([table.usesLocal(9, 6000), table.usesLocal(1, 6000), table.usesLocalPort(6000)]).toEqual([
      true,
      false,
      true,
    ]);
    table.removeTimeWait(rc);
    table.removeTimeWait(rc); // absent: nothing changes
    expect([table.usesLocal(9, 6000), table.usesLocalPort(6000)]).toEqual([false, false]);
    table.removeTimeWait(ra);
    table.remove(b);
    expect([table.usesLocal(1, 5000), table.usesLocal(7, 5000), table.usesLocalPort(5000)]).toEqual([
      false,
      false,
      false,
    ]);
    // The port is free again: a new user on another address is the only one.
    table.add(local(8, 5000, 5));
    expect([table.usesLocal(8, 5000), table.usesLocal(7, 5000), table.usesLocal(1, 5000)]).toEqual([
      true,
      false,
      false,
    ]);
    expect(table.usesLocalPort(5000)).toBe(true);
  });
});

describe('ConnectionTable listing order', () => {
  it('lists TCBs in the order they were added as the slots double, whatever was removed between', () => {
    const table = new ConnectionTable(77);
    // Some remote endpoints repeat (one chain), the rest spread over slots that double twice.
    const tcbs = Array.from({ length: 300 }, (_, i) => tcb(1000 + i, 0x0a00_0000 + (i % 11), 2000 + (i % 13)));
    for (const t of tcbs) table.add(t);
    expect(table.size).toBe(300);
    expect(table.all()).toEqual(tcbs);
    for (const t of tcbs) expect(table.find(1, t.localPort, t.remoteAddress, t.remotePort)).toBe(t);
    // Every third goes (the oldest and the newest among them), then comes back: the newest now.
    const gone = tcbs.filter((_, i) => i % 3 === 0);
    for (const t of gone) table.remove(t);
    for (const t of gone) table.remove(t); // absent: nothing changes
    const kept = tcbs.filter((_, i) => i % 3 !== 0);
    expect(table.size).toBe(kept.length);
    expect(table.all()).toEqual(kept);
    for (const t of gone) expect(table.find(1, t.localPort, t.remoteAddress, t.remotePort)).toBeUndefined();
    expect(table.usesLocalPort(1000)).toBe(false);
    expect(table.usesLocalPort(1001)).toBe(true);
    for (const t of gone) table.add(t);
    expect(table.all()).toEqual([...kept, ...gone]);
    for (const t of tcbs) expect(table.find(1, t.localPort, t.remoteAddress, t.remotePort)).toBe(t);
    for (const t of tcbs) table.remove(t);
    expect([table.size, table.all()]).toEqual([0, []]);
    table.add(tcbs[5]!);
    expect(table.all()).toEqual([tcbs[5]]);
  });
});

describe('TcbList', () => {
  it('lists TCBs oldest first: a re-entry moves a TCB to the end, a delete works anywhere and twice', () => {
    const list = new TcbList();
    const [a, b, c] = [tcb(1, 2, 3), tcb(2, 2, 3), tcb(3, 2, 3)];
    expect(list.oldest).toBeUndefined();
    for (const t of [a, b, c]) list.add(t);
    expect([list.size, list.oldest]).toEqual([3, a]);
    list.add(a); // TIME-WAIT restarted: newest now
    expect([list.size, list.oldest]).toEqual([3, b]);
    list.delete(c); // middle... now b, a
    list.delete(c);
    expect([list.size, list.has(c), list.has(a), list.has(b)]).toEqual([2, false, true, true]);
    list.delete(b);
    expect([list.size, list.oldest]).toEqual([1, a]);
    list.delete(a);
    expect([list.size, list.oldest, list.has(a)]).toEqual([0, undefined, false]);
    list.add(c);
    expect([list.size, list.oldest]).toEqual([1, c]);
    // A TCB is on one list at a time: adding it to another takes it off the first.
    const other = new TcbList();
    list.add(b);
    other.add(c);
    expect([list.size, list.has(c), other.has(c), list.oldest, other.all()]).toEqual([1, false, true, b, [c]]);
    expect(list.all()).toEqual([b]);
  });
});

describe('TimeWaitRecord', () => {
  it("keeps the TCB's values, unsigned 32-bit ones above 2^31 included, and its flags apart", () => {
    for (const high of [false, true]) {
      const t = tcb(40_000, high ? 0xc612_0401 : 0x0a00_0001, 443);
      t.localAddress = high ? 0xffff_fffe : 0x0a00_0002;
      t.rcvNxt = high ? 0xffff_ffff : 5;
      t.sndMax = high ? 0x8000_0000 : 6;
      t.lastAckSent = high ? 0xfedc_ba98 : 7;
      t.tsRecent = high ? 0x9abc_def0 : 8;
      t.tsOffset = high ? 0xdead_beef : 9;
      t.tsRecentAge = 1234.5;
      t.maxSndWnd = 65_535 << 3;
      t.passive = high;
      t.tsEnabled = !high;
      t.sackEnabled = high;
      t.dontFragment = !high;
      const r = new TimeWaitRecord(t, 501, 4000, 4008, 60_000.25);
      expect({
        localAddress: r.localAddress,
        localPort: r.localPort,
        remoteAddress: r.remoteAddress,
        remotePort: r.remotePort,
        rcvNxt: r.rcvNxt,
        sndNxt: r.sndNxt,
        lastAckSent: r.lastAckSent,
        tsRecent: r.tsRecent,
        tsOffset: r.tsOffset,
        tsRecentAge: r.tsRecentAge,
        maxSndWnd: r.maxSndWnd,
        passive: r.passive,
        tsEnabled: r.tsEnabled,
        sackEnabled: r.sackEnabled,
        dontFragment: r.dontFragment,
      }).toEqual({
        localAddress: t.localAddress,
        localPort: 40_000,
        remoteAddress: t.remoteAddress,
        remotePort: 443,
        rcvNxt: t.rcvNxt,
        sndNxt: t.sndMax,
        lastAckSent: t.lastAckSent,
        tsRecent: t.tsRecent,
        tsOffset: t.tsOffset,
        tsRecentAge: 1234.5,
        maxSndWnd: 65_535 << 3,
        passive: high,
        tsEnabled: !high,
        sackEnabled: high,
        dontFragment: !high,
      });
      expect([r.windowField, r.rcvWnd, r.rcvWndAnnounced, r.expiresAt, r.ended]).toEqual([
        501,
        4000,
        4008,
        60_000.25,
        false,
      ]);
      // TS.Recent and the end flag change alone.
      r.tsRecent = 0xffff_fff0;
      r.ended = true;
      expect([r.tsRecent, r.ended, r.passive, r.tsEnabled, r.sackEnabled, r.dontFragment]).toEqual([
        0xffff_fff0,
        true,
        high,
        !high,
        high,
        !high,
      ]);
      r.ended = false;
      expect([r.ended, r.passive, r.dontFragment, r.rcvNxt]).toEqual([false, high, !high, t.rcvNxt]);
    }
  });
});

describe('ConnectionTable TIME-WAIT records', () => {
  it('finds every record by its 4-tuple as the slots double, and removes them in any order', () => {
    const table = new ConnectionTable(99);
    const records = Array.from({ length: 300 }, (_, i) => {
      const t = tcb(80, 0x0a00_0000 + (i % 7), 1024 + i); // some remote addresses and ports repeat...
      return new TimeWaitRecord(t, 1000, 1000, 1000, i);
    });
    const extra = new TimeWaitRecord(tcb(81, 0x0a00_0000, 1024), 1000, 1000, 1000, 0); // ...and one 4-tuple differs only locally
    for (const r of [...records, extra]) table.addTimeWait(r);
    expect(table.timeWaitRecords).toBe(301);
    expect(table.allTimeWait().length).toBe(301);
    for (const r of [...records, extra])
      expect(table.findTimeWait(1, r.localPort, r.remoteAddress, r.remotePort)).toBe(r);
    expect(table.findTimeWait(1, 82, 0x0a00_0000, 1024)).toBeUndefined();
    expect(table.inUse(1, 81, 0x0a00_0000, 1024)).toBe(true);
    // Remove every third, then the rest: each removal leaves the others findable.
    const order = [...records.filter((_, i) => i % 3 === 0), extra, ...records.filter((_, i) => i % 3 !== 0)];
    for (let k = 0; k < order.length; k++) {
      table.removeTimeWait(order[k]!);
      table.removeTimeWait(order[k]!); // absent now: nothing changes
      expect(table.timeWaitRecords).toBe(order.length - k - 1);
      expect(table.findTimeWait(1, order[k]!.localPort, order[k]!.remoteAddress, order[k]!.remotePort)).toBeUndefined();
      const still = order[k + 1];
      if (still !== undefined)
        expect(table.findTimeWait(1, still.localPort, still.remoteAddress, still.remotePort)).toBe(still);
    }
    expect(table.allTimeWait()).toEqual([]);
  });
});
