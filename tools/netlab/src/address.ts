/**
 * The only addresses the lab hands to the kernel: 198.18.0.0/15 (RFC 2544, benchmarking), which is
 * never routed on the Internet, so a test that goes wrong cannot send traffic anywhere real.
 */

/** The lab network, 198.18.0.0/15, as text. */
export const LAB_NETWORK = '198.18.0.0/15';

const LAB_PREFIX = ((198 << 24) | (18 << 16)) >>> 0;
const LAB_MASK = 0xfffe_0000;

/** Thrown when a lab function is handed an address outside {@link LAB_NETWORK} or text that is no address. */
export class LabAddressError extends Error {
  /** Stable code: always `'ADDRESS_OUTSIDE_LAB'` or `'BAD_ADDRESS'`. */
  readonly code: 'ADDRESS_OUTSIDE_LAB' | 'BAD_ADDRESS';
  constructor(code: 'ADDRESS_OUTSIDE_LAB' | 'BAD_ADDRESS', message: string) {
    super(message);
    this.name = 'LabAddressError';
    this.code = code;
  }
}

function parseDottedQuad(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let a = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    a = a * 256 + Number(p);
  }
  return a >>> 0;
}

/** True when `address` (dotted quad) lies inside {@link LAB_NETWORK}. */
export function isLabAddress(address: string): boolean {
  const a = parseDottedQuad(address);
  return a !== undefined && (a & LAB_MASK) >>> 0 === LAB_PREFIX;
}

/**
 * Checks an address with an optional prefix length (`198.18.0.1` or `198.18.0.1/24`) and returns it
 * unchanged. Throws {@link LabAddressError} for text that is no address, a prefix length outside
 * 0..32, or an address outside {@link LAB_NETWORK}.
 */
export function requireLabAddress(cidrOrAddress: string): string {
  const [address, length, ...rest] = cidrOrAddress.split('/');
  if (rest.length > 0 || address === undefined || parseDottedQuad(address) === undefined) {
    throw new LabAddressError('BAD_ADDRESS', `netlab: not an IPv4 address: ${JSON.stringify(cidrOrAddress)}`);
  }
  if (length !== undefined && (!/^[0-9]{1,2}$/.test(length) || Number(length) > 32)) {
    throw new LabAddressError('BAD_ADDRESS', `netlab: bad prefix length in ${JSON.stringify(cidrOrAddress)}`);
  }
  if (!isLabAddress(address)) {
    throw new LabAddressError('ADDRESS_OUTSIDE_LAB', `netlab: ${address} is outside the lab network ${LAB_NETWORK}`);
  }
  return cidrOrAddress;
}
