/**
 * @packageDocumentation
 * `postern-flash`: builds and signs gateway firmware images ({@link buildFirmwareImage}) and flashes
 * them to a board over the serial bootloader protocol ({@link flashImage}, {@link BootloaderClient}),
 * with resume, verification and trial boot (docs/flash-protocol.md).
 */
export * from './client.js';
export * from './flash.js';
export * from './build.js';
export * from './cli.js';
export * from './key-files.js';
