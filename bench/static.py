#!/usr/bin/env python3
"""Static files: hive's examples/static-files against nginx (sendfile on, open-file cache), both
serving the same 1 KiB and 1 MiB files from one directory, under wrk.

    python3 bench/run.py --build-dir build-bench --static [--rounds 5] [--duration 5] [--connections 64]
        [--servers hive,nginx] [--out bench/results/latest.md]

Pinned as run.py's default mode: one server worker on CPU 0, wrk -t1 on CPU 1; reports rps and
requests per server CPU-second (run.py's "rps per server core"), medians over rounds with the
order of the servers rotated each round. Before measuring, one request per server checks that the
body is the file, byte for byte. Appends its table to --out.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import run as harness

STATIC_SERVERS = ["hive", "nginx"]
# name -> size in bytes
FILES = {"1k.txt": 1024, "1m.bin": 1024 * 1024}


def make_root() -> str:
    root = tempfile.mkdtemp(prefix="hive-bench-static-")
    os.chmod(root, 0o755)  # nginx's workers may run as another user
    for name, size in FILES.items():
        data = bytes((i * 7 + i // 251) % 256 for i in range(size)) if name.endswith(".bin") \
            else (b"hive static file benchmark\n" * (size // 27 + 1))[:size]
        path = Path(root) / name
        path.write_bytes(data)
        path.chmod(0o644)
    return root


def nginx_conf(prefix: str, port: int, root: str, gzip: str = "gzip off;") -> str:
    conf = (harness.BENCH_DIR / "peers" / "nginx-static.conf.in").read_text()
    return (conf.replace("@WORKERS@", "1").replace("@PORT@", str(port)).replace("@PREFIX@", prefix)
            .replace("@ROOT@", root).replace("@GZIP@", gzip))


def nginx_spec(port: int, root: str, gzip: str = "gzip off;") -> harness.ServerSpec:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not nginx:
        raise harness.Unavailable("nginx not found; install the Debian package nginx-light")
    prefix = tempfile.mkdtemp(prefix="hive-bench-nginx-")
    conf_path = Path(prefix) / "nginx.conf"
    conf_path.write_text(nginx_conf(prefix, port, root, gzip))
    return harness.ServerSpec("nginx", [nginx, "-p", prefix, "-c", str(conf_path), "-g", "daemon off;"],
                              cleanup_dir=prefix, conf_path=str(conf_path))


def hive_spec(args, port: int, root: str) -> harness.ServerSpec:
    binary = Path(args.build_dir) / "examples" / "static-files" / "static-files"
    if not binary.is_file():
        raise harness.Unavailable(f"{binary} not found; build it first")
    return harness.ServerSpec("hive", [str(binary), "--root", root, "--port", str(port), "--workers", "0"],
                              ready_line="listening on")


def check_body(port: int, path: str, want: bytes) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=10) as r:
        got = r.read()
    if got != want:
        raise RuntimeError(f"/{path}: {len(got)} bytes that are not the file's {len(want)}")


def measure(args, spec: harness.ServerSpec, port: int, path: str, logdir: str, headers=(),
            check=None) -> harness.Sample | None:
    """One fresh server, pinned; `check(port)` runs first; wrk on `path`."""
    server = harness.RunningServer(spec, port, "0", logdir)
    try:
        server.wait_ready(args.startup_timeout)
        if check:
            check(port)
        argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", "--latency", "--timeout", "5s"]
        for h in headers:
            argv += ["-H", h]
        url = f"http://127.0.0.1:{port}/{path}"
        if args.warmup > 0:
            harness.run_wrk(argv + [f"-d{args.warmup:g}s", url], args.warmup)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        out = harness.run_wrk(argv + [f"-d{args.duration:g}s", url], args.duration)
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        res = harness.parse_wrk(out)
        if res.errors:
            harness.log(f"  {spec.name} /{path}: wrk reported errors: {res.error_text}")
        cpu = cpu1 - cpu0
        return harness.Sample(rps=res.rps, per_core=res.requests / cpu if cpu > 0 else None,
                              cpu_cores=cpu / (t1 - t0), p99_s=res.p99_s, errors=res.errors)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        harness.log(f"bench: {spec.name} /{path} failed: {e}")
        return None
    finally:
        server.stop()


def render(args, results: dict, header: list[str]) -> str:
    lines = list(header)
    lines[0] = f"## hive static files — {time.strftime('%Y-%m-%d %H:%M:%S')}"
    lines.append("- the same files from one directory: hive `examples/static-files --workers 0`, nginx "
                 "(`peers/nginx-static.conf.in`: sendfile, tcp_nopush, open_file_cache)")
    for name, size in FILES.items():
        lines += ["", f"### static {name} ({size} bytes)", "",
                  "| server | rps median (min–max) | rps per server core (min–max) | server CPU (cores) "
                  "| p99 median | errors |", "|---|---|---|---|---|---|"]
        per_core = {}
        for server in args.servers:
            cell = results[name][server]
            if cell.skipped or not cell.samples:
                lines.append(f"| {server} | skipped: {cell.skipped or 'no samples'} | | | | |")
                continue
            s = cell.samples
            pcs = [x.per_core for x in s if x.per_core]
            p99s = [x.p99_s for x in s if x.p99_s is not None]
            if pcs:
                per_core[server] = statistics.median(pcs)
            lines.append(f"| {server} | {harness.med_range([x.rps for x in s], harness.fmt_rps)} "
                         f"| {harness.med_range(pcs, harness.fmt_rps)} "
                         f"| {statistics.median(x.cpu_cores for x in s):.2f} "
                         f"| {harness.fmt_lat(statistics.median(p99s)) if p99s else '–'} "
                         f"| {sum(x.errors for x in s)} |")
        if "hive" in per_core and "nginx" in per_core:
            lines += ["", f"hive / nginx per core ({name}): **{per_core['hive'] / per_core['nginx']:.2f}**"]
    return "\n".join(lines) + "\n"


def main(args) -> int:
    servers = [s for s in args.servers if s in STATIC_SERVERS] or STATIC_SERVERS
    args.servers = servers
    load1 = os.getloadavg()[0]
    nproc = len(os.sched_getaffinity(0))
    if nproc < 2:
        raise SystemExit("bench: pinned mode needs 2 CPUs (server on 0, wrk on 1)")
    root = make_root()
    logdir = tempfile.mkdtemp(prefix="hive-bench-logs-")
    results = {name: {s: harness.Cell() for s in servers} for name in FILES}
    try:
        for rnd in range(args.rounds):
            for name in FILES:
                want = (Path(root) / name).read_bytes()
                order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
                for server in order:
                    cell = results[name][server]
                    if cell.skipped:
                        continue
                    port = harness.free_port()
                    try:
                        spec = hive_spec(args, port, root) if server == "hive" else nginx_spec(port, root)
                    except harness.Unavailable as e:
                        for n in FILES:
                            results[n][server].skipped = str(e)
                        harness.log(f"bench: skipping {server}: {e}")
                        continue
                    sample = measure(args, spec, port, name, logdir,
                                     check=lambda p, name=name, want=want: check_body(p, name, want))
                    if sample is None:
                        continue
                    cell.samples.append(sample)
                    harness.log(f"round {rnd + 1}/{args.rounds} static {name:7} {server:5}: "
                                f"{harness.fmt_rps(sample.rps):>7} rps, "
                                f"{harness.fmt_rps(sample.per_core) if sample.per_core else '–':>7} per core, "
                                f"cpu {sample.cpu_cores:.2f} cores")
    except KeyboardInterrupt:
        harness.log("bench: interrupted; reporting what ran")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    header = harness.machine_header(args, "nginx", nproc, load1)
    report = render(args, results, header)
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n" + report)
    harness.log(f"bench: appended to {out}")
    return 0
