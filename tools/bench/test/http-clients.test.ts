import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SHORT_CONNECTIONS_SCRIPT,
  VARYING_REQUESTS_LUA,
  connectionsPerSecond,
  keepAliveLoad,
  parseAbOutput,
  parsePingAverageMs,
  parseShortConnections,
  parseWrkOutput,
  warmUpDownloads,
} from '../src/http-clients.js';

// Real outputs of the tools (wrk 4.1.0 against the lwIP reference, ab 2.3 against python's http.server).
const WRK_OUTPUT = `Running 3s test @ http://198.18.9.2/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.51ms    4.73ms  54.30ms   96.87%
    Req/Sec    41.36k    11.52k   79.96k    76.67%
  Latency Distribution
     50%  293.00us
     75%    1.09ms
     90%    2.87ms
     99%   30.19ms
  124360 requests in 3.03s, 9.25MB read
Requests/sec:  41100.02
Transfer/sec:      3.06MB
`;

const AB_OUTPUT = `Server Software:        SimpleHTTP/0.6
Server Hostname:        127.0.0.1
Server Port:            18765

Document Path:          /index.html
Document Length:        13 bytes

Concurrency Level:      2
Time taken for tests:   0.074 seconds
Complete requests:      50
Failed requests:        0
Keep-Alive requests:    0
Total transferred:      9900 bytes
HTML transferred:       650 bytes
Requests per second:    673.49 [#/sec] (mean)
Time per request:       2.970 [ms] (mean)
Time per request:       1.485 [ms] (mean, across all concurrent requests)
Transfer rate:          130.23 [Kbytes/sec] received

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    0   0.3      0       2
Processing:     0    2   5.9      1      42
Waiting:        0    2   5.9      1      42
Total:          0    2   5.9      1      42

Percentage of the requests served within a certain time (ms)
  50%      1
  66%      1
  75%      1
  80%      3
  90%      3
  95%      4
  98%     42
  99%     42
 100%     42 (longest request)
`;

describe('parseWrkOutput', () => {
  it('reads req/s and the 99th percentile (converted to ms) from real wrk output', () => {
    expect(parseWrkOutput(WRK_OUTPUT)).toEqual({ requestsPerSecond: 41100.02, p99Ms: 30.19, p50Ms: 0.293, errors: 0 });
  });

  it('converts microseconds and seconds and adds socket errors and non-2xx responses', () => {
    const text = WRK_OUTPUT.replace('99%   30.19ms', '99%  850.00us').replace(
      'Requests/sec:',
      '  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 5\nRequests/sec:',
    );
    expect(parseWrkOutput(text)).toEqual({ requestsPerSecond: 41100.02, p99Ms: 0.85, p50Ms: 0.293, errors: 15 });
    expect(parseWrkOutput(WRK_OUTPUT.replace('99%   30.19ms', '99%    1.20s')).p99Ms).toBe(1200);
  });

  it('throws when the latency distribution is missing (wrk run without --latency)', () => {
    expect(() => parseWrkOutput(WRK_OUTPUT.replace(/ {5}99%.*\n/, ''))).toThrow(/latency/);
    expect(() => parseWrkOutput('unable to connect to 198.18.9.2:80 Connection refused')).toThrow(/wrk/);
  });
});

describe('warmUpDownloads', () => {
  /** A scripted download: each takes `ms` of the fake clock and resolves with the next speed. */
  function scripted(ms: number, speeds: number[]) {
    let t = 0;
    let calls = 0;
    const download = async (): Promise<number> => {
      t += ms;
      return speeds[calls++]!;
    };
    return { download, now: () => t, calls: () => calls };
  }

  it('makes `count` downloads one after another and resolves with their speeds in order', async () => {
    const s = scripted(300, [108, 144, 202, 242, 999]);
    await expect(warmUpDownloads(s.download, 4, 8000, s.now)).resolves.toEqual([108, 144, 202, 242]);
    expect(s.calls()).toBe(4);
  });

  it('starts no download once the budget is spent, but always makes the first', async () => {
    const slow = scripted(3000, [1, 2, 3, 4]);
    // 0 ms: first; 3000: second; 6000: third; 9000 >= 8000: stop.
    await expect(warmUpDownloads(slow.download, 4, 8000, slow.now)).resolves.toEqual([1, 2, 3]);
    const stuck = scripted(60_000, [7, 8]);
    await expect(warmUpDownloads(stuck.download, 4, 8000, stuck.now)).resolves.toEqual([7]);
    const none = scripted(1, [5]);
    await expect(warmUpDownloads(none.download, 0, 8000, none.now)).resolves.toEqual([]);
  });

  it('rejects with the error of a failing download and starts no further one', async () => {
    let calls = 0;
    const failing = async (): Promise<number> => {
      calls++;
      throw new Error('curl: exit 7');
    };
    await expect(warmUpDownloads(failing, 4, 8000, () => 0)).rejects.toThrow('curl: exit 7');
    expect(calls).toBe(1);
  });
});

describe('parsePingAverageMs', () => {
  it('reads the average RTT from the summary of ping -q, and throws without one', () => {
    const text =
      'PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n\n--- 198.18.0.2 ping statistics ---\n25 packets transmitted, 25 received, 0% packet loss, time 503ms\nrtt min/avg/max/mdev = 0.074/0.093/0.210/0.031 ms\n';
    expect(parsePingAverageMs(text)).toBe(0.093);
    expect(() => parsePingAverageMs('25 packets transmitted, 0 received, 100% packet loss')).toThrow(/rtt/);
  });
});

describe('parseAbOutput', () => {
  it('reads req/s, the 99% line and failures from real ab output', () => {
    expect(parseAbOutput(AB_OUTPUT)).toEqual({ requestsPerSecond: 673.49, p99Ms: 42, p50Ms: Number.NaN, errors: 0 });
  });

  it('counts failed and non-2xx requests', () => {
    const text = AB_OUTPUT.replace('Failed requests:        0', 'Failed requests:        7').replace(
      'Total transferred:',
      'Non-2xx responses:      3\nTotal transferred:',
    );
    expect(parseAbOutput(text).errors).toBe(10);
  });

  it('throws on output without figures', () => {
    expect(() => parseAbOutput('apr_socket_recv: Connection refused (111)')).toThrow(/ab/);
  });
});

describe('parseShortConnections', () => {
  it('parses the last JSON line and computes answered connections per second', () => {
    const r = parseShortConnections(
      'noise\n{"fine": 270, "stalled": 30, "failed": 2, "seconds": 2.5, "worstSeconds": 2.01}\n',
    );
    expect(r).toEqual({ fine: 270, stalled: 30, failed: 2, seconds: 2.5, worstSeconds: 2.01, clientCpuSeconds: NaN });
    expect(connectionsPerSecond(r)).toBe(120);
    const withCpu = '{"fine": 1, "stalled": 0, "failed": 0, "seconds": 1, "worstSeconds": 1, "clientCpuSeconds": 0.25}';
    expect(parseShortConnections(withCpu).clientCpuSeconds).toBe(0.25);
  });

  it('rejects output that is not a complete result', () => {
    expect(() => parseShortConnections('Traceback (most recent call last):')).toThrow(/not a JSON result/);
    expect(() => parseShortConnections('{"fine": 1, "stalled": 0, "failed": 0, "seconds": 1}')).toThrow(/worstSeconds/);
  });
});

/** Whether `program args` runs and exits with 0 here (a peer the bench needs is installed). */
function runs(program: string, args: readonly string[]): boolean {
  try {
    execFileSync(program, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// The loop itself, against a local Node server on loopback (python3 is one of the bench's peers).
const hasPython = runs('python3', ['-c', '']);

describe.skipIf(!hasPython)('SHORT_CONNECTIONS_SCRIPT (needs python3)', () => {
  let server: Server;
  let port = 0;
  let answered = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      answered++;
      if (req.url === '/peer') peers.push(req.socket.remoteAddress ?? '');
      if (req.url === '/slow') setTimeout(() => res.end('late'), 1200);
      else if (req.url === '/missing') res.writeHead(404).end();
      else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  let peers: string[] = [];
  const run = (path: string, budget: number, limit: number, source?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const args = ['127.0.0.1', String(port), path, String(budget), String(limit), '1', '5'];
      execFile(
        'python3',
        ['-c', SHORT_CONNECTIONS_SCRIPT, ...args, ...(source === undefined ? [] : [source])],
        { timeout: 20_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });

  it('makes exactly `limit` connections one at a time and counts them fine', async () => {
    answered = 0;
    const r = parseShortConnections(await run('/', 10, 25));
    expect(r.fine).toBe(25);
    expect(r.stalled + r.failed).toBe(0);
    expect(answered).toBe(25);
    expect(r.clientCpuSeconds).toBeGreaterThan(0);
  });

  it('connects from the source address it is given', async () => {
    peers = [];
    const r = parseShortConnections(await run('/peer', 10, 3, '127.0.0.9'));
    expect(r.fine).toBe(3);
    expect(peers).toEqual(['127.0.0.9', '127.0.0.9', '127.0.0.9']);
  });

  it('counts an answer slower than the stall threshold as stalled and a non-200 as failed', async () => {
    expect(parseShortConnections(await run('/slow', 10, 1))).toMatchObject({ fine: 0, stalled: 1, failed: 0 });
    expect(parseShortConnections(await run('/missing', 10, 3))).toMatchObject({ fine: 0, stalled: 0, failed: 3 });
  });
});

// The varying-requests script, run by wrk itself against a local Node server that records what arrives.
const hasWrk = runs('sh', ['-c', 'command -v wrk']);

describe.skipIf(!hasWrk)('VARYING_REQUESTS_LUA (needs wrk)', () => {
  let server: Server;
  let port = 0;
  let dir = '';
  const targets: string[] = [];
  const ids: string[] = [];
  const accepts = new Set<string>();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
    writeFileSync(join(dir, 'varying.lua'), VARYING_REQUESTS_LUA);
    server = createServer((req, res) => {
      targets.push(req.url ?? '');
      ids.push(String(req.headers['x-request-id']));
      accepts.add(String(req.headers.accept));
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes every request differ in its query and X-Request-Id, on the URL path, and all are answered', async () => {
    const url = `http://127.0.0.1:${port}/small`;
    const r = await keepAliveLoad(undefined, url, 1, 'wrk', 2, join(dir, 'varying.lua'));
    expect(r.errors).toBe(0);
    expect(targets.length).toBeGreaterThan(10);
    expect(targets.every((t) => /^\/small\?v=\d+$/.test(t))).toBe(true);
    // One wrk thread numbers its requests: no target and no id repeats.
    expect(new Set(targets).size).toBe(targets.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...accepts].sort()).toEqual(['*/*', 'text/plain']);
  });

  it('refuses a script with ab, which cannot run one', async () => {
    await expect(keepAliveLoad(undefined, `http://127.0.0.1:${port}/`, 1, 'ab', 1, 'x.lua')).rejects.toThrow(
      /only wrk runs a request script/,
    );
  });
});
