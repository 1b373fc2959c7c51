/**
 * @packageDocumentation
 * The network-namespace lab: TAP devices, namespaces and veth pairs for interop tests with the Linux kernel.
 */
export {};
