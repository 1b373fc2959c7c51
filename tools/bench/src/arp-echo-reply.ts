/**
 * The two answers every bench program on a TAP device gives before any protocol work: the ARP reply
 * to a request for its address, and the ICMP echo reply to a ping (the received frame rewritten).
 * Shared by the bare TAP echo (`tap-echo.ts`) and the TCP reflector (`tcp-reflector.ts`). Frames in
 * are Ethernet frames without FCS; each answer is a fresh frame with the 4 FCS bytes a driver frame
 * reserves after it (never written by a TAP).
 */
import { onesComplementSum } from '@postern/wire';

const ETH = 14;
const FCS = 4;
/** Ethernet + ARP for IPv4 over Ethernet. */
const ARP_FRAME = 42;

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/**
 * The reply to `frame` when it is an ARP request for `address` (a 32-bit IPv4 address), from `mac`
 * (6 bytes); undefined for any other frame.
 */
export function arpReply(frame: Uint8Array, mac: Uint8Array, address: number): Uint8Array | undefined {
  if (frame.byteLength < ARP_FRAME || u16(frame, 12) !== 0x0806) return undefined;
  if (frame[21] !== 1 || u32(frame, 38) !== address) return undefined;
  const out = new Uint8Array(ARP_FRAME + FCS);
  out.set(frame.subarray(0, ARP_FRAME));
  out.copyWithin(0, 6, 12);
  out.set(mac, 6);
  out[21] = 2;
  out.set(frame.subarray(22, 32), 32); // sender -> target
  out.set(mac, 22);
  out.set(frame.subarray(38, 42), 28);
  return out;
}

/**
 * The reply to `frame` when it is an ICMP echo request to `address` (IPv4, options allowed), from
 * `mac`: the same frame with the addresses swapped, type 0 and the ICMP checksum recomputed (the
 * IPv4 header's checksum stays right: its words are only swapped). Undefined for any other frame
 * and for a truncated one.
 */
export function echoReply(frame: Uint8Array, mac: Uint8Array, address: number): Uint8Array | undefined {
  if (frame.byteLength < ARP_FRAME || u16(frame, 12) !== 0x0800) return undefined;
  const icmp = ETH + (frame[ETH]! & 0x0f) * 4;
  if (frame[ETH + 9] !== 1 || u32(frame, ETH + 16) !== address || frame[icmp] !== 8) return undefined;
  const end = ETH + u16(frame, ETH + 2);
  if (end > frame.byteLength || end < icmp + 8) return undefined;
  const out = new Uint8Array(end + FCS);
  out.set(frame.subarray(0, end));
  out.copyWithin(0, 6, 12);
  out.set(mac, 6);
  out.set(frame.subarray(ETH + 16, ETH + 20), ETH + 12);
  out.set(frame.subarray(ETH + 12, ETH + 16), ETH + 16);
  out[icmp] = 0;
  out[icmp + 2] = 0;
  out[icmp + 3] = 0;
  const sum = ~onesComplementSum(out.subarray(icmp, end)) & 0xffff;
  out[icmp + 2] = sum >>> 8;
  out[icmp + 3] = sum & 0xff;
  return out;
}
