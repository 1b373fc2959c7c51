/**
 * The USB Ethernet device over serial: the protocol (docs/device-protocol.md), its codec, the host
 * driver {@link SerialNicDriver} and the board half {@link SerialBoard}.
 *
 * The protocol's constants and control-payload formats are exported as the namespace
 * `serialProtocol` (their names are generic); the types the driver and board APIs use are also
 * exported at the top level.
 */
export * as serialProtocol from './protocol.js';
export type {
  SerialBoardStats,
  LinkStatus as SerialLinkStatus,
  HelloResponse as SerialHelloResponse,
  RxFilterResponse as SerialRxFilterResponse,
} from './protocol.js';
export * from './codec.js';
export { crc8 } from './crc.js';
export { openTransport as openSerialTransport, parseSocketUrl, openErrorCode as serialOpenErrorCode } from './transport.js';
export type { SerialEndpoint, OpenedTransport as OpenedSerialTransport, OpenTransportOptions as OpenSerialTransportOptions } from './transport.js';
export { PollFlag as SerialPollFlag, closeSerialPortOnHangup, fixSerialPortPoller, keepPendingPollWaits, pendingPollFlags } from './poller-wakeups.js';
export type { FdPoller, HangupWatchedPort } from './poller-wakeups.js';
export * from './serial-driver.js';
export * from './serial-device.js';
