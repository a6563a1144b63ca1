#!/usr/bin/env python3
"""HTTPS against examples/hello over real sockets: handshakes (1.2, 1.3; 1.0/1.1 refused), ALPN,
keep-alive and pipelining, a large body, garbage and plain HTTP on the TLS port, a handshake
that never finishes (header timeout), and the primary's start-up checks on bad files.

The certificates are made here, in a temporary directory, with `openssl req` (the expired one
with Python's `cryptography`): no private key is committed.

  python3 tests/tls/tls_test.py --hello BUILD/examples/hello/hello
"""
import argparse
import datetime
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


def expired_cert(d):
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(1).not_valid_before(now - datetime.timedelta(days=10))
         .not_valid_after(now - datetime.timedelta(days=1)).sign(k, hashes.SHA256()))
    cert, key = os.path.join(d, "expired.crt"), os.path.join(d, "expired.key")
    with open(cert, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    return cert, key


def test_startup_checks(hello, d, cert, key):
    _, other_key = make_cert(d, "other")
    cases = [
        ("a missing certificate", ["--tls-cert", os.path.join(d, "nope.crt"), "--tls-key", key], "nope.crt"),
        ("a missing key", ["--tls-cert", cert, "--tls-key", os.path.join(d, "nope.key")], "nope.key"),
        ("a key that does not match", ["--tls-cert", cert, "--tls-key", other_key], "does not match"),
        ("a certificate without a key", ["--tls-cert", cert], "--tls-key"),
        ("a key file that is not PEM", ["--tls-cert", cert, "--tls-key", hello], hello),
    ]
    exp = expired_cert(d)
    if exp is not None:
        cases.append(("an expired certificate", ["--tls-cert", exp[0], "--tls-key", exp[1]], "expired"))
    else:
        print("skip an expired certificate: python3-cryptography is not installed")
    for workers in ("2", "0"):
        for what, args, says in cases:
            r = subprocess.run([hello, "--port", "0", "--workers", workers] + args,
                               capture_output=True, timeout=20)
            err = r.stderr.decode("latin-1")
            check(r.returncode == 2 and says in err,
                  f"--workers {workers}, {what}: exit 2 naming it (rc {r.returncode}: {err.strip()[:120]})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hello", required=True)
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
            check(srv.alive(), "the server is still running")
        finally:
            srv.stop()
        test_min_version_13(a.hello, cert, key, cert)
        test_ticket_rotation(a.hello, d, cert, key)
        test_cert_reload(a.hello, d)
        test_sni(a.hello, d, cert, key)
        test_startup_checks(a.hello, d, cert, key)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
