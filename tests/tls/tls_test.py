#!/usr/bin/env python3
"""HTTPS against examples/hello over real sockets: handshakes (1.2, 1.3; 1.0/1.1 refused), ALPN,
keep-alive and pipelining, a large body, garbage and plain HTTP on the TLS port, a handshake
that never finishes (header timeout), and the primary's start-up checks on bad files.

The certificates are made here, in a temporary directory, with `openssl req` and `openssl ca`
(which sets any validity dates: expired and not-yet-valid certificates, chains with a wrong
intermediate): no private key is committed.

  python3 tests/tls/tls_test.py --hello BUILD/examples/hello/hello
"""
import argparse
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
HELLO = b"Hello, world!\n"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(d, name, host="localhost"):
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    san = "DNS:localhost,IP:127.0.0.1" if host == "localhost" else "DNS:" + host
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + host,
                    "-addext", "subjectAltName=" + san],
                   check=True, capture_output=True)
    return cert, key


class server:
    def __init__(self, hello, args):
        self.port = free_port()
        self.p = subprocess.Popen([hello, "--host", "127.0.0.1", "--port", str(self.port)] + args,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.lines, self.cv = [], threading.Condition()
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.p.poll() is not None or time.time() > deadline:
                    time.sleep(0.2)
                    raise RuntimeError("hello did not start: " + self.log())
                time.sleep(0.1)

    def _read_log(self):
        for line in self.p.stderr:
            with self.cv:
                self.lines.append(line.decode("latin-1").rstrip())
                self.cv.notify_all()

    def log(self):
        with self.cv:
            return "\n".join(self.lines)

    def wait_for(self, text, count=1, timeout=20):
        """True once `text` has appeared in `count` log lines."""
        with self.cv:
            return self.cv.wait_for(lambda: sum(text in l for l in self.lines) >= count, timeout)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def client_ctx(cafile, version=None, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx, timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_responses(s, count, timeout=5):
    """Reads `count` Content-Length-framed responses; returns their bodies."""
    s.settimeout(timeout)
    buf, bodies = b"", []
    while len(bodies) < count:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            if len(buf) >= head_end + 4 + length:
                assert head.startswith("HTTP/1.1 200"), head
                bodies.append(buf[head_end + 4:head_end + 4 + length])
                buf = buf[head_end + 4 + length:]
                continue
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return bodies


def closed_within(s, seconds):
    """True when the peer closes (EOF, reset or a TLS alert) within `seconds`."""
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(4096):
                return True
    except socket.timeout:
        return False
    except (ConnectionError, ssl.SSLError, OSError):
        return True


def test_handshakes(srv, ca):
    for name, v in (("1.2", ssl.TLSVersion.TLSv1_2), ("1.3", ssl.TLSVersion.TLSv1_3)):
        with tls_connect(srv.port, client_ctx(ca, v, ["http/1.1"])) as s:
            s.sendall(REQUEST)
            check(read_responses(s, 1) == [HELLO], f"TLS {name}: GET / answered")
            check(s.version() == "TLSv" + name, f"TLS {name}: negotiated {s.version()}")
            check(s.selected_alpn_protocol() == "http/1.1", f"TLS {name}: ALPN http/1.1")
            cipher = s.cipher()[0]
            check(any(a in cipher for a in ("GCM", "CHACHA20")), f"TLS {name}: AEAD cipher {cipher}")
            if name == "1.2":
                check(cipher.startswith("ECDHE-"), f"TLS 1.2: forward-secret key exchange {cipher}")
    # No ALPN at all is fine (curl --no-alpn, old clients).
    with tls_connect(srv.port, client_ctx(ca)) as s:
        s.sendall(REQUEST)
        check(read_responses(s, 1) == [HELLO], "no ALPN: GET / answered")


def test_old_versions_refused(srv):
    for flag in ("-tls1", "-tls1_1"):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.port}", flag,
                            "-cipher", "DEFAULT:@SECLEVEL=0"],
                           input=b"", capture_output=True, timeout=10)
        out = (r.stdout + r.stderr).decode("latin-1")
        check(r.returncode != 0 and "protocol version" in out, f"{flag} refused with a protocol_version alert")


def test_alpn_h2_only(srv, ca):
    try:
        with tls_connect(srv.port, client_ctx(ca, alpn=["h2"])) as s:
            s.sendall(REQUEST)
            s.recv(100)
        check(False, "ALPN h2 only: refused")
    except ssl.SSLError as e:
        check("no application protocol" in str(e).lower().replace("_", " "),
              f"ALPN h2 only: no_application_protocol alert ({e})")


def test_keep_alive_and_pipelining(srv, ca):
    with tls_connect(srv.port, client_ctx(ca)) as s:
        ok = True
        for _ in range(5):
            s.sendall(REQUEST)
            ok = ok and read_responses(s, 1) == [HELLO]
        check(ok, "keep-alive: 5 requests on one TLS connection")
        s.sendall(REQUEST * 16)
        check(read_responses(s, 16) == [HELLO] * 16, "pipelining: 16 requests in one write, 16 answers")


def test_large_body(srv, ca):
    body = os.urandom(900 * 1024)
    with tls_connect(srv.port, client_ctx(ca), timeout=20) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.5)  # the answer fills the socket first: writes block and resume
        check(read_responses(s, 1, timeout=20) == [body], "POST /echo 900 KiB echoed over TLS")


def test_linger_over_tls(srv, ca):
    # Too big a body: 413, then the lingering close (close_notify, half-close, the rest dropped).
    with tls_connect(srv.port, client_ctx(ca), timeout=10) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 65536)
        data = b""
        try:
            while True:
                c = s.recv(4096)
                if not c:
                    break
                data += c
        except (ssl.SSLError, OSError):
            pass
        check(data.startswith(b"HTTP/1.1 413"), "over --max-body on TLS: 413 arrives before the close")


def test_curl(srv, ca):
    if shutil.which("curl") is None:
        print("skip curl: not installed")
        return
    for v in ("1.2", "1.3"):
        r = subprocess.run(["curl", "-sS", "--cacert", ca, "--tlsv" + v, "--tls-max", v,
                            "-w", "%{http_version}", f"https://localhost:{srv.port}/"],
                           capture_output=True, timeout=10)
        check(r.returncode == 0 and r.stdout == HELLO + b"1.1", f"curl --tlsv{v}: {r.stdout!r} {r.stderr[:100]!r}")


def s_client(port, ca, version, sess_out=None, sess_in=None, servername="localhost"):
    """One request through `openssl s_client`: (answered, resumed, its output)."""
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version, "-CAfile", ca,
           "-servername", servername, "-ign_eof"]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    if sess_in:
        cmd += ["-sess_in", sess_in]
    req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    r = subprocess.run(cmd, input=req, capture_output=True, timeout=10)
    return (r.returncode == 0 and b"Hello, world!" in r.stdout, b"Reused, " in r.stdout,
            r.stdout.decode("latin-1"))


def test_resumption_across_workers(srv, d, ca):
    # Two workers share the primary's ticket keys: 20 reconnects, whichever worker each reaches,
    # all resume the first session (TLS 1.2 and 1.3 tickets).
    for v in ("-tls1_2", "-tls1_3"):
        sess = os.path.join(d, "sess" + v)
        first_ok, _, _ = s_client(srv.port, ca, v, sess_out=sess)
        reused = 0
        for _ in range(20):
            ok, resumed, _ = s_client(srv.port, ca, v, sess_in=sess)
            reused += ok and resumed
        check(first_ok and reused == 20, f"{v}: 20 reconnects over 2 workers, {reused} resumed")


def test_ticket_rotation(hello, d, cert, key):
    # Keys rotated every 2 s by the primary, read by both workers from shared memory: a ticket
    # resumes under the key that sealed it and, after one rotation, under the previous key;
    # after two it gets a full handshake (and is still served).
    srv = server(hello, ["--workers", "2", "--tls-cert", cert, "--tls-key", key,
                         "--tls-ticket-rotation", "2s"])
    rotated = "session-ticket keys rotated"
    try:
        for v in ("-tls1_2", "-tls1_3"):
            n = sum(rotated in l for l in srv.log().split("\n"))
            check(srv.wait_for(rotated, n + 1, 10), f"{v}: the primary rotates the keys")
            sess = os.path.join(d, "rot" + v)
            ok, _, _ = s_client(srv.port, ca=cert, version=v, sess_out=sess)
            fresh = [s_client(srv.port, cert, v, sess_in=sess) for _ in range(4)]
            check(ok and all(a and r for a, r, _ in fresh), f"{v}: a fresh ticket resumes on both workers")
            srv.wait_for(rotated, n + 2, 10)
            once = [s_client(srv.port, cert, v, sess_in=sess) for _ in range(4)]
            check(all(a and r for a, r, _ in once), f"{v}: after one rotation it still resumes (previous key)")
            srv.wait_for(rotated, n + 3, 10)
            twice = s_client(srv.port, cert, v, sess_in=sess)
            check(twice[0] and not twice[1], f"{v}: after two rotations a full handshake, still served")
    finally:
        srv.stop()


def test_tickets_off(hello, d, cert, key):
    # --tls-tickets off: no ticket is issued, so a reconnect makes a full handshake (and is served).
    srv = server(hello, ["--workers", "2", "--tls-cert", cert, "--tls-key", key, "--tls-tickets", "off"])
    try:
        for v in ("-tls1_2", "-tls1_3"):
            sess = os.path.join(d, "off" + v)
            first = s_client(srv.port, cert, v, sess_out=sess)
            # No ticket and no session id: s_client has nothing to save; if it saved something,
            # offering it back must still end in a full handshake.
            again = [s_client(srv.port, cert, v, sess_in=sess if os.path.exists(sess) else None)
                     for _ in range(3)]
            check(first[0] and (not os.path.exists(sess) or not any(r for _, r, _ in again))
                  and all(a for a, _, _ in again),
                  f"{v}: --tls-tickets off: reconnects are served with full handshakes "
                  f"(session saved: {os.path.exists(sess)})")
    finally:
        srv.stop()


def kernel_has_tls():
    """The kernel's answer, asked as hive asks it: TCP_ULP "tls" on an unconnected socket fails
    with ENOTCONN when the module is there, ENOENT when it is not."""
    import errno
    with socket.socket() as s:
        try:
            s.setsockopt(socket.IPPROTO_TCP, 31, b"tls")  # TCP_ULP
            return True
        except OSError as e:
            return e.errno == errno.ENOTCONN


def test_kernel_tls_files(static_files, d, cert, key):
    # A 1 MiB file over HTTPS, whole and as a range, with kernel TLS where this kernel has it
    # (sendfile) and with it off (read and encrypted in user space); the start-up line says
    # which, and agrees with the kernel.
    import hashlib
    root = os.path.join(d, "static")
    os.makedirs(root, exist_ok=True)
    blob = os.urandom(1 << 20)
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(blob)
    expect = "kernel TLS: on" if kernel_has_tls() else "kernel TLS: unavailable"
    for mode, says in (("auto", expect), ("off", "kernel TLS: off")):
        srv = server(static_files, ["--workers", "2", "--root", root, "--tls-cert", cert,
                                    "--tls-key", key, "--tls-kernel", mode])
        try:
            check(srv.wait_for(says, 1, 10), f"--tls-kernel {mode}: the start-up line says '{says}'")
            for rng, want in ((None, blob), ("bytes=1000-700000", blob[1000:700001])):
                with tls_connect(srv.port, client_ctx(cert)) as t:
                    t.sendall(b"GET /1m.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" +
                              (f"Range: {rng}\r\n".encode() if rng else b"") + b"\r\n")
                    t.settimeout(10)
                    data = b""
                    while True:
                        chunk = t.recv(1 << 16)
                        if not chunk:
                            break
                        data += chunk
                body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
                check(hashlib.sha256(body).digest() == hashlib.sha256(want).digest(),
                      f"--tls-kernel {mode}: {'range ' + rng if rng else '1 MiB file'} over HTTPS arrives whole "
                      f"({len(body)} bytes)")
        finally:
            srv.stop()


def test_garbage(srv, ca):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(os.urandom(2000))
    check(closed_within(s, 3), "random bytes: closed")
    s.close()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05hello-not-a-client-hello")
    check(closed_within(s, 3), "a bad handshake record: closed")
    s.close()
    # A client that vanishes mid-handshake: half a ClientHello, then gone.
    ctx = client_ctx(ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(hello[:len(hello) // 2])
    s.close()
    time.sleep(0.2)
    with tls_connect(srv.port, client_ctx(ca)) as t:
        t.sendall(REQUEST)
        check(read_responses(t, 1) == [HELLO] and srv.alive(), "after garbage and vanished clients: still serving")


def test_random_records(srv, ca):
    # Well-formed record headers (each content type, each version) around random bodies, before
    # and after a real ClientHello: every one ends in an alert or a close, none stalls or crashes.
    import random
    rng = random.Random(11)
    ctx = client_ctx(ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    stuck = 0
    for i in range(60):
        ctype = rng.choice([20, 21, 22, 23, 24, rng.randrange(256)])
        body = os.urandom(rng.randrange(0, 600))
        record = bytes([ctype, 3, rng.choice([0, 1, 3, 4])]) + len(body).to_bytes(2, "big") + body
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall((hello if i % 2 else b"") + record * rng.randrange(1, 4))
        if not closed_within(s, 3):
            stuck += 1
        s.close()
    check(stuck == 0, f"60 connections of random TLS records: all closed ({stuck} left open)")
    check(srv.alive(), "random TLS records: the server is still running")


def test_plain_http(srv):
    # Every method, not only those OpenSSL recognises (GET, POST, HEAD, PUT), and a body.
    for method in ("GET", "DELETE", "OPTIONS", "PATCH", "POST"):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        body = b"x" * 3000 if method == "POST" else b""
        s.sendall(method.encode() + b" / HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        s.settimeout(5)
        try:
            while True:
                c = s.recv(4096)
                if not c:
                    break
                data += c
        except OSError:
            pass
        s.close()
        check(data.startswith(b"HTTP/1.1 400") and b"HTTPS" in data,
              f"plain {method} on the TLS port: plain 400 and close ({data[:30]!r})")


def test_slow_handshake(srv, header_timeout_s):
    # Connected, a partial ClientHello, then nothing: the header timeout closes it.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"\x16\x03\x01")
    t0 = time.time()
    closed = closed_within(s, header_timeout_s + 3)
    took = time.time() - t0
    s.close()
    check(closed and header_timeout_s * 0.8 <= took <= header_timeout_s + 2.5,
          f"stalled handshake closed at the header timeout ({took:.2f}s for {header_timeout_s}s)")


def test_slow_tls_client(srv, ca, header_timeout_s):
    # Slowloris over TLS: the handshake done, then the request head a byte every 0.2 s, each in
    # its own record. The header timeout still applies: a 408 inside TLS, then the close; a
    # normal client is served meanwhile.
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200
    t = tls_connect(srv.port, client_ctx(ca))
    t.settimeout(0.2)
    data, closed, t0 = b"", False, time.time()
    for i in range(len(head)):
        try:
            t.sendall(head[i:i + 1])
        except OSError:
            closed = True
            break
        try:
            chunk = t.recv(4096)
            data += chunk
            if not chunk:
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
        if time.time() - t0 > header_timeout_s + 4:
            break
        if i == 2:
            with tls_connect(srv.port, client_ctx(ca)) as other:
                other.sendall(REQUEST)
                check(read_responses(other, 1) == [HELLO], "a normal client is served beside a slow TLS client")
    took = time.time() - t0
    if not closed:
        closed = closed_within(t, 3)
    t.close()
    check(data.startswith(b"HTTP/1.1 408") and closed and header_timeout_s * 0.8 <= took <= header_timeout_s + 3,
          f"a slow TLS client gets 408 and a close at the header timeout ({took:.2f}s for {header_timeout_s}s; {data[:20]!r})")


def test_min_version_13(hello, cert, key, ca):
    srv = server(hello, ["--workers", "0", "--tls-cert", cert, "--tls-key", key, "--tls-min-version", "1.3"])
    try:
        try:
            with tls_connect(srv.port, client_ctx(ca, ssl.TLSVersion.TLSv1_2)) as s:
                s.sendall(REQUEST)
                s.recv(10)
            check(False, "--tls-min-version 1.3: a 1.2 client is refused")
        except ssl.SSLError as e:
            check("PROTOCOL_VERSION" in str(e).upper() or "VERSION" in str(e).upper(),
                  f"--tls-min-version 1.3: a 1.2 client is refused ({e.reason})")
        with tls_connect(srv.port, client_ctx(ca, ssl.TLSVersion.TLSv1_3)) as s:
            s.sendall(REQUEST)
            check(read_responses(s, 1) == [HELLO], "--tls-min-version 1.3: a 1.3 client is served")
    finally:
        srv.stop()


def test_sni(hello, d, cert, key):
    # Certificates chosen by the client's server name: exact, one-label wildcard, else the default.
    a_cert, a_key = make_cert(d, "a", "a.test")
    w_cert, w_key = make_cert(d, "w", "*.b.test")
    ca = os.path.join(d, "sni-ca.pem")
    with open(ca, "w") as f:
        f.write("".join(open(p).read() for p in (cert, a_cert, w_cert)))
    srv = server(hello, ["--workers", "2", "--tls-cert", cert, "--tls-key", key,
                         "--tls-cert", "a.test=" + a_cert, "--tls-key", "A.test=" + a_key,
                         "--tls-cert", "*.b.test=" + w_cert, "--tls-key", "*.b.test=" + w_key])
    try:
        for name, want in (("a.test", a_cert), ("A.TEST", a_cert), ("x.b.test", w_cert),
                           ("localhost", cert), ("x.y.b.test", cert), ("b.test", cert), (None, cert)):
            ctx = client_ctx(ca)
            ctx.check_hostname = False  # the certificate is compared below, byte for byte
            raw = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                got = s.getpeercert(binary_form=True)
                s.sendall(REQUEST)
                served = read_responses(s, 1) == [HELLO]
            check(got == der_of(want) and served, f"SNI {name!r}: {os.path.basename(want)} served")
        ctx = client_ctx(ca)  # with hostname checks: the name's own certificate verifies
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), timeout=5),
                             server_hostname="x.b.test") as s:
            check(s.version() is not None, "SNI: a verifying client accepts the wildcard certificate")
        ok, resumed, _ = s_client(srv.port, ca, "-tls1_3", sess_out=os.path.join(d, "sni.sess"),
                                  servername="a.test")
        again = s_client(srv.port, ca, "-tls1_3", sess_in=os.path.join(d, "sni.sess"), servername="a.test")
        check(ok and again[0] and again[1], "SNI: a session for a.test resumes")
    finally:
        srv.stop()
    for what, args, says in (
            ("an SNI name without its key", ["--tls-cert", "a.test=" + a_cert], "a.test=FILE is missing"),
            ("an SNI key that does not match", ["--tls-cert", "a.test=" + a_cert, "--tls-key", "a.test=" + key],
             "does not match"),
            ("a bad SNI name", ["--tls-cert", "a..test=" + a_cert], "not a host name")):
        r = subprocess.run([hello, "--port", "0", "--workers", "2", "--tls-cert", cert, "--tls-key", key] + args,
                           capture_output=True, timeout=20)
        err = r.stderr.decode("latin-1")
        check(r.returncode == 2 and says in err, f"{what}: exit 2 naming it ({err.strip()[:120]})")


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_cert(port, ctx):
    with tls_connect(port, ctx) as s:
        return s.getpeercert(binary_form=True)


def test_cert_reload(hello, d):
    # SIGHUP with new files: the primary checks them, the rolling reload's new workers load them,
    # and clients under load see no error. Bad files refuse the reload; the old certificate stays.
    old_cert, old_key = make_cert(d, "old")
    new_cert, new_key = make_cert(d, "new")
    _, wrong_key = make_cert(d, "wrong")
    live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
    shutil.copy(old_cert, live_cert)
    shutil.copy(old_key, live_key)
    both = os.path.join(d, "both.pem")
    with open(both, "w") as f:
        f.write(open(old_cert).read() + open(new_cert).read())
    ctx = client_ctx(both)
    srv = server(hello, ["--workers", "2", "--tls-cert", live_cert, "--tls-key", live_key])
    stop, counts, lock = threading.Event(), {"ok": 0, "failed": 0, "errors": []}, threading.Lock()

    def count(ok, why=""):
        with lock:
            counts["ok" if ok else "failed"] += 1
            if not ok and len(counts["errors"]) < 3:
                counts["errors"].append(why)

    def fresh_connections():
        req = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        while not stop.is_set():
            try:
                with tls_connect(srv.port, ctx) as s:
                    s.sendall(req)
                    count(read_responses(s, 1) == [HELLO], "short answer")
            except Exception as e:  # noqa: BLE001 - any failure counts
                count(False, repr(e))

    def keep_alive():
        s = None
        while not stop.is_set():
            try:
                if s is None:
                    s = tls_connect(srv.port, ctx)
                s.sendall(REQUEST)
                s.settimeout(5)
                buf = b""
                while b"\r\n\r\n" not in buf or not buf.endswith(HELLO):
                    chunk = s.recv(4096)
                    if not chunk:
                        raise ConnectionError("closed before the answer")
                    buf += chunk
                count(buf.startswith(b"HTTP/1.1 200"), buf[:40])
                if b"\r\nConnection: close\r\n" in buf:  # a draining worker says so, then closes
                    s.close()
                    s = None
            except Exception as e:  # noqa: BLE001
                count(False, repr(e))
                s = None
        if s is not None:
            s.close()

    try:
        check(served_cert(srv.port, ctx) == der_of(old_cert), "reload: the old certificate is served first")
        threads = [threading.Thread(target=f) for f in (fresh_connections, fresh_connections, keep_alive)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        shutil.copy(new_cert, live_cert)
        shutil.copy(new_key, live_key)
        srv.p.send_signal(signal.SIGHUP)
        done = srv.wait_for("reload done", 1, 30)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        check(done, "reload: the rolling reload finishes")
        check(counts["failed"] == 0 and counts["ok"] > 50,
              f"reload under HTTPS load: {counts['ok']} ok, {counts['failed']} failed {counts['errors']}")
        check(all(served_cert(srv.port, ctx) == der_of(new_cert) for _ in range(6)),
              "reload: every worker serves the new certificate afterwards")
        shutil.copy(wrong_key, live_key)  # a key that does not match: refused before any fork
        srv.p.send_signal(signal.SIGHUP)
        check(srv.wait_for("reload refused", 1, 10) and "does not match" in srv.log(),
              "reload with a mismatched key is refused, saying why")
        check(srv.alive() and all(served_cert(srv.port, ctx) == der_of(new_cert) for _ in range(6)),
              "after a refused reload the workers keep serving the certificate they have")
    finally:
        stop.set()
        srv.stop()


CA_CONF = """[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_leaf]
basicConstraints = CA:false
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def openssl_ca(d, name, cn, issuer=None, ca=False, start=None, end=None):
    """A certificate for `cn` signed by `issuer` ((cert, key); None: self-signed), with `openssl
    ca` so that the dates can be set (`-startdate`/`-enddate`: an expired certificate without
    faking the clock). Returns (cert, key)."""
    work = os.path.join(d, "ca-" + name)
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "ca.cnf"), "w") as f:
        f.write(CA_CONF)
    open(os.path.join(work, "index.txt"), "w").close()
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("%02X\n" % (abs(hash(name)) % 200 + 16))
    cert, key, csr = (os.path.join(d, name + s) for s in (".crt", ".key", ".csr"))
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", "/CN=" + cn] +
                   ([] if ca else ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]),
                   check=True, capture_output=True)
    cmd = ["openssl", "ca", "-batch", "-notext", "-config", "ca.cnf", "-in", csr, "-out", cert,
           "-extensions", "v3_ca" if ca else "v3_leaf",
           "-startdate", start or "20240101000000Z", "-enddate", end or "20491231000000Z"]
    cmd += ["-selfsign", "-keyfile", key] if issuer is None else ["-cert", issuer[0], "-keyfile", issuer[1]]
    subprocess.run(cmd, check=True, capture_output=True, cwd=work)
    return cert, key


def concat(d, name, *files):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        for x in files:
            f.write(open(x).read())
    return path


def chain_files(d):
    """A root, two intermediates under it, and a leaf under the first: the good chain file, a
    chain file with the wrong intermediate, and a chain file in the wrong order."""
    root = openssl_ca(d, "root", "Test Root", ca=True)
    inter = openssl_ca(d, "inter", "Test Intermediate", issuer=root, ca=True)
    other = openssl_ca(d, "other-inter", "Other Intermediate", issuer=root, ca=True)
    leaf = openssl_ca(d, "leaf", "localhost", issuer=inter)
    old_ca = openssl_ca(d, "old-ca", "Old Root", ca=True, start="20200101000000Z", end="20210101000000Z")
    return {
        "root": root[0], "key": leaf[1],
        "good": concat(d, "good-chain.pem", leaf[0], inter[0]),
        "good_with_root": concat(d, "good-chain-root.pem", leaf[0], inter[0], root[0]),
        "wrong_intermediate": concat(d, "wrong-chain.pem", leaf[0], other[0]),
        "wrong_order": concat(d, "order-chain.pem", inter[0], leaf[0]),
        # What clients tolerate (RFC 8446 §4.4.2) and the checks must too: the root before the
        # intermediate, and a spare CA certificate past its dates at the end (as Let's Encrypt's
        # expired DST cross-sign was).
        "root_first": concat(d, "root-first-chain.pem", leaf[0], root[0], inter[0]),
        "spare_expired": concat(d, "spare-expired-chain.pem", leaf[0], inter[0], old_ca[0]),
    }


def test_good_chain(hello, chains):
    # The checks refuse nothing a client accepts: leaf + intermediate (+ root) start and verify
    # against the root alone.
    for what in ("good", "good_with_root", "root_first", "spare_expired"):
        srv = server(hello, ["--workers", "0", "--tls-cert", chains[what], "--tls-key", chains["key"]])
        try:
            with tls_connect(srv.port, client_ctx(chains["root"])) as t:
                t.sendall(REQUEST)
                check(read_responses(t, 1) == [HELLO], f"a {what} chain file starts and verifies against the root")
        finally:
            srv.stop()


def bad_files(d, chains):
    """(what, --tls-cert, --tls-key, what the message must say): files the checks refuse."""
    expired = openssl_ca(d, "expired", "localhost", start="20200101000000Z", end="20200201000000Z")
    future = openssl_ca(d, "future", "localhost", start="20480101000000Z", end="20490101000000Z")
    return [
        ("an expired certificate", expired[0], expired[1], "has expired"),
        ("a certificate not valid yet", future[0], future[1], "not valid yet"),
        ("a chain with the wrong intermediate", chains["wrong_intermediate"], chains["key"],
         "did not issue the certificate (/CN=localhost)"),
        ("a chain with the intermediate first", chains["wrong_order"], chains["key"], "does not match"),
    ]


def test_startup_checks(hello, d, cert, key, chains):
    _, other_key = make_cert(d, "other")
    nope_crt, nope_key = os.path.join(d, "nope.crt"), os.path.join(d, "nope.key")
    # (what, flags, what the message says, the file it must name)
    cases = [
        ("a missing certificate", ["--tls-cert", nope_crt, "--tls-key", key], "cannot read", nope_crt),
        ("a missing key", ["--tls-cert", cert, "--tls-key", nope_key], "cannot read", nope_key),
        ("a key that does not match", ["--tls-cert", cert, "--tls-key", other_key], "does not match", other_key),
        ("a certificate without a key", ["--tls-cert", cert], "--tls-key", None),
        ("a key file that is not PEM", ["--tls-cert", cert, "--tls-key", hello], "not a PEM", hello),
    ]
    for what, c, k, says in bad_files(d, chains):
        cases.append((what, ["--tls-cert", c, "--tls-key", k], says, c if says != "does not match" else k))
    for workers in ("2", "0"):
        for what, args, says, names in cases:
            r = subprocess.run([hello, "--port", "0", "--workers", workers] + args,
                               capture_output=True, timeout=20)
            err = r.stderr.decode("latin-1")
            check(r.returncode == 2 and says in err and (names is None or names in err),
                  f"--workers {workers}, {what}: exit 2 naming the file and the problem "
                  f"(rc {r.returncode}: {err.strip()[:160]})")


def test_reload_refuses_bad_files(hello, d, cert, key, chains):
    # Each bad pair copied over the live files, then SIGHUP: refused with the reason, and the
    # workers keep the certificate they have.
    live_cert, live_key = os.path.join(d, "live2.crt"), os.path.join(d, "live2.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    srv = server(hello, ["--workers", "2", "--tls-cert", live_cert, "--tls-key", live_key])
    ctx = client_ctx(cert)
    try:
        for n, (what, c, k, says) in enumerate(bad_files(d, chains), start=1):
            shutil.copy(c, live_cert)
            shutil.copy(k, live_key)
            srv.p.send_signal(signal.SIGHUP)
            refused = srv.wait_for("reload refused", n, 15)
            last = [l for l in srv.log().split("\n") if "reload refused" in l][-1:] or [""]
            check(refused and says in last[0] and "live2.crt" in last[0] + srv.log(),
                  f"reload with {what} is refused, saying why ({last[0].strip()[:150]})")
        check(srv.alive() and all(served_cert(srv.port, ctx) == der_of(cert) for _ in range(4)),
              "after the refused reloads the workers serve the certificate they had")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hello", required=True)
    ap.add_argument("--static-files", help="examples/static-files: files over HTTPS, kernel TLS")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d, "server")
        header_timeout_s = 1
        srv = server(a.hello, ["--workers", "2", "--tls-cert", cert, "--tls-key", key,
                               "--header-timeout", f"{header_timeout_s}s"])
        try:
            test_handshakes(srv, cert)
            test_old_versions_refused(srv)
            test_alpn_h2_only(srv, cert)
            test_keep_alive_and_pipelining(srv, cert)
            test_large_body(srv, cert)
            test_linger_over_tls(srv, cert)
            test_curl(srv, cert)
            test_resumption_across_workers(srv, d, cert)
            test_garbage(srv, cert)
            test_random_records(srv, cert)
            test_plain_http(srv)
            test_slow_handshake(srv, header_timeout_s)
            test_slow_tls_client(srv, cert, header_timeout_s)
            check(srv.alive(), "the server is still running")
        finally:
            srv.stop()
        test_min_version_13(a.hello, cert, key, cert)
        test_ticket_rotation(a.hello, d, cert, key)
        test_tickets_off(a.hello, d, cert, key)
        if a.static_files:
            test_kernel_tls_files(a.static_files, d, cert, key)
        test_cert_reload(a.hello, d)
        test_sni(a.hello, d, cert, key)
        chains = chain_files(d)
        test_good_chain(a.hello, chains)
        test_startup_checks(a.hello, d, cert, key, chains)
        test_reload_refuses_bad_files(a.hello, d, cert, key, chains)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
