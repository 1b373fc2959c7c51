/**
 * The USB Ethernet device over serial: the host driver {@link SerialNicDriver} and the board half
 * {@link SerialBoard}.
 *
 * The protocol's wire format (docs/device-protocol.md: the frame codec, the checks, the constants
 * and control payloads as the namespace `serialProtocol`) lives in `@postern/wire`, where the
 * bootloader link of `@postern/firmware` uses it too; it is re-exported here under its old names, so
 * code that took it from this package keeps working.
 */
export {
  serialProtocol,
  SerialFrameDecoder,
  crc8,
  encodeSerialFrame,
  encodeSerialFrameToBytes,
  maxEncodedLength,
  newDecoderErrors,
  totalDecoderErrors,
} from '@postern/wire';
export type {
  DecodedSerialFrame,
  SerialBoardStats,
  SerialDecoderErrors,
  SerialDecoderOptions,
  SerialFrame,
  SerialHelloResponse,
  SerialLinkStatus,
  SerialRxFilterResponse,
} from '@postern/wire';
export {
  openTransport as openSerialTransport,
  parseSocketUrl,
  openErrorCode as serialOpenErrorCode,
} from './transport.js';
export type {
  SerialEndpoint,
  OpenedTransport as OpenedSerialTransport,
  OpenTransportOptions as OpenSerialTransportOptions,
} from './transport.js';
export {
  PollFlag as SerialPollFlag,
  closeSerialPortOnHangup,
  fixSerialPortPoller,
  keepPendingPollWaits,
  pendingPollFlags,
} from './poller-wakeups.js';
export type { FdPoller, HangupWatchedPort } from './poller-wakeups.js';
export * from './serial-driver.js';
export * from './serial-device.js';
