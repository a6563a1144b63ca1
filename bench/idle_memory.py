#!/usr/bin/env python3
"""Memory per idle keep-alive connection on one worker.

Starts examples/hello with --workers 0 (one worker, this process's child), warms it up, opens N
connections (default 10,000) that each send one request and read the answer, so each is an idle
keep-alive connection, then reports (RSS with N idle connections - RSS before) / N. The kernel's
socket buffers are not in the process's RSS. Not part of `scripts/dev test`.

  python3 bench/idle_memory.py [--build-dir build] [--connections 10000]
"""
import argparse
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else need
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        sys.exit(f"idle_memory: the open-files hard limit is {hard}; {need} are needed (ulimit -Hn)")


def open_idle(port, n, request=REQUEST, answered=lambda buf: buf.endswith(b"Hello, world!\n")):
    """n connections, each sending `request` and reading until answered(bytes so far); returns
    the sockets."""
    socks = []
    sel = selectors.DefaultSelector()
    pending = 0
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
        pending += 1
        # Keep the number in flight bounded so the listen backlog never overflows.
        while pending > 256 or (i == n - 1 and pending > 0):
            for key, _ in sel.select(timeout=10):
                buf = key.data
                chunk = key.fileobj.recv(4096)
                if not chunk:
                    sys.exit("idle_memory: the server closed a connection")
                buf += chunk
                if b"\r\n\r\n" in buf and answered(buf):
                    sel.unregister(key.fileobj)
                    pending -= 1
    return socks


def measure(argv, n, request=REQUEST, answered=lambda buf: buf.endswith(b"Hello, world!\n")):
    """Starts `argv` (a hive example printing its port on its first stderr line), warms it up,
    opens n idle connections; returns (RSS before KiB, RSS after KiB, bytes per connection)."""
    raise_nofile(n + 100)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        # Warm up: the pool's buffers, the Date cache, the allocator's arenas.
        warm = open_idle(port, 300, request, answered)
        for s in warm:
            s.close()
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        socks = open_idle(port, n, request, answered)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        for s in socks:
            s.close()
        return before, after, (after - before) * 1024 / n
    finally:
        proc.kill()
        proc.wait()


def measure_http(build_dir, n):
    hello = os.path.join(build_dir, "examples/hello/hello")
    return measure([hello, "--port", "0", "--workers", "0", "--idle-timeout", "10m",
                    "--header-timeout", "10m"], n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--connections", type=int, default=10000)
    args = ap.parse_args()
    before, after, per = measure_http(args.build_dir, args.connections)
    print(f"RSS before {before} KiB, with {args.connections} idle connections {after} KiB")
    print(f"memory per idle keep-alive connection: {per:.0f} B (target < 512 B)")


if __name__ == "__main__":
    main()
