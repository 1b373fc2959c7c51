/**
 * What a test's host transmits, for comparing whole runs byte for byte: {@link recordTransmit} wraps
 * a driver's `transmit`.
 */
import { createHash } from 'node:crypto';
import { TcpFlag } from '@postern/wire';

/** Ethernet header bytes before the IPv4 packet. */
const ETHERNET_HEADER = 14;

/**
 * Records every frame a driver is asked to transmit: a digest of the IPv4 packets in order (by
 * their total length: the bytes reserved after it for padding and the FCS are filled by the link
 * later; the MAC addresses differ from pair to pair), a count of every frame, and a count of the
 * keep-alive probes among them (an ACK without text, SYN or FIN one below the end of the sequence
 * space the host sent so far: SEG.SEQ = SND.NXT - 1 of an idle connection; a host with one
 * connection).
 */
export function recordTransmit(driver: { transmit(frame: Uint8Array): boolean }): {
  digest(): string;
  count(): number;
  probes(): number;
} {
  const hash = createHash('sha256');
  let count = 0;
  let probes = 0;
  let sentEnd: number | undefined;
  const inner = driver.transmit.bind(driver);
  driver.transmit = (frame: Uint8Array): boolean => {
    if (frame[12] === 0x08 && frame[13] === 0x00) {
      const ip = frame.subarray(ETHERNET_HEADER);
      const ipLength = (ip[2]! << 8) | ip[3]!;
      hash.update(ip.subarray(0, ipLength));
      if (ip[9] === 6) {
        const tcp = ip.subarray((ip[0]! & 0x0f) * 4, ipLength);
        const seq = ((tcp[4]! << 24) | (tcp[5]! << 16) | (tcp[6]! << 8) | tcp[7]!) >>> 0;
        const flags = tcp[13]!;
        const text = tcp.length - (tcp[12]! >> 4) * 4;
        const end = (seq + text + (flags & (TcpFlag.SYN | TcpFlag.FIN) ? 1 : 0)) >>> 0;
        if (text === 0 && (flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) === 0 && sentEnd !== undefined) {
          if (seq === (sentEnd - 1) >>> 0) probes++;
        } else if (sentEnd === undefined || ((end - sentEnd) | 0) > 0) sentEnd = end;
      }
    }
    count++;
    return inner(frame);
  };
  return { digest: () => hash.digest('hex'), count: () => count, probes: () => probes };
}
