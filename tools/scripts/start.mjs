// The README's first command: run the gateway against the built-in device simulator.
// Until apps/gateway exists it says what is there today and what will come; it exits 0.
import { existsSync } from 'node:fs';

const gateway = 'apps/gateway/src/main.ts';
if (existsSync(gateway)) {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['--conditions=@postern/source', '--import', 'tsx', gateway, '--nic', 'sim', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
console.log(`Postern: the gateway app (apps/gateway) is not built yet.
What exists today, each with its tests (npm test):
  packages/wire      packet formats, checksums, FCS, pcap
  packages/irq       the interrupt scheduler
  packages/nic       NIC drivers: serial USB Ethernet device, TAP, in-memory link; pcap and fault injection
  packages/netstack  the IP layer (ARP, IPv4, routing, filter, fragments, ICMP, UDP) and TCP, in progress
What will come: 'npm start' will run postern-gateway --nic sim and print
  open http://127.0.0.1:8080/
where the admin UI is served through the whole simulated path.`);
