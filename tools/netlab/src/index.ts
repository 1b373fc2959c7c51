/**
 * @packageDocumentation
 * The network-namespace lab: TAP devices, namespaces, veth pairs and bridges for interop tests with
 * the Linux kernel, with names that say who made them and a cleanup that always runs. Addresses are
 * only ever taken from 198.18.0.0/15. Needs root and iproute2; {@link netlabSkipReason} says why not.
 */
export * from './names.js';
export * from './address.js';
export * from './run.js';
export * from './probe.js';
export * from './lab.js';
export * from './leftovers.js';
export * from './wait.js';
export * from './fault-bridge.js';
export * from './capabilities.js';
