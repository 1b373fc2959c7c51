/**
 * @packageDocumentation
 * Firmware image format and the serial bootloader protocol.
 */
export {};
