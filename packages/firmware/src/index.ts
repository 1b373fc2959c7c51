/**
 * @packageDocumentation
 * Firmware images and the serial bootloader protocol (docs/flash-protocol.md): the signed image
 * format ({@link buildImage}, {@link verifyImage}), Ed25519 keys, the protocol's message formats and
 * framing (the device protocol's COBS/CRC codec from `@postern/wire`), and
 * {@link SimulatedBootloader}, a board with A/B slots, trial boot and rollback, over a
 * {@link SlotStore} (a flash file, a directory of atomically written files, or memory).
 */
export * from './errors.js';
export * from './keys.js';
export * from './image.js';
export * from './signature-check.js';
export * from './protocol.js';
export * from './link.js';
export * from './unpack.js';
export * from './board-env.js';
export * from './slot-store.js';
export * from './simulated-bootloader.js';
