import { describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { LINKTYPE_ETHERNET, PcapReader, PcapSink } from '@postern/wire';
import { NicError, PcapCaptureDriver, createMemoryLink } from '../src/index.js';
import type { LinkState } from '../src/index.js';
import { contractFrame, runDriverContract } from './contract.js';

/** A byte sink that keeps every chunk. */
function memorySink() {
  const chunks: Uint8Array[] = [];
  return { write: (chunk: Uint8Array) => chunks.push(chunk), bytes: () => new Uint8Array(Buffer.concat(chunks)) };
}

runDriverContract(
  'pcap capture around a memory link',
  () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched, { latencyMs: 1 });
    return Promise.resolve({
      a: new PcapCaptureDriver(link.a, new PcapSink(memorySink()), sched),
      b: new PcapCaptureDriver(link.b, new PcapSink(memorySink()), sched),
      sched,
      setLink: (state: LinkState) => link.setLink(state),
      cleanup: () => Promise.resolve(),
    });
  },
  { linkControl: true },
);

describe('PcapCaptureDriver', () => {
  it('records both directions without the FCS, stamped with scheduler time', async () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched, { latencyMs: 250 });
    const out = memorySink();
    const a = new PcapCaptureDriver(link.a, new PcapSink(out, { precision: 'nano' }), sched, {
      timeOriginMs: 1_700_000_000_000,
    });
    const seenAtA: Uint8Array[] = [];
    a.onReceive((frame) => seenAtA.push(frame));
    await a.open();
    await link.b.open();
    sched.advance(1500);
    const outbound = contractFrame(link.b.mac, link.a.mac, 100, 1);
    const inbound = contractFrame(link.a.mac, link.b.mac, 300, 2);
    const outboundCopy = outbound.slice();
    expect(a.transmit(outbound)).toBe(true);
    expect(link.b.transmit(inbound)).toBe(true);
    expect(a.transmit(new Uint8Array(10))).toBe(false); // refused: not recorded
    sched.advance(250);
    expect(seenAtA).toEqual([inbound]); // the receiver still gets the whole wire frame

    const reader = new PcapReader(out.bytes());
    expect(reader.header.linkType).toBe(LINKTYPE_ETHERNET);
    const records = reader.readAll();
    expect(records.map((r) => Buffer.from(r.data).toString('hex'))).toEqual([
      Buffer.from(outboundCopy.subarray(0, 96)).toString('hex'),
      Buffer.from(inbound.subarray(0, 296)).toString('hex'),
    ]);
    expect(records.map((r) => [r.seconds, r.fraction])).toEqual([
      [1_700_000_001, 500_000_000],
      [1_700_000_001, 750_000_000],
    ]);
    expect(a.capture).toEqual({ txRecords: 1, rxRecords: 1, errors: 0 });
    expect(a.stats).toBe(link.a.stats);
  });

  it('counts, and survives, a sink that throws', async () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    let fail = false;
    const sink = new PcapSink({
      write: () => {
        if (fail) throw new Error('disk full');
      },
    });
    const a = new PcapCaptureDriver(link.a, sink, sched);
    await a.open();
    await link.b.open();
    fail = true;
    expect(a.transmit(contractFrame(link.b.mac, link.a.mac, 64, 1))).toBe(true);
    expect(a.capture.errors).toBe(1);
  });

  it('refuses a sink whose link type is not Ethernet', () => {
    const sched = new Scheduler();
    const link = createMemoryLink(sched);
    expect(() => new PcapCaptureDriver(link.a, new PcapSink(memorySink(), { linkType: 101 }), sched)).toThrow(NicError);
  });
});
