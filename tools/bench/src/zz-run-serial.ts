import { serialBenchmarks } from './serial.bench.js';
const r = await serialBenchmarks({ durationMs: 2000 });
for (const f of r) console.log(JSON.stringify(f));
process.exit(0);
