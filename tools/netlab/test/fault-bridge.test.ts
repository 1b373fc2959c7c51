import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAULT_BRIDGE_MAIN,
  FAULT_BRIDGE_START_LIMIT_MS,
  FAULT_BRIDGE_STOP_LIMIT_MS,
  FaultBridgeUsageError,
  NetLab,
  faultBridgeArgs,
  netlabSkipReason,
  parseFaultBridgeArgs,
  startFaultBridgeProcess,
  withSkipReason,
} from '../src/index.js';

const skip = await netlabSkipReason({ needTap: true });

describe('fault bridge command line', () => {
  it('parses the TAPs, the seed and the faults (both directions), and round-trips through faultBridgeArgs', () => {
    const o = parseFaultBridgeArgs([
      '--a',
      'pst-t1',
      '--b',
      'pst-t2',
      '--seed',
      '7',
      '--loss',
      '0.02',
      '--reorder',
      '0.1',
      '--reorder-hold-ms',
      '3',
      '--duplicate',
      '0.02',
      '--hold',
      'yes',
    ]);
    expect(o).toEqual({
      tapA: 'pst-t1',
      tapB: 'pst-t2',
      seed: 7,
      hold: true,
      faults: { lossRate: 0.02, reorderRate: 0.1, reorderHoldMs: 3, duplicateRate: 0.02 },
    });
    expect(parseFaultBridgeArgs(faultBridgeArgs(o))).toEqual(o);
  });

  it('names the flag that is wrong', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--a', 'x'], /--a and --b/],
      [['--a', 'x', '--b', 'y', '--loss', '1.5'], /--loss must be a number in \[0, 1\]/],
      [['--a', 'x', '--b', 'y', '--loss', ''], /--loss/],
      [['--a', 'x', '--b', 'y', '--drop', '0.1'], /unknown flag --drop/],
      [['--a', 'x', '--b', 'y', '--seed', '1.5'], /--seed must be an integer/],
      [['--a', 'x', '--b', 'y', '--hold', 'maybe'], /--hold must be yes or no/],
      [['--a', 'x', '--b'], /--b needs a value/],
      [['stray'], /unexpected argument/],
    ];
    for (const [argv] of bad) expect(() => parseFaultBridgeArgs(argv), argv.join(' ')).toThrow(FaultBridgeUsageError);
    for (const [argv, message] of bad) expect(() => parseFaultBridgeArgs(argv), argv.join(' ')).toThrow(message);
  });

  it('the program exits 2 with one line naming the bad flag', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=@postern/source',
        '--import',
        'tsx',
        fileURLToPath(FAULT_BRIDGE_MAIN),
        '--a',
        'x',
        '--b',
        'y',
        '--loss',
        '2',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^fault-bridge: --loss must be a number/);
  });
});

describe('fault bridge process', () => {
  let lab = new NetLab({ disableIpv6: true });
  afterEach(async () => {
    await lab.cleanup();
    lab = new NetLab({ disableIpv6: true });
  });

  it.skipIf(skip !== undefined)(
    withSkipReason(
      'a held bridge says when it forwards, and on SIGTERM exits by itself (no SIGKILL) after printing its counters',
      skip,
    ),
    async () => {
      const bridge = await startFaultBridgeProcess({
        tapA: await lab.tap(),
        tapB: await lab.tap(),
        seed: 1,
        faults: { lossRate: 0.5 },
        hold: true,
      });
      await bridge.go();
      expect(bridge.exit).toBeUndefined();
      const stats = await bridge.stop();
      expect(bridge.exit).toEqual({ code: 0, signal: null });
      expect(Object.keys(stats ?? {}).sort()).toEqual(['aToB', 'bToA']);
      expect(stats!.aToB.lost).toBeLessThanOrEqual(stats!.aToB.frames);
    },
    2 * FAULT_BRIDGE_START_LIMIT_MS + FAULT_BRIDGE_STOP_LIMIT_MS + 30_000,
  );
});
