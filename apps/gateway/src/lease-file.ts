/**
 * The DHCP leases file: the leases of one interface's DHCP server as JSON, rewritten whole on
 * every change, atomically (a temporary file beside it, written, fsynced, renamed over it, and the
 * directory fsynced), so a crash at any moment leaves either the old or the new file, never a torn
 * one. Writes are serialised: a change while one is under way is written right after it.
 *
 * Format: `{ "version": 1, "leases": [{ "mac": "02:..", "ip": "198.18.20.100", "state": "bound",
 * "expires": "2026-...Z", "hostname"?: ".." }] }` (`state` `declined` for an address set aside,
 * with mac `00:00:00:00:00:00`).
 */
import { open, rename, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DhcpLeaseRecord, DhcpLeaseStore } from '@postern/netstack';
import { ipv4ToString, macToString, parseIpv4, parseMac } from '@postern/wire';
import { GatewayStartError } from './errors.js';

interface LeaseJson {
  readonly mac: string;
  readonly ip: string;
  readonly state: 'bound' | 'declined';
  readonly expires: string;
  readonly hostname?: string;
}

/**
 * Reads the leases of the stack interface named `iface` (its device's name) from `path`; none when
 * the file does not exist.
 * @throws {@link GatewayStartError} `FILE` for a file that cannot be read or is not a leases file
 *   (the gateway does not start over it: it would forget who has which address).
 */
export async function readLeasesFile(path: string, iface: string): Promise<DhcpLeaseRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new GatewayStartError(
      'FILE',
      `dhcp: cannot read the leases file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; leases?: unknown };
    if (doc.version !== 1 || !Array.isArray(doc.leases)) throw new Error('not a version 1 leases file');
    return (doc.leases as LeaseJson[]).map((l) => {
      const expires = Date.parse(l.expires);
      if (Number.isNaN(expires) || (l.state !== 'bound' && l.state !== 'declined'))
        throw new Error(`bad lease ${JSON.stringify(l)}`);
      return {
        iface,
        mac: parseMac(l.mac),
        ip: parseIpv4(l.ip),
        state: l.state,
        expires,
        ...(typeof l.hostname === 'string' ? { hostname: l.hostname } : {}),
      };
    });
  } catch (err) {
    throw new GatewayStartError(
      'FILE',
      `dhcp: the leases file ${path} is damaged (${(err as Error).message}); move it away to start without it`,
      { cause: err },
    );
  }
}

/** Writes the leases of one interface to its file, atomically and one write at a time. */
export class LeasesFile implements DhcpLeaseStore {
  private writing: Promise<void> | undefined;
  private next: readonly DhcpLeaseRecord[] | undefined;

  /**
   * @param path the leases file.
   * @param onError told about a failed write (the next change tries again).
   */
  constructor(
    readonly path: string,
    private readonly onError: (message: string) => void,
  ) {}

  /** Queues `records` to be written (only the latest of several queued ones is written). */
  save(records: readonly DhcpLeaseRecord[]): void {
    this.next = records;
    this.writing ??= this.drain();
  }

  /** Resolves once every queued write is on disk (or failed). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.next !== undefined) {
      const records = this.next;
      this.next = undefined;
      try {
        await writeAtomically(this.path, leasesJson(records));
      } catch (err) {
        this.onError(
          `dhcp: cannot write the leases file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    }
    this.writing = undefined;
  }
}

/** The file's text for `records`. */
export function leasesJson(records: readonly DhcpLeaseRecord[]): string {
  const leases: LeaseJson[] = records.map((r) => ({
    mac: macToString(r.mac),
    ip: ipv4ToString(r.ip),
    state: r.state,
    expires: new Date(r.expires).toISOString(),
    ...(r.hostname === undefined ? {} : { hostname: r.hostname }),
  }));
  return `${JSON.stringify({ version: 1, leases }, null, 2)}\n`;
}

/** Writes `text` to `path` through a temporary file beside it: write, fsync, rename, fsync the directory. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const file = await open(temp, 'w', 0o644);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
