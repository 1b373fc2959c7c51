import { generateSigningKeyPair, unpackImage } from '@postern/firmware';
import { buildFirmwareImage } from '/work/main/tools/flash/src/build.ts';
const k = generateSigningKeyPair();
const t = Date.now();
const { image, manifest } = await buildFirmwareImage({ privateKey: k.privateKeyPem });
console.log(image.length, Date.now() - t, manifest.files);
const u = unpackImage(image, '/tmp/fwtry');
console.log(u.entryPath);
