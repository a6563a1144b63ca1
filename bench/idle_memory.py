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


def open_idle(port, n):
    """n connections, each with one answered request; returns the sockets."""
    socks = []
    sel = selectors.DefaultSelector()
    pending = 0
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", port))
        s.sendall(REQUEST)
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
                if b"\r\n\r\n" in buf and buf.endswith(b"Hello, world!\n"):
                    sel.unregister(key.fileobj)
                    pending -= 1
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--connections", type=int, default=10000)
    args = ap.parse_args()
    raise_nofile(args.connections + 100)

    hello = os.path.join(args.build_dir, "examples/hello/hello")
    proc = subprocess.Popen([hello, "--port", "0", "--workers", "0", "--idle-timeout", "10m",
                             "--header-timeout", "10m"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        # Warm up: the pool's buffers, the Date cache, the allocator's arenas.
        warm = open_idle(port, 300)
        for s in warm:
            s.close()
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        socks = open_idle(port, args.connections)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        per = (after - before) * 1024 / args.connections
        print(f"RSS before {before} KiB, with {args.connections} idle connections {after} KiB")
        print(f"memory per idle keep-alive connection: {per:.0f} B (target < 512 B)")
        for s in socks:
            s.close()
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
