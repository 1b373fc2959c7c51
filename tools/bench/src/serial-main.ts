/**
 * Runs the asynchronous serial-link figures ({@link serialBenchmarks}: PTY throughput with the real
 * `serialport`, goodput on a paced line), which the synchronous harness cannot sample, and prints one
 * line per figure. Needs socat.
 *
 *   node --conditions=@postern/source --import tsx tools/bench/src/serial-main.ts [durationMs]
 */
import { serialBenchmarks } from './serial.bench.js';

const durationMs = Number(process.argv[2] ?? 2000);
const figures = await serialBenchmarks({ durationMs });
for (const f of figures) {
  const share = f.shareOfLineRate !== undefined ? `, ${(f.shareOfLineRate * 100).toFixed(1)}% of line rate` : '';
  const ref = f.referenceMegabytesPerSecond !== undefined ? ` (raw serialport bytes through a PTY: ${f.referenceMegabytesPerSecond.toFixed(1)} MB/s)` : '';
  console.log(`${f.name}: ${Math.round(f.framesPerSecond).toLocaleString('en-US')} frames/s, ${f.megabytesPerSecond.toFixed(2)} MB/s${share}${ref}, lost ${f.lost}`);
}
process.exit(0);
