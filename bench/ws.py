#!/usr/bin/env python3
"""WebSocket benchmarks: hive (examples/chat) side by side with Node's ws (bench/ws_echo_node.js).

    python3 bench/run.py --build-dir build-bench --ws [--rounds 5] [--duration 5] [--out FILE]
    python3 bench/ws.py --build-dir build-bench [same options]

- echo: 64 connections, each sending a 32-byte text message and waiting for its echo
  (bench/ws_echo_client). Server pinned to CPU 0 (hive --workers 0; Node one process), the client
  to CPU 1: round trips per second and per server CPU-second (the server process's utime+stime).
- fanout: one publisher and 1,000 subscribers on /ws/chat, where every message goes to every
  client (bench/ws_fanout_client, at most 16 messages' deliveries outstanding): messages delivered
  to subscribers per second and per server CPU-second, pinned as above. Then hive with 2 workers
  (--workers 2, unpinned, the client sharing the CPUs): the subscribers spread over both workers
  and every publish crosses the primary.

Each round runs every server fresh, in rotating order; the table gives medians (min–max).
Standard library only; localhost only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of `root` and its descendants (a cluster's workers)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(d)] = int(fields[1])
        ticks[int(d)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return total / CLK_TCK


def wait_http(port: int, timeout_s: float, want: bytes) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                if want in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server on port {port} did not answer in {timeout_s} s")


class server:
    def __init__(self, name: str, args, pin: str | None, workers: int = 0):
        self.port = free_port()
        if name == "hive":
            argv = [str(Path(args.build_dir) / "examples" / "chat" / "chat"), "--host", "127.0.0.1",
                    "--port", str(self.port), "--workers", str(workers)]
            want = b"HTTP/1.1 200"
        else:
            argv = [args.node, str(BENCH_DIR / "ws_echo_node.js"), str(self.port)]
            want = b"HTTP/1.1 426"  # ws answers a plain GET with 426
        if pin is not None:
            argv = ["taskset", "-c", pin] + argv
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.port, 10, want)
        if workers > 1:
            time.sleep(1)  # every worker listening, not only the first
        self.cpu0 = tree_cpu_seconds(self.p.pid)

    def cpu(self) -> float:
        return tree_cpu_seconds(self.p.pid) - self.cpu0

    def stop(self) -> None:
        self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def run_load(args, load: str, srv: server, pin: str | None) -> tuple[float, float] | None:
    """(rate, rate per server CPU-second), or None when the client failed."""
    build = Path(args.build_dir) / "bench"
    if load == "echo":
        argv = [str(build / "ws_echo_client"), str(srv.port), "64", str(int(args.duration)), "/ws/echo"]
    else:
        argv = [str(build / "ws_fanout_client"), str(srv.port), str(args.subscribers),
                str(int(args.duration)), "/ws/chat"]
    if pin is not None:
        argv = ["taskset", "-c", pin] + argv
    cpu_before = srv.cpu()
    t0 = time.time()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 90)
    if r.returncode != 0:
        log(f"  {load}: the client failed: {r.stderr.strip()}")
        return None
    # The clients print "<…>: N round trips/s" or "…: N deliveries/s (…)"; the server's CPU covers
    # connecting and warming up too, so it is scaled to the measured share of the run.
    rate = float(r.stdout.split(": ")[1].split()[0])
    wall = time.time() - t0
    cpu = (srv.cpu() - cpu_before) * min(1.0, args.duration / wall)
    # Messages in the measured seconds over the server CPU-seconds they took.
    return rate, rate * args.duration / cpu if cpu > 0 else 0.0


def fmt(values: list[float]) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    def k(v):
        return f"{v / 1000:.0f}k" if v >= 10000 else f"{v:.0f}"
    return f"{k(med)} ({k(min(values))}–{k(max(values))})"


def ws_main(args) -> int:
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("bench/ws.py: needs 2 CPUs (server on 0, client on 1)")
    args.node = shutil.which("node") or shutil.which("nodejs")
    for tool in ("ws_echo_client", "ws_fanout_client"):
        if not (Path(args.build_dir) / "bench" / tool).exists():
            sys.exit(f"bench/ws.py: {args.build_dir}/bench/{tool} is missing; build with -Dbench=enabled")
    # (label, server, workers, pinned)
    runs = [("hive", "hive", 0, True)]
    if args.node:
        runs.append(("node ws", "node", 0, True))
    else:
        log("bench/ws.py: no node (Debian nodejs and node-ws): hive alone")
    cluster = ("hive, 2 workers", "hive", 2, False)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    load1 = os.getloadavg()[0]
    for rnd in range(args.rounds):
        for load in args.loads:
            order = runs[rnd % len(runs):] + runs[:rnd % len(runs)]
            if load == "fanout" and not args.no_cluster:
                order = order + [cluster]
            for label, name, workers, pinned in order:
                srv = server(name, args, "0" if pinned else None, workers)
                try:
                    got = run_load(args, load, srv, "1" if pinned else None)
                finally:
                    srv.stop()
                if got is None:
                    continue
                results.setdefault((load, label), []).append(got)
                log(f"round {rnd + 1}/{args.rounds} {load:6} {label:15}: {got[0]:>10.0f}/s, "
                    f"{got[1]:>10.0f} per server CPU-second")
    lines = ["# WebSocket: hive (examples/chat) and Node's ws", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.rounds} rounds of "
             f"{args.duration:.0f} s; load average before: {load1:.2f}; medians (min–max).",
             "Pinned: server on CPU 0, client on CPU 1. 'hive, 2 workers': unpinned, the client "
             "sharing the 2 CPUs.", "",
             "| load | server | rate /s | per server CPU-second |", "|---|---|---|---|"]
    describe = {"echo": "echo, 64 conns, 32 B (round trips)",
                "fanout": f"fan-out, 1 publisher → {args.subscribers} subscribers, 32 B (deliveries)"}
    ratios = []
    for load in args.loads:
        for label in [r[0] for r in runs] + ([cluster[0]] if load == "fanout" else []):
            s = results.get((load, label), [])
            lines.append(f"| {describe[load]} | {label} | {fmt([x[0] for x in s])} | {fmt([x[1] for x in s])} |")
        h = [x[1] for x in results.get((load, "hive"), [])]
        n = [x[1] for x in results.get((load, "node ws"), [])]
        if h and n:
            ratios.append(f"{load}: hive/node per server CPU-second = "
                          f"{statistics.median(h) / statistics.median(n):.1f}x")
    lines += [""] + [f"- {r}" for r in ratios]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    log(f"bench/ws.py: wrote {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options run.py forwards with --ws (--build-dir, --rounds, --duration, --out are
    shared)."""
    p.add_argument("--ws-loads", dest="ws_loads", default="echo,fanout")
    p.add_argument("--subscribers", type=int, default=1000)
    p.add_argument("--no-cluster", action="store_true", help="fan-out: skip hive with 2 workers")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--out", default="bench/results/ws.md")
    add_arguments(p)
    args = p.parse_args()
    args.loads = args.ws_loads.split(",")
    return ws_main(args)


if __name__ == "__main__":
    sys.exit(main())
