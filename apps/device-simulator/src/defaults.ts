/**
 * The simulated segment's default addresses. They come from 198.18.0.0/15 (RFC 2544's benchmarking
 * range), which is never routed on the Internet, so nothing the simulator does can reach a real host.
 */
import { parseIpv4, parseMac } from '@postern/wire';
import type { Ipv4Address, MacAddress } from '@postern/wire';

/** Where the gateway is expected on the segment: 198.18.0.1 (hostfwd's default target). */
export const DEFAULT_GATEWAY_ADDRESS: Ipv4Address = parseIpv4('198.18.0.1');
/** The simulated host's address: 198.18.0.100. */
export const DEFAULT_HOST_ADDRESS: Ipv4Address = parseIpv4('198.18.0.100');
/** Prefix length of the segment: /24. */
export const DEFAULT_PREFIX_LENGTH = 24;
/** The station MAC of the simulated USB Ethernet device (what the gateway's GET_MAC returns): 02:50:53:00:00:01. */
export const DEFAULT_DEVICE_MAC: MacAddress = parseMac('02:50:53:00:00:01');
/** The simulated host's MAC: 02:50:53:00:00:64. */
export const DEFAULT_HOST_MAC: MacAddress = parseMac('02:50:53:00:00:64');
/** Seed of the fault injector and of the simulator's scheduler. */
export const DEFAULT_SEED = 1;
