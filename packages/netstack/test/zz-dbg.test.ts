import { it } from 'vitest';
import { B_ADDR, Sink, patternBytes, pump, tcpPair } from './support/tcp-net.js';
const show = (c: any) => { const t = c.tcb; return JSON.stringify({st: t.state, sndUna: t.sndUna - t.iss, sndNxt: t.sndNxt - t.iss, sndMax: t.sndMax-t.iss, sndWnd: t.sndWnd, buf: t.sendBuffer.length, fin: t.finSent, rcvNxt: (t.rcvNxt - t.irs), adv: (t.rcvAdvRight - t.irs), ooo: t.recvBuffer.outOfOrderRanges, readable: t.recvBuffer.readable, inRec: t.inRecovery, rec: t.recover - t.iss, highRxt: t.highRxt - t.iss, dup: t.dupAcks, sacked: t.scoreboard.sackedBytes, bo: t.backoffCount, rtxActive: t.rtxTimer?.active, mode: t.rtxMode, cwnd: t.cc.cwnd, stats: c.stats}); };
it('dbg', async () => {
  for (const seed of [4242]) {
  const { sched, tcpA, tcpB } = await tcpPair({ seed, faults: { lossRate: 0.1 }, latencyMs: 1 });
  const listener = tcpB.listen({ port: 9000 });
  const client = tcpA.connect({ remoteAddress: B_ADDR, remotePort: 9000 });
  const up = patternBytes(2_000_000, 1);
  let server: any; let ss: Sink | undefined; const cs = new Sink(client);
  listener.onConnection = (s) => { server = s; ss = new Sink(s); pump(s, up); };
  pump(client, up);
  let last = -1; let lastT = 0;
  const ok = sched.runUntil(() => { const p = (ss?.received ?? 0) + cs.received; if (p !== last) { last = p; lastT = sched.now; } return (ss !== undefined && ss.ended && cs.ended) || sched.now - lastT > 5000; }, 600_000);
  console.log(seed, ok, sched.now, ss?.received, cs.received);
  console.log('client', show(client)); console.log('server', show(server));
  }
});
