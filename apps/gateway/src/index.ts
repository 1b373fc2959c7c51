/**
 * @packageDocumentation
 * The gateway firmware: composes the interrupt scheduler, the NIC drivers (or the in-process device
 * simulator), the TCP/IP stack, the socket library and the HTTP server with the admin UI and JSON
 * API. {@link startGateway} is the composition; {@link main} is the `postern-gateway` program.
 */
export * from './addresses.js';
export * from './nic-spec.js';
export * from './config.js';
export { CONFIG_SCHEMA, CONFIG_SCHEMA_ID } from './config-schema.js';
export {
  hostForwardProblem,
  interfaceAddressProblem,
  networkProblem,
  nicSpecProblem,
  portRangeProblem,
  routeDestinationProblem,
} from './config-checks.js';
export { preflight } from './preflight.js';
export * from './cli.js';
export * from './load-config.js';
export * from './errors.js';
export * from './auth.js';
export * from './traffic.js';
export * from './status.js';
export * from './stack-config.js';
export * from './admin-api.js';
export * from './web.js';
export * from './gateway.js';
export type { LanServices, LanStatus } from './lan-services.js';
export { main, runGateway, type RunOptions } from './run.js';
