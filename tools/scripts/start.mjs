// The README's first command: run the gateway (apps/gateway) against the built-in device simulator.
// It prints `open http://127.0.0.1:8080/`; Ctrl-C stops it cleanly (exit 0). Extra arguments go to
// postern-gateway (`npm start -- --help`). This is the postern-gateway program itself, in this
// process, with `--nic sim` put in front of the arguments.
process.argv.splice(2, 0, '--nic', 'sim');
await import('../../apps/gateway/bin/postern-gateway.mjs');
