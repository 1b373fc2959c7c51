/**
 * @packageDocumentation
 * The interrupt scheduler: IRQ lines, priorities, masking, deferred (bottom-half) work with a budget,
 * timers on one structure, a real clock and a virtual clock. See {@link Scheduler}.
 */
export type * from './api.js';
