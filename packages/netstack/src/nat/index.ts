/**
 * @packageDocumentation
 * Network address translation: masquerade, port forwards, hairpinning, ICMP query and error translation.
 */
export * from './nat-table.js';
export * from './nat-engine.js';
