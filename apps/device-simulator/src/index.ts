/**
 * @packageDocumentation
 * The device simulator: plays the USB Ethernet device (the board side of docs/device-protocol.md)
 * on a pseudo-terminal, a loopback socket or an in-process stream, and the network around it: a
 * learning switch with a simulated host running Postern's own stack, host port forwarding from
 * 127.0.0.1 into the segment, an optional TAP bridge, a pcap capture and seeded fault injection.
 * Start with {@link createSimulator}; the `postern-sim` command wraps it.
 */
export * from './defaults.js';
export * from './errors.js';
export * from './duplex-pair.js';
export * from './seeded-scheduler.js';
export * from './switch.js';
export * from './board-port.js';
export * from './sim-host.js';
export * from './hostfwd.js';
export * from './capture.js';
export * from './pty.js';
export * from './serial-endpoint.js';
export * from './simulator.js';
// The argument parser every Postern command uses (node:util parseArgs, one-line errors).
export { FlagError, parseFlags, type FlagTable, type ParsedValues } from './cli.js';
// The simulated dev board with a bootloader (postern-sim --flash): tools/flash's part.
export * from './bootloader-endpoint.js';
