#!/usr/bin/env python3
"""System calls per request, under strace: how many times the server enters the kernel per request.

Runs the server under `strace -f -c` twice, once with N and once with 2N keep-alive (or
pipelined) requests over the same connections, and reports (calls(2N) - calls(N)) / N per system
call and in total: the cost of one request with start-up, connection set-up and shutdown cancelled
out. With 1 connection each wake-up serves one request; with many connections driven at once
(each sends a request, waits for its whole response, sends the next) one epoll_wait can serve
several, so the figure shows how well wake-ups are shared.

  python3 bench/syscalls.py --build-dir build [--requests 2000] [--connections 1,64] [--pipeline 16]

strace slows every system call, so never read times from it; the counts are what it is for. The
many-connection figures depend on how requests happen to batch, and move a little between runs;
and as the traced server is slower than the clients, more requests are waiting at each wake-up
than without strace, so they understate the epoll calls per request of an untraced server.
"""
import argparse
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The same request, response body and single-connection client as instructions.py, so the two
# scripts measure the same thing.
from instructions import BODY, REQUEST, drive, free_port


def connect(port, deadline):
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def drive_many(port, requests, depth, connections):
    """`requests` spread over `connections` driven at once, each with `depth` in flight."""
    first = connect(port, time.time() + 60)  # waits for the server to listen
    socks = [first] + [connect(port, time.time() + 10) for _ in range(connections - 1)]
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        share = requests // connections + (1 if i < requests % connections else 0)
        state = {"left": share, "waiting": 0, "buf": b""}
        sel.register(s, selectors.EVENT_READ, state)
        send_batch(s, state, depth)
    live = sum(1 for k in sel.get_map().values() if k.data["waiting"])
    while live:
        for key, _ in sel.select(timeout=60) or [(None, None)]:
            if key is None:
                raise RuntimeError("no response for 60 s")
            s, state = key.fileobj, key.data
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            state["buf"] += chunk
            got = state["buf"].count(BODY)
            if got:
                # Keep only what follows the last whole body: the counting never rescans.
                state["buf"] = state["buf"][state["buf"].rfind(BODY) + len(BODY):]
                state["waiting"] -= got
            if state["waiting"] == 0:
                send_batch(s, state, depth)
                if state["waiting"] == 0:
                    live -= 1
    for s in socks:
        s.close()


def send_batch(s, state, depth):
    n = min(depth, state["left"])
    if n == 0:
        return
    state["left"] -= n
    state["waiting"] = n
    s.setblocking(True)  # one small write: never blocks for long, and is never split by us
    s.sendall(REQUEST * n)
    s.setblocking(False)


def tracee_pid(proc, binary, deadline):
    """The traced server: strace's only child."""
    path = f"/proc/{proc.pid}/task/{proc.pid}/children"
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{binary} exited at start (strace status {proc.returncode}); "
                               "run it by hand to see why")
        try:
            with open(path) as f:
                pids = f.read().split()
        except FileNotFoundError:
            pids = []
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise RuntimeError("strace started no server")


def parse_summary(text):
    """strace -c's table into {syscall: (calls, errors)}."""
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or not parts[3].isdigit() or parts[-1] == "total":
            continue
        errors = int(parts[4]) if len(parts) == 6 else 0
        counts[parts[-1]] = (int(parts[3]), errors)
    return counts


def syscalls(binary, args, requests, depth, connections):
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "strace.out")
        proc = subprocess.Popen(
            ["strace", "-f", "-c", "-o", out, binary, "--port", str(port)] + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server = tracee_pid(proc, binary, time.time() + 30)
            if connections == 1:
                drive(port, requests, depth)
            else:
                drive_many(port, requests, depth, connections)
            # SIGTERM to the server, not strace: strace would detach and leave it running.
            os.kill(server, signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(out) as f:
            return parse_summary(f.read())


def per_request(one, two, requests):
    """{syscall: (calls per request, errors per request)} from runs of N and 2N requests."""
    names = set(one) | set(two)
    return {n: ((two.get(n, (0, 0))[0] - one.get(n, (0, 0))[0]) / requests,
                (two.get(n, (0, 0))[1] - one.get(n, (0, 0))[1]) / requests) for n in names}


def cell(calls, errors):
    return f"{calls:.2f}" + (f" ({errors:.2f} err)" if abs(errors) >= 0.005 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--binary", help="default: BUILD/examples/hello/hello")
    ap.add_argument("--requests", type=int, default=2000, help="N: the runs serve N and 2N requests")
    ap.add_argument("--connections", default="1,64", help="comma-separated; each is measured (default 1,64)")
    ap.add_argument("--pipeline", type=int, default=1, help="requests per write (1: plain keep-alive)")
    a = ap.parse_args()
    binary = a.binary or os.path.join(a.build_dir, "examples", "hello", "hello")
    # limit takes only --port (it listens on 127.0.0.1); hive's binaries serve in this one process.
    args = [] if os.path.basename(binary) == "limit" else ["--workers", "0", "--host", "127.0.0.1"]
    conns = [int(c) for c in a.connections.split(",")]
    if any(c < 1 or c > a.requests for c in conns):
        ap.error("--connections must be 1..--requests")

    results, raw = {}, {}
    for c in conns:
        one = syscalls(binary, args, a.requests, a.pipeline, c)
        two = syscalls(binary, args, 2 * a.requests, a.pipeline, c)
        results[c] = per_request(one, two, a.requests)
        raw[c] = (sum(v[0] for v in one.values()), sum(v[0] for v in two.values()))

    # Rows: what a request costs somewhere; a call that start-up alone makes cancels to 0.
    names = sorted({n for r in results.values() for n, (calls, _) in r.items() if abs(calls) >= 0.005},
                   key=lambda n: -max(r.get(n, (0, 0))[0] for r in results.values()))
    heads = [f"{c} conn" + ("s" if c > 1 else "") for c in conns]
    print(f"{os.path.basename(binary)}: system calls per request (pipeline depth {a.pipeline}; "
          f"runs of {a.requests} and {2 * a.requests} requests)")
    width = max([len("syscall")] + [len(n) for n in names] + [len("total")]) + 2
    print("syscall".ljust(width) + "".join(h.rjust(22) for h in heads))
    for n in names:
        print(n.ljust(width) + "".join(cell(*results[c].get(n, (0, 0))).rjust(22) for c in conns))
    totals = [(sum(v[0] for v in results[c].values()), sum(v[1] for v in results[c].values())) for c in conns]
    print("total".ljust(width) + "".join(cell(*t).rjust(22) for t in totals))
    for c in conns:
        print(f"  {c} conn{'s' if c > 1 else ''}: {raw[c][0]} calls in the run of {a.requests}, "
              f"{raw[c][1]} in the run of {2 * a.requests}")


if __name__ == "__main__":
    sys.exit(main())
