#!/usr/bin/env python3
"""gzip of dynamic bodies: hive::filters::compress against nginx's gzip module at the same level,
on the same 16 KiB and 1 MiB JSON bodies, and the cost of the coding per KiB of body.

    python3 bench/run.py --build-dir build-bench --compress [--rounds 3] [--duration 5] [--connections 16]
        [--gzip-levels 1,6] [--out bench/results/latest.md]

hive: bench/compress_server (built from bench/compress_server.cpp) holds the files in memory and
answers each request through the filter (gzip only). nginx: the same files from disk with
`gzip on; gzip_comp_level N` (peers/nginx-static.conf.in). Each server runs one worker pinned to
CPU 0, wrk -t1 on CPU 1, with `Accept-Encoding: gzip` and without it (the unencoded baseline).
Reported: server CPU µs per request (from requests per server CPU-second, medians over rounds),
µs per KiB of body, and the coding's own cost per KiB = (gzip − identity) / KiB. Before each run
one request checks that the body decodes (python's gzip) to the file. Appends to --out.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import run as harness
import static

# name -> size in bytes (JSON of about that size)
BODIES = {"16k.json": 16 * 1024, "1m.json": 1024 * 1024}


def make_root() -> str:
    root = tempfile.mkdtemp(prefix="hive-bench-compress-")
    os.chmod(root, 0o755)
    for name, size in BODIES.items():
        items, text, i = [], "", 0
        while len(text) < size:
            items.append({"id": i, "title": f"note {i}", "done": i % 3 == 0,
                          "tags": ["work" if i % 2 else "home", f"t{i % 17}"],
                          "text": f"remember item {i * 7919 % 10007} before {2020 + i % 7}-0{1 + i % 9}"})
            i += 1
            if i % 64 == 0:
                text = json.dumps(items)
        text = json.dumps(items)
        path = Path(root) / name
        path.write_text(text)
        path.chmod(0o644)
    return root


def check_gzip(port: int, name: str, want: bytes, coded: bool) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{name}",
                                 headers={"Accept-Encoding": "gzip"} if coded else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        body, enc = r.read(), r.headers.get("Content-Encoding")
    if coded:
        if enc != "gzip":
            raise RuntimeError(f"/{name}: Content-Encoding {enc!r}, not gzip")
        body = gzip.decompress(body)
    elif enc:
        raise RuntimeError(f"/{name}: coded ({enc}) without Accept-Encoding")
    if body != want:
        raise RuntimeError(f"/{name}: the body is not the file")


def spec_for(args, server: str, port: int, root: str, level: int) -> harness.ServerSpec:
    if server == "nginx":
        return static.nginx_spec(port, root, f"gzip on; gzip_comp_level {level}; gzip_min_length 1024; "
                                             "gzip_types application/json text/plain; gzip_vary on;")
    binary = Path(args.build_dir) / "bench" / "compress_server"
    if not binary.is_file():
        raise harness.Unavailable(f"{binary} not found; build with -Dbench=enabled")
    return harness.ServerSpec("hive", [str(binary), "--root", root, "--level", str(level), "--port", str(port),
                                       "--workers", "0"], ready_line="listening on")


def us_per_request(samples) -> float | None:
    pcs = [s.per_core for s in samples if s.per_core]
    return 1e6 / statistics.median(pcs) if pcs else None


def render(args, results, header: list[str]) -> str:
    lines = list(header)
    lines[0] = f"## hive gzip of dynamic bodies vs nginx — {time.strftime('%Y-%m-%d %H:%M:%S')}"
    lines.append("- server CPU µs per request = 1e6 / median(requests per server CPU-second); "
                 "coding per KiB = (µs gzip − µs identity) / body KiB")
    lines += ["", "| body | level | server | µs/request gzip | µs/request identity | coded size "
              "| coding µs per KiB | vs nginx |", "|---|---|---|---|---|---|---|---|"]
    for name, size in BODIES.items():
        kib = size / 1024
        for level in args.levels:
            per_kib = {}
            rows = []
            for server in args.servers:
                cell = results[(name, level, server)]
                g, i = us_per_request(cell["gzip"]), us_per_request(cell["identity"])
                if g is not None and i is not None:
                    per_kib[server] = (g - i) / kib
                rows.append((server, g, i, cell["size"]))
            for server, g, i, coded in rows:
                ratio = (f"{per_kib[server] / per_kib['nginx']:.2f}"
                         if server in per_kib and per_kib.get("nginx") else "–")
                lines.append(f"| {name} | {level} | {server} | {f'{g:.1f}' if g else '–'} "
                             f"| {f'{i:.1f}' if i else '–'} | {coded or '–'} "
                             f"| {f'{per_kib[server]:.2f}' if server in per_kib else '–'} | {ratio} |")
    return "\n".join(lines) + "\n"


def coded_size(port: int, name: str) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{name}", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return len(r.read())


def main(args) -> int:
    args.servers = [s for s in args.servers if s in ("hive", "nginx")] or ["hive", "nginx"]
    args.levels = [int(x) for x in args.gzip_levels.split(",")]
    load1 = os.getloadavg()[0]
    nproc = len(os.sched_getaffinity(0))
    root = make_root()
    logdir = tempfile.mkdtemp(prefix="hive-bench-logs-")
    results = {(n, l, s): {"gzip": [], "identity": [], "size": None}
               for n in BODIES for l in args.levels for s in args.servers}
    try:
        for rnd in range(args.rounds):
            for name in BODIES:
                want = (Path(root) / name).read_bytes()
                for level in args.levels:
                    order = args.servers[rnd % len(args.servers):] + args.servers[:rnd % len(args.servers)]
                    for server in order:
                        cell = results[(name, level, server)]
                        for variant in ("gzip", "identity"):
                            port = harness.free_port()
                            try:
                                spec = spec_for(args, server, port, root, level)
                            except harness.Unavailable as e:
                                harness.log(f"bench: skipping {server}: {e}")
                                break
                            coded = variant == "gzip"

                            def check(p, name=name, want=want, coded=coded, cell=cell):
                                check_gzip(p, name, want, coded)
                                if coded:
                                    cell["size"] = coded_size(p, name)
                            sample = static.measure(args, spec, port, name, logdir,
                                                    headers=["Accept-Encoding: gzip"] if coded else [],
                                                    check=check)
                            if sample is None:
                                continue
                            cell[variant].append(sample)
                            harness.log(f"round {rnd + 1}/{args.rounds} {name:8} level {level} {server:5} "
                                        f"{variant:8}: {harness.fmt_rps(sample.per_core or 0):>7} per core "
                                        f"({1e6 / sample.per_core if sample.per_core else 0:.1f} µs), "
                                        f"cpu {sample.cpu_cores:.2f}")
    except KeyboardInterrupt:
        harness.log("bench: interrupted; reporting what ran")
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    report = render(args, results, harness.machine_header(args, "nginx", nproc, load1))
    print()
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n" + report)
    harness.log(f"bench: appended to {out}")
    return 0
