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
