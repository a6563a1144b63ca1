#!/usr/bin/env python3
"""10,000 open server-sent event streams on one worker, and how promptly it serves everyone else.

Starts examples/events with --workers 0 (one worker, this process's child), opens N streams
(default 10,000) to /events?every=MS (default one event a second each), reads them all on a
thread, and meanwhile times plain requests (GET /, a keep-alive connection of its own) before and
while the streams are open. Reports the latency of those requests (median, p99, max), the events
received per second against the rate asked for, and the worker's RSS growth per stream; the
server's log (a shed connection is logged there) goes to /tmp/sse-bench-server.log. Not part of
`scripts/dev test`.

  python3 bench/sse_streams.py [--build-dir build] [--streams 10000] [--every-ms 1000] [--seconds 10]
"""
import argparse
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else need
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        sys.exit(f"sse_streams: the open-files hard limit is {hard}; {need} are needed (ulimit -Hn)")


def timed_requests(port, n):
    """n GET / on one keep-alive connection; the latency of each, ms."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for _ in range(n):
            t0 = time.perf_counter()
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            while True:
                data += s.recv(65536)
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep:
                    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
                    if len(body) >= length:
                        break
            out.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)
    return out


def summary(ms):
    ms = sorted(ms)
    return f"median {statistics.median(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms, max {ms[-1]:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--streams", type=int, default=10000)
    ap.add_argument("--every-ms", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--requests", type=int, default=300)
    a = ap.parse_args()
    raise_nofile(a.streams + 100)
    exe = os.path.join(a.build_dir, "examples/events/events")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--workers", "0", "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=open("/tmp/sse-bench-server.log", "w"))
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.025)
        quiet = timed_requests(port, a.requests)
        base = rss_kib(proc.pid)
        sel = selectors.DefaultSelector()
        events = [0]
        closed = [0]
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    try:
                        chunk = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fileobj)
                        closed[0] += 1
                        continue
                    events[0] += chunk.count(b"\ndata: event ")

        req = f"GET /events?every={a.every_ms} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
        socks = []
        t0 = time.time()
        for i in range(a.streams):
            s = socket.socket()
            s.connect(("127.0.0.1", port))
            s.sendall(req)
            s.setblocking(False)
            socks.append(s)
        opened = time.time() - t0
        # Read from now on (what arrived meanwhile waits in the sockets' buffers).
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        time.sleep(2)  # every stream past its first event
        rss_open = rss_kib(proc.pid)
        e0, w0 = events[0], time.time()
        busy = timed_requests(port, a.requests)
        remaining = a.seconds - (time.time() - w0)
        if remaining > 0:
            time.sleep(remaining)
        rate = (events[0] - e0) / (time.time() - w0)
        stop.set()
        t.join()
        print(f"streams: {a.streams} opened in {opened:.1f} s, {closed[0]} closed by the server")
        print(f"events: {rate:,.0f}/s received (asked for {a.streams * 1000 / a.every_ms:,.0f}/s)")
        print(f"GET / with no streams:          {summary(quiet)}")
        print(f"GET / with {a.streams} streams open: {summary(busy)}")
        print(f"worker RSS: {base} KiB before, {rss_open} KiB with the streams open: "
              f"{(rss_open - base) * 1024 / a.streams:,.0f} bytes per stream")
        for s in socks:
            s.close()
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
