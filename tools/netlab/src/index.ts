/**
 * @packageDocumentation
 * The test kit of the repository's tests: the network-namespace lab (TAP devices, namespaces, veth
 * pairs and bridges for interop tests with the Linux kernel, with names that say who made them and
 * a cleanup that always runs; addresses only from 198.18.0.0/15; needs root and iproute2,
 * {@link netlabSkipReason} says why not), the {@link KernelLab} that attaches a stack to it, and the
 * stack-free helpers every test needs: {@link patternBytes}, {@link sha256Hex}, {@link eventually}
 * and {@link waitFor} in real time, {@link outcomeOnVirtualClock} and {@link awaitOnVirtualClock} on
 * the virtual clock.
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
export * from './kernel-lab.js';
export * from './patterns.js';
export * from './digests.js';
export * from './virtual-clock.js';
export * from './memory-pair.js';
export * from './child-output.js';
