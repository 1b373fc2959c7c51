/**
 * Our TCP sending to the Linux kernel through the lab's fault bridge (`@postern/netlab`'s
 * `FaultBridge`, its own process between two TAP devices): curl in a namespace downloads 16 MiB
 * byte-exact from our minimal HTTP service while the bridge drops 2% of the frames (both ways), or
 * holds back 10% and duplicates 2% (both ways). RACK-TLP must repair the losses (its counters move)
 * and the transfer must complete within curl's time bound.
 *
 *   client ns: curl, TAP tC 198.18.32.1 -- bridge (seeded faults) -- TAP tS -- Linux bridge (root ns,
 *   no address) -- TAP tP -- our stack 198.18.32.2
 *
 * The TAPs on the Linux bridge stay in the root namespace and are up before anything writes to them
 * (a TAP moved into a namespace goes down, and a write to a down TAP fails). Needs root, curl,
 * sha256sum and bash; skips with the reason otherwise (CI counts a skip as a failure).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '@postern/irq';
import { NetDevice, TapNicDriver } from '@postern/nic';
import {
  FAULT_BRIDGE_START_LIMIT_MS,
  FAULT_BRIDGE_STOP_LIMIT_MS,
  NetLab,
  ip,
  netlabSkipReason,
  runCommand,
  startFaultBridgeProcess,
  type FaultBridgeProcess,
  type FaultProfile,
} from '@postern/netlab';
import { parseIpv4, parseMac } from '@postern/wire';
import { Stack, attachTcp, type Tcp } from '../src/index.js';
import { serveHttp } from './support/kernel-tcp.js';
import { patternBytes, sha256 } from './support/tcp-net.js';

const skip = await netlabSkipReason({ needTap: true, programs: ['curl', 'sha256sum', 'bash'] });
const title = (t: string): string => (skip === undefined ? t : `${t} (skipped: ${skip})`);
const rootIt = it.skipIf(skip !== undefined);

const SIZE = 16 * 1024 * 1024;
/** curl's bound for the download: against a stuck transfer, not a speed target (it takes seconds). */
const TRANSFER_LIMIT_S = 90;
/**
 * The test's bound: the sum of its own bounded steps (the bridge's start and `go`, the download,
 * the bridge's stop) and a minute for the rest of the set-up, so that on a loaded machine a bound
 * that holds never fails the test by the sum of the others.
 */
const TEST_LIMIT_MS =
  2 * FAULT_BRIDGE_START_LIMIT_MS + (TRANSFER_LIMIT_S + 10) * 1000 + FAULT_BRIDGE_STOP_LIMIT_MS + 60_000;
const CLIENT_IP = '198.18.32.1';
const STACK_IP = '198.18.32.2';
const STACK_MAC = '02:50:53:4e:20:02';
const CLIENT_MAC = '02:50:53:4e:20:01';

let lab = new NetLab({ disableIpv6: true });
let sched: Scheduler | undefined;
let device: NetDevice | undefined;
let bridge: FaultBridgeProcess | undefined;

afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
  sched?.stop();
  sched = undefined;
  await device?.close().catch(() => undefined);
  device = undefined;
  await lab.cleanup();
  lab = new NetLab({ disableIpv6: true });
});

/** Our stack on a TAP on a root-namespace Linux bridge, the client namespace behind the fault bridge. */
async function setup(seed: number, faults: FaultProfile): Promise<{ tcp: Tcp; ns: string }> {
  sched = new Scheduler({ clock: 'real', seed });
  sched.start();
  const wire = await lab.bridge();
  await runCommand('sysctl', ['-q', '-w', `net.ipv6.conf.${wire}.disable_ipv6=1`]).catch(() => undefined);
  const tp = await lab.tap();
  await lab.setMaster(tp, wire);
  await lab.linkUp(tp);
  const stack = new Stack(sched);
  device = new NetDevice(new TapNicDriver({ ifname: tp, mac: parseMac(STACK_MAC) }), sched, { rxRingCapacity: 1024 });
  await device.open();
  stack.addInterface(device).addAddress(parseIpv4(STACK_IP), 24);
  const tcp = attachTcp(stack);
  const ns = await lab.namespace();
  const tc = await lab.tap();
  const ts = await lab.tap();
  await lab.setMaster(ts, wire);
  await lab.linkUp(ts);
  bridge = await startFaultBridgeProcess({ tapA: tc, tapB: ts, seed, faults, hold: true });
  await ip(['link', 'set', 'dev', tc, 'address', CLIENT_MAC]);
  await lab.moveAndConfigure(tc, ns, { address: `${CLIENT_IP}/24` });
  await lab.addNeighbour(tc, STACK_IP, STACK_MAC, ns);
  // Frames that reach a held bridge are dropped: curl starts once the bridge says it forwards.
  await bridge.go();
  return { tcp, ns };
}

const PROFILES: ReadonlyArray<readonly [string, FaultProfile, number]> = [
  ['2% loss both ways', { lossRate: 0.02 }, 81],
  ['10% held back 3 ms and 2% duplicated, both ways', { reorderRate: 0.1, reorderHoldMs: 3, duplicateRate: 0.02 }, 82],
];

describe("TCP to the Linux kernel through the lab's fault bridge (16 MiB, byte-exact)", () => {
  for (const [name, faults, seed] of PROFILES) {
    rootIt(
      title(`curl downloads 16 MiB from our HTTP service: ${name}`),
      async () => {
        const { tcp, ns } = await setup(seed, faults);
        const body = patternBytes(SIZE, seed);
        const http = serveHttp(tcp, 80, body, false);
        const r = await lab.tryExec(
          ns,
          'bash',
          [
            '-c',
            `set -o pipefail; curl -sS --max-time ${TRANSFER_LIMIT_S} -w '%{stderr}%{http_code} %{size_download}\\n' http://${STACK_IP}/ | sha256sum`,
          ],
          { timeoutMs: (TRANSFER_LIMIT_S + 10) * 1000 },
        );
        const conn = http.connections[0]?.conn;
        const stats = await bridge!.stop();
        bridge = undefined;
        const info = `curl exit ${r.code}: ${r.stderr.trim()}; sender ${JSON.stringify(conn?.stats)}; bridge ${JSON.stringify(stats)}`;
        expect(r.code, info).toBe(0);
        expect(r.stderr.trim(), info).toBe(`200 ${SIZE}`);
        expect(r.stdout.split(' ')[0], info).toBe(sha256(body));
        expect(stats, info).toBeDefined();
        const s = conn!.stats;
        if (faults.lossRate !== undefined) {
          expect(stats!.bToA.lost + stats!.aToB.lost, info).toBeGreaterThan(0);
          expect(s.rackLossMarks, info).toBeGreaterThan(0);
          expect(s.retransmits, info).toBeGreaterThan(0);
        } else {
          expect(stats!.bToA.duplicated + stats!.aToB.duplicated, info).toBeGreaterThan(0);
          expect(stats!.bToA.reordered, info).toBeGreaterThan(0);
          expect(s.dsacksReceived, info).toBeGreaterThan(0);
        }
        console.info(
          `kernel-tcp-fault-bridge (${name}): sender RTOs ${s.timeouts}, recoveries ${s.fastRetransmits}, RACK marks ${s.rackLossMarks}, TLPs ${s.tailLossProbes}, undos ${s.spuriousUndos}`,
        );
      },
      TEST_LIMIT_MS,
    );
  }
});
