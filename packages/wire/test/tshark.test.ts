/**
 * Interop: a capture written by PcapWriter, holding frames built by this package's emitters, read by
 * Wireshark's tshark with checksum validation on. Asserts tshark finds no malformed packet and no
 * error-level expert info, sees every frame with the expected protocol stack, and reads the
 * timestamps we wrote. Needs the Debian package `tshark` (tools/scripts/install-peers.sh).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  ICMP_UNREACH_PORT,
  MAC_BROADCAST,
  PcapWriter,
  emitArp,
  emitEthernet,
  emitIcmpv4,
  emitIpv4,
  emitTcp,
  emitUdp,
  icmpv4BufferLength,
  parseIpv4,
  parseMac,
  tcpBufferLength,
  TcpFlag,
  type EthernetRepr,
  type Icmpv4Repr,
  type PcapWriterOptions,
  type TcpOption,
  type TcpRepr,
} from '../src/index.js';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const TSHARK_MISSING =
  'skipped: tshark is not installed (Debian package tshark; run tools/scripts/install-peers.sh as root)';

const MAC_A = parseMac('02:00:00:00:00:01');
const MAC_B = parseMac('02:00:00:00:00:02');
const IP_A = parseIpv4('198.18.0.1');
const IP_B = parseIpv4('198.18.0.2');
const ascii = (s: string) => new TextEncoder().encode(s);

function ethernet(etherType: number, destination: number, source: number, payload: Uint8Array): Uint8Array {
  const repr: EthernetRepr = { destination, source, etherType, vlan: null, serviceVlan: null };
  const frame = new Uint8Array(14 + payload.byteLength);
  emitEthernet(repr, frame, payload);
  return frame;
}

let ipId = 0x1000;
function ipv4(protocol: number, source: number, destination: number, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(20 + payload.byteLength);
  emitIpv4(
    {
      dscp: 0,
      ecn: 0,
      identification: ipId++,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      source,
      destination,
      options: new Uint8Array(0),
      payloadLength: payload.byteLength,
    },
    packet,
    payload,
  );
  return packet;
}

function udp(srcPort: number, dstPort: number, source: number, destination: number, payload: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(8 + payload.byteLength);
  emitUdp({ srcPort, dstPort }, datagram, source, destination, payload);
  return datagram;
}

function icmp(repr: Icmpv4Repr): Uint8Array {
  const message = new Uint8Array(icmpv4BufferLength(repr));
  emitIcmpv4(repr, message);
  return message;
}

const { SYN, ACK, PSH } = TcpFlag;
/** A TCP segment from the package's emitter; SYNs carry MSS, SACK-Permitted, timestamps and window scale. */
function tcp(
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  source: number,
  destination: number,
  payload: Uint8Array,
): Uint8Array {
  const options: TcpOption[] =
    flags & SYN
      ? [
          { kind: 'mss', value: 1460 },
          { kind: 'sackPermitted' },
          { kind: 'timestamps', tsVal: 1000 + seq, tsEcr: ack },
          { kind: 'nop' },
          { kind: 'windowScale', shift: 7 },
        ]
      : [];
  const repr: TcpRepr = { srcPort, dstPort, seq, ack, flags, window: 64240, urgentPointer: 0, options };
  const segment = new Uint8Array(tcpBufferLength(repr, payload.byteLength));
  emitTcp(repr, segment, source, destination, payload);
  return segment;
}

/** The frames of the capture and the protocol stack tshark should report for each. */
function frames(): Array<{ frame: Uint8Array; protocols: string }> {
  const out: Array<{ frame: Uint8Array; protocols: string }> = [];
  const ip = (protocol: number, src: number, dst: number, l4: Uint8Array, from = MAC_A, to = MAC_B) =>
    ethernet(ETHERTYPE_IPV4, to, from, ipv4(protocol, src, dst, l4));
  out.push({
    frame: ethernet(ETHERTYPE_ARP, MAC_BROADCAST, MAC_A, arpBytes(ARP_OP_REQUEST, MAC_A, IP_A, 0, IP_B)),
    protocols: 'eth:ethertype:arp',
  });
  out.push({
    frame: ethernet(ETHERTYPE_ARP, MAC_A, MAC_B, arpBytes(ARP_OP_REPLY, MAC_B, IP_B, MAC_A, IP_A)),
    protocols: 'eth:ethertype:arp',
  });
  out.push({
    frame: ip(
      IP_PROTO_ICMP,
      IP_A,
      IP_B,
      icmp({ kind: 'echoRequest', identifier: 0x1234, sequenceNumber: 1, data: ascii('postern ping 0123456789') }),
    ),
    protocols: 'eth:ethertype:ip:icmp:data',
  });
  out.push({
    frame: ip(
      IP_PROTO_ICMP,
      IP_B,
      IP_A,
      icmp({ kind: 'echoReply', identifier: 0x1234, sequenceNumber: 1, data: ascii('postern ping 0123456789') }),
      MAC_B,
      MAC_A,
    ),
    protocols: 'eth:ethertype:ip:icmp:data',
  });
  const datagram = ipv4(IP_PROTO_UDP, IP_A, IP_B, udp(40000, 40001, IP_A, IP_B, ascii('postern udp payload')));
  out.push({ frame: ethernet(ETHERTYPE_IPV4, MAC_B, MAC_A, datagram), protocols: 'eth:ethertype:ip:udp:data' });
  // The port-unreachable answer quotes the IPv4 header and the first 8 bytes of the datagram above.
  const quoted = datagram.subarray(0, 28);
  out.push({
    frame: ip(
      IP_PROTO_ICMP,
      IP_B,
      IP_A,
      icmp({ kind: 'destinationUnreachable', code: ICMP_UNREACH_PORT, nextHopMtu: 0, quoted }),
      MAC_B,
      MAC_A,
    ),
    protocols: 'eth:ethertype:ip:icmp:ip:udp',
  });
  const request = ascii('GET / HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n');
  out.push({
    frame: ip(IP_PROTO_TCP, IP_A, IP_B, tcp(40002, 80, 1000, 0, SYN, IP_A, IP_B, new Uint8Array(0))),
    protocols: 'eth:ethertype:ip:tcp',
  });
  out.push({
    frame: ip(
      IP_PROTO_TCP,
      IP_B,
      IP_A,
      tcp(80, 40002, 5000, 1001, SYN | ACK, IP_B, IP_A, new Uint8Array(0)),
      MAC_B,
      MAC_A,
    ),
    protocols: 'eth:ethertype:ip:tcp',
  });
  out.push({
    frame: ip(IP_PROTO_TCP, IP_A, IP_B, tcp(40002, 80, 1001, 5001, ACK, IP_A, IP_B, new Uint8Array(0))),
    protocols: 'eth:ethertype:ip:tcp',
  });
  out.push({
    frame: ip(IP_PROTO_TCP, IP_A, IP_B, tcp(40002, 80, 1001, 5001, ACK | PSH, IP_A, IP_B, request)),
    protocols: 'eth:ethertype:ip:tcp:http',
  });
  return out;
}

function arpBytes(
  operation: typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY,
  sha: number,
  spa: number,
  tha: number,
  tpa: number,
): Uint8Array {
  const b = new Uint8Array(28);
  emitArp(
    {
      operation,
      senderHardwareAddress: sha,
      senderProtocolAddress: spa,
      targetHardwareAddress: tha,
      targetProtocolAddress: tpa,
    },
    b,
  );
  return b;
}

const dir = mkdtempSync(join(tmpdir(), 'postern-tshark-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(args: string[]): string {
  const r = spawnSync(
    'tshark',
    ['-n', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (r.status !== 0) throw new Error(`tshark ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('tshark reads what PcapWriter writes', () => {
  const variants: Array<{ name: string; options: PcapWriterOptions }> = [
    { name: 'little-endian, microseconds', options: {} },
    { name: 'big-endian, nanoseconds', options: { precision: 'nano', littleEndian: false } },
  ];
  for (const { name, options } of variants) {
    it.skipIf(!hasTshark)(
      `${name}: Ethernet/ARP/IPv4/ICMP/UDP/TCP frames dissect with no malformed packet or error${hasTshark ? '' : ` (${TSHARK_MISSING})`}`,
      () => {
        const list = frames();
        const writer = new PcapWriter(options);
        const nano = options.precision === 'nano';
        const parts = [writer.header()];
        list.forEach(({ frame }, i) =>
          parts.push(
            writer.record({ seconds: 1_700_000_000 + i, fraction: nano ? 123_456_789 : 123_456, data: frame }),
          ),
        );
        const file = join(dir, `frames-${nano ? 'nano' : 'micro'}.pcap`);
        writeFileSync(file, Buffer.concat(parts));

        const verbose = tshark(['-r', file, '-V']);
        expect(verbose.match(/^Frame \d+:/gm)).toHaveLength(list.length);
        const bad = verbose.split('\n').filter((l) => /Malformed|Expert Info \(Error|\[Checksum Status: Bad\]/.test(l));
        expect(bad).toEqual([]);
        // The checksums were really checked, not merely absent: every IPv4 header checksum (plus the one
        // quoted by the port unreachable) and every ICMP, UDP and TCP checksum reads Good.
        const ipv4Frames = list.filter((f) => f.protocols.startsWith('eth:ethertype:ip:')).length;
        expect(verbose.match(/\[Header checksum status: Good\]/g)).toHaveLength(ipv4Frames + 1);
        expect(verbose.match(/^ {4}\[Checksum Status: Good\]/gm)).toHaveLength(ipv4Frames);

        const fields = tshark([
          '-r',
          file,
          '-T',
          'fields',
          '-E',
          'separator=|',
          '-e',
          'frame.protocols',
          '-e',
          'frame.time_epoch',
          '-e',
          'frame.len',
        ])
          .trim()
          .split('\n')
          .map((l) => l.split('|'));
        expect(fields.map((f) => f[0])).toEqual(list.map((f) => f.protocols));
        expect(fields.map((f) => f[1])).toEqual(
          list.map((_, i) => `${1_700_000_000 + i}.${nano ? '123456789' : '123456000'}`),
        );
        expect(fields.map((f) => Number(f[2]))).toEqual(list.map((f) => f.frame.byteLength));
      },
    );
  }
});
