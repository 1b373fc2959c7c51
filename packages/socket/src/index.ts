/**
 * @packageDocumentation
 * Descriptors and a BSD-style socket API over the Postern stack, plus a Node net-compatible face.
 */
export {};
