#!/usr/bin/env python3
"""System calls per request: how many times the server enters the kernel per request.

Counts with perf's system call tracepoints by default: `perf stat -e raw_syscalls:sys_enter,
syscalls:sys_enter_<name>,… -p PID`. The kernel counts each entry without stopping the server, so
the server runs at its own speed. strace stops it at every system call instead; slowed that much,
the server often finds the client's next request already there when it reads again, which hides
a read that finds nothing (a 40-line Asio server measured 3 per request under strace, 4 with
perf). strace is the fallback when perf cannot open the tracepoints (perf missing, a
perf_event_paranoid that forbids it, no tracefs); the script then says its counts may be low.

The server runs twice, once serving N and once 2N keep-alive (or pipelined) requests over the
same number of connections. perf counts only while the requests are served: it is attached
disabled, enabled through its control FIFO once every connection is open and has had a first
request answered, and disabled after the last response, before the connections close. strace
counts the whole run. The report is (calls(2N) - calls(N)) / N per system call and in total,
and the same for the calls that failed (errors: EAGAIN from a read that found nothing, for one):
the cost of one request, with whatever both runs share (start-up, connection set-up, shutdown)
cancelled out. With 1 connection each wake-up
serves one request; with many connections driven at once (each sends a request, waits for its
whole response, sends the next) one epoll_wait can serve several, so the figure shows how well
wake-ups are shared.

--think-ms makes the clients slow: each connection pauses that long between a response and its
next request. The server then always gets to its next read before the request is there, so a
server that reads again after answering pays for a read that finds nothing on every request.

  python3 bench/syscalls.py --build-dir build-bench [--requests 2000] [--connections 1,64]
                            [--pipeline 16] [--think-ms 1] [--tool auto|perf|strace]

The many-connection figures depend on how requests happen to batch, which moves with the
machine's load and the Python clients' speed (epoll_wait per request at 64 connections ranged
from 0.01 to 0.9 on a busy 2-core machine): compare servers in the same minute. Never read times
from a traced run.
"""
import argparse
import heapq
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# The same request, response body and port picking as instructions.py, so the two scripts
# measure the same thing.
from instructions import BODY, REQUEST, free_port

# System calls counted one by one with perf (those a server's request path may make); every
# other call is counted in "other", from raw_syscalls:sys_enter. strace names whatever it sees.
PERF_SYSCALLS = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "read", "recvfrom",
                 "recvmsg", "readv", "write", "sendto", "sendmsg", "writev", "sendfile64",
                 "accept4", "accept", "close", "shutdown", "setsockopt", "futex", "timerfd_settime",
                 "clock_nanosleep"]
TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]


def connect(port, deadline):
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def drive(port, requests, depth, connections, think, start=None, stop=None):
    """`requests` spread over `connections` driven at once, each with `depth` in flight and
    `think` seconds between a response and the next request. `start` runs once every connection
    is open and has had one request answered (so the server has accepted them all), `stop` after
    the last response, before the connections close: between them is only the steady state."""
    socks = [connect(port, time.time() + 60) for _ in range(connections)]
    for s in socks:
        s.sendall(REQUEST)
    for s in socks:
        got = b""
        while BODY not in got:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            got += chunk
    if start:
        start()
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        share = requests // connections + (1 if i < requests % connections else 0)
        sel.register(s, selectors.EVENT_READ, {"index": i, "left": share, "waiting": 0, "buf": b""})
    due = [(0.0, i) for i in range(connections)]  # (when, socket index): sends to make
    live = connections
    while live:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, i = heapq.heappop(due)
            state = sel.get_key(socks[i]).data
            send_batch(socks[i], state, depth)
            if state["waiting"] == 0:
                live -= 1
        if not live:
            break
        timeout = max(0.0, due[0][0] - now) if due else 60
        events = sel.select(timeout=timeout)
        if not events and not due:
            raise RuntimeError("no response for 60 s")
        for key, _ in events:
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
                heapq.heappush(due, (time.monotonic() + think, state["index"]))
    if stop:
        stop()
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


def wait_listening(proc, binary, port, deadline):
    """Waits until something listens on 127.0.0.1:port, without connecting: a connection made
    to find out would be accepted (and closed) while the counters run."""
    want = f":{port:04X} "
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{binary} exited at start (status {proc.returncode}); "
                               "run it by hand to see why")
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        fields = line.split()
                        if want in fields[1] + " " and fields[3] == "0A":  # 0A: LISTEN
                            return
            except FileNotFoundError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"{binary} did not listen on port {port}")


# --- perf -----------------------------------------------------------------------------------

def tracepoint_names():
    """The syscalls:sys_enter_* tracepoints this kernel has, or None if tracefs is not readable
    (perf may still find them)."""
    for root in TRACEFS:
        d = os.path.join(root, "events", "syscalls")
        try:
            return {n[len("sys_enter_"):] for n in os.listdir(d) if n.startswith("sys_enter_")}
        except OSError:
            continue
    return None


def perf_events(names):
    """perf stat arguments: every entry, every failed return, and each name's entries and failed
    returns."""
    args = ["-e", "raw_syscalls:sys_enter", "-e", "raw_syscalls:sys_exit", "--filter", "ret < 0"]
    for n in names:
        args += ["-e", f"syscalls:sys_enter_{n}", "-e", f"syscalls:sys_exit_{n}", "--filter", "ret < 0"]
    return args


def perf_usable():
    """None if perf counts syscall tracepoints here, else why not."""
    if shutil.which("perf") is None:
        return "perf is not installed (Debian: apt-get install linux-perf)"
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"perf failed to run ({e})"
    for line in r.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter" and fields[0].isdigit():
            return None
    last = r.stderr.strip().splitlines()[-1:] or ["no output"]
    return f"perf cannot open the syscall tracepoints ({last[0]})"


def parse_perf(text, names):
    """perf stat -x, output into {syscall: (calls, errors)}, with "other" for the rest."""
    counts = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        value = int(fields[0]) if fields[0].isdigit() else 0  # <not counted>: none happened
        counts[fields[2]] = value
    total = counts.get("raw_syscalls:sys_enter", 0)
    total_errors = counts.get("raw_syscalls:sys_exit", 0)
    out = {}
    for n in names:
        out[n] = (counts.get(f"syscalls:sys_enter_{n}", 0), counts.get(f"syscalls:sys_exit_{n}", 0))
    out["other"] = (total - sum(c for c, _ in out.values()), total_errors - sum(e for _, e in out.values()))
    return out


def perf_command(ctl, ack, command):
    os.write(ctl, command.encode() + b"\n")
    ready, _, _ = select.select([ack], [], [], 30)
    if not ready or not os.read(ack, 16).startswith(b"ack"):
        raise RuntimeError(f"perf did not acknowledge '{command}'")


def count_perf(binary, args, requests, depth, connections, think, names):
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port)] + args,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    perf = None
    try:
        wait_listening(server, binary, port, time.time() + 30)
        with tempfile.TemporaryDirectory() as tmp:
            ctl_path, ack_path, out = (os.path.join(tmp, n) for n in ("ctl", "ack", "perf.out"))
            os.mkfifo(ctl_path)
            os.mkfifo(ack_path)
            # Read-write: opening a FIFO this way never waits for the other end.
            ctl = os.open(ctl_path, os.O_RDWR)
            ack = os.open(ack_path, os.O_RDWR)
            perf = subprocess.Popen(
                ["perf", "stat", "-x,", "-o", out, "--delay=-1", f"--control=fifo:{ctl_path},{ack_path}"]
                + perf_events(names) + ["-p", str(server.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # Counted: only the requests, not accepting or closing the connections, whose timing
            # against the start and the end of the count is a race.
            drive(port, requests, depth, connections, think,
                  start=lambda: perf_command(ctl, ack, "enable"),
                  stop=lambda: perf_command(ctl, ack, "disable"))
            perf.send_signal(signal.SIGINT)
            _, err = perf.communicate(timeout=60)
            os.close(ctl)
            os.close(ack)
            with open(out) as f:
                text = f.read()
            if "raw_syscalls:sys_enter" not in text:
                raise RuntimeError(f"perf stat gave no counts: {err.decode(errors='replace').strip()}")
            return parse_perf(text, names)
    finally:
        if perf is not None and perf.poll() is None:
            perf.kill()
            perf.wait()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- strace (fallback) ----------------------------------------------------------------------

def tracee_pid(proc, binary, deadline):
    """The traced server: the process under strace running `binary` (strace may fork a helper
    first, so its first child is not always the server)."""
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{binary} exited at start (strace status {proc.returncode}); "
                               "run it by hand to see why")
        todo = [proc.pid]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    children = [int(c) for c in f.read().split()]
                for child in children:
                    with open(f"/proc/{child}/cmdline", "rb") as f:
                        # The binary, or a script's interpreter and then the script.
                        if os.fsencode(binary) in f.read().split(b"\0")[:2]:
                            return child
                todo += children
            except (FileNotFoundError, ProcessLookupError):
                continue
        time.sleep(0.05)
    raise RuntimeError("strace started no server")


def parse_strace(text):
    """strace -c's table into {syscall: (calls, errors)}."""
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or not parts[3].isdigit() or parts[-1] == "total":
            continue
        errors = int(parts[4]) if len(parts) == 6 else 0
        counts[parts[-1]] = (int(parts[3]), errors)
    return counts


def count_strace(binary, args, requests, depth, connections, think, _names):
    """The whole run under strace -f -c: start-up and shutdown are counted too, and cancel out
    in the difference of the two runs."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "strace.out")
        proc = subprocess.Popen(
            ["strace", "-f", "-c", "-o", out, binary, "--port", str(port)] + args,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server = tracee_pid(proc, binary, time.time() + 30)
            wait_listening(proc, binary, port, time.time() + 60)
            drive(port, requests, depth, connections, think)
            # SIGTERM to the server, not strace: strace would detach and leave it running.
            os.kill(server, signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(out) as f:
            return parse_strace(f.read())


# --- report ---------------------------------------------------------------------------------

def per_request(one, two, requests):
    """{syscall: (calls per request, errors per request)} from runs of N and 2N requests."""
    names = set(one) | set(two)
    return {n: ((two.get(n, (0, 0))[0] - one.get(n, (0, 0))[0]) / requests,
                (two.get(n, (0, 0))[1] - one.get(n, (0, 0))[1]) / requests) for n in names}


def cell(calls, errors):
    return f"{calls:.2f}" + (f" ({errors:.2f} err)" if abs(errors) >= 0.005 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build-bench")
    ap.add_argument("--binary", help="default: BUILD/examples/hello/hello")
    ap.add_argument("--requests", type=int, default=2000, help="N: the runs serve N and 2N requests")
    ap.add_argument("--connections", default="1,64", help="comma-separated; each is measured (default 1,64)")
    ap.add_argument("--pipeline", type=int, default=1, help="requests per write (1: plain keep-alive)")
    ap.add_argument("--think-ms", type=float, default=0.0,
                    help="each connection's pause between a response and its next request (default 0)")
    ap.add_argument("--tool", choices=["auto", "perf", "strace"], default="auto",
                    help="auto: perf if it can count syscall tracepoints here, else strace")
    a = ap.parse_args()
    binary = a.binary or os.path.join(a.build_dir, "examples", "hello", "hello")
    # limit takes only --port (it listens on 127.0.0.1); hive's binaries serve in this one process.
    args = [] if os.path.basename(binary) == "limit" else ["--workers", "0", "--host", "127.0.0.1"]
    conns = [int(c) for c in a.connections.split(",")]
    if any(c < 1 or c > a.requests for c in conns):
        ap.error("--connections must be 1..--requests")
    if a.think_ms < 0:
        ap.error("--think-ms must be >= 0")

    tool = a.tool
    if tool != "strace":
        why = perf_usable()
        if why and tool == "perf":
            sys.exit(f"syscalls.py: {why}")
        if why:
            print(f"warning: {why}; counting with strace instead. strace slows the server so much "
                  "that the next request is often there before its next read, which hides reads that "
                  "find nothing: the counts may be low.", file=sys.stderr)
            tool = "strace"
        else:
            tool = "perf"
    if tool == "strace" and shutil.which("strace") is None:
        sys.exit("syscalls.py: neither perf (linux-perf) nor strace can count system calls here")
    names = []
    if tool == "perf":
        known = tracepoint_names()
        names = [n for n in PERF_SYSCALLS if known is None or n in known]
    count = count_perf if tool == "perf" else count_strace

    think = a.think_ms / 1000.0
    results, raw = {}, {}
    for c in conns:
        one = count(binary, args, a.requests, a.pipeline, c, think, names)
        two = count(binary, args, 2 * a.requests, a.pipeline, c, think, names)
        results[c] = per_request(one, two, a.requests)
        raw[c] = (sum(v[0] for v in one.values()), sum(v[0] for v in two.values()))

    # Rows: what a request costs somewhere; a call that start-up alone makes cancels to 0.
    rows = sorted({n for r in results.values() for n, (calls, errors) in r.items()
                   if abs(calls) >= 0.005 or abs(errors) >= 0.005},
                  key=lambda n: (n == "other", -max(r.get(n, (0, 0))[0] for r in results.values())))
    heads = [f"{c} conn" + ("s" if c > 1 else "") for c in conns]
    print(f"{os.path.basename(binary)}: system calls per request, counted with {tool} "
          f"(pipeline depth {a.pipeline}; think time {a.think_ms:g} ms; "
          f"runs of {a.requests} and {2 * a.requests} requests)")
    width = max([len("syscall")] + [len(n) for n in rows] + [len("total")]) + 2
    print("syscall".ljust(width) + "".join(h.rjust(22) for h in heads))
    for n in rows:
        print(n.ljust(width) + "".join(cell(*results[c].get(n, (0, 0))).rjust(22) for c in conns))
    totals = [(sum(v[0] for v in results[c].values()), sum(v[1] for v in results[c].values())) for c in conns]
    print("total".ljust(width) + "".join(cell(*t).rjust(22) for t in totals))
    for c in conns:
        print(f"  {c} conn{'s' if c > 1 else ''}: {raw[c][0]} calls counted in the run of {a.requests}, "
              f"{raw[c][1]} in the run of {2 * a.requests}")


if __name__ == "__main__":
    sys.exit(main())
