/**
 * Reading nmap's greppable output (`-oG -`) for the port-scan tests, and tallying a scan with the
 * scans of its unanswered ports that follow.
 *
 * nmap lists ports one by one except those of a state held by many ports (more than
 * {@link NMAP_LISTS_EVERY_PORT_UP_TO}, without -v or -d), which it leaves out. The greppable line names the left-out state (`Ignored State: closed (1020)`) only
 * when a single state was left out; when several were (under heavy loss, closed and filtered both),
 * it names none, and those ports are in no field at all. nmap also reports no host, and no ports,
 * when its ARP request for the target went unanswered (`0 hosts up`, even with `-Pn`).
 */

/** A scan of at most this many ports lists every one of them (nmap leaves out a state only when more ports hold it). */
export const NMAP_LISTS_EVERY_PORT_UP_TO = 25;

/** `ports` in consecutive pieces of at most `size`. */
export function inPieces(ports: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ports.length; i += size) out.push(ports.slice(i, i + size));
  return out;
}

/** What one greppable scan of one host says. */
export interface GreppableScan {
  /** A `Ports:` line was there (nmap found the host). */
  hostFound: boolean;
  /** The ports listed one by one, with their state (`open`, `closed`, `filtered`, ...). */
  ports: Map<number, string>;
  /** The state left out and how many ports it holds, when nmap named it. */
  ignored: { state: string; count: number } | undefined;
}

/** Parses the `Ports:` and `Ignored State:` fields of nmap's greppable output for one host. */
export function parseGreppable(out: string): GreppableScan {
  const ports = new Map<number, string>();
  const line = out.split('\n').find((l) => l.includes('\tPorts: '));
  const field = /Ports: ([^\t]*)/.exec(line ?? '')?.[1] ?? '';
  for (const entry of field.split(', ').filter((e) => e.length > 0)) {
    const [port, state] = entry.split('/');
    ports.set(Number(port), state!);
  }
  const ig = /Ignored State: ([\w|]+) \((\d+)\)/.exec(line ?? '');
  return {
    hostFound: line !== undefined,
    ports,
    ignored: ig === null ? undefined : { state: ig[1]!, count: Number(ig[2]) },
  };
}

/** What a scan and the scans of its unanswered ports found, port by port where nmap said which. */
export interface PortTally {
  /** Ports found in a state other than closed (open, or unanswered by the last scan), one by one. */
  states: Map<number, string>;
  /** Ports found closed (answered by RST), listed or left out. */
  closed: number;
}

/** An empty {@link PortTally}. */
export function newPortTally(): PortTally {
  return { states: new Map(), closed: 0 };
}

/**
 * Adds `scan`, a scan of the ports `scanned`, to `tally`, and returns the ports it leaves
 * unresolved, to be scanned again: the ones it lists as filtered (no answer to any of nmap's
 * tries), the ones it left out unless it named their state closed (left out as filtered, or
 * several states left out unnamed), and every port when nmap did not find the host. Those are not
 * counted here; after the last scan the caller records them with {@link recordUnanswered}. A listed
 * port that is not in `scanned` is ignored.
 */
export function tallyScan(tally: PortTally, scan: GreppableScan, scanned: readonly number[]): number[] {
  if (!scan.hostFound) return [...scanned];
  const asked = new Set(scanned);
  const again: number[] = [];
  for (const [port, state] of scan.ports) {
    if (!asked.has(port)) continue; // not part of this scan: counted (or not) by its own
    if (state === 'filtered') again.push(port);
    else if (state === 'closed') tally.closed++;
    else tally.states.set(port, state);
  }
  if (scan.ignored?.state === 'closed') tally.closed += scan.ignored.count;
  else again.push(...scanned.filter((p) => !scan.ports.has(p)));
  return again.sort((a, b) => a - b);
}

/** Records the ports still unresolved after the last scan as filtered (never answered). */
export function recordUnanswered(tally: PortTally, ports: readonly number[]): void {
  for (const port of ports) tally.states.set(port, 'filtered');
}

/** The ports a spec such as `1-1024,8080` names (ranges and single ports, comma-separated), in order. */
export function expandPorts(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let p = from; p <= (to ?? from); p++) out.push(p);
  }
  return out;
}
