/**
 * @packageDocumentation
 * NIC drivers behind one interface ({@link NicDriver}): a USB Ethernet device over serial, a Linux
 * TAP device, an in-memory link; pcap capture and fault injection as wrapping drivers; and
 * {@link NetDevice}, which checks the FCS, filters by destination MAC, fills the RX ring, raises the
 * IRQ and dispatches by EtherType from a budgeted bottom half.
 */
export * from './driver.js';
export * from './net-device.js';
export * from './memory-link.js';
export * from './forwarding-driver.js';
export * from './pcap-driver.js';
export * from './fault-driver.js';
export { ETHERNET_WIRE_OVERHEAD } from './delay-line.js';
export * from './tap/index.js';
export * from './serial/index.js';
