/**
 * The size of V8's young generation in the `postern-gateway` process ({@link fixYoungGeneration}, run by main.ts
 * before the gateway starts): its two semi-spaces are grown once to {@link YOUNG_GENERATION_SEMI_SPACE_MIB} MiB and
 * then never grow further.
 *
 * Why: every request and connection allocates short-lived objects (about 1.5 KB per keep-alive request, 5 KB per
 * short connection), and a scavenge runs each time a semi-space fills. With 1-MiB semi-spaces (V8's start size, which
 * the bin kept before) that is 1.6-1.8 scavenges per 1,000 keep-alive requests and 5.0-5.8 per 1,000 short
 * connections, with a mark-compact now and then; with 8 MiB, 0.21 and 0.67-0.83, and a smaller share of GC and
 * GC-helper-thread samples (measurements: apps/gateway/README.md, "Memory and GC"). Left to itself V8 grows them
 * under load up to its own maximum (16 MiB each on Node 20, 64 MiB on Node 24) and keeps them: more resident memory
 * for no gain measured beyond 8 MiB.
 *
 * How, in this process: the semi-space SIZE flags (`--min-semi-space-size`, `--max-semi-space-size`) are read once
 * when V8 makes the heap, so `v8.setFlagsFromString` cannot change them; the growth factor
 * (`--semi-space-growth-factor`) is read at each growth decision. So the factor is set to reach the target in one
 * step, surviving allocations (at most 4 MiB per MiB of the current size; 25-100 ms at start-up on a loaded
 * machine) make V8 take that step now, and the factor is then set to 1: no more growth (V8 raises a factor below 2
 * to 2 only when it is given on the command line).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The semi-space size the bin gives V8's young generation, in MiB (the young generation holds two). */
export const YOUNG_GENERATION_SEMI_SPACE_MIB = 8;

const MIB = 1024 * 1024;
/**
 * Surviving allocation spent at most to make V8 grow the semi-spaces, per MiB of their size: V8 grows them once more
 * than their size has survived, at the next scavenge.
 */
const GROWTH_BUDGET_PER_MIB = 4 * MIB;
/** One surviving allocation: a 32-KiB array of doubles (below V8's large-object size). */
const CHUNK_LENGTH = 4096;
const CHUNKS_PER_CHECK = 16;

/**
 * True when node's command line (`execArgv`) or `NODE_OPTIONS` names a semi-space flag
 * (`--min-semi-space-size`, `--max-semi-space-size`, `--semi-space-growth-factor`, with `-` or `_`): the user's
 * own young-generation settings, which {@link fixYoungGeneration} must leave as given.
 */
export function userSetsSemiSpace(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return /semi[-_]space/.test(`${execArgv.join(' ')} ${nodeOptions ?? ''}`);
}

/**
 * The young generation's current semi-space capacity in MiB: what one semi-space can hold (its pages less their
 * headers, so a little under the size in MiB on Node 20).
 */
export function semiSpaceMiB(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  if (space === undefined) return 0;
  return (space.space_used_size + space.space_available_size) / MIB;
}

/**
 * Grows the young generation's semi-spaces to `mib` MiB now (or to V8's own maximum if that is smaller) and stops
 * them from growing further for the life of the process. Call it once, before the program's own work; it leaves a
 * larger young generation as it is. Returns the semi-space capacity reached ({@link semiSpaceMiB}).
 */
export function fixYoungGeneration(mib: number = YOUNG_GENERATION_SEMI_SPACE_MIB): number {
  const target = mib * 0.9; // a semi-space of N MiB holds a little less than N MiB
  // V8 grows a semi-space to (factor x its size), at most its maximum: one step from here to `mib`, never past it.
  const size = Math.max(1, Math.round(semiSpaceMiB()));
  const factor = Math.floor(mib / size);
  if (factor >= 2) {
    setFlagsFromString(`--semi-space-growth-factor=${factor}`);
    // Objects that survive scavenges make V8 grow the young generation (once more than its capacity has survived).
    const survivors: number[][] = [];
    for (let spent = 0; spent < GROWTH_BUDGET_PER_MIB * size && semiSpaceMiB() < target;) {
      for (let i = 0; i < CHUNKS_PER_CHECK; i++) survivors.push(new Array<number>(CHUNK_LENGTH).fill(0.5));
      spent += CHUNKS_PER_CHECK * CHUNK_LENGTH * 8;
    }
  }
  setFlagsFromString('--semi-space-growth-factor=1');
  return semiSpaceMiB();
}
