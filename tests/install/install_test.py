#!/usr/bin/env python3
"""hive used from outside its tree, the three ways README.md shows.

  install_test.py installed  --build-root B --cxx CXX…   `meson install --destdir` of build B, then
      hello.cpp built with `CXX -std=c++20 hello.cpp $(pkg-config --cflags --libs hive)` and,
      when cmake is there, with cmake/CMakeLists.txt (pkg_check_modules); each one is run.
  install_test.py subproject --source-root S             subproject/ copied to a temp directory
      with subprojects/hive a symlink to S, configured with `dependency('hive', fallback: …)`,
      built and run.

A run means: start the program on 127.0.0.1, port 0 (it logs the port it got), ask for / over a
socket, and check the status line and the exact body, then that SIGTERM stops it with status 0.
"""
import argparse
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = b"Hello, world!\n"


def run(cmd, quiet=False, **kwargs):
    """Runs cmd, echoing it, and returns its stdout; on failure prints its output and exits."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    started = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        sys.exit(f"FAIL: exit status {r.returncode}: {cmd[0]}")
    if not quiet:
        print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
    return r.stdout


def read_port(proc, deadline):
    """The port from the program's `hive <pid> listening on 127.0.0.1:PORT` line."""
    seen = b""
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        seen += chunk
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)\n", seen)
        if m:
            return int(m.group(1))
        if ready and not chunk:
            break  # exited
    sys.exit("FAIL: the program did not log 'listening on 127.0.0.1:PORT'; its output:\n"
             + seen.decode(errors="replace"))


def get(port):
    """GET / over a fresh connection: (status line, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        sys.exit(f"FAIL: no complete response head in {data!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def check_hello(exe):
    """Starts exe, checks GET / answers exactly BODY, then that SIGTERM stops it cleanly."""
    proc = subprocess.Popen([exe, "--workers", "0", "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        port = read_port(proc, time.monotonic() + 20)
        status, headers, body = get(port)
        print(f"  GET / on port {port}: {status}, body {body!r}", flush=True)
        if status != "HTTP/1.1 200 OK":
            sys.exit(f"FAIL: status line {status!r}")
        if body != BODY:
            sys.exit(f"FAIL: body {body!r}, expected {BODY!r}")
        if headers.get("content-length") != str(len(BODY)):
            sys.exit(f"FAIL: Content-Length {headers.get('content-length')!r}")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        if code != 0:
            sys.exit(f"FAIL: exit status {code} after SIGTERM; output:\n"
                     + proc.stdout.read().decode(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stage(build_root, tmp):
    """`meson install --destdir` into tmp; returns (destdir, the directory holding hive.pc)."""
    destdir = os.path.join(tmp, "stage")
    run(["meson", "install", "-C", build_root, "--destdir", destdir, "--no-rebuild", "--quiet"])
    pcdirs = [d for d, _, files in os.walk(destdir) if "hive.pc" in files]
    if len(pcdirs) != 1:
        sys.exit(f"FAIL: expected one hive.pc under {destdir}, found {pcdirs}")
    paths = [os.path.relpath(os.path.join(d, f), destdir)
             for d, _, files in os.walk(destdir) for f in files]
    for wanted in ("include/hive/hive.hpp", "libhive.a", "hive.pc"):
        if not any(p.endswith(wanted) for p in paths):
            sys.exit(f"FAIL: {wanted} was not installed; installed: {sorted(paths)}")
    stray = [p for p in paths if p.endswith(".hpp") and "/include/hive/" not in p]
    if stray:
        sys.exit(f"FAIL: headers installed outside include/hive/: {stray}")
    return destdir, pcdirs[0]


def relocate(destdir, pcdir):
    """Points the staged hive.pc at the staging directory, as if hive had been installed there.
    (PKG_CONFIG_SYSROOT_DIR would also prefix nlohmann_json's -I/usr/include, which CMake refuses
    as a path that does not exist.)"""
    pc = os.path.join(pcdir, "hive.pc")
    with open(pc) as f:
        text = f.read()
    m = re.search(r"^prefix=(/.*)$", text, re.MULTILINE)
    if not m:
        sys.exit(f"FAIL: no absolute prefix= line in hive.pc:\n{text}")
    text = text.replace(m.group(0), "prefix=" + destdir + m.group(1), 1)
    with open(pc, "w") as f:
        f.write(text)


def installed(args):
    with tempfile.TemporaryDirectory(prefix="hive-install-") as tmp:
        destdir, pcdir = stage(args.build_root, tmp)
        relocate(destdir, pcdir)
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
        flags = run(["pkg-config", "--cflags", "--libs", "hive"], env=env).split()
        print("  " + " ".join(flags))
        for wanted in ("-DASIO_STANDALONE", "-DASIO_NO_DEPRECATED", "-lhive", "-pthread"):
            if wanted not in flags:
                sys.exit(f"FAIL: {wanted} missing from pkg-config's flags")
        if any(f.startswith("-I") and f.rstrip("/").endswith("/src") for f in flags):
            sys.exit("FAIL: src/ is exported as an include directory")

        exe = os.path.join(tmp, "hello")
        run(args.cxx + ["-std=c++20", os.path.join(HERE, "hello.cpp"), "-o", exe] + flags,
            cwd=tmp)
        check_hello(exe)

        cmake = shutil.which("cmake")
        if cmake is None:
            print("cmake not found: the CMake check (cmake/CMakeLists.txt) is skipped")
            return
        build = os.path.join(tmp, "cmake-build")
        # The compiler hive was built with; a launcher in front of it (ccache) stays in front.
        compiler = shutil.which(args.cxx[-1]) or args.cxx[-1]
        launcher = ";".join(args.cxx[:-1])
        run([cmake, "-S", os.path.join(HERE, "cmake"), "-B", build,
             f"-DCMAKE_CXX_COMPILER={compiler}", f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}"],
            env=env)
        run([cmake, "--build", build], env=env)
        check_hello(os.path.join(build, "hello"))


def subproject(args):
    with tempfile.TemporaryDirectory(prefix="hive-subproject-") as tmp:
        proj = os.path.join(tmp, "user")
        shutil.copytree(os.path.join(HERE, "subproject"), proj)
        shutil.copy(os.path.join(HERE, "hello.cpp"), proj)
        os.mkdir(os.path.join(proj, "subprojects"))
        os.symlink(os.path.abspath(args.source_root), os.path.join(proj, "subprojects", "hive"))
        build = os.path.join(tmp, "build")
        # --force-fallback-for: a hive installed on this machine must not stand in for the
        # subproject. No optimisation and unity blocks: the build compiles hive again.
        run(["meson", "setup", build, proj, "--force-fallback-for=hive", "--buildtype=plain",
             "-Dunity=on", "-Dunity_size=8"])
        targets = json.loads(run(["meson", "introspect", "--targets", build], quiet=True))
        names = {t["name"] for t in targets}
        if names != {"hello", "hive", "llhttp"}:
            sys.exit(f"FAIL: the parent builds {sorted(names)}; hive's tests, examples and "
                     "benches should be off in a subproject")
        hello_args = [a for t in targets if t["name"] == "hello"
                      for src in t["target_sources"] for a in src["parameters"]]
        if any(a.startswith("-I") and "/hive/src" in a for a in hello_args):
            sys.exit("FAIL: hive_dep exports hive's src/ as an include directory")
        run(["ninja", "-C", build])
        check_hello(os.path.join(build, "hello"))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["installed", "subproject"])
    p.add_argument("--build-root")
    p.add_argument("--source-root")
    p.add_argument("--cxx", nargs="+", default=["c++"])
    args = p.parse_args()
    started = time.monotonic()
    {"installed": installed, "subproject": subproject}[args.mode](args)
    print(f"ok ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
