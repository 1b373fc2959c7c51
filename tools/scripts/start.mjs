// The README's first command: run the gateway (apps/gateway) against the built-in device simulator.
// It prints `open http://127.0.0.1:8080/`; Ctrl-C stops it cleanly (exit 0). Extra arguments go to
// postern-gateway (`npm start -- --help`).
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';

const gateway = 'apps/gateway/src/main.ts';
if (!existsSync(gateway)) {
  console.error(`Postern: ${gateway} is missing; nothing to start.`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--conditions=@postern/source', '--import', 'tsx', gateway, '--nic', 'sim', ...process.argv.slice(2)], { stdio: 'inherit' });
// The terminal sends Ctrl-C to the whole process group; the gateway handles it and exits 0. Keep
// this launcher alive until then and pass on signals sent to it alone.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 1));
