/**
 * @packageDocumentation
 * Checks of the workspace itself: module boundaries, package metadata.
 */
export {};
