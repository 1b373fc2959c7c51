/**
 * The counter sets the IP layer glue keeps (the state machines keep their own). Every drop has a
 * named counter; the names are stable, the admin UI reads them by name.
 */
import { Counters } from './counters.js';

/** Counters of the IPv4 layer (receive, forward, send). */
export type Ipv4CounterName =
  /** Packets handed up by a device (EtherType 0x0800). */
  | 'received'
  /** Drop: shorter than a 20-byte header, or the frame ends before the total length. */
  | 'truncated'
  /** Drop: version field is not 4. */
  | 'badVersion'
  /** Drop: IHL below 5, or total length below the header length. */
  | 'badHeaderLength'
  /** Drop: header checksum mismatch. */
  | 'badChecksum'
  /** Drop: malformed IP options. */
  | 'badOptions'
  /** Drop: source is multicast or limited broadcast (a martian). */
  | 'badSource'
  /** Drop: for another host and forwarding is off. */
  | 'notForUs'
  /** Drop: for a multicast group not joined on the receiving interface. */
  | 'multicastNotJoined'
  /** Drop: a link-layer broadcast or multicast frame carrying a unicast packet for another host. */
  | 'linkBroadcastNotForUs'
  /** Datagrams delivered to a transport (after reassembly). */
  | 'delivered'
  /** Drop: no handler for the protocol number (protocol unreachable sent when allowed). */
  | 'unknownProtocol'
  /** Drop: a fragment the reassembler refused (its own counters say why). */
  | 'reassemblyDropped'
  /** Drop: the input chain dropped or rejected it. */
  | 'inputFiltered'
  /** Packets forwarded (fragments counted once per received packet). */
  | 'forwarded'
  /** Drop: forwarding and the TTL was 0 or 1 (time exceeded sent when allowed). */
  | 'ttlExceeded'
  /** Drop: forwarding and no route (net unreachable sent when allowed). */
  | 'noRoute'
  /** Drop: forwarding would send it back out as a directed broadcast. */
  | 'directedBroadcast'
  /** Drop: forwarding, too big for the out interface and DF set (frag-needed sent when allowed). */
  | 'fragNeeded'
  /** Forwarded packets that had to be fragmented. */
  | 'forwardFragmented'
  /** Drop: the forward chain dropped or rejected it. */
  | 'forwardFiltered'
  /** Firewall mode: forwarded fragments reassembled into one datagram for the forward chain (then fragmented again as they came). */
  | 'forwardDefragmented'
  /** Drop: firewall mode, a forwarded fragment the forward reassembler refused (its own counters say why). */
  | 'forwardReassemblyDropped'
  /** Datagrams sent by this host (before fragmentation). */
  | 'sent'
  /** Local datagrams that had to be fragmented. */
  | 'sentFragmented'
  /** Fragments created (local and forwarded). */
  | 'fragmentsCreated'
  /** Send refused: no route. */
  | 'sendNoRoute'
  /** Send refused: the output chain dropped or rejected it. */
  | 'outputFiltered'
  /** Send refused: too big with DF set. */
  | 'sendTooLong'
  /** Datagrams sent to one of our own addresses (looped back). */
  | 'loopback'
  /** Drop: the device refused the frame (link down, queue full; the device counts which). */
  | 'txDeviceRefused'
  /** Drop: queued for ARP, and the address did not resolve. */
  | 'arpUnresolved'
  /** Drop: the ARP queue was full (per address, in total, or the cache was full). */
  | 'arpQueueDropped'
  /** Drop: a transport handler threw (the stack carries on). */
  | 'handlerErrors'
  /** TCP resets sent to answer packets the filter rejected. */
  | 'rejectResets'
  /** A TCP reset answering a rejected packet could not be sent (no route back). */
  | 'rejectResetFailed';

/** Every {@link Ipv4CounterName}, in listing order. */
export const IPV4_COUNTER_NAMES: readonly Ipv4CounterName[] = [
  'received',
  'truncated',
  'badVersion',
  'badHeaderLength',
  'badChecksum',
  'badOptions',
  'badSource',
  'notForUs',
  'multicastNotJoined',
  'linkBroadcastNotForUs',
  'delivered',
  'unknownProtocol',
  'reassemblyDropped',
  'inputFiltered',
  'forwarded',
  'ttlExceeded',
  'noRoute',
  'directedBroadcast',
  'fragNeeded',
  'forwardFragmented',
  'forwardFiltered',
  'forwardDefragmented',
  'forwardReassemblyDropped',
  'sent',
  'sentFragmented',
  'fragmentsCreated',
  'sendNoRoute',
  'outputFiltered',
  'sendTooLong',
  'loopback',
  'txDeviceRefused',
  'arpUnresolved',
  'arpQueueDropped',
  'handlerErrors',
  'rejectResets',
  'rejectResetFailed',
];

/** Counters of ARP input and output (the caches count their own state changes). */
export type ArpIoCounterName =
  /** Requests received. */
  | 'rxRequests'
  /** Replies received. */
  | 'rxReplies'
  /** Drop: not an Ethernet/IPv4 request or reply, or truncated. */
  | 'rxMalformed'
  /** Requests for an address that is not ours (ignored, after updating the cache). */
  | 'rxNotForUs'
  /** Requests sent (resolution, probes). */
  | 'txRequests'
  /** Replies sent. */
  | 'txReplies'
  /** Gratuitous announcements sent. */
  | 'txGratuitous'
  /** Drop: a request could not be sent because the interface has no address. */
  | 'txNoSourceAddress';

/** Every {@link ArpIoCounterName}. */
export const ARP_IO_COUNTER_NAMES: readonly ArpIoCounterName[] = [
  'rxRequests',
  'rxReplies',
  'rxMalformed',
  'rxNotForUs',
  'txRequests',
  'txReplies',
  'txGratuitous',
  'txNoSourceAddress',
];

/** Counters of ICMP. */
export type IcmpCounterName =
  /** Messages received (after reassembly). */
  | 'received'
  /** Drop: checksum mismatch. */
  | 'badChecksum'
  /** Drop: shorter than 8 bytes, or an error that quotes no whole IPv4 header. */
  | 'malformed'
  /** Echo requests received. */
  | 'echoRequests'
  /** Echo replies sent. */
  | 'echoReplies'
  /** Echo requests not answered: the optional echo-reply rate limit (`StackOptions.echoReplyRateLimit`) refused. */
  | 'echoRateLimited'
  /** Drop: echo request to a broadcast or multicast address (not answered, as Linux's default). */
  | 'echoBroadcastIgnored'
  /** Echo replies that matched an outstanding request. */
  | 'echoReplyMatched'
  /** Drop: echo replies nobody waits for. */
  | 'echoReplyUnmatched'
  /** Errors received (destination unreachable, time exceeded, ...). */
  | 'errorsReceived'
  /** Other types received and ignored. */
  | 'otherIgnored'
  /** Destination unreachable sent. */
  | 'sentUnreachable'
  /** Time exceeded sent. */
  | 'sentTimeExceeded'
  /** Error not sent: RFC 1122 §3.2.2 forbids it (about an error, a later fragment, broadcast, bad source). */
  | 'errorSuppressed'
  /** Error not sent: the rate limiter refused it. */
  | 'errorRateLimited'
  /** Error not sent: no route back or the send failed. */
  | 'errorSendFailed'
  /** Echo requests sent by the echo client. */
  | 'pingsSent'
  /** Echo client requests that timed out. */
  | 'pingTimeouts';

/** Every {@link IcmpCounterName}. */
export const ICMP_COUNTER_NAMES: readonly IcmpCounterName[] = [
  'received',
  'badChecksum',
  'malformed',
  'echoRequests',
  'echoReplies',
  'echoRateLimited',
  'echoBroadcastIgnored',
  'echoReplyMatched',
  'echoReplyUnmatched',
  'errorsReceived',
  'otherIgnored',
  'sentUnreachable',
  'sentTimeExceeded',
  'errorSuppressed',
  'errorRateLimited',
  'errorSendFailed',
  'pingsSent',
  'pingTimeouts',
];

/** Counters of UDP. */
export type UdpCounterName =
  /** Datagrams received (after reassembly). */
  | 'received'
  /** Datagrams handed to a binding. */
  | 'delivered'
  /** Drop: shorter than 8 bytes or the length field disagrees with the IP payload. */
  | 'malformed'
  /** Drop: checksum mismatch (a zero checksum means none and is accepted). */
  | 'badChecksum'
  /** Drop: unicast to a closed port (port unreachable sent when allowed). */
  | 'noPort'
  /** Drop: broadcast or multicast to a closed port (silently). */
  | 'noPortBroadcast'
  /** Drop: a binding's handler threw. */
  | 'handlerErrors'
  /** Datagrams sent. */
  | 'sent'
  /** ICMP errors handed to a binding's error handler. */
  | 'icmpErrorsDelivered';

/** Every {@link UdpCounterName}. */
export const UDP_COUNTER_NAMES: readonly UdpCounterName[] = [
  'received',
  'delivered',
  'malformed',
  'badChecksum',
  'noPort',
  'noPortBroadcast',
  'handlerErrors',
  'sent',
  'icmpErrorsDelivered',
];

/** Creates the IPv4 counter set. */
export function newIpv4Counters(): Counters<Ipv4CounterName> {
  return new Counters('ipv4', IPV4_COUNTER_NAMES);
}
