#!/usr/bin/env python3
"""hive's benchmark harness: hive against the limit server, nginx and Node's cluster under wrk.

    python3 bench/run.py --build-dir build-bench [--rounds 5] [--duration 5] [--connections 64]
        [--servers hive,limit,nginx,node] [--loads keepalive,pipeline,churn]
        [--out bench/results/latest.md] [--all-cores]
    python3 bench/run.py --build-dir build-bench --reload [--duration 10] [--connections 64]
    python3 bench/run.py --build-dir build-bench --ws [--rounds 5] [--duration 5]   (bench/ws.py)

Default mode: every server runs ONE worker pinned to CPU 0 and wrk runs one thread pinned to
CPU 1. Each round runs every load against every server, each started fresh, so machine noise
hits all of them alike. Besides requests/sec it measures the CPU the server's whole process
tree spent during the run (/proc/PID/stat utime+stime), giving requests per server CPU-second:
the number that does not depend on how fast the load generator is. See bench/README.md.

--reload: hive's cluster and nginx, 2 workers each, under wrk (keep-alive, then Connection:
close) while being reloaded every second (SIGHUP to hive's primary, `nginx -s reload`); reports
requests served, errors by kind and reloads completed, and appends the table to --out.

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

import https as https_bench  # the HTTPS loads (bench/https.py)

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
    ready_line: str | None = None   # wait_ready also waits for this text in the server's log
    conf_path: str | None = None    # nginx: for `nginx -s reload`


class Unavailable(Exception):
    """The server cannot run here (binary or tool missing); the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_spec(name: str, args, port: int, load: str, workers: int) -> ServerSpec:
    """workers: processes for the multi-process servers; hive gets --workers 0 (one process, no
    cluster primary) in pinned mode and a cluster of `workers` with --all-cores or --reload."""
    if name == "hive":
        binary = Path(args.hive_bin or Path(args.build_dir) / "examples" / "hello" / "hello")
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise Unavailable(f"hive binary {binary} not found; build it first (or pass --hive-bin)")
        # --workers 0: single process, no cluster primary. With workers the primary logs
        # "listening on" only once every worker listens (it binds before forking, so a connect
        # succeeds earlier).
        cluster = args.all_cores or args.reload
        return ServerSpec(name, [str(binary), "--port", str(port),
                                 "--workers", str(workers if cluster else 0)],
                          ready_line="listening on")
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
                .replace("@PREFIX@", prefix)
                .replace("@LOG_LEVEL@", "notice" if args.reload else "warn"))
        conf_path = Path(prefix) / "nginx.conf"
        conf_path.write_text(conf)
        return ServerSpec(name, [nginx, "-p", prefix, "-c", str(conf_path), "-g", "daemon off;"],
                          cleanup_dir=prefix, conf_path=str(conf_path))
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
    """CPU seconds of root's whole process tree: utime+stime of every live process in it, plus
    cutime+cstime (children that exited and were reaped: a cluster's replaced or crashed
    workers), so a worker's CPU time is not lost when it exits."""
    ticks = 0
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # utime, stime, cutime, cstime: fields 14-17 of /proc/PID/stat.
        ticks += sum(int(x) for x in fields[11:15])
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
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if not self.spec.ready_line or self.spec.ready_line in self.log_text():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.spec.name} did not accept on port {self.port} within "
                           f"{timeout_s:.0f}s:\n{self.log_tail()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        self.log_file.flush()
        text = self.log_text().splitlines()
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
    error_kinds: dict[str, int] = field(default_factory=dict)  # ERROR_KINDS -> count


# wrk's error counters: "Socket errors: connect N, read N, write N, timeout N" and
# "Non-2xx or 3xx responses: N".
ERROR_KINDS = ["connect", "read", "write", "timeout", "non-2xx"]


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
    kinds, texts = dict.fromkeys(ERROR_KINDS, 0), []
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        for kind, n in zip(ERROR_KINDS, sock.groups()):
            kinds[kind] = int(n)
        texts.append(sock.group(0))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        kinds["non-2xx"] = int(non2xx.group(1))
        texts.append(non2xx.group(0))
    return WrkResult(float(rps.group(1)), int(reqs.group(1)), p99, sum(kinds.values()),
                     "; ".join(texts), kinds)


def wrk_argv(args, load: str, port: int, duration_s: float) -> list[str]:
    unpinned = args.all_cores or args.reload
    threads = 2 if unpinned else 1
    argv = [] if unpinned else ["taskset", "-c", "1"]
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
    needed = ["wrk"] + ([] if args.all_cores or args.reload else ["taskset"])
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
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per wrk run (default 5; 10 with --reload)")
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
    p.add_argument("--reload", action="store_true",
                   help="reload under load: hive's cluster and nginx (2 workers each), reloaded "
                        "every second under wrk, keep-alive and Connection: close; appends to --out")
    p.add_argument("--reload-workers", type=int, default=2,
                   help="workers per server with --reload (default 2)")
    p.add_argument("--static", action="store_true",
                   help="static files instead (bench/static.py): 1 KiB and 1 MiB from hive and nginx")
    p.add_argument("--compress", action="store_true",
                   help="gzip of dynamic bodies instead (bench/compress.py): hive vs nginx, per KiB")
    p.add_argument("--gzip-levels", default="1,6", help="levels --compress runs (default 1,6)")
    p.add_argument("--hive-bin", help="hive hello binary (default BUILD/examples/hello/hello)")
    p.add_argument("--startup-timeout", type=float, default=10)
    https_bench.add_arguments(p)  # --https: bench/https.py
    # WebSocket echo and fan-out against Node's ws: bench/ws.py (its own options there).
    p.add_argument("--ws", action="store_true", help="WebSocket benchmarks (bench/ws.py)")
    import ws as ws_bench
    ws_bench.add_arguments(p)
    args = p.parse_args()
    https_bench.check_arguments(p, args)
    if args.duration is None:
        args.duration = 10.0 if args.reload else 5.0
    if args.ws:
        args.loads = args.ws_loads.split(",")
        if args.out == "bench/results/latest.md":
            args.out = "bench/results/ws.md"
        return args
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    args.loads = [s.strip() for s in args.loads.split(",") if s.strip()]
    for s in args.servers:
        if s not in ALL_SERVERS:
            p.error(f"unknown server {s!r}; choose from {','.join(ALL_SERVERS)}")
    for load in args.loads:
        if load not in ALL_LOADS:
            p.error(f"unknown load {load!r}; choose from {','.join(ALL_LOADS)}")
    if args.rounds < 1 or args.duration <= 0 or args.connections < 1 or args.reload_workers < 1:
        p.error("--rounds, --duration, --connections and --reload-workers must be positive")
    if args.reload and args.all_cores:
        p.error("--reload and --all-cores are separate runs")
    return args


def main() -> int:
    args = parse_args()
    if args.ws:
        import ws as ws_bench
        return ws_bench.ws_main(args)
    check_tools(args)
    if args.static:  # its own module: loads of its own, hive and nginx only
        import static
        return static.main(args)
    if args.compress:
        import compress
        return compress.main(args)
    if args.reload:
        return reload_main(args)
    if args.https:
        return https_bench.https_main(args)
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


# ---------------------------------------------------------------------------- reload under load

RELOAD_SERVERS = ["hive", "nginx"]
# Reload variants, as the load (wrk_argv) each one uses.
RELOAD_VARIANTS = {"keep-alive": "keepalive", "close": "churn"}
NO_RELOAD = {
    "node": "Node's cluster module has no reload (no rolling restart of workers); not run",
}


@dataclass
class ReloadRun:
    server: str
    variant: str
    sent: int = 0                  # reload signals / `nginx -s reload` commands issued
    done: int | None = None        # reloads completed while wrk ran
    requests: int = 0
    rps: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    failed: str | None = None      # the run did not happen or broke off: why

    @property
    def errors(self) -> int:
        return sum(self.kinds.values())


def reloads_done(server: RunningServer) -> int:
    """Reloads the server has completed so far, from its logs."""
    if server.spec.name == "hive":
        # The primary logs "hive PID reload done" when every slot has been replaced.
        server.log_file.flush()
        return server.log_text().count("reload done")
    # nginx's master logs (notice level) "signal 1 (SIGHUP) received from PID, reconfiguring",
    # then "reconfiguring" alone when it acts on it: it reads the configuration, starts new
    # workers and tells the old ones to finish. Count the second.
    try:
        text = (Path(server.spec.cleanup_dir) / "error.log").read_text(errors="replace")
    except OSError:
        return 0
    return len(re.findall(r"\d+#\d+: reconfiguring$", text, re.M))


def send_reload(server: RunningServer) -> str | None:
    """Asks the server to reload; returns an error text, or None."""
    if server.spec.name == "hive":
        try:
            os.kill(server.proc.pid, signal.SIGHUP)  # unpinned: proc is the primary itself
        except ProcessLookupError:
            return "primary is gone"
        return None
    res = subprocess.run([server.spec.argv[0], "-p", server.spec.cleanup_dir, "-c",
                          server.spec.conf_path, "-s", "reload"],
                         capture_output=True, text=True, timeout=10)
    if res.returncode != 0:
        return f"nginx -s reload failed ({res.returncode}): {(res.stderr or res.stdout).strip()}"
    return None


def run_reload(args, name: str, variant: str, logdir: str) -> ReloadRun:
    run = ReloadRun(name, variant)
    load = RELOAD_VARIANTS[variant]
    port = free_port()
    try:
        spec = server_spec(name, args, port, load, args.reload_workers)
    except Unavailable as e:
        run.failed = f"skipped: {e}"
        return run
    server = RunningServer(spec, port, None, logdir)
    try:
        server.wait_ready(args.startup_timeout)
        if args.warmup > 0:
            run_wrk(wrk_argv(args, load, port, args.warmup), args.warmup)
        before = reloads_done(server)
        wrk = subprocess.Popen(wrk_argv(args, load, port, args.duration), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        problems = []
        # One reload a second: at 1 s, 2 s, ... while wrk still runs.
        tick = 1
        while tick < args.duration:
            delay = t0 + tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if wrk.poll() is not None:
                break
            err = send_reload(server)
            if err:
                problems.append(err)
            else:
                run.sent += 1
            tick += 1
        try:
            out, err_out = wrk.communicate(timeout=args.duration + 60)
        except subprocess.TimeoutExpired:
            wrk.kill()
            wrk.communicate()
            raise RuntimeError("wrk did not finish")
        run.done = reloads_done(server) - before
        if wrk.returncode != 0:
            raise RuntimeError(f"wrk failed ({wrk.returncode}): {err_out or out}")
        res = parse_wrk(out)
        run.requests, run.rps, run.kinds = res.requests, res.rps, res.error_kinds
        if problems:
            log(f"  {name} {variant}: {len(problems)} reload(s) could not be sent: {problems[0]}")
        if res.errors:
            log(f"  {name} {variant}: wrk reported errors: {res.error_text}")
            if name == "hive":
                log(f"  hive's log ends:\n{server.log_tail()}")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        run.failed = f"failed: {e}"
        log(f"bench: {name} {variant} failed: {e}")
    finally:
        server.stop()
    return run


def render_reload(args, runs: list[ReloadRun], notes: list[str], nproc: int, load1: float) -> str:
    header = machine_header(args, "nginx", nproc, load1)[:4]  # title, "", machine, mode
    header[0] = f"## hive reload under load — {time.strftime('%Y-%m-%d %H:%M:%S')}"
    header[3] = (f"- {args.reload_workers} workers per server; wrk -t2 -c{args.connections}, "
                 f"unpinned, {args.duration:g}s per variant (+{args.warmup:g}s warm-up); "
                 "a reload every second: SIGHUP to hive's primary, `nginx -s reload`")
    load = (f"- **warning**: load average {load1:.2f} at start; rps is noisy" if load1 > 0.5
            else f"- load average {load1:.2f} at start")
    lines = header + [
        load,
        "- reloads: asked for / completed while wrk ran (hive: the primary's `reload done` lines; "
        "nginx: the master's `reconfiguring` lines). A SIGHUP that arrives during a reload is "
        "folded into one more reload after it.",
        "- errors = wrk's socket errors (connect, read, write, timeout) + non-2xx/3xx responses",
        "",
        "| server | variant | reloads (asked / done) | requests | rps | errors | connect | read "
        "| write | timeout | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r.failed:
            lines.append(f"| {r.server} | {r.variant} | {r.failed} | | | | | | | | |")
            continue
        k = r.kinds
        lines.append(f"| {r.server} | {r.variant} | {r.sent} / {r.done} | {r.requests} "
                     f"| {fmt_rps(r.rps)} | **{r.errors}** | {k.get('connect', 0)} "
                     f"| {k.get('read', 0)} | {k.get('write', 0)} | {k.get('timeout', 0)} "
                     f"| {k.get('non-2xx', 0)} |")
    for n in notes:
        lines.append(f"| {n.split(':', 1)[0]} | – | {n.split(':', 1)[1].strip()} | | | | | | | | |")
    return "\n".join(lines) + "\n"


def reload_main(args) -> int:
    load1 = os.getloadavg()[0]
    nproc = len(os.sched_getaffinity(0))
    servers = [s for s in args.servers if s in RELOAD_SERVERS]
    notes = [f"{s}: {NO_RELOAD[s]}" for s in args.servers if s in NO_RELOAD]
    for n in notes:
        log(f"bench: {n}")
    runs: list[ReloadRun] = []
    logdir = tempfile.mkdtemp(prefix="hive-bench-logs-")
    try:
        for variant in RELOAD_VARIANTS:
            for name in servers:
                run = run_reload(args, name, variant, logdir)
                runs.append(run)
                if not run.failed:
                    log(f"reload {variant:10} {name:5}: {run.sent} reloads asked, {run.done} done; "
                        f"{run.requests} requests, {fmt_rps(run.rps)} rps, {run.errors} errors")
    except KeyboardInterrupt:
        log("bench: interrupted; reporting what ran")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    report = render_reload(args, runs, notes, nproc, load1)
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n" + report)
    log(f"bench: appended to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
