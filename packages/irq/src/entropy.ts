/**
 * {@link hostSeed}: the one place outside the clocks where Postern reads the host, here for
 * randomness. A program seeds its scheduler with it once; from then on every random number comes
 * from the scheduler's seeded generator, so logging the seed is enough to replay a run.
 */
import { randomBytes } from 'node:crypto';

/**
 * A seed for `SchedulerOptions.seed` read from the operating system's entropy source (32 bits,
 * never 0, so it never collides with a "no seed given" check). Every call reads the host afresh: call
 * it once per program run, not per random number.
 */
export function hostSeed(): number {
  return randomBytes(4).readUInt32LE(0) || 1;
}
