/**
 * {@link startGateway}: the composition. From a validated {@link GatewayConfig} it brings up, in
 * order, the interrupt scheduler (real clock), each interface's driver (the in-process simulator,
 * a serial port, a socket, a TAP device; optionally captured to pcap) under a `NetDevice`, the
 * stack (addresses, routes, forwarding, filter rules), TCP, the socket library and the web front
 * (the HTTP server with the admin UI at `/admin/`, the JSON API at `/api/` and static files).
 * {@link Gateway.close} takes it all down again in reverse order.
 *
 * A failure at any step undoes the steps before it and rejects with one
 * {@link GatewayStartError} whose message is a single line naming the interface or port at fault.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { createSimulator, type Simulator } from '@postern/device-simulator';
import { Scheduler, hostSeed } from '@postern/irq';
import { attachTcp, Stack, type Tcp } from '@postern/netstack';
import { NetDevice, PcapCaptureDriver, SerialNicDriver, TapNicDriver, type NicDriver } from '@postern/nic';
import { Sockets } from '@postern/socket';
import { ipv4ToString, PcapSink } from '@postern/wire';
import { maskOf, parseIpv4Prefix } from './addresses.js';
import { AdminApi } from './admin-api.js';
import { ConfigError, DEFAULT_SIM_HOST_PORT, DHCP_IP, type GatewayConfig, type InterfaceConfig } from './config.js';
import { GatewayStartError, toStartError } from './errors.js';
import { startLanServices, type LanServices } from './lan-services.js';
import { parseNicSpec, type NicSpec } from './nic-spec.js';
import { addRoute, ruleSpecOf } from './stack-config.js';
import { applyNat } from './nat-config.js';
import type { InterfaceConnection, TcpConnectionInfo } from './status.js';
import { TrafficHistory } from './traffic.js';
import { startWeb, tcpConnectionLimit, type WebFront } from './web.js';

/** How long after answering `POST /api/reboot` the reboot starts, ms (time for the 202 to reach the client). */
export const REBOOT_DELAY_MS = 250;

/** Options of {@link startGateway} beyond the configuration. */
export interface StartGatewayOptions {
  /** Where log lines go (one per call, no trailing newline). Default: nowhere. */
  log?: (line: string) => void;
  /** Called when the admin API asks for a reboot (after its 202 is sent). Default: nothing happens. */
  onReboot?: () => void;
  /** Set when this start is a reboot: what the new run keeps from the earlier ones. */
  restart?: RestartState;
}

/**
 * What a reboot keeps: the capture goes on in a new numbered file (`cap.pcap`, then `cap.1.pcap`,
 * `cap.2.pcap`...) instead of truncating the first, and a host forward that asked for port 0 keeps the
 * port it was given the first time (its URL stays valid).
 */
export interface RestartState {
  /** Reboots so far, this one included (1 for the first). */
  readonly count: number;
  /** The bound port of each host forward of the previous run, in rule order. */
  readonly hostForwardPorts: readonly number[];
}

/** `path` with `.N` before its extension (`cap.pcap`, 2 -> `cap.2.pcap`); `path` itself for 0. */
export function numberedCapturePath(path: string, n: number): string {
  if (n === 0) return path;
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? `${path.slice(0, dot)}.${n}${path.slice(dot)}` : `${path}.${n}`;
}

/** `rules` with each port-0 host port replaced by the port the previous run bound for it. */
export function keepHostForwardPorts(rules: readonly string[], ports: readonly number[]): string[] {
  return rules.map((rule, i) => (ports[i] === undefined ? rule : rule.replace(/^(tcp:[^:]*:)0-/, `$1${ports[i]}-`)));
}

/** One interface as started. */
export interface GatewayInterface {
  /** The configuration it came from. */
  readonly config: InterfaceConfig;
  /** The parsed NIC spec. */
  readonly spec: NicSpec;
  /** The device the stack uses. */
  readonly device: NetDevice;
  /** The serial driver underneath (sim, serial and socket interfaces), for its connection state. */
  readonly serial: SerialNicDriver | undefined;
}

/** How often an external serial device (serial:, socket://) is asked for its link status, so that a silent board restart is noticed, ms. */
export const SERIAL_KEEPALIVE_MS = 2000;

/** A running gateway. */
export interface Gateway {
  /** The configuration it runs. */
  readonly config: GatewayConfig;
  /** The interrupt scheduler (real clock, started). */
  readonly scheduler: Scheduler;
  /** The IP stack. */
  readonly stack: Stack;
  /** The TCP module. */
  readonly tcp: Tcp;
  /** The socket library over the stack. */
  readonly sockets: Sockets;
  /** The web front: the HTTP server with the admin UI and API. */
  readonly web: WebFront;
  /** DHCP clients and servers, the DNS forwarder and the gateway's resolver. */
  readonly lan: LanServices;
  /** The interfaces, in configuration order. */
  readonly interfaces: readonly GatewayInterface[];
  /** The in-process simulator, when an interface uses `sim`. */
  readonly simulator: Simulator | undefined;
  /** URLs on this machine that reach the HTTP server (the simulator's host forwards), e.g. `http://127.0.0.1:8080/`. */
  readonly urls: readonly string[];
  /** Closes the listeners, the drivers, the simulator and the capture, and stops the scheduler. Idempotent. */
  close(): Promise<void>;
}

/** Picks the simulated host's address on the gateway's segment: the network's .100, else the first free host address. */
export function simHostAddressFor(gateway: number, prefixLength: number): number {
  const mask = maskOf(prefixLength);
  const network = (gateway & mask) >>> 0;
  const broadcast = (network | ~mask) >>> 0;
  const preferred = (network + 100) >>> 0;
  if (preferred < broadcast && preferred !== gateway) return preferred;
  for (let a = network + 1; a < broadcast; a++) if (a !== gateway) return a >>> 0;
  throw new ConfigError(
    'interfaces[0].ip',
    `the prefix of ${ipv4ToString(gateway)}/${prefixLength} leaves no address for the simulated host`,
  );
}

/**
 * Starts the gateway. Rejects with {@link GatewayStartError} (codes `CONFIG`, `DEVICE_NOT_FOUND`,
 * `PERMISSION_DENIED`, `DEVICE_BUSY`, `DEVICE_ERROR`, `ADDRESS_IN_USE`, `FILE`, `INTERNAL`) after
 * undoing whatever had started.
 */
export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? (() => {});
  const undo: Array<() => Promise<void> | void> = [];
  const unwind = async (): Promise<void> => {
    for (const u of undo.splice(0).reverse()) {
      try {
        await u();
      } catch (err) {
        log(`shutdown: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  try {
    const simCount = config.interfaces.filter((i) => i.nic === 'sim').length;
    if (simCount > 1) throw new ConfigError('interfaces', 'only one interface may use the simulator (nic "sim")');

    const scheduler = new Scheduler({
      clock: 'real',
      hostWake: 'microtask', // a frame read while idle is handled before the next event-loop phase
      seed: hostSeed(),
      onError: (err, where) =>
        log(`${where.kind} ${where.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
    });
    scheduler.start();
    undo.push(() => scheduler.stop());

    let pcap: { stream: WriteStream; sink: PcapSink } | undefined;
    if (config.pcap !== undefined) {
      const capture = numberedCapturePath(config.pcap, options.restart?.count ?? 0);
      pcap = await openPcap(capture);
      if (capture !== config.pcap) log(`pcap: the capture goes on in ${capture}`);
      const p = pcap;
      undo.push(() => new Promise<void>((resolve) => p.stream.end(() => resolve())));
    }

    const stack = new Stack(scheduler, {
      forwarding: config.forwarding,
      firewall: config.firewall,
      filter: { policies: { ...config.filter.policy } },
    });
    let simulator: Simulator | undefined;
    const interfaces: GatewayInterface[] = [];
    for (const [index, ic] of config.interfaces.entries()) {
      const spec = parseNicSpec(ic.nic);
      if (typeof spec === 'string') throw new ConfigError(`interfaces[${index}].nic`, spec);
      const context = `${ic.name} (${ic.nic})`;
      // An interface with ip "dhcp" gets its address from its DHCP client (lan-services.ts).
      const prefix = ic.ip === DHCP_IP ? undefined : parseIpv4Prefix(ic.ip)!;
      let driver: NicDriver;
      let serial: SerialNicDriver | undefined;
      try {
        if (spec.kind === 'sim') {
          const sim = await createSimulator({
            serial: 'stream',
            scheduler,
            gatewayAddress: prefix!.address,
            hostAddress: simHostAddressFor(prefix!.address, prefix!.length),
            prefixLength: prefix!.length,
            hostForwards: keepHostForwardPorts(
              config.sim.hostForward ?? [
                `tcp:127.0.0.1:${DEFAULT_SIM_HOST_PORT}-${ipv4ToString(prefix!.address)}:${config.http.port}`,
              ],
              options.restart?.hostForwardPorts ?? [],
            ),
          });
          simulator = sim;
          undo.push(() => sim.close());
          driver = serial = new SerialNicDriver({ endpoint: sim.hostStream!, scheduler, name: ic.name });
        } else if (spec.kind === 'serial') {
          driver = serial = new SerialNicDriver({
            endpoint: spec.path,
            scheduler,
            name: ic.name,
            keepaliveMs: SERIAL_KEEPALIVE_MS,
            ...(spec.baudRate === undefined ? {} : { baudRate: spec.baudRate }),
          });
        } else if (spec.kind === 'socket') {
          driver = serial = new SerialNicDriver({
            endpoint: ic.nic,
            scheduler,
            name: ic.name,
            keepaliveMs: SERIAL_KEEPALIVE_MS,
          });
        } else {
          driver = new TapNicDriver({
            ifname: spec.ifname,
            create: true,
            scheduler,
            ...(ic.mtu === undefined ? {} : { mtu: ic.mtu }),
          });
        }
        if (pcap !== undefined)
          driver = new PcapCaptureDriver(driver, pcap.sink, scheduler, { timeOriginMs: scheduler.epochMs });
        const device = new NetDevice(driver, scheduler, { irqName: `nic:${ic.name}` });
        const iface = stack.addInterface(device, ic.mtu === undefined ? {} : { mtu: Math.min(ic.mtu, driver.mtu) });
        await device.open();
        undo.push(() => device.close());
        if (prefix !== undefined) iface.addAddress(prefix.address, prefix.length);
        interfaces.push({ config: ic, spec, device, serial });
        logLinkChanges(ic.name, device, serial, log);
        log(`${ic.name}: ${ic.nic} up, ${ic.ip}`);
      } catch (err) {
        throw toStartError(err, context);
      }
    }

    config.routes.forEach((r, i) => {
      try {
        addRoute(stack, r);
      } catch (err) {
        throw new ConfigError(`routes[${i}]`, `${r.to} via ${r.via}: ${(err as Error).message}`);
      }
    });
    config.filter.rules.forEach((r, i) => {
      try {
        stack.filter.appendRule(r.chain, ruleSpecOf(r));
      } catch (err) {
        throw new ConfigError(`filter.rules[${i}]`, (err as Error).message);
      }
    });
    try {
      applyNat(
        stack,
        config.nat,
        config.portForwards,
        (name) =>
          stack.interfaces.find((x) => x.device === interfaces.find((i) => i.config.name === name)!.device)!.index,
      );
    } catch (err) {
      throw new ConfigError('portForwards', (err as Error).message);
    }

    // Room for every connection the HTTP server may hold (the TCP default of 4096 is below its cap).
    const tcp = attachTcp(stack, {
      maxConnections: tcpConnectionLimit(config.http),
      congestion: config.tcp.congestion,
    });
    // One descriptor per connection the HTTP server may hold (the socket default of 1024 is below its cap).
    const sockets = new Sockets(stack, tcp, { maxDescriptors: tcpConnectionLimit(config.http) });
    const lan = await startLanServices({
      stack,
      tcp,
      config,
      log,
      epochMs: scheduler.epochMs,
      interfaces: interfaces.map((i) => ({
        config: i.config,
        iface: stack.interfaces.find((x) => x.device === i.device)!,
      })),
    });
    undo.push(() => lan.close());
    const startedAt = scheduler.now;
    const traffic = new TrafficHistory(scheduler, () => trafficTotals(interfaces));
    traffic.start();
    undo.push(() => traffic.stop());

    const urls = (simulator?.forwarders ?? []).map((f) => `http://${f.rule.hostAddress}:${f.port}/`);
    const web = await startWeb({
      scheduler,
      stack,
      sockets,
      config,
      api: (sources) =>
        new AdminApi({
          ...sources,
          stack,
          tcp,
          traffic,
          schedulerStats: scheduler.stats,
          trace: scheduler.trace,
          startedAt,
          admin: config.admin,
          tcpConnections: () => listTcpConnections(tcp),
          connections: () =>
            // Keyed as the API names interfaces: by the stack interface's (device's) name.
            Object.fromEntries(interfaces.map((i) => [i.device.name, interfaceConnection(i, scheduler.now)])),
          info: () => ({
            interfaces: interfaces.map((i) => ({ name: i.config.name, nic: i.config.nic, ip: i.config.ip })),
            httpPort: config.http.port,
            www: config.http.www ?? null,
            urls,
          }),
          reboot: () => void scheduler.timerAfter(REBOOT_DELAY_MS, () => options.onReboot?.()),
          lan: () => lan.status(),
          flushDnsCache: () => lan.flushDnsCache(),
          natRules: config,
        }),
    });
    const front = web;
    undo.push(() => front.close());
    log(
      `http: listening on ${interfaces.map((i) => `${i.config.ip === DHCP_IP ? `${i.config.name} (dhcp)` : i.config.ip.split('/')[0]}:${config.http.port}`).join(', ')}`,
    );

    let closing: Promise<void> | undefined;
    return {
      config,
      scheduler,
      stack,
      tcp,
      sockets,
      web: front,
      lan,
      interfaces,
      simulator,
      urls,
      close: () => (closing ??= unwind()),
    };
  } catch (err) {
    await unwind();
    throw toStartError(err);
  }
}

async function openPcap(path: string): Promise<{ stream: WriteStream; sink: PcapSink }> {
  const stream = createWriteStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err) =>
      reject(
        new GatewayStartError(
          'FILE',
          `pcap: cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
          { cause: err },
        ),
      ),
    );
  });
  return { stream, sink: new PcapSink(stream) };
}

/**
 * Logs an interface's link changes, one line each: a serial device's connection changes (lost with
 * the reason, back with the attempts it took, closed), and carrier changes while it is connected.
 * Reconnection attempts are not logged one by one.
 */
function logLinkChanges(
  name: string,
  device: NetDevice,
  serial: SerialNicDriver | undefined,
  log: (line: string) => void,
): void {
  // Inside a reconnection the link changes are the connection's own: its two events say it all.
  let reconnecting = false;
  device.onLinkChange((state) => {
    if (serial === undefined || (!reconnecting && serial.connection.state === 'open')) log(`${name}: link ${state}`);
  });
  serial?.onConnectionChange((c) => {
    reconnecting = c.state === 'reconnecting';
    if (c.state === 'reconnecting') log(`${name}: link down: device lost (${c.lastError ?? 'unknown'}); reconnecting`);
    else if (c.state === 'open')
      log(`${name}: link ${device.linkState}: device back after ${c.attempts} attempt${c.attempts === 1 ? '' : 's'}`);
    else log(`${name}: link down: device lost (${c.lastError ?? 'unknown'}); its stream cannot be reopened`);
  });
}

/** An interface's connection as the admin API shows it (see {@link InterfaceConnection}). */
function interfaceConnection(i: GatewayInterface, now: number): InterfaceConnection {
  const link = i.device.linkState;
  const s = i.serial;
  if (s === undefined)
    return { state: link, reported: link, attempts: 0, lastError: null, nextAttemptAt: null, counters: null };
  const c = s.connection;
  const x = s.serialStats;
  return {
    state: c.state === 'reconnecting' ? 'reconnecting' : link,
    reported: link,
    attempts: c.attempts,
    lastError: c.lastError ?? null,
    nextAttemptAt: c.nextAttemptAt === undefined ? null : Math.max(now, c.nextAttemptAt),
    counters: {
      disconnects: x.disconnects,
      reconnectAttempts: x.reconnectAttempts,
      reconnects: x.reconnects,
      reHellos: x.reHellos,
      txDroppedDisconnect: x.txDroppedDisconnect,
    },
  };
}

function trafficTotals(interfaces: readonly GatewayInterface[]): {
  rxFrames: number;
  txFrames: number;
  rxBytes: number;
  txBytes: number;
} {
  const t = { rxFrames: 0, txFrames: 0, rxBytes: 0, txBytes: 0 };
  for (const i of interfaces) {
    const s = i.device.stats;
    t.rxFrames += s.driver.rxFrames;
    t.txFrames += s.driver.txFrames;
    t.rxBytes += s.driver.rxBytes;
    t.txBytes += s.driver.txBytes;
  }
  return t;
}

/**
 * The TCP connections of `tcp` (every TCB in its table: SYN-SENT, SYN-RECEIVED, ESTABLISHED, the
 * closing states and TIME-WAIT) with their 4-tuples and RFC 9293 states, from `Tcp.connections()`,
 * sorted by local address and port, then remote address and port. Only reads.
 */
export function listTcpConnections(tcp: Tcp): TcpConnectionInfo[] {
  return tcp
    .connections()
    .sort(
      (x, y) =>
        x.localAddress - y.localAddress ||
        x.localPort - y.localPort ||
        x.remoteAddress - y.remoteAddress ||
        x.remotePort - y.remotePort,
    )
    .map((c) => ({
      localAddress: ipv4ToString(c.localAddress),
      localPort: c.localPort,
      remoteAddress: ipv4ToString(c.remoteAddress),
      remotePort: c.remotePort,
      state: c.state,
    }));
}
