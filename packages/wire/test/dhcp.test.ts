import { describe, expect, it } from 'vitest';
import {
  DHCP_OPT,
  DecodeError,
  dhcpAddressListOption,
  dhcpBufferLength,
  dhcpMessageType,
  emitDhcp,
  parseDhcp,
  type DhcpRepr,
} from '../src/index.js';

const base = (options: Array<[number, Uint8Array]>): DhcpRepr => ({
  op: 1,
  xid: 0xdeadbeef,
  secs: 3,
  flags: 0x8000,
  ciaddr: 0,
  yiaddr: 0,
  siaddr: 0,
  giaddr: 0,
  chaddr: 0x02_00_00_00_00_01,
  options: new Map(options),
});

function emit(repr: DhcpRepr): Uint8Array {
  const out = new Uint8Array(dhcpBufferLength(repr));
  emitDhcp(repr, out);
  return out;
}

describe('DHCP codec', () => {
  it('round-trips the fixed fields and options, padded to 300 bytes', () => {
    const bytes = emit(
      base([
        [DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(1)],
        [DHCP_OPT.DNS_SERVERS, Uint8Array.of(198, 18, 0, 1, 198, 18, 0, 2)],
      ]),
    );
    expect(bytes.byteLength).toBe(300);
    const m = parseDhcp(bytes);
    expect(m).toMatchObject({ op: 1, xid: 0xdeadbeef, secs: 3, flags: 0x8000, chaddr: 0x02_00_00_00_00_01 });
    expect(dhcpMessageType(m)).toBe(1);
    expect(dhcpAddressListOption(m, DHCP_OPT.DNS_SERVERS)).toEqual([0xc6120001, 0xc6120002]);
  });

  it('splits an option over 255 bytes and concatenates it back (RFC 3396)', () => {
    const long = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const m = parseDhcp(
      emit(
        base([
          [DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(1)],
          [224, long],
        ]),
      ),
    );
    expect(m.options.get(224)).toEqual(long);
  });

  it('reads options overloaded into file and sname', () => {
    const bytes = emit(
      base([
        [DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(1)],
        [DHCP_OPT.OVERLOAD, Uint8Array.of(3)],
      ]),
    );
    bytes.set([DHCP_OPT.HOST_NAME, 2, 0x68, 0x69, 255], 108); // file
    bytes.set([DHCP_OPT.ROUTER, 4, 198, 18, 0, 1, 255], 44); // sname
    const m = parseDhcp(bytes);
    expect(new TextDecoder().decode(m.options.get(DHCP_OPT.HOST_NAME))).toBe('hi');
    expect(dhcpAddressListOption(m, DHCP_OPT.ROUTER)).toEqual([0xc6120001]);
  });

  it('throws only DecodeError for truncated messages, truncated options, option overflow and bad overloads', () => {
    const good = emit(base([[DHCP_OPT.MESSAGE_TYPE, Uint8Array.of(1)]]));
    const overflow = good.slice(0, 245);
    overflow.set([12, 250, 1, 2, 3], 240);
    const lengthless = good.slice(0, 241);
    lengthless[240] = 12;
    const overloadNoEnd = good.slice();
    overloadNoEnd.set([DHCP_OPT.OVERLOAD, 1, 1, 255], 240);
    const overloadBadValue = good.slice();
    overloadBadValue.set([DHCP_OPT.OVERLOAD, 1, 7, 255], 240);
    const notEthernet = good.slice();
    notEthernet[1] = 6;
    for (const bad of [good.subarray(0, 239), overflow, lengthless, overloadNoEnd, overloadBadValue, notEthernet]) {
      expect(() => parseDhcp(bad)).toThrow(DecodeError);
    }
  });
});
