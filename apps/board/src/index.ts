/**
 * @packageDocumentation
 * The board side of Postern for a Linux dev board with a USB device port (`postern-board`): the USB
 * Ethernet device (docs/device-protocol.md) bridged to the board's Ethernet, and the bootloader
 * (docs/flash-protocol.md) with slots A and B as files, trial boot of a supervised firmware process
 * and rollback, both on one USB serial port. {@link startDevBoard} runs it; `postern-board install`
 * writes the USB gadget script and the systemd unit. The simulator (`postern-sim`) runs the same
 * {@link FirmwareSupervisor} and {@link serveUsbEthernet}.
 */
export * from './errors.js';
export * from './usb-ethernet.js';
export * from './port-demux.js';
export * from './ethernet-wire.js';
export * from './firmware-supervisor.js';
export * from './network.js';
export * from './dev-board.js';
export * from './install.js';
