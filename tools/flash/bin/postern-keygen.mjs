#!/usr/bin/env node
// postern-keygen --out PREFIX: the same as `postern-flash keygen --out PREFIX`, in this process (the
// postern-flash program, tools/flash/bin/postern-flash.mjs, with `keygen` as its command).
process.env.POSTERN_FLASH_COMMAND = 'keygen';
await import('./postern-flash.mjs');
