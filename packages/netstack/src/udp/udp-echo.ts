/**
 * A UDP echo service (RFC 862) for interop tests: every datagram to the port is sent back to its
 * sender, from the address it was sent to (or, for a broadcast, the binding's or the route's).
 */
import type { Ipv4Address } from '@postern/wire';
import type { Counters } from '../counters.js';
import { SendError } from '../errors.js';
import type { UdpCounterName } from '../stack-counters.js';
import type { UdpService, UdpSocket } from './udp.js';

/** What the echo service uses of a stack (a `Stack` is one). */
export interface UdpEchoHost {
  /** The UDP module to bind and send with. */
  readonly udp: Pick<UdpService, 'bind' | 'send'>;
  /** Where replies that cannot be sent are counted (`handlerErrors`). */
  readonly udpCounters: Counters<UdpCounterName>;
}

/** The well-known echo port. */
export const UDP_ECHO_PORT = 7;

/**
 * Binds `port` (default {@link UDP_ECHO_PORT}) on `address` (default: every address) and echoes
 * each datagram back. Datagrams whose reply cannot be sent (no route back) are dropped and counted
 * as UDP `handlerErrors`. Close the returned socket to stop.
 * @throws {@link BindError} as {@link UdpService.bind}.
 */
export function startUdpEcho(stack: UdpEchoHost, port = UDP_ECHO_PORT, address?: Ipv4Address): UdpSocket {
  const socket: UdpSocket = stack.udp.bind(port, address, (payload, info) => {
    const from = info.destination === 'unicast' ? info.dst : address;
    try {
      stack.udp.send({ src: from, srcPort: socket.port, dst: info.src, dstPort: info.srcPort }, payload);
    } catch (err) {
      if (!(err instanceof SendError)) throw err;
      stack.udpCounters.inc('handlerErrors');
    }
  });
  return socket;
}
