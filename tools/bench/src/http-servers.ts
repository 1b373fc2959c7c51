/**
 * The servers the `http-compare` benchmarks measure, each serving the same two answers:
 * `GET /big` -> a {@link BIG_BODY_BYTES}-byte body, anything else -> `Hello, world!` (13 bytes).
 *
 * - {@link startNodeServer}: Node's own `http`, a 20-line static handler, in a child process inside
 *   a namespace (reached over that namespace's loopback, or across a veth pair from another one);
 * - {@link buildLwipServer} + {@link startLwipServer}: the C reference in `tools/bench/lwip/`
 *   (lwIP 2.1.3 from Debian's liblwip-dev, raw API, its TAP netif), built with gcc at bench time and
 *   run with the PBUF_POOL -> PBUF_RAM preload shim (without it the library corrupts its heap on
 *   received frames over about 592 bytes);
 * - {@link findMongooseSource} + {@link buildMongooseServer} + {@link startMongooseServer}: Mongoose
 *   (C, its built-in TCP/IP stack) on a TAP device, our own small server in `tools/bench/mongoose/`
 *   compiled at bench time against a Mongoose source tree named by `POSTERN_MONGOOSE_SRC` (this
 *   repository holds no Mongoose code);
 * - {@link startGatewayBinary}: the shipped `postern-gateway` executable in its own process, on a
 *   TAP device it creates, serving a directory ({@link makeWwwDir}) with `--www`;
 * - {@link startPosternServer}: Postern in this process: a real-clock `Scheduler`, `TapNicDriver`,
 *   `NetDevice`, `Stack`, `attachTcp`, `@postern/socket`'s `net` face and `@postern/http`'s server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpServer } from '@postern/http';
import { Scheduler } from '@postern/irq';
import { NetDevice, TapNicDriver } from '@postern/nic';
import { Stack, attachTcp } from '@postern/netstack';
import { Sockets, createNet } from '@postern/socket';
import { parseIpv4, parseMac } from '@postern/wire';
import { runCommand, type NetLab } from '@postern/netlab';
import { runIn } from './http-clients.js';
import { CLOCK_TICKS, parseTaskStat } from './sample-instruments.js';

/** Size of the bulk answer (`GET /big`). */
export const BIG_BODY_BYTES = 64 * 1024 * 1024;
/** Path of the bulk answer. */
export const BIG_PATH = '/big';
/** Path of the small answer (any other path gets it too). */
export const SMALL_PATH = '/';
/** The small answer's body. */
export const SMALL_BODY = 'Hello, world!';
/** How long a server child may take to say it is ready. */
const READY_TIMEOUT_MS = 15_000;

/** A server running in a child process (killed by {@link stopChild}). */
export interface ChildServer {
  readonly child: ChildProcess;
  /** Its stderr so far (for failure messages). */
  stderr(): string;
}

/** Waits for a line matching `ready` on the child's stdout; rejects if it exits or times out first. */
function waitReady(
  child: ChildProcess,
  what: string,
  stderr: () => string,
  ready: RegExp = /^ready\b/m,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => finish(new Error(`${what}: not ready after ${timeoutMs} ms: ${stderr().trim()}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      out += chunk.toString('utf8');
      if (ready.test(out)) finish(undefined);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`${what}: exited (${code ?? signal}) before it was ready: ${stderr().trim()}`));
    const onError = (e: Error): void => finish(e);
    function finish(error: Error | undefined): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error === undefined) resolve();
      else reject(error);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function startChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv): ChildServer {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (err.length < 16_384) err += chunk.toString('utf8');
  });
  child.stdout?.resume();
  child.on('error', () => undefined); // reported by waitReady
  return { child, stderr: () => err };
}

/** Stops a child server (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. */
export async function stopChild(server: ChildServer | undefined): Promise<void> {
  const child = server?.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

// ------------------------------------------------------------------------------------- Node http

/**
 * Node's own `http`: a static handler for the two answers, listening on 0.0.0.0:`port`. With a
 * directory as its second argument it serves that directory's `big` and `small` files instead.
 */
const NODE_SERVER_SCRIPT = `
const http = require('node:http');
const { readFileSync } = require('node:fs');
const port = Number(process.argv[1]);
const dir = process.argv[2];
const big = dir ? readFileSync(dir + '/big') : Buffer.alloc(${BIG_BODY_BYTES}, 97);
const small = dir ? readFileSync(dir + '/small') : Buffer.from(${JSON.stringify(SMALL_BODY)});
http.createServer((req, res) => {
  if (req.url === ${JSON.stringify(BIG_PATH)}) {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': big.length });
    res.end(big);
  } else {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': small.length });
    res.end(small);
  }
}).listen(port, '0.0.0.0', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * Starts Node's `http` in a child process inside `ns`, on 0.0.0.0:`port`; resolves once it listens.
 * With `www` (a directory made by {@link makeWwwDir}) it serves that directory's files.
 */
export async function startNodeServer(ns: string, port: number, www?: string): Promise<ChildServer> {
  const server = startChild(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      NODE_SERVER_SCRIPT,
      String(port),
      ...(www === undefined ? [] : [www]),
    ],
    process.env,
  );
  await waitReady(server.child, 'node http server', server.stderr);
  return server;
}

// ------------------------------------------------------------------------------------------ lwIP

const LWIP_DIR = fileURLToPath(new URL('../lwip/', import.meta.url));

/** Why the lwIP reference cannot be built here (no gcc, no liblwip-dev), or undefined. */
export function lwipSkipReason(): string | undefined {
  const gcc = ['/usr/bin/gcc', '/usr/local/bin/gcc'].some((p) => existsSync(p));
  if (!gcc) return 'needs gcc to build the lwIP reference (apt-get install gcc)';
  if (!existsSync('/usr/include/lwip/netif/tapif.h'))
    return 'needs liblwip-dev for the lwIP reference (run tools/scripts/install-peers.sh)';
  return undefined;
}

/** A built lwIP reference: the server binary and the preload shim, in a directory of their own. */
export interface LwipBuild {
  readonly dir: string;
  readonly server: string;
  readonly shim: string;
}

/** Builds `tools/bench/lwip/` (httpd-tap and pbuf-ram-shim.so) into a fresh temporary directory. */
export async function buildLwipServer(): Promise<LwipBuild> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-lwip-'));
  try {
    await runCommand('sh', [join(LWIP_DIR, 'build.sh'), dir], { timeoutMs: 120_000 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, server: join(dir, 'httpd-tap'), shim: join(dir, 'pbuf-ram-shim.so') };
}

/** Removes a build directory. */
export function removeLwipBuild(build: LwipBuild | undefined): void {
  if (build !== undefined) rmSync(build.dir, { recursive: true, force: true });
}

/**
 * Starts the lwIP server inside `ns` on the existing TAP device `tap` (already in `ns`), with
 * address `address`/`netmask`, port 80, preloaded with the PBUF_RAM shim; resolves once it listens.
 * With `www` (see {@link makeWwwDir}) its small answer is that directory's `small` file.
 */
export async function startLwipServer(
  build: LwipBuild,
  ns: string,
  tap: string,
  address: string,
  netmask: string,
  www?: string,
): Promise<ChildServer> {
  const env = {
    ...process.env,
    PRECONFIGURED_TAPIF: tap,
    LD_PRELOAD: build.shim,
    ...(www === undefined ? {} : { SMALL_BODY_FILE: join(www, 'small') }),
  };
  const server = startChild('ip', ['netns', 'exec', ns, build.server, address, netmask, '80'], env);
  await waitReady(server.child, 'lwIP httpd-tap', server.stderr);
  return server;
}

// -------------------------------------------------------------------------------------- Mongoose

const MONGOOSE_DIR = fileURLToPath(new URL('../mongoose/', import.meta.url));

/** The environment variable naming a Mongoose source tree: a directory holding `mongoose.c` and `mongoose.h`. */
export const MONGOOSE_SRC_ENV = 'POSTERN_MONGOOSE_SRC';
/** The Mongoose release the figures came from (another version is measured too, and named in the rows). */
export const MONGOOSE_VERSION = '7.22';

/** Where the Mongoose reference's sources are, or why there are none. */
export type MongooseSource =
  { readonly dir: string; readonly version: string } | { readonly dir?: undefined; readonly missing: string };

/** The version a `mongoose.h` declares (`#define MG_VERSION "7.22"`), or undefined when it declares none. */
export function mongooseVersionOf(header: string): string | undefined {
  return /^[ \t]*#[ \t]*define[ \t]+MG_VERSION[ \t]+"([^"\s]+)"/m.exec(header)?.[1];
}

/**
 * Finds the Mongoose source tree named by {@link MONGOOSE_SRC_ENV} in `env`: a directory holding
 * `mongoose.c` and a `mongoose.h` that declares its `MG_VERSION`. Without one, `missing` says why in
 * one line (and how to get one: `tools/bench/mongoose/source.sh`). Never throws.
 */
export function findMongooseSource(env: NodeJS.ProcessEnv = process.env): MongooseSource {
  const howTo = `set ${MONGOOSE_SRC_ENV} to a directory holding mongoose.c and mongoose.h (Mongoose ${MONGOOSE_VERSION}; tools/bench/mongoose/source.sh extracts them from a git directory or tarball)`;
  const dir = env[MONGOOSE_SRC_ENV];
  if (dir === undefined || dir === '') return { missing: `${MONGOOSE_SRC_ENV} is not set: ${howTo}` };
  for (const file of ['mongoose.c', 'mongoose.h']) {
    if (!existsSync(join(dir, file))) return { missing: `${MONGOOSE_SRC_ENV}=${dir} has no ${file}: ${howTo}` };
  }
  let header: string;
  try {
    header = readFileSync(join(dir, 'mongoose.h'), 'utf8');
  } catch (e) {
    return {
      missing: `${MONGOOSE_SRC_ENV}=${dir}: cannot read mongoose.h (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  const version = mongooseVersionOf(header);
  if (version === undefined)
    return { missing: `${MONGOOSE_SRC_ENV}=${dir}: mongoose.h declares no MG_VERSION: ${howTo}` };
  return { dir, version };
}

/** A built Mongoose reference: the server binary in a directory of its own. */
export interface MongooseBuild {
  readonly dir: string;
  readonly server: string;
  /** The version of the sources it was built from. */
  readonly version: string;
}

/**
 * Builds `tools/bench/mongoose/httpd-tap.c` against the Mongoose sources in `source` (its
 * built-in TCP/IP stack, no sockets) into a fresh temporary directory. Compiling mongoose.c takes
 * about 15 s on a loaded 2-core machine.
 */
export async function buildMongooseServer(source: { dir: string; version: string }): Promise<MongooseBuild> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-mongoose-'));
  try {
    await runCommand('sh', [join(MONGOOSE_DIR, 'build.sh'), source.dir, dir], { timeoutMs: 240_000 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, server: join(dir, 'mongoose-httpd-tap'), version: source.version };
}

/** Removes a Mongoose build directory. */
export function removeMongooseBuild(build: MongooseBuild | undefined): void {
  if (build !== undefined) rmSync(build.dir, { recursive: true, force: true });
}

/**
 * Starts the Mongoose server inside `ns` on the existing TAP device `tap` (already in `ns`, set up
 * as lwIP's is), with address `address`/`netmask`, port 80, serving `www`'s `small` and `big` (see
 * {@link makeWwwDir}) from memory; resolves once Mongoose's interface is up and it listens.
 */
export async function startMongooseServer(
  build: MongooseBuild,
  ns: string,
  tap: string,
  address: string,
  netmask: string,
  www: string,
): Promise<ChildServer> {
  const args = ['netns', 'exec', ns, build.server, tap, address, netmask, www, '80'];
  const server = startChild('ip', args, process.env);
  await waitReady(server.child, 'Mongoose httpd-tap', server.stderr);
  return server;
}

// ------------------------------------------------------------------- the shipped postern-gateway

/** Size of the small file every server of the gateway comparison serves. */
export const SMALL_FILE_BYTES = 98;
/** The path of that file. */
export const SMALL_FILE_PATH = '/small';
/** The executable users start. */
const GATEWAY_BIN = fileURLToPath(new URL('../../../apps/gateway/bin/postern-gateway.mjs', import.meta.url));
const BUILD_BINS = fileURLToPath(new URL('../../scripts/build-bins.mjs', import.meta.url));

/**
 * Makes a directory with the files of the gateway comparison: `small` ({@link SMALL_FILE_BYTES}
 * bytes of text) and `big` ({@link BIG_BODY_BYTES} bytes, `a`..`z` repeated, as lwIP's answer).
 */
export function makeWwwDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-www-'));
  writeFileSync(join(dir, 'small'), 'x'.repeat(SMALL_FILE_BYTES - 1) + '\n');
  const chunk = Buffer.alloc(65536);
  for (let i = 0; i < chunk.length; i++) chunk[i] = 97 + (i % 26);
  const big = Buffer.alloc(BIG_BODY_BYTES);
  for (let at = 0; at < big.length; at += chunk.length) chunk.copy(big, at);
  writeFileSync(join(dir, 'big'), big);
  return dir;
}

/** Rebuilds the bundles the bins run (`npm run build:bins`), so the bench measures the sources it sits beside. */
export async function buildGatewayBin(): Promise<void> {
  await runCommand(process.execPath, ['--import', 'tsx', BUILD_BINS], { timeoutMs: 180_000 });
}

/**
 * Starts `postern-gateway --nic tap:<tap> --ip <cidr> --http-port 80 --www <www>` exactly as a user
 * does (its bin, its own process) inside `ns`, where it creates the TAP device; then gives the
 * device's kernel side `kernelCidr` and brings it up. Resolves once the gateway listens. The child's
 * PID is the gateway's (the bin runs the program in its own process).
 */
export async function startGatewayBinary(
  ns: string,
  tap: string,
  cidr: string,
  www: string,
  kernelCidr: string,
): Promise<ChildServer> {
  const args = [
    'netns',
    'exec',
    ns,
    process.execPath,
    GATEWAY_BIN,
    '--nic',
    `tap:${tap}`,
    '--ip',
    cidr,
    '--http-port',
    '80',
    '--www',
    www,
  ];
  const server = startChild('ip', args, process.env);
  // Its start (load the bundle, compile the config schema, attach the TAP) took 6 s on a machine at load 16.
  await waitReady(server.child, 'postern-gateway', server.stderr, /^listening on /m, 60_000);
  await runCommand('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', kernelCidr, 'dev', tap]);
  await runCommand('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'dev', tap, 'up']);
  return server;
}

const TAP_ECHO = fileURLToPath(new URL('./tap-echo.ts', import.meta.url));
const TAP_REFLECTOR = fileURLToPath(new URL('./tap-reflector.ts', import.meta.url));

/**
 * Starts a bench program on a TAP device (`script` with `args`, run from sources in its own Node
 * process inside `ns`, where it creates `tap` and prints `ready`); then gives the kernel side
 * `kernelCidr` and brings it up.
 */
async function startTapProgram(
  what: string,
  script: string,
  args: readonly string[],
  ns: string,
  tap: string,
  kernelCidr: string,
): Promise<ChildServer> {
  const node = [process.execPath, '--conditions=@postern/source', '--import', 'tsx', script];
  const server = startChild('ip', ['netns', 'exec', ns, ...node, ...args], process.env);
  await waitReady(server.child, what, server.stderr, /^ready\b/m, 60_000);
  await runCommand('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', kernelCidr, 'dev', tap]);
  await runCommand('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'dev', tap, 'up']);
  return server;
}

/**
 * Starts the bare TAP echo (`tap-echo.ts`: the TAP driver alone answering ARP and ping for
 * `address`) in its own Node process inside `ns`, where it creates `tap`; then gives the kernel side
 * `kernelCidr` and brings it up.
 */
export function startTapEcho(ns: string, tap: string, address: string, kernelCidr: string): Promise<ChildServer> {
  return startTapProgram('tap echo', TAP_ECHO, [tap, address], ns, tap, kernelCidr);
}

/**
 * Starts the bare Node TAP ceiling (`tap-reflector.ts`: the gateway's TAP driver and scheduler
 * setup with a TCP reflector answering each request frame with `response`, the canned answer, and
 * `GET /big` with a window-limited sender) in its own Node process inside `ns`, where it creates
 * `tap`; then gives the kernel side `kernelCidr` and brings it up. `closeResponse` is the answer it
 * sends with its FIN to a request that asks to close (HTTP/1.0: the short-connection client);
 * `response` when omitted. `io: 'fs'` runs the same reflector on a blocking descriptor with
 * `readSync`/`writeSync` and no event loop instead.
 */
export function startTapReflector(
  ns: string,
  tap: string,
  address: string,
  kernelCidr: string,
  response: Uint8Array,
  io: 'driver' | 'fs' = 'driver',
  closeResponse?: Uint8Array,
): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-reflector-'));
  const file = join(dir, 'response');
  writeFileSync(file, response);
  const closeFile = join(dir, 'close-response');
  if (closeResponse !== undefined) writeFileSync(closeFile, closeResponse);
  const args = [
    tap,
    address,
    file,
    ...(closeResponse === undefined ? [] : [`--close-response=${closeFile}`]),
    ...(io === 'fs' ? ['--io=fs'] : []),
  ];
  const started = startTapProgram('tap reflector', TAP_REFLECTOR, args, ns, tap, kernelCidr);
  // The program reads the file before it prints `ready`.
  return started.finally(() => rmSync(dir, { recursive: true, force: true }));
}

/**
 * The answer `url` gives to curl in `ns` (`GET`, HTTP/1.1; HTTP/1.0 with `http10`, the
 * short-connection client's request), head and body exactly as sent: the canned answer of
 * {@link startTapReflector}, so that it sends the gateway's own bytes.
 */
export async function rawAnswer(ns: string, url: string, http10 = false): Promise<Uint8Array> {
  const r = await runIn(ns, 'curl', ['-s', '-i', ...(http10 ? ['-0'] : []), '--max-time', '5', url], 10_000);
  if (r.code !== 0 || !r.stdout.startsWith('HTTP/1.1 200 '))
    throw new Error(`raw answer of ${url}: curl exit ${String(r.code)}`);
  return Buffer.from(r.stdout, 'latin1');
}

/** CPU seconds (user + system, all threads) the process `pid` has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  return parseTaskStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuTicks / CLOCK_TICKS;
}

// --------------------------------------------------------------------------------------- Postern

/** Postern's server on a TAP device, in this process. */
export interface PosternServer {
  readonly scheduler: Scheduler;
  readonly device: NetDevice;
  readonly http: HttpServer;
  close(): Promise<void>;
}

/**
 * Builds Postern on the TAP device `tap` (in the root namespace; the caller moves it into its
 * namespace afterwards): real-clock Scheduler, TapNicDriver, NetDevice, Stack with `address/prefix`,
 * TCP, sockets, the `net` face, and `@postern/http` serving the two answers on port 80.
 */
export async function startPosternServer(
  tap: string,
  mac: string,
  address: string,
  prefix: number,
): Promise<PosternServer> {
  const scheduler = new Scheduler({ clock: 'real', seed: 20 });
  const device = new NetDevice(new TapNicDriver({ ifname: tap, mac: parseMac(mac) }), scheduler, {
    rxRingCapacity: 1024,
  });
  await device.open();
  const stack = new Stack(scheduler);
  stack.addInterface(device).addAddress(parseIpv4(address), prefix);
  const sockets = new Sockets(stack, attachTcp(stack));
  const big = new Uint8Array(BIG_BODY_BYTES).fill(97);
  const http = new HttpServer(
    (req, res) => {
      if (req.path === BIG_PATH) res.send(big, 'application/octet-stream');
      else res.send(SMALL_BODY, 'text/plain');
    },
    { scheduler, wallTime: () => Date.now() },
  );
  const listener = createNet(sockets).createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(80, () => resolve());
  });
  http.attach(listener as unknown as Parameters<HttpServer['attach']>[0]);
  scheduler.start();
  return {
    scheduler,
    device,
    http,
    async close() {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await http.close();
      scheduler.stop();
      await device.close();
    },
  };
}

/** Moves `tap` into `ns` and gives its kernel side `cidr`, link up. */
export async function kernelSide(lab: NetLab, tap: string, ns: string, cidr: string): Promise<void> {
  await lab.moveToNamespace(tap, ns);
  await lab.setAddress(tap, cidr, ns);
  await lab.linkUp(tap, ns);
}
