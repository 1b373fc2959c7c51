import { describe, expect, it } from 'vitest';
import {
  isLabAddress,
  LabAddressError,
  MAX_INTERFACE_NAME_LENGTH,
  parseLabName,
  requireLabAddress,
  uniqueName,
  isLeftover,
} from '../src/index.js';

describe('lab names', () => {
  it('are unique, prefixed, short enough for an interface and carry the pid', () => {
    const names = new Set<string>();
    for (let i = 0; i < 2000; i++) names.add(uniqueName('t'));
    expect(names.size).toBe(2000);
    for (const n of names) {
      expect(n.startsWith('pst-t')).toBe(true);
      expect(n.length).toBeLessThanOrEqual(MAX_INTERFACE_NAME_LENGTH);
      expect(parseLabName(n)).toEqual({ kind: 't', pid: process.pid });
    }
  });

  it('stay within 15 characters for the largest Linux pid', () => {
    const name = uniqueName('v', 4_194_304);
    expect(name.length).toBeLessThanOrEqual(MAX_INTERFACE_NAME_LENGTH);
    expect(parseLabName(name)?.pid).toBe(4_194_304);
  });

  it('parse only names of the lab scheme', () => {
    expect(parseLabName('pst-probe')).toBeUndefined();
    expect(parseLabName('eth0')).toBeUndefined();
    expect(parseLabName('pst-x12-3')).toBeUndefined();
  });

  it('count as leftovers only when their process is gone', () => {
    expect(isLeftover(uniqueName('n'))).toBe(false); // ours, alive
    expect(isLeftover(uniqueName('n', 1))).toBe(false); // pid 1 always runs
    // A pid above the kernel's pid_max limit cannot be running.
    expect(isLeftover(uniqueName('n', 4_194_305))).toBe(true);
    expect(isLeftover('pst-probe')).toBe(false);
    expect(isLeftover('pst-probe', { all: true })).toBe(true);
    expect(isLeftover('eth0', { all: true })).toBe(false);
  });
});

describe('lab addresses', () => {
  it('accept 198.18.0.0/15 only', () => {
    expect(isLabAddress('198.18.0.1')).toBe(true);
    expect(isLabAddress('198.19.255.254')).toBe(true);
    expect(isLabAddress('198.17.255.255')).toBe(false);
    expect(isLabAddress('198.20.0.0')).toBe(false);
    expect(isLabAddress('10.0.0.1')).toBe(false);
    expect(requireLabAddress('198.18.3.4/24')).toBe('198.18.3.4/24');
  });

  it('reject other addresses and bad text with typed errors', () => {
    const outside = (() => {
      try {
        requireLabAddress('192.168.1.1/24');
      } catch (e) {
        return e;
      }
    })();
    expect(outside).toBeInstanceOf(LabAddressError);
    expect((outside as LabAddressError).code).toBe('ADDRESS_OUTSIDE_LAB');
    for (const bad of ['198.18.0.1/33', '198.18.0', '198.18.0.256', 'x', '198.18.0.1/2/3', '198.18.0.01']) {
      const e = (() => {
        try {
          requireLabAddress(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(e, bad).toBeInstanceOf(LabAddressError);
      expect((e as LabAddressError).code, bad).toBe('BAD_ADDRESS');
    }
  });
});
