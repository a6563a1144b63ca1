#!/usr/bin/env python3
"""HTTPS loads: hive against nginx, the same certificate and cipher, one worker pinned.

    python3 bench/run.py --build-dir build-bench --https [--rounds 5] [--duration 5] [--connections 64]
        [--https-loads keepalive,handshake,file] [--out bench/results/latest.md]
    (or python3 bench/https.py with the same options)

Both servers get one ECDSA P-256 certificate made here with `openssl req`, TLS 1.3 only, and the
server's cipher preference; the negotiated protocol, cipher and group are checked with
`openssl s_client` against each and printed in the report. hive runs `--workers 0` (one
process) and nginx one worker, both pinned to CPU 0 (`taskset -c 0`); wrk runs one thread on
CPU 1. As in run.py, the measure is requests per server CPU-second (the server's process tree,
from /proc), which does not depend on how fast the client is.

Loads:
  keepalive  wrk -c64 over keep-alive connections: requests per server core.
  handshake  `Connection: close`, resumption off on both (hive --tls-tickets off; nginx
             ssl_session_tickets off, ssl_session_cache off): every request is a new TCP
             connection and a full TLS handshake. wrk would otherwise resume its last session.
  file       a 1 MiB static file over keep-alive HTTPS (-c8): hive's examples/static-files with
             kernel TLS where available (--tls-kernel auto) and without (--tls-kernel off),
             nginx (sendfile on, `ssl_conf_command Options KTLS`), and hive over plain HTTP
             (sendfile) for reference. The report says whether this kernel has kernel TLS.

Appends the tables to --out. Standard library only; localhost only.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import run as harness  # bench/run.py: servers, wrk, CPU accounting

BENCH_DIR = Path(__file__).resolve().parent
HTTPS_LOADS = ["keepalive", "handshake", "file"]
DESCRIPTIONS = {
    "keepalive": "keep-alive HTTPS, one request at a time per connection",
    "handshake": "Connection: close, resumption off: a full TLS 1.3 handshake per request",
    "file": "a 1 MiB static file over keep-alive HTTPS (-c8)",
}
FILE_BYTES = 1 << 20
FILE_CONNECTIONS = 8


@dataclass
class Setup:
    cert: str
    key: str
    root: str          # holds the 1 MiB file
    tmp: str


@dataclass
class Result:
    samples: list = field(default_factory=list)  # (rps, per_core, cpu_cores, MB/s)
    failed: str | None = None


def make_setup() -> Setup:
    tmp = tempfile.mkdtemp(prefix="hive-bench-https-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(os.urandom(FILE_BYTES))
    # nginx's workers run as an unprivileged user: they must reach the file.
    os.chmod(tmp, 0o755)
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "1m.bin"), 0o644)
    return Setup(cert, key, root, tmp)


def variants(load: str) -> list[str]:
    if load == "file":
        return ["hive", "hive --tls-kernel off", "nginx", "hive plain HTTP"]
    return ["hive", "nginx"]


def spec_for(args, setup: Setup, name: str, load: str, port: int) -> tuple[harness.ServerSpec, str]:
    """The server to start and the URL wrk asks for."""
    tickets = load != "handshake"
    if name.startswith("hive"):
        example = "static-files" if load == "file" else "hello"
        binary = Path(args.build_dir) / "examples" / example / example
        if not os.access(binary, os.X_OK):
            raise harness.Unavailable(f"{binary} not found; build it first")
        argv = [str(binary), "--port", str(port), "--workers", "0"]
        if load == "file":
            argv += ["--root", setup.root]
        if name != "hive plain HTTP":
            argv += ["--tls-cert", setup.cert, "--tls-key", setup.key, "--tls-min-version", "1.3",
                     "--tls-tickets", "on" if tickets else "off"]
        if name == "hive --tls-kernel off":
            argv += ["--tls-kernel", "off"]
        scheme = "http" if name == "hive plain HTTP" else "https"
        path = "/1m.bin" if load == "file" else "/"
        return harness.ServerSpec(name, argv, ready_line="listening on"), f"{scheme}://127.0.0.1:{port}{path}"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        raise harness.Unavailable("nginx not found; install the Debian package nginx-light")
    prefix = tempfile.mkdtemp(prefix="hive-bench-nginx-https-")
    conf = (BENCH_DIR / "peers" / "nginx-https.conf.in").read_text()
    for k, v in {"WORKERS": "1", "PORT": str(port), "PREFIX": prefix, "CERT": setup.cert,
                 "KEY": setup.key, "TICKETS": "on" if tickets else "off", "ROOT": setup.root}.items():
        conf = conf.replace(f"@{k}@", v)
    conf_path = Path(prefix) / "nginx.conf"
    conf_path.write_text(conf)
    path = "/files/1m.bin" if load == "file" else "/"
    return (harness.ServerSpec(name, [nginx, "-p", prefix, "-c", str(conf_path), "-g", "daemon off;"],
                               cleanup_dir=prefix, conf_path=str(conf_path)),
            f"https://127.0.0.1:{port}{path}")


def negotiated(port: int) -> str:
    """Protocol, cipher and key exchange group a default OpenSSL client gets (wrk uses OpenSSL)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief"],
                       input=b"", capture_output=True, timeout=10)
    text = (r.stdout + r.stderr).decode("latin-1")
    proto = re.search(r"Protocol version: (\S+)", text)
    cipher = re.search(r"Ciphersuite: (\S+)", text)
    group = re.search(r"(?:Server Temp Key|Negotiated TLS1.3 group): ([^\n]+)", text)
    if not proto:
        return "handshake failed"
    return " ".join(x.group(1).strip() for x in (proto, cipher, group) if x)


def wrk_argv(args, load: str, url: str, duration_s: float) -> list[str]:
    conns = FILE_CONNECTIONS if load == "file" else args.connections
    argv = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{duration_s:g}s", "--timeout", "5s"]
    if load == "handshake":
        argv += ["-H", "Connection: close"]
    return argv + [url]


def run_one(args, setup: Setup, name: str, load: str, logdir: str, notes: dict) -> tuple | None:
    port = harness.free_port()
    spec, url = spec_for(args, setup, name, load, port)
    server = harness.RunningServer(spec, port, "0", logdir)
    try:
        server.wait_ready(args.startup_timeout)
        if url.startswith("https") and (name, load) not in notes:
            notes[(name, load)] = negotiated(port)
        if name == "hive" and "kernel" not in notes:
            line = re.search(r"kernel TLS: [^\n]*", server.log_text())
            notes["kernel"] = line.group(0) if line else "hive printed no kernel TLS line"
        if args.warmup > 0:
            harness.run_wrk(wrk_argv(args, load, url, args.warmup), args.warmup)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        out = harness.run_wrk(wrk_argv(args, load, url, args.duration), args.duration)
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        res = harness.parse_wrk(out)
        if res.errors:
            harness.log(f"  {name} {load}: wrk reported errors: {res.error_text}")
        cpu = cpu1 - cpu0
        mbps = res.rps * FILE_BYTES / 1e6 if load == "file" else 0.0
        return (res.rps, res.requests / cpu if cpu > 0 else 0.0, cpu / (t1 - t0), mbps, res.errors)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        harness.log(f"bench: {name} {load} failed: {e}")
        return None
    finally:
        server.stop()


def render(args, results: dict, notes: dict, nproc: int, load1: float) -> str:
    header = harness.machine_header(args, "nginx", nproc, load1)
    header[0] = f"## hive HTTPS benchmark — {time.strftime('%Y-%m-%d %H:%M:%S')}"
    header[3] = "- mode: pinned: one server worker on CPU 0, wrk -t1 on CPU 1; TLS 1.3, ECDSA P-256"
    header[5] = (f"- {args.rounds} rounds × {args.duration:g}s per run (+{args.warmup:g}s warm-up), "
                 f"{args.connections} connections ({FILE_CONNECTIONS} for file)")
    lines = header + [f"- {notes.get('kernel', 'kernel TLS: not reported')}"]
    for load in args.https_loads:
        lines += ["", f"### https {load} — {DESCRIPTIONS[load]}", ""]
        cols = "| server | negotiated | rps median (min–max) | rps per server core | server CPU (cores) | errors |"
        sep = "|---|---|---|---|---|---|"
        if load == "file":
            cols += " MB/s median |"
            sep += "---|"
        lines += [cols, sep]
        base = None
        for name in variants(load):
            r = results[load][name]
            if r.failed or not r.samples:
                lines.append(f"| {name} | {r.failed or 'no samples'} | | | | |")
                continue
            pcs = [s[1] for s in r.samples]
            row = (f"| {name} | {notes.get((name, load), 'plain HTTP')} "
                   f"| {harness.med_range([s[0] for s in r.samples], harness.fmt_rps)} "
                   f"| {harness.med_range(pcs, harness.fmt_rps)} "
                   f"| {statistics.median(s[2] for s in r.samples):.2f} | {sum(s[4] for s in r.samples)} |")
            if load == "file":
                row += f" {statistics.median(s[3] for s in r.samples):.0f} |"
            lines.append(row)
            if name == "nginx":
                base = statistics.median(pcs)
        hive = results[load]["hive"]
        if base and hive.samples:
            ratio = statistics.median(s[1] for s in hive.samples) / base
            lines += ["", f"hive / nginx per core ({load}): **{ratio:.2f}**"]
    return "\n".join(lines) + "\n"


def https_main(args) -> int:
    load1 = os.getloadavg()[0]
    nproc = len(os.sched_getaffinity(0))
    if nproc < 2:
        sys.exit("bench: pinned mode needs 2 CPUs (server on 0, wrk on 1)")
    if not shutil.which("openssl"):
        sys.exit("bench: --https needs the openssl command (Debian package openssl)")
    setup = make_setup()
    results = {l: {n: Result() for n in variants(l)} for l in args.https_loads}
    notes: dict = {}
    logdir = tempfile.mkdtemp(prefix="hive-bench-logs-")
    try:
        for rnd in range(args.rounds):
            for load in args.https_loads:
                names = variants(load)
                order = names[rnd % len(names):] + names[:rnd % len(names)]
                for name in order:
                    r = results[load][name]
                    if r.failed:
                        continue
                    try:
                        sample = run_one(args, setup, name, load, logdir, notes)
                    except harness.Unavailable as e:
                        r.failed = f"skipped: {e}"
                        continue
                    if sample is None:
                        continue
                    r.samples.append(sample)
                    extra = f", {sample[3]:.0f} MB/s" if load == "file" else ""
                    harness.log(f"round {rnd + 1}/{args.rounds} https {load:9} {name:22}: "
                                f"{harness.fmt_rps(sample[0]):>7} rps, {harness.fmt_rps(sample[1]):>7} per core, "
                                f"cpu {sample[2]:.2f}{extra}")
    except KeyboardInterrupt:
        harness.log("bench: interrupted; reporting what ran")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
        shutil.rmtree(setup.tmp, ignore_errors=True)
    report = render(args, results, notes, nproc, load1)
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n" + report)
    harness.log(f"bench: appended to {out}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """run.py's --https options (also used when this file runs on its own)."""
    p.add_argument("--https", action="store_true",
                   help="HTTPS loads: hive and nginx, same certificate and cipher (bench/https.py)")
    p.add_argument("--https-loads", default=",".join(HTTPS_LOADS),
                   help=f"with --https: {','.join(HTTPS_LOADS)}")


def check_arguments(p: argparse.ArgumentParser, args) -> None:
    args.https_loads = [s.strip() for s in args.https_loads.split(",") if s.strip()]
    for load in args.https_loads:
        if load not in HTTPS_LOADS:
            p.error(f"unknown HTTPS load {load!r}; choose from {','.join(HTTPS_LOADS)}")


if __name__ == "__main__":
    sys.argv.append("--https")
    sys.exit(harness.main())
