/**
 * A real capture (test/fixtures/curl-http.pcap, made by make-curl-http-capture.sh: curl fetching
 * 8 KiB from a Node http server over lo, then one refused connection) read with this package:
 * pcap -> Ethernet -> IPv4 -> TCP, every checksum re-verified, the HTTP exchange reassembled.
 *
 * Linux leaves the TCP checksum of every segment a socket sends over lo unfinished
 * (CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum and nothing else, because the
 * "hardware" that would finish it is never involved). The kernel's own reset for the refused
 * connection is checksummed in full. So: every IPv4 header checksum must verify; every TCP checksum
 * must either verify or be exactly the partial pattern; and at least one must verify.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ETHERTYPE_IPV4,
  EthernetPacket,
  IP_PROTO_TCP,
  Ipv4Packet,
  LINKTYPE_ETHERNET,
  PcapReader,
  PcapStreamReader,
  TcpFlag,
  TcpPacket,
  ipv4PseudoHeaderSum,
  parseIpv4,
  type PcapRecord,
} from '../src/index.js';

const capture = new Uint8Array(readFileSync(new URL('./fixtures/curl-http.pcap', import.meta.url)));
const LOOPBACK = parseIpv4('127.0.0.1');

interface Segment {
  readonly ip: Ipv4Packet;
  readonly tcp: TcpPacket;
}

function decode(record: PcapRecord): Segment {
  const eth = EthernetPacket.checked(record.data);
  expect(eth.etherType).toBe(ETHERTYPE_IPV4);
  expect(eth.source).toBe(0); // lo has an all-zero MAC address
  expect(eth.destination).toBe(0);
  const ip = Ipv4Packet.checked(eth.payload);
  expect(ip.protocol).toBe(IP_PROTO_TCP);
  return { ip, tcp: TcpPacket.checked(ip.payload) };
}

/** Concatenates the payloads one side sent, in sequence order, checking that they are contiguous. */
function stream(segments: readonly Segment[], srcPort: number): Uint8Array {
  const mine = segments.filter((s) => s.tcp.srcPort === srcPort);
  const syn = mine.find((s) => s.tcp.flags & TcpFlag.SYN);
  expect(syn).toBeDefined();
  let next = (syn!.tcp.seq + 1) >>> 0;
  const parts: Uint8Array[] = [];
  const withData = mine
    .filter((s) => s.tcp.payloadLength > 0)
    .sort((a, b) => ((a.tcp.seq - next) >>> 0) - ((b.tcp.seq - next) >>> 0));
  for (const s of withData) {
    expect(s.tcp.seq).toBe(next);
    parts.push(s.tcp.payload);
    next = (next + s.tcp.payloadLength) >>> 0;
  }
  return Buffer.concat(parts);
}

describe('the curl-http.pcap fixture', () => {
  const reader = new PcapReader(capture);
  const records = reader.readAll();
  const segments = records.map(decode);

  it('is an Ethernet pcap of whole packets', () => {
    expect(reader.header).toMatchObject({
      linkType: LINKTYPE_ETHERNET,
      precision: 'micro',
      versionMajor: 2,
      versionMinor: 4,
    });
    expect(records.length).toBeGreaterThanOrEqual(10);
    for (const r of records) expect(r.capturedLength).toBe(r.originalLength);
    // Timestamps are non-decreasing.
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.timestampNanos() >= records[i - 1]!.timestampNanos()).toBe(true);
  });

  it('reads the same records when streamed in 100-byte chunks', () => {
    const s = new PcapStreamReader();
    const got: PcapRecord[] = [];
    for (let at = 0; at < capture.byteLength; at += 100) {
      s.push(capture.subarray(at, at + 100));
      for (const r of s) got.push(r);
    }
    s.end();
    expect(got.map((r) => [r.seconds, r.fraction, Buffer.from(r.data).toString('hex')])).toEqual(
      records.map((r) => [r.seconds, r.fraction, Buffer.from(r.data).toString('hex')]),
    );
  });

  it('every IPv4 header checksum verifies, between 127.0.0.1 and itself', () => {
    for (const { ip } of segments) {
      expect(ip.verifyChecksum()).toBe(true);
      expect(ip.source).toBe(LOOPBACK);
      expect(ip.destination).toBe(LOOPBACK);
    }
  });

  it('every TCP checksum either verifies or is exactly the CHECKSUM_PARTIAL pseudo-header sum, and some verify', () => {
    let verified = 0;
    let partial = 0;
    for (const { ip, tcp } of segments) {
      if (tcp.verifyChecksum(ip.source, ip.destination)) {
        verified++;
      } else {
        expect(tcp.checksum).toBe(ipv4PseudoHeaderSum(ip.source, ip.destination, IP_PROTO_TCP, tcp.bytes.byteLength));
        partial++;
      }
    }
    expect(verified).toBeGreaterThan(0);
    expect(verified + partial).toBe(segments.length);
    // The fully checksummed segments are the kernel's resets (see the README); a corrupted one fails.
    const rst = segments.find(({ tcp }) => tcp.flags & TcpFlag.RST)!;
    expect(rst.tcp.verifyChecksum(rst.ip.source, rst.ip.destination)).toBe(true);
    const corrupted = new Uint8Array(rst.tcp.bytes);
    corrupted[4] = corrupted[4]! ^ 0x01; // one bit of the sequence number
    expect(TcpPacket.checked(corrupted).verifyChecksum(rst.ip.source, rst.ip.destination)).toBe(false);
  });

  it('holds the HTTP request line and the 200 response with its 8 KiB body across several segments', () => {
    const first = segments[0]!.tcp;
    expect(first.flags & (TcpFlag.SYN | TcpFlag.ACK)).toBe(TcpFlag.SYN);
    const clientPort = first.srcPort;
    const serverPort = first.dstPort;
    const request = Buffer.from(stream(segments, clientPort)).toString('latin1');
    expect(request.startsWith('GET /hello.txt HTTP/1.1\r\n')).toBe(true);
    expect(request).toContain(`\r\nHost: 127.0.0.1:${serverPort}\r\n`);
    expect(request.endsWith('\r\n\r\n')).toBe(true);
    const response = Buffer.from(stream(segments, serverPort)).toString('latin1');
    expect(response.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(response).toMatch(/\r\ncontent-length: 8192\r\n/i);
    const body = response.slice(response.indexOf('\r\n\r\n') + 4);
    expect(body).toHaveLength(8192);
    expect(body.startsWith('piece 0 line 00: postern curl-http fixture\n')).toBe(true);
    const responseSegments = segments.filter((s) => s.tcp.srcPort === serverPort && s.tcp.payloadLength > 0);
    expect(responseSegments.length).toBeGreaterThan(1);
  });
});
