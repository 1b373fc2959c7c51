/**
 * Datagrams reassembled for this host and kept by a UDP socket's receiver: each kept payload sits in
 * a buffer of its own datagram's size, so an application that holds N of them holds N datagrams, not
 * N slabs of frames. Datagrams that came whole are unaffected.
 */
import { describe, expect, it } from 'vitest';
import { ip, twoHosts } from './support/net.js';

/** A payload of `n` bytes, distinct per `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed * 29) & 0xff;
  return b;
}

describe('Stack: reassembled UDP datagrams kept by the application', () => {
  it('pin only their own bytes, each complete and in order', async () => {
    const { sched, a, b } = await twoHosts();
    const kept: Uint8Array[] = [];
    b.stack.udp.bind(5353, undefined, (payload) => kept.push(payload));
    const sender = a.stack.udp.bind(0, undefined, () => undefined);
    // 3000 and 2000 bytes leave in two or three 1500-byte fragments each, reassembled at b.
    const sizes = [3000, 2000, 4000];
    const count = 12;
    for (let n = 0; n < count; n++) {
      sender.send(ip('198.18.0.2'), 5353, bytes(sizes[n % sizes.length]!, n));
      sched.advance(5);
    }
    sched.advance(50);
    expect(b.stack.reassembler.stats.get('reassembled')).toBe(count);
    expect(kept).toHaveLength(count);

    const buffers = new Set<ArrayBufferLike>();
    let pinned = 0;
    for (let n = 0; n < count; n++) {
      const payload = kept[n]!;
      const sent = bytes(sizes[n % sizes.length]!, n);
      expect(payload.length).toBe(sent.length);
      expect(Buffer.from(payload).equals(Buffer.from(sent))).toBe(true);
      buffers.add(payload.buffer);
      pinned += payload.buffer.byteLength;
    }
    // Every payload its own buffer, each barely larger than the datagram (Ethernet, IPv4 and UDP
    // headers, FCS room): 12 kept datagrams of 2-4 KB pin about 36 KB, not 12 x 64 KiB.
    expect(buffers.size).toBe(count);
    const carried = kept.reduce((sum, payload) => sum + payload.length, 0);
    expect(pinned).toBeLessThanOrEqual(carried + count * 64);
  });
});
