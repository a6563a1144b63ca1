#!/usr/bin/env python3
"""Memory per idle WebSocket connection on one worker, measured as bench/idle_memory.py measures
an idle HTTP keep-alive connection (compare the two; the goal is within 2x).

Starts examples/chat with --workers 0, warms it up, opens N connections to /ws/echo that each
complete the handshake and one echo round trip, then reports (RSS with N idle WebSockets - RSS
before) / N. Not part of `scripts/dev test`.

  python3 bench/ws_idle_memory.py [--build-dir build] [--connections 10000]
"""
import argparse
import os
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_memory import raise_nofile, rss_kib  # noqa: E402

HANDSHAKE = (b"GET /ws/echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
# A masked text frame "ping" (key 0): the echo is 0x81 0x04 "ping".
FRAME = b"\x81\x84\x00\x00\x00\x00ping"
ECHO = b"\x81\x04ping"


def open_idle(port, n):
    socks = []
    sel = selectors.DefaultSelector()
    pending = 0
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", port))
        s.sendall(HANDSHAKE + FRAME)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
        pending += 1
        while pending > 256 or (i == n - 1 and pending > 0):
            for key, _ in sel.select(timeout=10):
                buf = key.data
                chunk = key.fileobj.recv(4096)
                if not chunk:
                    sys.exit("ws_idle_memory: the server closed a connection")
                buf += chunk
                if b"\r\n\r\n" in buf and buf.endswith(ECHO):
                    sel.unregister(key.fileobj)
                    pending -= 1
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--connections", type=int, default=10000)
    args = ap.parse_args()
    raise_nofile(args.connections + 100)
    chat = os.path.join(args.build_dir, "examples/chat/chat")
    proc = subprocess.Popen([chat, "--port", "0", "--workers", "0", "--header-timeout", "10m"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        warm = open_idle(port, 300)
        for s in warm:
            s.close()
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        socks = open_idle(port, args.connections)
        time.sleep(0.5)
        after = rss_kib(proc.pid)
        per = (after - before) * 1024 / args.connections
        print(f"RSS before {before} KiB, with {args.connections} idle WebSockets {after} KiB")
        print(f"memory per idle WebSocket connection: {per:.0f} B")
        for s in socks:
            s.close()
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
