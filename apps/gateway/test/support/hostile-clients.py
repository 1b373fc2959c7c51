#!/usr/bin/env python3
"""Hostile and idle HTTP clients through the kernel's TCP, for the gateway's interop tests.

Run inside the test's network namespace (`ip netns exec NS python3 hostile-clients.py ...`); every
connection is a plain kernel TCP socket. Prints one JSON line with what it measured.

  hostile-clients.py slowloris HOST PORT --count N --drip-s 5 --gets G --get-every-s S --get-timeout-s T --limit-s L
      Opens N connections that each send a request line and a header line, then one more header line
      every DRIP seconds and never finish the head (a connection the server closes is opened again).
      Once all N are open, starts G fresh `GET /small.txt` one every S seconds, each on a new
      connection, each counted as answered when a complete `200` head arrives within T seconds.
  hostile-clients.py idle HOST PORT --count N --get-timeout-s T --limit-s L
      Opens N connections that send nothing, then one fresh GET; reports its latency.
  hostile-clients.py hold HOST PORT --count N --limit-s L
      Opens N keep-alive connections, each sends one `GET /` and reads the answer's head; prints
      {"opened", "answered"} and keeps them all open (idle, kept alive) until its stdin closes or L
      seconds pass.

Everything is bounded by --limit-s (the whole run) and by N (connections).
"""
import argparse
import json
import resource
import select
import socket
import sys
import threading
import time


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))


def open_many(host, port, count, first_bytes, deadline):
    """Opens `count` connections without blocking; returns the connected sockets (each sent `first_bytes`)."""
    pending = {}
    connected = []
    ep = select.epoll()
    started = 0
    while (started < count or pending) and time.monotonic() < deadline:
        # Keep at most 128 handshakes in flight (the server's SYN backlog is finite; cookies cover more).
        while started < count and len(pending) < 128:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            pending[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLOUT)
            started += 1
        for fd, _ in ep.poll(0.2):
            s = pending.pop(fd)
            ep.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                s.close()
                started -= 1  # try again
                continue
            if first_bytes:
                s.send(first_bytes)
            connected.append(s)
    for s in pending.values():
        s.close()
    ep.close()
    return connected


def fresh_get(host, port, timeout_s, results, index):
    """One GET on a new connection; stores the seconds to a complete 200 head, or None."""
    start = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=timeout_s)
        s.settimeout(max(0.05, timeout_s - (time.monotonic() - start)))
        s.sendall(b'GET /small.txt HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n')
        data = b''
        while b'\r\n\r\n' not in data:
            left = timeout_s - (time.monotonic() - start)
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        ok = data.startswith(b'HTTP/1.1 200 ') and b'\r\n\r\n' in data
        results[index] = (time.monotonic() - start) if ok else None
    except OSError:
        results[index] = None


def still_open(sockets):
    """Drops (and returns the number of) sockets the server closed or reset."""
    alive = []
    for s in sockets:
        try:
            data = s.recv(4096, socket.MSG_DONTWAIT | socket.MSG_PEEK)
            if data == b'':
                s.close()
                continue
            if data:  # the server answered (408) and will close: count it as gone
                s.close()
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        alive.append(s)
    return alive


def slowloris(a):
    deadline = time.monotonic() + a.limit_s
    first = b'GET / HTTP/1.1\r\nHost: gw\r\n'
    slow = open_many(a.host, a.port, a.count, first, deadline)
    opened = len(slow)
    reopened = 0
    results = [None] * a.gets
    threads = []
    open_at_get = []
    next_drip = time.monotonic() + a.drip_s
    next_get = time.monotonic()
    started = 0
    while (started < a.gets or any(t.is_alive() for t in threads)) and time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_drip:
            for s in slow:
                try:
                    s.send(b'X-Drip: 1\r\n')
                except OSError:
                    pass
            next_drip = now + a.drip_s
        slow = still_open(slow)
        if len(slow) < a.count:
            more = open_many(a.host, a.port, a.count - len(slow), first, min(deadline, now + 2))
            reopened += len(more)
            slow += more
        if started < a.gets and now >= next_get:
            open_at_get.append(len(slow))
            t = threading.Thread(target=fresh_get, args=(a.host, a.port, a.get_timeout_s, results, started), daemon=True)
            t.start()
            threads.append(t)
            started += 1
            next_get = now + a.get_every_s
        time.sleep(0.05)
    answered = [r for r in results if r is not None]
    print(json.dumps({
        'opened': opened, 'reopened': reopened, 'minOpenAtGet': min(open_at_get) if open_at_get else 0,
        'gets': started, 'answered': len(answered), 'slowestAnsweredS': max(answered) if answered else None,
    }))
    for s in slow:
        s.close()


def idle(a):
    deadline = time.monotonic() + a.limit_s
    conns = open_many(a.host, a.port, a.count, b'', deadline)
    results = [None]
    fresh_get(a.host, a.port, a.get_timeout_s, results, 0)
    alive = len(still_open(conns))
    print(json.dumps({'opened': len(conns), 'openAfterGet': alive, 'getSeconds': results[0]}))
    for s in conns:
        s.close()


def hold(a):
    start = time.monotonic()
    deadline = start + a.limit_s
    conns = open_many(a.host, a.port, a.count, b'GET / HTTP/1.1\r\nHost: gw\r\n\r\n', deadline)
    open_s = time.monotonic() - start
    other = {}
    ep = select.epoll()
    waiting = {}
    for s in conns:
        ep.register(s.fileno(), select.EPOLLIN)
        waiting[s.fileno()] = (s, b'')
    answered = 0
    while waiting and time.monotonic() < deadline:
        for fd, _ in ep.poll(0.2):
            s, got = waiting[fd]
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b''
            got += chunk
            if not chunk or b'\r\n\r\n' in got:
                ep.unregister(fd)
                del waiting[fd]
                if chunk and got.startswith(b'HTTP/1.1 200 '):
                    answered += 1
                else:
                    key = got[:12].decode('latin1') or 'closed'
                    other[key] = other.get(key, 0) + 1
            else:
                waiting[fd] = (s, got)
    ep.close()
    print(json.dumps({'opened': len(conns), 'answered': answered, 'unanswered': len(waiting), 'other': other,
                      'openSeconds': round(open_s, 1), 'answerSeconds': round(time.monotonic() - start - open_s, 1)}), flush=True)
    r, _, _ = select.select([sys.stdin], [], [], max(0, deadline - time.monotonic()))
    for s in conns:
        s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['slowloris', 'idle', 'hold'])
    p.add_argument('host')
    p.add_argument('port', type=int)
    p.add_argument('--count', type=int, required=True)
    p.add_argument('--drip-s', type=float, default=5)
    p.add_argument('--gets', type=int, default=20)
    p.add_argument('--get-every-s', type=float, default=0.5)
    p.add_argument('--get-timeout-s', type=float, default=5)
    p.add_argument('--limit-s', type=float, default=60)
    a = p.parse_args()
    if a.count > 20000:
        sys.exit('count is bounded to 20000')
    raise_fd_limit(a.count + 256)
    {'slowloris': slowloris, 'idle': idle, 'hold': hold}[a.mode](a)


if __name__ == '__main__':
    main()
