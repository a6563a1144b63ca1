#!/usr/bin/env python3
"""hive's benchmark harness: hive against the limit server, nginx and Node's cluster under wrk.

    python3 bench/run.py --build-dir build [--rounds 5] [--duration 5] [--connections 64]
        [--servers hive,limit,nginx,node] [--loads keepalive,pipeline,churn]
        [--out bench/results/latest.md] [--all-cores]

Default mode: every server runs ONE worker pinned to CPU 0 and wrk runs one thread pinned to
CPU 1. Each round runs every load against every server, each started fresh, so machine noise
hits all of them alike. Besides requests/sec it measures the CPU the server's whole process
tree spent during the run (/proc/PID/stat utime+stime), giving requests per server CPU-second:
the number that does not depend on how fast the load generator is. See bench/README.md.

Standard library only; localhost only.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
ALL_SERVERS = ["hive", "limit", "nginx", "node"]
ALL_LOADS = ["keepalive", "pipeline", "churn"]
LOAD_DESCRIPTIONS = {
    "keepalive": "one request at a time per keep-alive connection",
    "pipeline": "16 pipelined requests per write (wrk/pipeline.lua)",
    "churn": "Connection: close: a new TCP connection per request",
}
# Debian package providing each tool the harness runs.
PACKAGES = {"wrk": "wrk", "taskset": "util-linux", "nginx": "nginx-light", "node": "nodejs"}


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------- servers


@dataclass
class ServerSpec:
    name: str
    argv: list[str]          # command to start it (without taskset)
    cleanup_dir: str | None = None


class Unavailable(Exception):
    """The server cannot run here (binary or tool missing); the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_spec(name: str, args, port: int, load: str, workers: int) -> ServerSpec:
    if name == "hive":
        binary = Path(args.hive_bin or Path(args.build_dir) / "examples" / "hello" / "hello")
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise Unavailable(f"hive binary {binary} not found; build it first (or pass --hive-bin)")
        # --workers 0: single process, no cluster primary.
        return ServerSpec(name, [str(binary), "--port", str(port),
                                 "--workers", str(workers if args.all_cores else 0)])
    if name == "limit":
        binary = Path(args.limit_bin or Path(args.build_dir) / "bench" / "limit")
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise Unavailable(f"limit binary {binary} not found; build with -Dbench=true "
                              f"(or pass --limit-bin)")
        argv = [str(binary), "--port", str(port)]
        if load == "churn":
            argv.append("--churn")
        return ServerSpec(name, argv)
    if name == "nginx":
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                          else None)
        if not nginx:
            raise Unavailable(f"nginx not found; install the Debian package {PACKAGES['nginx']}")
        prefix = tempfile.mkdtemp(prefix="hive-bench-nginx-")
        conf = (BENCH_DIR / "peers" / "nginx.conf.in").read_text()
        conf = (conf.replace("@WORKERS@", str(workers)).replace("@PORT@", str(port))
                .replace("@PREFIX@", prefix))
        conf_path = Path(prefix) / "nginx.conf"
        conf_path.write_text(conf)
        return ServerSpec(name, [nginx, "-p", prefix, "-c", str(conf_path), "-g", "daemon off;"],
                          cleanup_dir=prefix)
    if name == "node":
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            raise Unavailable(f"node not found; install the Debian package {PACKAGES['node']}")
        return ServerSpec(name, [node, str(BENCH_DIR / "peers" / "node-cluster.js"),
                                 "--port", str(port), "--workers", str(workers)])
    raise ValueError(name)


def proc_tree(root: int) -> list[int]:
    """PIDs of root and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of root's whole process tree, in seconds."""
    ticks = 0
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / CLK_TCK


class RunningServer:
    def __init__(self, spec: ServerSpec, port: int, pin: str | None, logdir: str):
        self.spec, self.port = spec, port
        self.log_path = Path(logdir) / f"{spec.name}-{port}.log"
        argv = (["taskset", "-c", pin] if pin else []) + spec.argv
        self.log_file = open(self.log_path, "wb")
        # Own session: stop() can signal the server's whole process group, and only it.
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.spec.name} did not accept on port {self.port} within "
                           f"{timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join("    " + line for line in text[-15:])

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def stop(self, timeout_s: float = 5.0) -> None:
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log(f"  {self.spec.name}: no exit {timeout_s:.0f}s after SIGTERM; sending SIGKILL")
        # Workers that outlived their primary are still in the group: kill them too.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=timeout_s)
        self.log_file.close()
        if self.spec.cleanup_dir:
            shutil.rmtree(self.spec.cleanup_dir, ignore_errors=True)


# -------------------------------------------------------------------------------------- wrk

UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass
class WrkResult:
    rps: float
    requests: int
    p99_s: float | None
    errors: int
    error_text: str


def parse_duration(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * UNITS_S[m.group(2)]


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    reqs = re.search(r"^\s*(\d+) requests in ", out, re.M)
    if not rps or not reqs:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    p99 = None
    dist = out.split("Latency Distribution", 1)
    if len(dist) == 2:
        m = re.search(r"^\s*99(?:\.0+)?%\s+(\S+)", dist[1], re.M)
        if m:
            p99 = parse_duration(m.group(1)) or None  # wrk prints 0.00us for an empty histogram
    errors, texts = 0, []
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
        texts.append(sock.group(0))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
        texts.append(non2xx.group(0))
    return WrkResult(float(rps.group(1)), int(reqs.group(1)), p99, errors, "; ".join(texts))


def wrk_argv(args, load: str, port: int, duration_s: float) -> list[str]:
    threads = 2 if args.all_cores else 1
    argv = [] if args.all_cores else ["taskset", "-c", "1"]
    argv += ["wrk", f"-t{threads}", f"-c{args.connections}", f"-d{duration_s:g}s", "--latency",
             "--timeout", "5s"]
    url = f"http://127.0.0.1:{port}/"
    if load == "pipeline":
        return argv + ["-s", str(BENCH_DIR / "wrk" / "pipeline.lua"), url, "--",
                       str(args.pipeline_depth)]
    if load == "churn":
        return argv + ["-H", "Connection: close", url]
    return argv + [url]


def run_wrk(argv: list[str], duration_s: float) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60)
    if res.returncode != 0:
        raise RuntimeError(f"wrk failed ({res.returncode}): {res.stderr or res.stdout}")
    return res.stdout


# ---------------------------------------------------------------------------------- results


@dataclass
class Sample:
    rps: float
    per_core: float | None   # requests per server CPU-second
    cpu_cores: float         # server CPU seconds / wall seconds of the wrk run
    p99_s: float | None
    errors: int


@dataclass
class Cell:
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None


def fmt_rps(v: float) -> str:
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def fmt_lat(v: float | None) -> str:
    if v is None:
        return "–"
    if v < 1e-3:
        return f"{v * 1e6:.0f}µs"
    if v < 1:
        return f"{v * 1e3:.2f}ms"
    return f"{v:.2f}s"


def med_range(values: list[float], fmt) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def render(args, results: dict[str, dict[str, Cell]], baseline: str, header: list[str]) -> str:
    lines = list(header)
    for load in args.loads:
        lines += ["", f"### {load} — {LOAD_DESCRIPTIONS[load]}", ""]
        base_cell = results[load].get(baseline)
        base = None
        if base_cell and base_cell.samples:
            pcs = [s.per_core for s in base_cell.samples if s.per_core]
            base = statistics.median(pcs) if pcs else None
        lines.append(f"| server | rps median (min–max) | rps per server core (min–max) | "
                     f"server CPU (cores) | p99 median | errors | per core vs {baseline} |")
        lines.append("|---|---|---|---|---|---|---|")
        for name in args.servers:
            cell = results[load][name]
            if cell.skipped or not cell.samples:
                lines.append(f"| {name} | skipped: {cell.skipped or 'no samples'} | | | | | |")
                continue
            s = cell.samples
            pcs = [x.per_core for x in s if x.per_core]
            p99s = [x.p99_s for x in s if x.p99_s is not None]
            ratio = f"{statistics.median(pcs) / base:.2f}" if base and pcs else "–"
            lines.append(
                f"| {name} | {med_range([x.rps for x in s], fmt_rps)} "
                f"| {med_range(pcs, fmt_rps)} "
                f"| {statistics.median(x.cpu_cores for x in s):.2f} "
                f"| {fmt_lat(statistics.median(p99s)) if p99s else '–'} "
                f"| {sum(x.errors for x in s)} | {ratio} |")
        hive = results[load].get("hive")
        if baseline != "hive" and hive and hive.samples and base:
            pcs = [x.per_core for x in hive.samples if x.per_core]
            if pcs:
                lines += ["", f"hive / {baseline} per core ({load}): "
                          f"**{statistics.median(pcs) / base:.2f}**"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- main


def check_tools(args) -> None:
    """Exits when wrk (or, pinned, taskset) is missing; a missing server only skips that server."""
    needed = ["wrk"] + ([] if args.all_cores else ["taskset"])
    missing = [t for t in needed if not shutil.which(t)]
    if missing:
        pkgs = " ".join(sorted({PACKAGES[t] for t in missing}))
        sys.exit(f"bench: missing {', '.join(missing)}; install with: apt-get install {pkgs} "
                 f"(scripts/dev installs them)")


def machine_header(args, baseline: str, nproc: int, load1: float) -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "no commit"
    except OSError:
        commit = "unknown"
    busy = (f"- **warning**: load average {load1:.2f} at start; other processes share the CPUs, "
            "so rps is noisy (rps per core less so)" if load1 > 0.5 else
            f"- load average {load1:.2f} at start")
    if args.all_cores:
        mode = (f"all cores: {nproc} workers per server, unpinned; wrk -t2 unpinned")
    else:
        mode = "pinned: one server worker on CPU 0, wrk -t1 on CPU 1"
    return [
        f"## hive benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        f"- commit {commit}; {nproc} CPUs ({cpu}); kernel {os.uname().release}",
        f"- mode: {mode}",
        busy,
        f"- {args.rounds} rounds × {args.duration:g}s per run (+{args.warmup:g}s warm-up), "
        f"{args.connections} connections, pipeline depth {args.pipeline_depth}",
        "- rps per server core = requests completed / CPU seconds of the server's process tree "
        f"during the run; \"per core vs {baseline}\" divides medians",
    ]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", required=True, help="meson build directory holding the binaries")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=1,
                   help="seconds of unmeasured load before each run (JITs, caches); 0 to skip")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--pipeline-depth", type=int, default=16)
    p.add_argument("--servers", default=",".join(ALL_SERVERS))
    p.add_argument("--loads", default=",".join(ALL_LOADS))
    p.add_argument("--out", default="bench/results/latest.md")
    p.add_argument("--all-cores", action="store_true",
                   help="one worker per core, nothing pinned, wrk -t2 (limit is skipped)")
    p.add_argument("--limit-bin", help="limit server binary (default BUILD/bench/limit)")
    p.add_argument("--hive-bin", help="hive hello binary (default BUILD/examples/hello/hello)")
    p.add_argument("--startup-timeout", type=float, default=10)
    args = p.parse_args()
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.loads = [s.strip() for s in args.loads.split(",") if s.strip()]
    for s in args.servers:
        if s not in ALL_SERVERS:
            p.error(f"unknown server {s!r}; choose from {','.join(ALL_SERVERS)}")
    for load in args.loads:
        if load not in ALL_LOADS:
            p.error(f"unknown load {load!r}; choose from {','.join(ALL_LOADS)}")
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1:
        p.error("--rounds, --duration and --connections must be positive")
    return args


def main() -> int:
    args = parse_args()
    check_tools(args)
    load1 = os.getloadavg()[0]  # before we add our own load
    if load1 > 0.5:
        log(f"bench: load average is {load1:.2f}: something else is using the CPUs; "
            "rps will be noisy (rps per server core less so)")
    nproc = len(os.sched_getaffinity(0))
    if not args.all_cores and nproc < 2:
        sys.exit("bench: pinned mode needs 2 CPUs (server on 0, wrk on 1); try --all-cores")
    workers = nproc if args.all_cores else 1
    baseline = "nginx" if args.all_cores else "limit"

    results: dict[str, dict[str, Cell]] = {l: {s: Cell() for s in args.servers} for l in args.loads}
    if args.all_cores and "limit" in args.servers:
        for load in args.loads:
            results[load]["limit"].skipped = "single-process; not run with --all-cores"
        log("bench: skipping limit with --all-cores (it is single-process)")

    logdir = tempfile.mkdtemp(prefix="hive-bench-logs-")
    pin = None if args.all_cores else "0"
    try:
        for rnd in range(args.rounds):
            for load in args.loads:
                # Rotate the order each round so no server always runs first or last.
                order = args.servers[rnd % len(args.servers):] + args.servers[:rnd % len(args.servers)]
                for name in order:
                    cell = results[load][name]
                    if cell.skipped:
                        continue
                    port = free_port()
                    try:
                        spec = server_spec(name, args, port, load, workers)
                    except Unavailable as e:
                        cell.skipped = str(e)
                        for other in args.loads:
                            results[other][name].skipped = str(e)
                        log(f"bench: skipping {name}: {e}")
                        continue
                    sample = run_one(args, spec, port, pin, load, logdir)
                    if sample is None:
                        continue
                    cell.samples.append(sample)
                    log(f"round {rnd + 1}/{args.rounds} {load:9} {name:5}: "
                        f"{fmt_rps(sample.rps):>7} rps, "
                        f"{fmt_rps(sample.per_core) if sample.per_core else '–':>7} per core, "
                        f"cpu {sample.cpu_cores:.2f} cores, p99 {fmt_lat(sample.p99_s)}")
    except KeyboardInterrupt:
        log("bench: interrupted; reporting what ran")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)

    report = render(args, results, baseline, machine_header(args, baseline, nproc, load1))
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    log(f"bench: wrote {out}")
    return 0


def run_one(args, spec: ServerSpec, port: int, pin: str | None, load: str, logdir: str):
    server = RunningServer(spec, port, pin, logdir)
    try:
        server.wait_ready(args.startup_timeout)
        if args.warmup > 0:
            run_wrk(wrk_argv(args, load, port, args.warmup), args.warmup)
        argv = wrk_argv(args, load, port, args.duration)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        out = run_wrk(argv, args.duration)
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        res = parse_wrk(out)
        if res.errors:
            log(f"  {spec.name} {load}: wrk reported errors: {res.error_text}")
        cpu = cpu1 - cpu0
        return Sample(rps=res.rps, per_core=res.requests / cpu if cpu > 0 else None,
                      cpu_cores=cpu / (t1 - t0), p99_s=res.p99_s, errors=res.errors)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        log(f"bench: {spec.name} {load} failed: {e}")
        return None
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
