/**
 * The serial NIC survives its device going away, end to end with the real simulator process: the
 * gateway's second interface is a `postern-sim` (its own process) reached over
 * `socket://127.0.0.1:PORT`, as a USB Ethernet device on another machine's serial line would be. The
 * first interface is the in-process simulator, so that `GET /api/` stays reachable while the second
 * device is gone. Kill the simulator (SIGKILL: nothing is closed cleanly, as when the cable is pulled):
 * the API shows the second link `reconnecting`, with its attempts and last error. Start it again on
 * the same port: the link comes back by itself and the admin page is fetched through it again.
 *
 * Meanwhile headless Chromium (when installed: tools/scripts/install-peers.sh) shows the admin UI's
 * interface table with the link `reconnecting`.
 *
 * Waits are bounded polls on progress conditions (the API's state), never sleeps that assume a speed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { waitFor, waitForOutput } from '@postern/netlab';

const SIM_BIN = fileURLToPath(new URL('../../device-simulator/bin/postern-sim.mjs', import.meta.url));
/** Bound of every wait below (not an expectation: each normally ends in well under a second). */
const WAIT_MS = 30_000;
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

interface InterfaceStatus {
  name: string;
  link: string;
  connection: {
    state: string;
    attempts: number;
    lastError: string | null;
    counters: Record<string, number> | null;
  } | null;
}

interface SimProcess {
  /** `host:port` of the simulator's host forward to the gateway's second address, port 80. */
  readonly hostfwd: string;
  kill(): Promise<void>;
}

/** Starts `postern-sim` with its serial endpoint on `serialPort` and waits for its `ready` line. */
function startSim(serialPort: number): Promise<SimProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      SIM_BIN,
      '--serial',
      `socket://127.0.0.1:${serialPort}`,
      '--gateway',
      '198.19.0.1',
      '--host',
      '198.19.0.100/24',
      '--hostfwd',
      'tcp:127.0.0.1:0-198.19.0.1:80',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  // The hostfwd line comes before the ready line.
  return waitForOutput(child, /^postern-sim: hostfwd (\S+) ->[\s\S]*^postern-sim: ready$/m, {
    limitMs: WAIT_MS,
    what: 'postern-sim',
  }).then(
    (m) => ({ hostfwd: m[1]!, kill }),
    async (e: unknown) => {
      await kill();
      throw e;
    },
  );
}

/** A TCP port that was free a moment ago (bound by us and released). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Polls `probe` every 50 ms until it yields a value (rejects after WAIT_MS naming `what`) and resolves with that value. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  let value: T | undefined;
  await waitFor(what, async () => (value = await probe()) !== undefined, WAIT_MS, 50);
  return value!;
}

describe('gateway: the serial device (postern-sim over socket://) goes away and comes back', () => {
  let gw: Gateway;
  let sim: SimProcess | undefined;
  let serialPort: number;
  let api: string;
  const logs: string[] = [];

  const eth1 = async (): Promise<InterfaceStatus> => {
    const res = await fetch(api);
    expect(res.status).toBe(200);
    const s = (await res.json()) as { interfaces: InterfaceStatus[] };
    return s.interfaces.find((i) => i.name === 'eth1')!;
  };

  beforeAll(async () => {
    serialPort = await freePort();
    sim = await startSim(serialPort);
    gw = await startGateway(
      validateConfig({
        interfaces: [{ nic: 'sim' }, { name: 'eth1', nic: `socket://127.0.0.1:${serialPort}`, ip: '198.19.0.1/24' }],
        sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] },
      }),
      { log: (line) => logs.push(line) },
    );
    api = `${gw.urls[0]!}api/`;
  });

  afterAll(async () => {
    await gw?.close();
    await sim?.kill();
  });

  let linesBefore = 0;

  it('serves the admin page through the device; the API shows its link up', async () => {
    const page = await fetch(`http://${sim!.hostfwd}/admin/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/admin/app.js">');
    expect(await eth1()).toMatchObject({ link: 'up', connection: { state: 'up', attempts: 0, lastError: null } });
  });

  it('the simulator is killed: the API shows the link down and reconnecting, with attempts and the last error', async () => {
    linesBefore = logs.length;
    await sim!.kill();
    sim = undefined;
    const down = await until('eth1 reconnecting', async () => {
      const i = await eth1();
      return i.connection?.state === 'reconnecting' && i.connection.attempts >= 3 ? i : undefined;
    });
    expect(down.link).toBe('down');
    expect(down.connection!.lastError).toMatch(/ECONNREFUSED|cannot connect/);
    expect(down.connection!.counters).toMatchObject({ disconnects: 1, reconnects: 0 });
    expect(down.connection!.counters!.reconnectAttempts).toBeGreaterThanOrEqual(3);
    // One log line for the loss, none per attempt.
    expect(logs.length - linesBefore).toBe(1);
  });

  it.skipIf(!hasChromium)('the admin UI shows the link reconnecting, with the attempt and the last error', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 60_000,
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${gw.urls[0]!}admin/`);
      const cell = page.locator('#interfaces tbody tr', { hasText: 'eth1' }).locator('td').nth(1);
      await cell.locator('span.reconnecting').waitFor({ timeout: WAIT_MS });
      expect(await cell.textContent()).toMatch(/^reconnecting attempt \d+ · .*(ECONNREFUSED|cannot connect)/);
    } finally {
      await browser.close();
    }
  });

  it('the simulator is back on the same port: the link comes up by itself and serves the admin page again', async () => {
    sim = await startSim(serialPort);
    const up = await until('eth1 up again', async () => {
      const i = await eth1();
      return i.connection?.state === 'up' ? i : undefined;
    });
    expect(up.link).toBe('up');
    expect(up.connection!.counters).toMatchObject({ disconnects: 1, reconnects: 1 });
    expect(up.connection!.attempts).toBeGreaterThanOrEqual(4);
    const again = await fetch(`http://${sim.hostfwd}/admin/`);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('<script src="/admin/app.js">');
    // And one log line for the return.
    expect(logs.length - linesBefore).toBe(2);
  });
});
