// The README's first command: run the gateway (apps/gateway) against the built-in device simulator.
// It prints `open http://127.0.0.1:8080/`; Ctrl-C stops it cleanly (exit 0). Extra arguments go to
// postern-gateway (`npm start -- --help`). This is the postern-gateway launcher with `--nic sim` put
// in front of the arguments; the launcher passes signals on and exits with the gateway's status.
process.argv.splice(2, 0, '--nic', 'sim');
await import('../../apps/gateway/bin/postern-gateway.mjs');
