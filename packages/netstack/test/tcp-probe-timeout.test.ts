/**
 * The probe timeout (RFC 8985 §7.2, as Linux's tcp_schedule_loss_probe computes it), on the virtual
 * clock: PTO = 2 * SRTT (at least 10 ms here), plus the peer's worst-case delayed ACK (200 ms) when
 * one segment is in flight, and never later than the RTO. A one-segment answer therefore waits out
 * the peer's delayed ACK: on a LAN (RTO at its 200 ms floor) the timer that runs is the RTO, and a
 * peer that delays its ACK 190 ms draws neither a probe nor a retransmission. A flight of two
 * segments arms the probe at 2 * SRTT: a receiver acknowledges every second full-sized segment at once.
 */
import { describe, expect, it } from 'vitest';
import { B_ADDR, tcpPair } from './support/tcp-net.js';

const REQUEST = new TextEncoder().encode('GET /small HTTP/1.1\r\nHost: h\r\n\r\n');
const ANSWER = new Uint8Array(200).fill(0x61);

/** A keep-alive pair after one request and answer (so both ends have an RTT sample); the client acknowledges after `clientDelayedAckMs`. */
async function keptAlive(clientDelayedAckMs: number) {
  const { sched, tcpA, tcpB } = await tcpPair({ latencyMs: 0.1, tcpA: { delayedAckMs: clientDelayedAckMs } });
  const listener = tcpB.listen({ port: 80 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 80 });
  sched.runUntil(() => listener.acceptQueue.length > 0 && client.state === 'ESTABLISHED', 1000);
  const server = listener.accept()!;
  const scratch = new Uint8Array(64 * 1024);
  let requests = 0;
  let answered = 0;
  server.onReadable = () => {
    if (server.read(scratch) > 0) {
      requests++;
      server.write(ANSWER);
    }
  };
  client.onReadable = () => {
    answered += client.read(scratch);
  };
  client.write(REQUEST);
  sched.advance(1000);
  expect(requests).toBe(1);
  expect(answered).toBe(ANSWER.byteLength);
  return { sched, client, server, scratch, answered: () => answered };
}

describe('the probe timeout (RFC 8985 §7.2)', () => {
  it('one segment in flight: the RTO runs (PTO = 2*SRTT + 200 ms, capped at the RTO)', async () => {
    const { sched, client, server } = await keptAlive(40);
    const tcb = server.tcb;
    client.write(REQUEST);
    expect(sched.runUntil(() => tcb.sent.count > 0, 5)).toBe(true);
    // The answer went; the server's timer for it:
    expect(tcb.sent.count).toBe(1);
    expect(tcb.rtxTimer?.active).toBe(true);
    expect(tcb.rtxMode).toBe('rtx');
    expect(tcb.rto.rtoMs).toBe(200);
    expect(tcb.rtxTimer!.deadline - sched.now).toBeCloseTo(tcb.rto.rtoMs, 6);
  });

  it("a one-segment answer waits out the peer's delayed ACK: no probe, no retransmission", async () => {
    const { sched, client, server, answered } = await keptAlive(190);
    const before = answered();
    client.write(REQUEST);
    sched.advance(2000);
    expect(answered() - before).toBe(ANSWER.byteLength);
    expect(server.stats.tailLossProbes).toBe(0);
    expect(server.stats.retransmits).toBe(0);
    expect(server.stats.timeouts).toBe(0);
  });

  it('two segments in flight: the probe at 2 * SRTT (10 ms at least)', async () => {
    const { sched, client, server } = await keptAlive(40);
    const tcb = server.tcb;
    server.onReadable = () => {
      server.read(new Uint8Array(4096));
      server.write(new Uint8Array(2 * tcb.sendMss).fill(0x62));
    };
    client.write(REQUEST);
    expect(sched.runUntil(() => tcb.sent.count > 0, 5)).toBe(true);
    expect(tcb.sent.count).toBe(2);
    expect(tcb.rtxMode).toBe('probe');
    const srtt = tcb.rto.srttMs!;
    expect(tcb.rtxTimer!.deadline - sched.now).toBeCloseTo(Math.max(2 * srtt, 10), 6);
  });
});
