/**
 * @packageDocumentation
 * The interrupt scheduler: IRQ lines, priorities, masking, deferred (bottom-half) work with a budget, timers, a real clock and a virtual clock.
 */
export {};
