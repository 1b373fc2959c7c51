/**
 * Throughput of the per-packet integrity checks: the Internet checksum (IPv4/ICMP/UDP/TCP) and the
 * CRC-32 behind the Ethernet FCS, over a full-size frame (1500 bytes) and a 64 KiB buffer, each beside
 * Node's native `zlib.crc32` over the same buffer in the same run.
 */
import * as zlib from 'node:zlib';
import { crc32, crc32Portable, internetChecksum } from '@postern/wire';
import { throughputSampler, type Benchmark, type Figure } from './harness.js';

/** Buffer sizes measured: an Ethernet MTU's worth of payload, and a 64 KiB segment. */
const SIZES: ReadonlyArray<{ label: string; bytes: number }> = [
  { label: '1500 B', bytes: 1500 },
  { label: '64 KiB', bytes: 64 * 1024 },
];

/** Deterministic filler (a 32-bit LCG) so every run checksums the same bytes. */
function filledBuffer(length: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The checksum benchmark: MB/s of internetChecksum, crc32 and crc32Portable beside zlib.crc32. */
export const checksumBenchmark: Benchmark = {
  name: 'checksum',
  description:
    'Internet checksum and CRC-32 (the FCS path) throughput in MB/s beside Node zlib.crc32 on the same buffer',
  figures(): Figure[] {
    const figures: Figure[] = [];
    for (const { label, bytes } of SIZES) {
      const buf = filledBuffer(bytes);
      const reference = { name: `zlib.crc32 ${label}`, sample: throughputSampler(bytes, () => zlib.crc32(buf)) };
      figures.push(
        {
          name: `internetChecksum ${label}`,
          unit: 'MB/s',
          sample: throughputSampler(bytes, () => internetChecksum(buf)),
          reference,
        },
        { name: `crc32 (FCS) ${label}`, unit: 'MB/s', sample: throughputSampler(bytes, () => crc32(buf)), reference },
        {
          name: `crc32Portable ${label}`,
          unit: 'MB/s',
          sample: throughputSampler(bytes, () => crc32Portable(buf)),
          reference,
        },
      );
    }
    return figures;
  },
};
