// A firmware image's serial NIC: the image carries no serialport (its native binding cannot be
// bundled); its stand-in loads the board's serialport from node_modules beside the image when a
// serial port is opened (how postern-board provides it), and without one refuses with an error that
// names the NICs that work. An image that never opens a serial port never loads it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundleFirmware } from '../src/build.js';

const ENTRY = `import { SerialPort } from 'serialport';
try {
  const port = new SerialPort({ path: '/dev/postern-no-such-port', baudRate: 115200, autoOpen: false });
  process.stdout.write(JSON.stringify({ constructed: true, isOpen: port.isOpen, path: port.path }));
} catch (err) {
  process.stdout.write(JSON.stringify({ constructed: false, message: err.message }));
}
`;

let dir: string;
let bundle: Uint8Array;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-image-serial-'));
  writeFileSync(join(dir, 'entry.mjs'), ENTRY);
  bundle = await bundleFirmware(join(dir, 'entry.mjs'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runImage(imageDir: string): Promise<Record<string, unknown>> {
  mkdirSync(join(imageDir, 'app'), { recursive: true });
  writeFileSync(join(imageDir, 'app', 'image-entry.mjs'), bundle);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(imageDir, 'app', 'image-entry.mjs')],
      { timeout: 20_000, cwd: imageDir },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${err.message}: ${stderr}`));
        else resolve(JSON.parse(stdout) as Record<string, unknown>);
      },
    );
  });
}

describe('serialport in a firmware image', () => {
  it("uses the board's serialport from node_modules beside the image", async () => {
    const image = join(dir, 'with');
    mkdirSync(join(image, 'node_modules'), { recursive: true });
    symlinkSync(
      dirname(createRequire(import.meta.url).resolve('serialport/package.json')),
      join(image, 'node_modules', 'serialport'),
      'dir',
    );
    expect(await runImage(image)).toEqual({ constructed: true, isOpen: false, path: '/dev/postern-no-such-port' });
  });

  it('without one, refuses to open a serial port with an error naming the NICs that work', async () => {
    const out = await runImage(join(dir, 'without'));
    expect(out['constructed']).toBe(false);
    expect(String(out['message'])).toMatch(/tap: or socket:\/\//);
  });
});
