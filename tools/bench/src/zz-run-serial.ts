import { serialBenchmarks } from './serial.bench.js';
const r = await serialBenchmarks({ durationMs: 1500 });
for (const f of r.slice(2,4)) console.log(JSON.stringify(f));
process.exit(0);
