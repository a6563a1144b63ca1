#!/usr/bin/env python3
"""Instructions per request, under callgrind: repeatable whatever else the machine is doing.

Runs the server under `valgrind --tool=callgrind` twice, once with N and once with 2N keep-alive
(or pipelined) requests, and reports (Ir(2N) - Ir(N)) / N: the cost of one request with start-up
and shutdown cancelled out.

  python3 bench/instructions.py --build-dir build-bench [--requests 2000] [--pipeline 16]
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
BODY = b"Hello, world!\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(port, requests, depth):
    deadline = time.time() + 60
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    done = 0
    while done < requests:
        n = min(depth, requests - done)
        s.sendall(REQUEST * n)
        got = b""
        while got.count(BODY) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            got += chunk
        done += n
    s.close()


def instructions(binary, args, requests, depth):
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary,
             "--port", str(port), "--host", "127.0.0.1"] + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            drive(port, requests, depth)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        with open(out) as f:
            text = f.read()
        m = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
        return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--binary", help="default: BUILD/examples/hello/hello")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--pipeline", type=int, default=1, help="requests per write (1: plain keep-alive)")
    a = ap.parse_args()
    binary = a.binary or os.path.join(a.build_dir, "examples", "hello", "hello")
    args = ["--workers", "0"] if "hello" in os.path.basename(binary) else []
    one = instructions(binary, args, a.requests, a.pipeline)
    two = instructions(binary, args, 2 * a.requests, a.pipeline)
    per = (two - one) / a.requests
    print(f"{os.path.basename(binary)}: {per:.0f} instructions per request "
          f"(pipeline depth {a.pipeline}; Ir {one} for {a.requests}, {two} for {2 * a.requests})")


if __name__ == "__main__":
    sys.exit(main())
