/**
 * {@link buildFirmwareImage}: bundles the gateway (or any entry module) with esbuild into one
 * self-contained ES module for Node 20, adds the admin UI files, and wraps them in a signed image
 * (`@postern/firmware`'s format).
 *
 * Image layout: `app/image-entry.mjs` (the bundle, the manifest's entry), `app/tap-attach.py` (the
 * TAP driver's attach helper, which the bundled driver finds beside its module), `ui/*` (the gateway
 * finds its UI at `../ui/` from its module, as in the source tree) and the gateway package's data
 * files its code reads at run time beside `src/` ({@link GATEWAY_DATA_FILES}: `config.schema.json`,
 * read as `../config.schema.json` from its module), at the image's root.
 *
 * NICs in an image: `socket://` (how the simulated board wires it), `tap:NAME` (a Linux board's own
 * network: `postern-board` runs images with `--nic tap:pfw0`; the TAP driver needs no native code)
 * and `serial:PATH`. `serialport` is not bundled: its native binding cannot be. By default
 * (`serialport: 'stub'`) the image gets a stand-in `SerialPort` that loads the board's `serialport`
 * package when a serial NIC is opened, from `node_modules/serialport` beside the image (where
 * `postern-board` puts its own), and otherwise throws a clear error naming the NICs that work; an
 * image without a serial NIC never loads it. With `serialport: 'external'` the import is left as a
 * plain import the board must satisfy before the image starts.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyObject } from 'node:crypto';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { buildImage, parseImage } from '@postern/firmware';
import { NODE_BUNDLE_OPTIONS } from './bundle-options.js';
import { UI_DIRECTORY } from '@postern/gateway';
import { TAP_ATTACH_SCRIPT } from '@postern/nic';
import type { ImageFile, ImageManifest } from '@postern/firmware';

/** The board id of the simulated dev board, the default target. */
export const DEFAULT_BOARD_ID = 'postern-devboard-1';
/** The archive path of the bundled entry. */
export const IMAGE_ENTRY_PATH = 'app/image-entry.mjs';
/** The firmware entry module bundled by default. */
export const GATEWAY_FIRMWARE_ENTRY = fileURLToPath(new URL('./firmware-entry.ts', import.meta.url));

/** The default configuration the gateway image carries (the board adds `--nic`). */
export const DEFAULT_IMAGE_CONFIG: Readonly<Record<string, unknown>> = {
  interfaces: [{ name: 'eth0', nic: 'sim', ip: '198.18.0.1/24' }],
  http: { port: 80 },
};

/** Options of {@link buildFirmwareImage}. */
export interface BuildImageOptions {
  /** The Ed25519 private key (PEM or KeyObject) that signs the image. */
  privateKey: string | KeyObject;
  /** The board id. Default {@link DEFAULT_BOARD_ID}. */
  target?: string;
  /** The module to bundle. Default {@link GATEWAY_FIRMWARE_ENTRY}. */
  entry?: string;
  /** Manifest name and version. Default the gateway package's. */
  name?: string;
  version?: string;
  /** The manifest's default configuration. Default {@link DEFAULT_IMAGE_CONFIG}. */
  defaultConfig?: Readonly<Record<string, unknown>>;
  /** Add the gateway's admin UI files under `ui/`. Default true. */
  includeUi?: boolean;
  /** How `serialport` is handled (see the module comment): `'stub'` loads the board's at run time, if any. Default `'stub'`. */
  serialport?: 'stub' | 'external';
  /** Minify the bundle. Default false (readable stack traces on the board). */
  minify?: boolean;
}

/** A built image. */
export interface BuiltImage {
  readonly image: Uint8Array;
  readonly manifest: ImageManifest;
}

/** Files of the gateway package (relative to it) its code reads at run time; the image carries them at its root. */
export const GATEWAY_DATA_FILES: readonly string[] = ['config.schema.json'];

/** The gateway package's directory (its `ui/` and `package.json`). */
function gatewayDirectory(): string {
  return dirname(UI_DIRECTORY.replace(/[/\\]+$/, ''));
}

const SERIALPORT_STUB = `import { createRequire as __posternSerialportRequire } from 'node:module';
let loaded;
function load() {
  if (loaded === undefined) {
    try {
      loaded = __posternSerialportRequire(import.meta.url)('serialport');
    } catch (err) {
      throw new Error('serial ports are not available in this firmware image (no serialport package beside it on the board); use a tap: or socket:// NIC', { cause: err });
    }
  }
  return loaded;
}
export class SerialPort {
  constructor(...args) {
    return new (load().SerialPort)(...args);
  }
  static list() {
    return load().SerialPort.list();
  }
}
`;

function serialportPlugin(mode: 'stub' | 'external'): Plugin {
  return {
    name: 'postern-serialport',
    setup(b) {
      b.onResolve({ filter: /^serialport$/ }, (args) =>
        mode === 'external' ? { path: args.path, external: true } : { path: 'serialport', namespace: 'postern-stub' },
      );
      b.onLoad({ filter: /.*/, namespace: 'postern-stub' }, () => ({ contents: SERIALPORT_STUB, loader: 'js' }));
    },
  };
}

/**
 * Bundles `entry` into one ES module (Node 20, `@postern/source` conditions so workspace TypeScript
 * resolves). Deterministic: the same sources give the same bytes.
 */
export async function bundleFirmware(
  entry: string,
  options: Pick<BuildImageOptions, 'serialport' | 'minify'> = {},
): Promise<Uint8Array> {
  const result = await build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [entry],
    write: false,
    minify: options.minify ?? false,
    plugins: [serialportPlugin(options.serialport ?? 'stub')],
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  return out.contents;
}

/** Builds and signs an image of the gateway (or of `options.entry`). */
export async function buildFirmwareImage(options: BuildImageOptions): Promise<BuiltImage> {
  const gw = gatewayDirectory();
  const pkg = JSON.parse(readFileSync(join(gw, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    engines?: { node?: string };
  };
  const files: ImageFile[] = [
    { path: IMAGE_ENTRY_PATH, data: await bundleFirmware(options.entry ?? GATEWAY_FIRMWARE_ENTRY, options) },
    // The bundled TAP driver runs this helper from beside its own module (`app/`).
    { path: `${dirname(IMAGE_ENTRY_PATH)}/tap-attach.py`, data: new Uint8Array(readFileSync(TAP_ATTACH_SCRIPT)) },
  ];
  for (const name of GATEWAY_DATA_FILES) {
    const path = join(gw, name);
    if (existsSync(path)) files.push({ path: name, data: new Uint8Array(readFileSync(path)) });
  }
  if (options.includeUi ?? true) {
    const ui = join(gw, 'ui');
    for (const name of readdirSync(ui).sort())
      files.push({ path: `ui/${name}`, data: new Uint8Array(readFileSync(join(ui, name))) });
  }
  const image = buildImage(
    files,
    {
      name: options.name ?? pkg.name,
      version: options.version ?? pkg.version,
      target: options.target ?? DEFAULT_BOARD_ID,
      entry: IMAGE_ENTRY_PATH,
      runtime: pkg.engines?.node ?? '>=20',
      defaultConfig: options.defaultConfig ?? DEFAULT_IMAGE_CONFIG,
    },
    options.privateKey,
  );
  return { image, manifest: parseImage(image).manifest };
}
