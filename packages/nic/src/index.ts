/**
 * @packageDocumentation
 * NIC drivers behind one interface: a USB Ethernet device over serial, a Linux TAP device, an in-memory link; pcap capture and fault injection as wrapping drivers.
 */
export {};
