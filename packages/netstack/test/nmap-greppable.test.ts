/**
 * The port-scan test's reading of nmap (support/nmap-greppable.ts) on nmap 7.93's own greppable
 * output, captured from scans of this stack through a lossy TAP: which ports count as closed, which
 * are scanned again (listed filtered, left out in a state other than closed, or all of them when
 * nmap found no host), and that a port never answered ends up filtered, so the exact check fails.
 */
import { describe, expect, it } from 'vitest';
import { expandPorts, newPortTally, parseGreppable, recordUnanswered, tallyScan } from './support/nmap-greppable.js';

/** A scan of 1-1024,8080 through 0.8% loss with no retries: the unanswered ports listed filtered, the closed ones left out and named. */
const FILTERED_LISTED = `# Nmap 7.93 scan initiated Sat Dec  5 14:00:23 2026 as: nmap -sS -n -Pn -p 1-1024,8080 --max-retries 0 -oG - 198.18.6.2
Host: 198.18.6.2 ()\tStatus: Up
Host: 198.18.6.2 ()\tPorts: 7/open/tcp//echo///, 9/open/tcp//discard///, 37/filtered/tcp//time///, 55/filtered/tcp//isi-gl///, 80/open/tcp//http///, 108/filtered/tcp//snagas///, 190/filtered/tcp//gacp///, 283/filtered/tcp//rescap///, 310/filtered/tcp//bhmds///, 394/filtered/tcp//embl-ndt///, 428/filtered/tcp//ocs_cmu///, 539/filtered/tcp//apertus-ldp///, 710/filtered/tcp//entrust-ash///, 732/filtered/tcp//unknown///, 742/filtered/tcp//netrcs///, 765/filtered/tcp//webster///, 779/filtered/tcp//unknown///, 822/filtered/tcp//unknown///, 8080/open/tcp//http-proxy///\tIgnored State: closed (1006)
# Nmap done at Sat Dec  5 14:00:23 2026 -- 1 IP address (1 host up) scanned in 0.51 seconds
`;

/** A scan of a few ports, each listed: open, closed and filtered. */
const MIXED_LISTED = `# Nmap 7.93 scan initiated Sat Dec  5 13:59:49 2026 as: nmap -sS -n -Pn -p 7,9,23,25,81,8080 --max-retries 0 -oG - 198.18.6.2
Host: 198.18.6.2 ()\tStatus: Up
Host: 198.18.6.2 ()\tPorts: 7/open/tcp//echo///, 9/filtered/tcp//discard///, 23/filtered/tcp//telnet///, 25/closed/tcp//smtp///, 81/filtered/tcp//hosts2-ns///, 8080/filtered/tcp//http-proxy///
# Nmap done at Sat Dec  5 13:59:49 2026 -- 1 IP address (1 host up) scanned in 0.41 seconds
`;

/** The same ports scanned again, all answered. */
const ALL_ANSWERED = `# Nmap 7.93 scan initiated Sat Dec  5 14:00:24 2026 as: nmap -sS -n -Pn -p 7,9,23,25,81,8080 --max-retries 0 -oG - 198.18.6.2
Host: 198.18.6.2 ()\tStatus: Up
Host: 198.18.6.2 ()\tPorts: 7/open/tcp//echo///, 9/open/tcp//discard///, 23/closed/tcp//telnet///, 25/closed/tcp//smtp///, 81/closed/tcp//hosts2-ns///, 8080/open/tcp//http-proxy///
# Nmap done at Sat Dec  5 14:00:24 2026 -- 1 IP address (1 host up) scanned in 0.23 seconds
`;

/** A scan of 1-1024,8080 through 30% loss: closed (534) and filtered (490) both left out, neither named. */
const SEVERAL_LEFT_OUT = `# Nmap 7.93 scan initiated Sat Dec  5 13:59:48 2026 as: nmap -sS -n -Pn -p 1-1024,8080 --max-retries 0 -oG - 198.18.6.2
Host: 198.18.6.2 ()\tStatus: Up
Host: 198.18.6.2 ()\tPorts: 8080/open/tcp//http-proxy///
# Nmap done at Sat Dec  5 13:59:48 2026 -- 1 IP address (1 host up) scanned in 1.12 seconds
`;

/** A scan of 1-60 through 30% loss: the filtered ports left out and named, the closed ones listed. */
const FILTERED_LEFT_OUT = `# Nmap 7.93 scan initiated Sat Dec  5 13:59:49 2026 as: nmap -sS -n -Pn -p 1-60 --max-retries 0 -oG - 198.18.6.2
Host: 198.18.6.2 ()\tStatus: Up
Host: 198.18.6.2 ()\tPorts: 5/closed/tcp//rje///, 7/open/tcp//echo///, 10/closed/tcp//unknown///, 11/closed/tcp//systat///, 19/closed/tcp//chargen///, 20/closed/tcp//ftp-data///, 21/closed/tcp//ftp///, 23/closed/tcp//telnet///, 24/closed/tcp//priv-mail///, 26/closed/tcp//rsftp///, 27/closed/tcp//nsw-fe///, 32/closed/tcp//unknown///, 33/closed/tcp//dsp///, 38/closed/tcp//rap///, 39/closed/tcp//rlp///, 43/closed/tcp//whois///, 45/closed/tcp//mpm///, 47/closed/tcp//ni-ftp///, 50/closed/tcp//re-mail-ck///, 57/closed/tcp//priv-term///, 59/closed/tcp//priv-file///, 60/closed/tcp//unknown///\tIgnored State: filtered (38)
# Nmap done at Sat Dec  5 13:59:50 2026 -- 1 IP address (1 host up) scanned in 0.42 seconds
`;

/** nmap's ARP request for the target went unanswered: no host, no ports (even with -Pn). */
const HOST_NOT_FOUND = `# Nmap 7.93 scan initiated Sat Dec  5 13:59:22 2026 as: nmap -sS -n -Pn -p 1-60 --max-retries 0 -oG - 198.18.6.2
# Nmap done at Sat Dec  5 13:59:22 2026 -- 1 IP address (0 hosts up) scanned in 0.39 seconds
`;

const ALL = expandPorts('1-1024,8080');
const OPEN = [7, 9, 80, 8080];

describe("reading nmap's greppable output", () => {
  it('expands a port spec', () => {
    expect(ALL.length).toBe(1025);
    expect(ALL.at(-1)).toBe(8080);
    expect(expandPorts('7,9,20-22')).toEqual([7, 9, 20, 21, 22]);
  });

  it('parses the listed ports and the named state left out', () => {
    const scan = parseGreppable(FILTERED_LISTED);
    expect(scan.hostFound).toBe(true);
    expect(scan.ignored).toEqual({ state: 'closed', count: 1006 });
    expect([...scan.ports].filter(([, s]) => s === 'open').map(([p]) => p)).toEqual(OPEN);
    expect([...scan.ports].filter(([, s]) => s === 'filtered').length).toBe(15);
    expect(parseGreppable(SEVERAL_LEFT_OUT).ignored).toBeUndefined();
    expect(parseGreppable(HOST_NOT_FOUND)).toEqual({ hostFound: false, ports: new Map(), ignored: undefined });
  });

  it('a full scan with unanswered ports: the closed ones counted, the filtered ones scanned again until answered', () => {
    const tally = newPortTally();
    const again = tallyScan(tally, parseGreppable(FILTERED_LISTED), ALL);
    expect(again).toEqual([37, 55, 108, 190, 283, 310, 394, 428, 539, 710, 732, 742, 765, 779, 822]);
    expect(tally.closed).toBe(1006);
    expect([...tally.states]).toEqual(OPEN.map((p) => [p, 'open']));
    // The second scan answers every one of them (closed, by RST).
    const second = `Host: 198.18.6.2 ()\tPorts: ${again.map((p) => `${p}/closed/tcp//x///`).join(', ')}\n`;
    expect(tallyScan(tally, parseGreppable(second), again)).toEqual([]);
    expect(tally.closed).toBe(1021);
  });

  it('a scan of a few listed ports: open, closed, and filtered ones scanned again', () => {
    const scanned = [7, 9, 23, 25, 81, 8080];
    const tally = newPortTally();
    const again = tallyScan(tally, parseGreppable(MIXED_LISTED), scanned);
    expect(again).toEqual([9, 23, 81, 8080]);
    expect(tally.closed).toBe(1);
    expect([...tally.states]).toEqual([[7, 'open']]);
    // ALL_ANSWERED is a scan of all six ports: only the four scanned again count (7 and 25 were counted once).
    expect(tallyScan(tally, parseGreppable(ALL_ANSWERED), again)).toEqual([]);
    expect(tally.closed).toBe(3);
    expect([...tally.states].sort((a, b) => a[0] - b[0])).toEqual([
      [7, 'open'],
      [9, 'open'],
      [8080, 'open'],
    ]);
  });

  it('ports left out as filtered are scanned again, not counted', () => {
    const tally = newPortTally();
    const again = tallyScan(tally, parseGreppable(FILTERED_LEFT_OUT), expandPorts('1-60'));
    expect(again.length).toBe(38);
    expect(again).not.toContain(5);
    expect(again).toContain(9);
    expect(tally.closed).toBe(21);
    expect([...tally.states]).toEqual([[7, 'open']]);
  });

  it('several states left out unnamed: every port not listed is scanned again', () => {
    const tally = newPortTally();
    const again = tallyScan(tally, parseGreppable(SEVERAL_LEFT_OUT), ALL);
    expect(again.length).toBe(1024);
    expect(again).not.toContain(8080);
    expect(tally.closed).toBe(0);
  });

  it('no host found: every port is scanned again', () => {
    const tally = newPortTally();
    expect(tallyScan(tally, parseGreppable(HOST_NOT_FOUND), [1, 2, 3])).toEqual([1, 2, 3]);
    expect(tally).toEqual(newPortTally());
  });

  it('a port still unanswered after the last scan ends up filtered: the exact check fails', () => {
    const tally = newPortTally();
    const again = tallyScan(tally, parseGreppable(MIXED_LISTED), [7, 9, 23, 25, 81, 8080]);
    recordUnanswered(tally, again);
    expect([...tally.states].sort((a, b) => a[0] - b[0])).not.toEqual(OPEN.map((p) => [p, 'open']));
    expect(tally.states.get(23)).toBe('filtered');
  });
});
