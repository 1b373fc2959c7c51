import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '@postern/wire';
import { InterfaceTable } from '../src/link/interface-table.js';
import type { NetInterface } from '../src/link/interface.js';

const A = parseIpv4('198.18.0.2');
const B = parseIpv4('10.0.0.1');
const C = parseIpv4('203.0.113.9');
const iface = { index: 0 } as unknown as NetInterface;

describe('InterfaceTable.isLocal', () => {
  it('answers from the address last found local, and forgets it when that address is removed', () => {
    const table = new InterfaceTable();
    expect(table.isLocal(A)).toBe(false);
    table.addLocal(A, iface);
    table.addLocal(B, iface);
    expect(table.isLocal(A)).toBe(true);
    expect(table.isLocal(A)).toBe(true);
    expect(table.isLocal(C)).toBe(false);
    table.removeLocal(A);
    expect(table.isLocal(A)).toBe(false);
    expect(table.isLocal(B)).toBe(true);
    table.removeLocal(B);
    expect(table.isLocal(B)).toBe(false);
    table.addLocal(A, iface);
    expect(table.isLocal(A)).toBe(true);
  });

  it('agrees with ownerOf over a random run of additions, removals and lookups', () => {
    const table = new InterfaceTable();
    const pool = [A, B, C, 0, 0xffff_ffff, parseIpv4('127.0.0.1')];
    let x = 12345;
    for (let step = 0; step < 2000; step++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const address = pool[x % pool.length]!;
      const op = (x >>> 8) % 3;
      if (op === 0) table.addLocal(address, iface);
      else if (op === 1) table.removeLocal(address);
      expect(table.isLocal(address)).toBe(table.ownerOf(address) !== undefined);
      const other = pool[(x >>> 16) % pool.length]!;
      expect(table.isLocal(other)).toBe(table.ownerOf(other) !== undefined);
    }
  });
});
