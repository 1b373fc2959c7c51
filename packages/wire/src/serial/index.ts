/**
 * The serial device protocol's wire format (docs/device-protocol.md): its frame codec, its header
 * and payload checks, and its constants and control-payload formats. The host driver and the board
 * (`@postern/nic`) and the bootloader link (`@postern/firmware`) all speak it, so it lives here, below
 * both.
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
export { crc8, hasValidCrc32Trailer } from './crc.js';
