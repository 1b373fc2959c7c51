import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  FAULT_BRIDGE_MAIN,
  FaultBridgeUsageError,
  faultBridgeArgs,
  parseFaultBridgeArgs,
} from '../src/fault-bridge.js';

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
