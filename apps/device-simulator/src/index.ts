/**
 * @packageDocumentation
 * Plays the USB Ethernet device and the network around it.
 */
export {};
