/**
 * The admin UI in a real browser: headless Chromium (Debian's `/usr/bin/chromium`, driven by
 * playwright-core; no browser is ever downloaded) loads `/admin/` from the gateway on the simulated
 * device through the simulator's host forward, runs the UI's script, and the test reads what the page
 * shows: the interface with its link up, the simulated host in the ARP table, counters that grow
 * between polls, and a traffic chart drawn with the rx line. A screenshot is kept as a test artifact
 * at `test-artifacts/admin-ui.png` (repository root; gitignored).
 *
 * Skips, with the reason, when Chromium is missing (tools/scripts/install-peers.sh installs it; CI
 * counts a skip as a failure).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
/** Flags for Chromium on this machine's closed network (no background connections, no sandbox as root). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The part of a browser's HTMLCanvasElement the chart check reads (this project compiles without the DOM library). */
interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { readonly data: Uint8ClampedArray } } | null;
}

/** The text of every cell of table `#id`, row by row. */
function tableRows(page: Page, id: string): Promise<string[][]> {
  return page.$$eval(`#${id} tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
  );
}

/** The column index of header `name` in table `#id`. */
async function column(page: Page, id: string, name: string): Promise<number> {
  const headers = await page.$$eval(`#${id} thead th`, (ths) => ths.map((th) => (th.textContent ?? '').trim()));
  const i = headers.indexOf(name);
  expect(i, `column "${name}" in #${id}: ${headers.join(', ')}`).toBeGreaterThanOrEqual(0);
  return i;
}

describe.skipIf(!hasChromium)('the admin UI in headless Chromium, through the host forward', () => {
  let gw: Gateway;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startGateway(
      validateConfig({ interfaces: [{ nic: 'sim' }], sim: { hostForward: ['tcp:127.0.0.1:0-198.18.0.1:80'] } }),
    );
    // playwright's launch gives Chromium a fresh, empty profile directory of its own (removed on close).
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows the interface, the ARP table, growing counters and a drawn traffic chart', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    page.on('response', (r) => void (r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`)));
    const url = `${gw.urls[0]!}admin/`;
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Postern gateway');

    // The first poll has rendered: the badge says live and the interface row is there.
    await page.waitForSelector('#conn.ok', { timeout: 15_000 });
    expect(await page.textContent('#conn')).toBe('live');
    const ifaces = await tableRows(page, 'interfaces');
    expect(ifaces).toHaveLength(1);
    const row = ifaces[0]!;
    const col = async (name: string) => column(page, 'interfaces', name);
    expect(row[await col('name')]).toBe('eth0');
    expect(row[await col('link')]).toBe('up');
    expect(await page.$eval('#interfaces tbody tr td:nth-child(2) span', (s) => s.className)).toBe('up');
    expect(row[await col('address')]).toBe('198.18.0.1/24');
    expect(row[await col('MAC')]).toBe('02:50:53:00:00:01');
    const rxCol = await col('rx frames');
    const txCol = await col('tx frames');
    const irqCol = await col('IRQs');
    const rx0 = Number(row[rxCol]);
    const tx0 = Number(row[txCol]);
    expect(rx0).toBeGreaterThan(0);
    expect(tx0).toBeGreaterThan(0);
    expect(Number(row[irqCol])).toBeGreaterThan(0);

    // The simulated host, learned from the browser's own connection.
    const arp = await tableRows(page, 'arp');
    expect(arp).toContainEqual(['eth0', '198.18.0.100', '02:50:53:00:00:64', 'reachable']);

    // Each poll is traffic on the simulated link: the next one shows larger counters.
    await expect
      .poll(async () => Number(await page.textContent(`#interfaces tbody tr td:nth-child(${rxCol + 1})`)), {
        timeout: 10_000,
        interval: 200,
      })
      .toBeGreaterThan(rx0);
    const later = (await tableRows(page, 'interfaces'))[0]!;
    expect(Number(later[rxCol])).toBeGreaterThan(rx0);
    expect(Number(later[txCol])).toBeGreaterThan(tx0);

    // A reload starts the page afresh; the gateway's counters keep growing.
    await page.reload();
    await page.waitForSelector('#conn.ok', { timeout: 15_000 });
    const reloaded = (await tableRows(page, 'interfaces'))[0]!;
    expect(Number(reloaded[rxCol])).toBeGreaterThan(Number(later[rxCol]));

    // The other tables are filled from the live gateway.
    expect((await tableRows(page, 'routes')).map((r) => r[0])).toContain('198.18.0.0/24');
    expect((await tableRows(page, 'irq')).map((r) => r[0])).toContain('nic:eth0');
    expect((await tableRows(page, 'http')).find((r) => r[0] === '200')?.[1]).toMatch(/^[1-9]\d*$/);
    expect(await page.textContent('#tcp-summary')).toMatch(/^[1-9]\d* connections/);

    // The chart: once the gateway has two traffic samples, the rx line is drawn in its colour (#2a7de1).
    const rxPixels = async (): Promise<number> =>
      page.$eval('#chart', (c) => {
        const canvas = c as unknown as CanvasLike;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (
            data[i + 3]! > 200 &&
            Math.abs(data[i]! - 0x2a) < 24 &&
            Math.abs(data[i + 1]! - 0x7d) < 24 &&
            Math.abs(data[i + 2]! - 0xe1) < 24
          )
            n++;
        }
        return n;
      });
    const deadline = Date.now() + 15_000;
    let drawn = 0;
    while ((drawn = await rxPixels()) < 20 && Date.now() < deadline) await page.waitForTimeout(250);
    expect(drawn).toBeGreaterThanOrEqual(20);
    const box = await page.$eval('#chart', (c) => ({ w: c.clientWidth, h: c.clientHeight }));
    expect(box.w).toBeGreaterThan(300);
    expect(box.h).toBeGreaterThan(100);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'admin-ui.png'), fullPage: true });
    expect(existsSync(join(ARTIFACTS, 'admin-ui.png'))).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});

if (!hasChromium) {
  describe('the admin UI in headless Chromium', () => {
    it.skip(`skipped: ${CHROMIUM} is missing (apt-get install chromium, or run tools/scripts/install-peers.sh)`, () => {});
  });
}
