#!/usr/bin/env node
// postern-keygen --out PREFIX: the same as `postern-flash keygen --out PREFIX`.
process.env.POSTERN_FLASH_COMMAND = 'keygen';
await import('./postern-flash.mjs');
