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
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_memory import measure, measure_http  # noqa: E402

HANDSHAKE = (b"GET /ws/echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
# A masked text frame "ping" (key 0): the echo is 0x81 0x04 "ping".
FRAME = b"\x81\x84\x00\x00\x00\x00ping"
ECHO = b"\x81\x04ping"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--connections", type=int, default=10000)
    args = ap.parse_args()
    chat = os.path.join(args.build_dir, "examples/chat/chat")
    before, after, per = measure([chat, "--port", "0", "--workers", "0", "--header-timeout", "10m"],
                                 args.connections, HANDSHAKE + FRAME, lambda buf: buf.endswith(ECHO))
    print(f"RSS before {before} KiB, with {args.connections} idle WebSockets {after} KiB")
    print(f"memory per idle WebSocket connection: {per:.0f} B")
    _, _, http = measure_http(args.build_dir, args.connections)
    print(f"memory per idle HTTP keep-alive connection (bench/idle_memory.py): {http:.0f} B; "
          f"ratio {per / http:.2f} (goal: within 2x)")


if __name__ == "__main__":
    main()
