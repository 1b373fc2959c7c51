/**
 * The driver contract suite: one set of tests every {@link NicDriver} must pass, whatever its medium
 * (in-memory link, serial device through the simulator, TAP, and the wrapping drivers). A driver's
 * test file calls {@link runDriverContract} with a factory for a connected pair of drivers.
 *
 * Works on both clocks: with a virtual-clock scheduler the suite moves time itself
 * (`runUntil`/`advance`); with a real-clock one it starts the scheduler and waits in real time,
 * polling on scheduler timers, up to {@link DriverContractOptions.timeoutMs}.
 *
 * What it checks (a frame here is a wire frame with a valid FCS):
 * - both ends open and report link `up`; their MACs differ; MTU is at least 68;
 * - frames cross both ways byte-exact (FCS included, unless the receiver's medium carries none:
 *   `fcs: 'none'`) for wire sizes from 60 to MTU + 18;
 * - a burst arrives complete and in order;
 * - frames shorter than 18 or longer than MTU + 18 are refused (`transmit` returns false) and counted
 *   in `txDroppedBadLength`, and never arrive; the driver still works afterwards;
 * - `close` is idempotent and leaves the link `down`; `transmit` after `close` is refused and counted
 *   in `txDroppedLinkDown`;
 * - `txFrames`/`txBytes` on the sender and `rxFrames`/`rxBytes` on the receiver count the frames and
 *   their wire bytes (FCS included; on the receiver, only where its medium carries one);
 * - with `linkControl` (pairs that have {@link DriverPair.setLink}): link changes reach the listener, count in `linkChanges`, and a
 *   down link refuses `transmit` (`txDroppedLinkDown`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SchedulerApi } from '@postern/irq';
import { writeFcs, writeMac } from '@postern/wire';
import type { MacAddress } from '@postern/wire';
import type { LinkState, NicDriver } from '../src/index.js';

/** A connected pair of drivers, not yet opened, with the scheduler they run on. */
export interface DriverPair {
  /** One end. */
  a: NicDriver;
  /** The other end: frames `a` transmits reach `b` and back. */
  b: NicDriver;
  /** The scheduler both run on (virtual or real clock). */
  sched: SchedulerApi;
  /** Releases everything the factory made (the suite closes `a` and `b` itself before calling it). */
  cleanup(): Promise<void>;
  /**
   * Optional: lets in-flight work finish, for checks that something did NOT happen. Default: 50 ms
   * of virtual time, or 100 ms of real time.
   */
  settle?(): Promise<void>;
  /** Optional: takes the link between `a` and `b` down or up (a cable pull), if the medium can. */
  setLink?(state: LinkState): Promise<void> | void;
}

/** Options of {@link runDriverContract}. */
export interface DriverContractOptions {
  /** Longest wait for an expected event, in ms of scheduler time. Default 5000. */
  timeoutMs?: number;
  /** Frames sent back to back in the ordering test (must fit the driver's TX queue). Default 32. */
  burst?: number;
  /**
   * The pairs have {@link DriverPair.setLink}: register the link-change test. (The test is not
   * registered at all otherwise, rather than skipped, since CI counts a skip as a failure.)
   */
  linkControl?: boolean;
}

/** EtherType of the contract's frames: IEEE 802 "local experimental 1". */
const CONTRACT_ETHERTYPE = 0x88b5;

/**
 * A wire frame of exactly `length` bytes (FCS included) from `source` to `destination`, carrying
 * `seq` in its first payload bytes and a pattern derived from it after.
 */
export function contractFrame(destination: MacAddress, source: MacAddress, length: number, seq: number): Uint8Array {
  const frame = new Uint8Array(length);
  writeMac(frame, 0, destination);
  writeMac(frame, 6, source);
  frame[12] = CONTRACT_ETHERTYPE >>> 8;
  frame[13] = CONTRACT_ETHERTYPE & 0xff;
  for (let i = 14; i < length - 4; i++) frame[i] = (i * 7 + seq) & 0xff;
  if (length >= 18 + 4) {
    frame[14] = (seq >>> 24) & 0xff;
    frame[15] = (seq >>> 16) & 0xff;
    frame[16] = (seq >>> 8) & 0xff;
    frame[17] = seq & 0xff;
  }
  writeFcs(frame);
  return frame;
}

/** `sent` as `receiver` hands it up: whole, or without its last 4 bytes when the medium carries no FCS. */
export function asReceivedBy(receiver: NicDriver, sent: Uint8Array): Uint8Array {
  return receiver.fcs === 'none' ? sent.subarray(0, sent.length - 4) : sent;
}

/** The sequence number {@link contractFrame} put in `frame`. */
export function contractSeq(frame: Uint8Array): number {
  return ((frame[14]! << 24) | (frame[15]! << 16) | (frame[16]! << 8) | frame[17]!) >>> 0;
}

/** Waits on the scheduler (virtual: runs it; real: sleeps on its timers) until `predicate` holds or `limitMs` of its time pass; resolves whether it held. (Real-time polling is `eventually`/`waitFor` of `@postern/netlab`.) */
export async function waitOnScheduler(
  sched: SchedulerApi,
  predicate: () => boolean,
  limitMs: number,
): Promise<boolean> {
  if (sched.clock.virtual) return sched.runUntil(predicate, limitMs);
  sched.start();
  const deadline = sched.now + limitMs;
  while (!predicate()) {
    if (sched.now >= deadline) return false;
    await new Promise<void>((resolve) => sched.timerAfter(2, resolve));
  }
  return true;
}

/** Lets `ms` of scheduler time pass (virtual: advances; real: sleeps on a scheduler timer). */
export async function pass(sched: SchedulerApi, ms: number): Promise<void> {
  if (sched.clock.virtual) {
    sched.advance(ms);
    return;
  }
  sched.start();
  await new Promise<void>((resolve) => sched.timerAfter(ms, resolve));
}

/**
 * Registers the contract tests for the driver pair `makePair` builds (a fresh pair per test).
 * Call it at the top level of a vitest file.
 */
export function runDriverContract(
  name: string,
  makePair: () => Promise<DriverPair>,
  options: DriverContractOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 5000;
  const burst = options.burst ?? 32;

  describe(`driver contract: ${name}`, () => {
    let pair: DriverPair;
    let atB: Uint8Array[];
    let atA: Uint8Array[];
    let linkEventsA: LinkState[];

    const settle = async (): Promise<void> => {
      if (pair.settle !== undefined) await pair.settle();
      else await pass(pair.sched, pair.sched.clock.virtual ? 50 : 100);
    };
    const until = async (what: string, predicate: () => boolean): Promise<void> => {
      const ok = await waitOnScheduler(pair.sched, predicate, timeoutMs);
      if (!ok) throw new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${what}`);
    };
    const openBoth = async (): Promise<void> => {
      await Promise.all([pair.a.open(), pair.b.open()]);
      await until('link up on both ends', () => pair.a.linkState === 'up' && pair.b.linkState === 'up');
    };

    beforeEach(async () => {
      pair = await makePair();
      atA = [];
      atB = [];
      linkEventsA = [];
      pair.a.onReceive((frame) => atA.push(frame));
      pair.b.onReceive((frame) => atB.push(frame));
      pair.a.onLinkChange((state) => linkEventsA.push(state));
    });

    afterEach(async () => {
      await pair.a.close();
      await pair.b.close();
      await pair.cleanup();
    });

    it('opens both ends with link up, distinct MACs and a sane MTU', async () => {
      await openBoth();
      expect(pair.a.name.length).toBeGreaterThan(0);
      expect(pair.a.mac).not.toBe(pair.b.mac);
      expect(pair.a.mtu).toBeGreaterThanOrEqual(68);
      expect(pair.b.mtu).toBe(pair.a.mtu);
    });

    it('carries frames both ways byte-exact for sizes 60 .. MTU + 18', async () => {
      await openBoth();
      const mtu = pair.a.mtu;
      const sizes = [60, 64, 65, 127, 512, 1000, mtu + 17, mtu + 18].filter(
        (s, i, all) => s <= mtu + 18 && all.indexOf(s) === i,
      );
      const sentAB: Uint8Array[] = [];
      const sentBA: Uint8Array[] = [];
      for (const [i, size] of sizes.entries()) {
        const ab = contractFrame(pair.b.mac, pair.a.mac, size, i);
        const ba = contractFrame(pair.a.mac, pair.b.mac, size, 1000 + i);
        sentAB.push(ab.slice());
        sentBA.push(ba.slice());
        expect(pair.a.transmit(ab), `a -> b, ${size} bytes`).toBe(true);
        expect(pair.b.transmit(ba), `b -> a, ${size} bytes`).toBe(true);
        await until(`frame ${i} (${size} bytes) both ways`, () => atB.length === i + 1 && atA.length === i + 1);
      }
      expect(atB.map((f) => Buffer.from(f).toString('hex'))).toEqual(
        sentAB.map((f) => Buffer.from(asReceivedBy(pair.b, f)).toString('hex')),
      );
      expect(atA.map((f) => Buffer.from(f).toString('hex'))).toEqual(
        sentBA.map((f) => Buffer.from(asReceivedBy(pair.a, f)).toString('hex')),
      );
    });

    it(`delivers a burst of ${burst} frames complete and in order`, async () => {
      await openBoth();
      for (let seq = 0; seq < burst; seq++) {
        expect(
          pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 60 + ((seq * 37) % 200), seq)),
          `frame ${seq}`,
        ).toBe(true);
      }
      await until(`${burst} frames`, () => atB.length >= burst);
      await settle();
      expect(atB.map(contractSeq)).toEqual([...Array(burst).keys()]);
    });

    it('refuses frames shorter than 18 or longer than MTU + 18 and counts them', async () => {
      await openBoth();
      const before = pair.a.stats.txDroppedBadLength;
      const txBefore = pair.a.stats.txFrames;
      const oversized = contractFrame(pair.b.mac, pair.a.mac, pair.a.mtu + 19, 1);
      const runt = new Uint8Array(17);
      writeMac(runt, 0, pair.b.mac);
      expect(pair.a.transmit(oversized)).toBe(false);
      expect(pair.a.transmit(runt)).toBe(false);
      expect(pair.a.stats.txDroppedBadLength).toBe(before + 2);
      expect(pair.a.stats.txFrames).toBe(txBefore);
      // The driver still works, and only the good frame arrives.
      expect(pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 100, 7))).toBe(true);
      await until('the good frame', () => atB.length >= 1);
      await settle();
      expect(atB.map(contractSeq)).toEqual([7]);
    });

    it('closes idempotently and reports link down', async () => {
      await openBoth();
      await pair.a.close();
      await pair.a.close();
      expect(pair.a.linkState).toBe('down');
    });

    it('refuses transmit after close and counts it', async () => {
      await openBoth();
      await pair.a.close();
      const before = pair.a.stats.txDroppedLinkDown;
      expect(pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 100, 1))).toBe(false);
      expect(pair.a.stats.txDroppedLinkDown).toBe(before + 1);
      await settle();
      expect(atB).toHaveLength(0);
    });

    it('counts frames and wire bytes on both ends', async () => {
      await openBoth();
      const tx0 = { ...pair.a.stats };
      const rx0 = { ...pair.b.stats };
      const sizes = [60, 100, 300, pair.a.mtu + 18];
      sizes.forEach((size, seq) =>
        expect(pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, size, seq))).toBe(true),
      );
      await until('all counted frames', () => atB.length === sizes.length);
      const total = sizes.reduce((s, n) => s + n, 0);
      expect(pair.a.stats.txFrames - tx0.txFrames).toBe(sizes.length);
      expect(pair.a.stats.txBytes - tx0.txBytes).toBe(total);
      expect(pair.b.stats.rxFrames - rx0.rxFrames).toBe(sizes.length);
      expect(pair.b.stats.rxBytes - rx0.rxBytes).toBe(total - (pair.b.fcs === 'none' ? 4 * sizes.length : 0));
    });

    if (options.linkControl === true)
      it('reports link changes to the listener when the link goes down and up', async () => {
        if (pair.setLink === undefined) throw new Error(`${name}: linkControl is set but the pair has no setLink()`);
        await openBoth();
        const changes0 = pair.a.stats.linkChanges;
        linkEventsA.length = 0;
        await pair.setLink('down');
        await until('link down', () => pair.a.linkState === 'down');
        const refusedBefore = pair.a.stats.txDroppedLinkDown;
        expect(pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 100, 1))).toBe(false);
        expect(pair.a.stats.txDroppedLinkDown).toBe(refusedBefore + 1);
        await pair.setLink('up');
        await until('link up', () => pair.a.linkState === 'up');
        expect(linkEventsA).toEqual(['down', 'up']);
        expect(pair.a.stats.linkChanges - changes0).toBe(2);
        expect(pair.a.transmit(contractFrame(pair.b.mac, pair.a.mac, 100, 2))).toBe(true);
        await until('a frame after the flap', () => atB.length >= 1);
        expect(atB.map(contractSeq)).toEqual([2]);
      });
  });
}
