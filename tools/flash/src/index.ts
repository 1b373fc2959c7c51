/**
 * @packageDocumentation
 * Builds, signs and flashes firmware images to a dev board over the serial bootloader protocol.
 */
export {};
