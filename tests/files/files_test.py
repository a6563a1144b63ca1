#!/usr/bin/env python3
"""Streamed uploads, file downloads and static files over real sockets.

  files_test.py --streaming PATH --static PATH [--upload-mib N] [--only upload]

Uploads N MiB (default 32) with Content-Length and chunked to examples/streaming while watching
the process's RSS (must grow by less than 8 MiB) and checks the bytes on disk; bench/README.md
runs it with --upload-mib 1024 for the 1 GiB figure. The rest checks every Range and conditional
form, the traversal attempts and the early answers.
"""
import argparse, hashlib, os, re, socket, subprocess, sys, tempfile, threading, time

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.025)
    proc.kill()
    raise SystemExit("server did not start: " + " ".join(cmd))


def read_response(sock, head_request=False):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status == 100:
        return (100, headers, rest)
    n = int(headers.get("content-length", "0"))
    if head_request or status in (204, 304):
        n = 0
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return (status, headers, rest[:n])


def request(port, raw, head_request=False):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        return read_response(s, head_request)


def get(port, path, headers=(), method="GET"):
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    raw = f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n".encode("latin-1")
    return request(port, raw, head_request=method == "HEAD")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def upload(port, pid, name, mib, chunked):
    """PUT mib MiB; returns (status, body, peak RSS growth in KiB, sha256 sent)."""
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    base = rss_kib(pid)
    peak = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {mib << 20}"
        s.sendall(f"PUT /files/{name} HTTP/1.1\r\nHost: t\r\n{framing}\r\n\r\n".encode())
        for i in range(mib):
            piece = bytes([i & 0xFF]) + block[1:]
            digest.update(piece)
            if chunked:
                s.sendall(b"100000\r\n" + piece + b"\r\n")
            else:
                s.sendall(piece)
        if chunked:
            s.sendall(b"0\r\n\r\n")
        status, _, body = read_response(s)
    done.set()
    watcher.join()
    peak[0] = max(peak[0], rss_kib(pid))
    return status, body, peak[0] - base, digest.hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def test_uploads(exe, mib):
    d = tempfile.mkdtemp()
    port = free_port()
    proc = start([exe, "--dir", d, "--port", str(port), "--workers", "0"], port)
    try:
        upload(port, proc.pid, "warm", 2, False)  # the worker's pools and buffers at their size
        for chunked in (False, True):
            name = "big-chunked" if chunked else "big-sized"
            status, body, growth, sent = upload(port, proc.pid, name, mib, chunked)
            kind = "chunked" if chunked else "Content-Length"
            print(f"upload {mib} MiB {kind}: {status} {body!r}, RSS growth {growth} KiB", flush=True)
            check(status == 201 and body.strip() == str(mib << 20).encode(), f"{kind} upload answered {status} {body!r}")
            check(growth < 8 * 1024, f"{kind} upload grew RSS by {growth} KiB (limit 8 MiB)")
            check(os.path.getsize(os.path.join(d, name)) == mib << 20, f"{kind} upload size on disk")
            check(file_sha(os.path.join(d, name)) == sent, f"{kind} upload bytes on disk differ")
    finally:
        proc.kill()
        proc.wait()
    return d


def test_streaming_rules(exe):
    d = tempfile.mkdtemp()
    port = free_port()
    proc = start([exe, "--dir", d, "--port", str(port), "--workers", "0", "--max-upload", "1000"], port)
    try:
        # Names: '/', '..', a leading dot → 400, answered before the body is invited.
        for name in ("..", ".hidden", "a%2Fb", "x..y"):
            r = request(port, f"PUT /files/{name} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode())
            check(r and r[0] == 400, f"PUT /files/{name} → {r and r[0]} (want 400 without 100 Continue)")
        # 100 Continue only once the handler asked for the body, then 201.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"PUT /files/small HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            first = read_response(s)
            check(first and first[0] == 100, f"Expect: 100-continue → {first and first[0]} (want 100)")
            s.sendall(b"hello")
            r = read_response(s)
            check(r and r[0] == 201 and r[2].strip() == b"5", f"small upload → {r}")
        # Over --max-upload: 413, by Content-Length at the head and by counting a chunked body.
        r = request(port, b"PUT /files/big HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)
        check(r and r[0] == 413, f"Content-Length over max-upload → {r and r[0]}")
        r = request(port, b"PUT /files/big2 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"100\r\n" + b"y" * 256 + b"\r\n") * 5 + b"0\r\n\r\n")
        check(r and r[0] == 413, f"chunked over max-upload → {r and r[0]}")
        check(not os.path.exists(os.path.join(d, "big2")), "a refused upload left its file")
        # A client that goes away mid-body leaves no file; the worker goes on.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"PUT /files/cut HTTP/1.1\r\nHost: t\r\nContent-Length: 900\r\n\r\n" + b"z" * 100)
        time.sleep(0.1)
        check(not os.path.exists(os.path.join(d, "cut")), "a cut upload left its file")
        r = get(port, "/files/small")
        check(r and r[0] == 200 and r[2] == b"hello", f"GET the uploaded file → {r and r[0]}")
        # An uploaded page comes back as a download, never rendered on this origin (stored XSS).
        page = b"<script>alert(document.cookie)</script>"
        r = request(port, b"PUT /files/x.html HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
        check(r and r[0] == 201, f"PUT x.html → {r and r[0]}")
        s_, h, b = get(port, "/files/x.html")
        check(s_ == 200 and b == page and h.get("content-disposition") == "attachment"
              and h.get("x-content-type-options") == "nosniff", f"GET x.html → {s_} {h}")
        s_, h, b = get(port, "/files/x.html", [("Range", "bytes=8-13")])
        check(s_ == 206 and b == page[8:14] and "etag" in h, f"GET x.html with Range → {s_}")
        # Events: ticks with increasing ids, resumed after Last-Event-ID.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 41\r\n\r\n")
            got = b""
            deadline = time.time() + 3
            while got.count(b"data: tick") < 2 and time.time() < deadline:
                got += s.recv(4096)
            check(b"id: 42\ndata: tick 42\n" in got and b"id: 43\ndata: tick 43\n" in got, f"events after Last-Event-ID 41: {got[-200:]!r}")
            r = get(port, "/broadcast", method="POST") if False else request(
                port, b"POST /broadcast HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhowdy")
            check(r and r[0] == 202, f"POST /broadcast → {r and r[0]}")
            deadline = time.time() + 3
            while b"data: howdy" not in got and time.time() < deadline:
                got += s.recv(4096)
            check(b"event: broadcast\ndata: howdy\n" in got, "the broadcast reached the /events client")
    finally:
        proc.kill()
        proc.wait()


def multipart_body(boundary, parts):
    """parts: (name, filename or None, data) → the body of a multipart/form-data request."""
    out = b"ignored preamble\r\n"
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def post_form(port, boundary, body, pieces=1):
    """POST /form with body sent in `pieces` writes; (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        step = max(1, len(body) // pieces)
        for at in range(0, len(body), step):
            s.sendall(body[at:at + step])
            if pieces > 1:
                time.sleep(0.001)
        return read_response(s)


def test_form(exe):
    """POST /form of examples/streaming: multipart/form-data over a real socket, files streamed to DIR."""
    import json
    d = tempfile.mkdtemp()
    port = free_port()
    proc = start([exe, "--dir", d, "--port", str(port), "--workers", "0"], port)
    try:
        big = os.urandom(3 << 20) + b"\r\n--bound\r\n--boundar"  # near-misses of the delimiter
        body = multipart_body("boundary", [("title", None, b"two files"), ("a", "a.bin", big), ("b", "b.txt", b"")])
        status, _, out = post_form(port, "boundary", body, pieces=97)
        check(status == 201, f"POST /form → {status} {out[:200]!r}")
        if status == 201:
            j = json.loads(out)
            check(j["fields"] == {"title": "two files"}, f"form fields: {j}")
            check(j["files"] == [{"field": "a", "name": "a.bin", "bytes": len(big)}, {"field": "b", "name": "b.txt", "bytes": 0}], f"form files: {j}")
        check(open(os.path.join(d, "a.bin"), "rb").read() == big, "a.bin on disk equals what was sent")
        s_, h, b = get(port, "/files/a.bin", [("Range", "bytes=0-9")])
        check(s_ == 206 and b == big[:10], f"GET the form's file with Range → {s_}")
        # Bad forms: 400 (malformed, unfinished, a file name with '/'), 415, and nothing left behind.
        check(post_form(port, "boundary", body[:-4])[0] == 400, "a form without its close delimiter → 400")
        check(post_form(port, "boundary", b"--boundaryX\r\n" + body)[0] == 400, "text after a boundary → 400")
        check(post_form(port, "boundary", multipart_body("boundary", [("f", "../up", b"x")]))[0] == 400, "a file name with '/' → 400")
        r = request(port, b"POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx")
        check(r and r[0] == 415, f"POST /form as text/plain → {r and r[0]}")
        left = sorted(n for n in os.listdir(d) if n.startswith("."))
        check(left == [], f"temporary files left behind: {left}")
    finally:
        proc.kill()
        proc.wait()


def open_events(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
    got = b""
    deadline = time.time() + 5
    while b"data: tick 2" not in got and time.time() < deadline:
        got += s.recv(4096)
    return s, got


def read_to_close(s, timeout):
    """Everything until the server closes; (bytes, seconds it took, closed)."""
    t0 = time.time()
    got = b""
    s.settimeout(0.2)
    while time.time() - t0 < timeout:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            return got, time.time() - t0, True
        got += chunk
    return got, time.time() - t0, False


def test_streams_stop_reload(exe):
    """Event streams across a rolling reload (SIGHUP) and a graceful stop (SIGTERM) with 2 workers:
    each ends with the last chunk, then the close, long before --shutdown-timeout (30 s)."""
    import signal
    d = tempfile.mkdtemp()
    port = free_port()
    proc = start([exe, "--dir", d, "--port", str(port), "--workers", "2", "--shutdown-timeout", "30s"], port)
    try:
        streams = [open_events(port) for _ in range(6)]
        check(all(b"data: tick 2" in got for _, got in streams), "every /events stream ticks")
        proc.send_signal(signal.SIGHUP)
        for s, before in streams:
            got, took, closed = read_to_close(s, 15)
            got = before + got
            check(closed and got.endswith(b"\r\n0\r\n\r\n"), f"reload: the stream ended with the last chunk, then closed ({closed}, {got[-40:]!r})")
            check(took < 10, f"reload: the stream ended {took:.1f} s after SIGHUP (shutdown timeout 30 s)")
            s.close()
        # The new workers stream, then a graceful stop ends them the same way, and the primary exits 0.
        streams = [open_events(port) for _ in range(4)]
        check(all(b"data: tick 2" in got for _, got in streams), "after the reload /events streams tick")
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        for s, before in streams:
            got, took, closed = read_to_close(s, 15)
            got = before + got
            check(closed and got.endswith(b"\r\n0\r\n\r\n"), f"SIGTERM: the stream ended with the last chunk, then closed ({closed}, {got[-40:]!r})")
            s.close()
        code = proc.wait(timeout=20)
        took = time.time() - t0
        print(f"streams: SIGTERM to exit {took:.1f} s", flush=True)
        check(code == 0 and took < 10, f"SIGTERM with open streams: exit {code} after {took:.1f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_static(exe, workers):
    print(f"-- static files, --workers {workers}")
    root = tempfile.mkdtemp()
    outside = tempfile.mkdtemp()
    body = bytes(range(256)) * 40  # 10240 bytes
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(body)
    # An hour old: a file modified this very second is sent with Last-Modified clamped to the
    # second before now, which moves on the next second and would turn the conditionals below
    # into a race with the clock (a fresh file's clamp has its own test).
    hour_ago = time.time() - 3600
    os.utime(os.path.join(root, "f.bin"), (hour_ago, hour_ago))
    with open(os.path.join(root, "app.js"), "w") as f:
        f.write("console.log(1)\n")
    with open(os.path.join(root, "app.js.gz"), "wb") as f:
        f.write(b"GZ")
    with open(os.path.join(root, "app.js.br"), "wb") as f:
        f.write(b"BR")
    os.mkdir(os.path.join(root, "dir"))
    with open(os.path.join(root, "dir", "index.html"), "w") as f:
        f.write("<p>index</p>")
    os.mkdir(os.path.join(root, "empty"))
    with open(os.path.join(root, ".env"), "w") as f:
        f.write("SECRET=1")
    with open(os.path.join(outside, "secret"), "w") as f:
        f.write("secret")
    os.symlink(os.path.join(outside, "secret"), os.path.join(root, "escape"))
    os.symlink("../" + os.path.basename(outside) + "/secret", os.path.join(root, "escape-rel"))
    os.symlink("f.bin", os.path.join(root, "inside"))
    port = free_port()
    # With workers the mount's root is opened in each of them: one opened before the fork would
    # be closed there and its number reused.
    proc = start([exe, "--root", root, "--port", str(port), "--workers", workers], port)
    try:
        s, h, b = get(port, "/f.bin")
        check(s == 200 and b == body, f"GET /f.bin → {s}, {len(b)} bytes")
        check(h.get("accept-ranges") == "bytes" and h.get("etag", "").startswith('"') and "last-modified" in h, f"validators: {h}")
        check(h.get("content-type") == "application/octet-stream", f"type of .bin: {h.get('content-type')}")
        check(h.get("cache-control") == "public, max-age=60", "Cache-Control of the mount")
        etag, lm = h["etag"], h["last-modified"]
        s, h, b = get(port, "/f.bin", method="HEAD")
        check(s == 200 and h.get("content-length") == str(len(body)), f"HEAD → {s} {h.get('content-length')}")
        s, h, _ = get(port, "/app.js")
        check(h.get("content-type") == "text/javascript; charset=utf-8", f"type of .js: {h.get('content-type')}")
        # Conditionals (RFC 9110 §13.2.2 order).
        cases = [
            ([("If-None-Match", etag)], 304),
            ([("If-None-Match", '"other", ' + etag)], 304),
            ([("If-None-Match", "W/" + etag)], 304),  # weak comparison
            ([("If-None-Match", "*")], 304),
            ([("If-None-Match", '"other"')], 200),
            ([("If-Modified-Since", lm)], 304),
            ([("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")], 200),
            ([("If-Modified-Since", "garbage")], 200),
            ([("If-None-Match", '"other"'), ("If-Modified-Since", lm)], 200),  # INM wins over IMS
            ([("If-Match", etag)], 200),
            ([("If-Match", '"other"')], 412),
            ([("If-Match", "W/" + etag)], 412),  # strong comparison
            ([("If-Match", "*")], 200),
            ([("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")], 412),
            ([("If-Unmodified-Since", lm)], 200),
            ([("If-Match", etag), ("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")], 200),  # IM wins
        ]
        for headers, want in cases:
            s, h, _ = get(port, "/f.bin", headers)
            check(s == want, f"{headers} → {s}, want {want}")
            if want == 304:
                check(h.get("etag") == etag, "a 304 carries the ETag")
        # Ranges.
        n = len(body)
        for spec, want, first, last in [
            ("bytes=0-99", 206, 0, 99), ("bytes=100-", 206, 100, n - 1), ("bytes=-100", 206, n - 100, n - 1),
            ("bytes=10-99999", 206, 10, n - 1), ("bytes=-99999", 206, 0, n - 1), ("bytes=5-5", 206, 5, 5),
        ]:
            s, h, b = get(port, "/f.bin", [("Range", spec)])
            check(s == want and b == body[first:last + 1] and h.get("content-range") == f"bytes {first}-{last}/{n}",
                  f"Range {spec} → {s} {h.get('content-range')}")
        for spec in ("bytes=99999-", "bytes=-0", f"bytes={n}-"):
            s, h, _ = get(port, "/f.bin", [("Range", spec)])
            check(s == 416 and h.get("content-range") == f"bytes */{n}", f"Range {spec} → {s} {h.get('content-range')}")
        for spec in ("bytes=5-1", "bytes=abc", "items=0-5", "bytes=", "bytes=0-1,4-5"):
            s, _, b = get(port, "/f.bin", [("Range", spec)])
            check(s == 200 and b == body, f"Range {spec} → {s} (want the whole file)")
        s, _, b = get(port, "/f.bin", [("Range", "bytes=0-9"), ("If-Range", etag)])
        check(s == 206 and len(b) == 10, f"If-Range with our ETag → {s}")
        s, _, b = get(port, "/f.bin", [("Range", "bytes=0-9"), ("If-Range", '"old"')])
        check(s == 200 and b == body, f"If-Range with another ETag → {s}")
        s, _, b = get(port, "/f.bin", [("Range", "bytes=0-9"), ("If-Range", lm)])
        check(s == 206, f"If-Range with Last-Modified → {s}")
        s, _, b = get(port, "/f.bin", [("Range", "bytes=0-9")], method="HEAD")
        check(s == 200, f"HEAD with Range → {s} (Range is for GET)")
        # Precompressed siblings.
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "gzip, br")])
        check(s == 200 and b == b"BR" and h.get("content-encoding") == "br" and h.get("vary") == "Accept-Encoding", f"br sibling: {s} {h}")
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "gzip, br;q=0")])
        check(b == b"GZ" and h.get("content-encoding") == "gzip", "gzip sibling when br is refused")
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "zstd")])
        check(b == b"console.log(1)\n" and "content-encoding" not in h and h.get("vary") == "Accept-Encoding", "identity without a zstd sibling")
        # Negotiated as the compress filter does (RFC 9110 §12.5.3): `*` covers the rest, and a
        # list split over several field lines is one list.
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "*")])
        check(b == b"BR" and h.get("content-encoding") == "br", f"* takes the best sibling: {h}")
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "br;q=0.5, *;q=0.8")])
        check(b == b"GZ" and h.get("content-encoding") == "gzip", f"* weighs above br: {h}")
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "br;q=0"), ("Accept-Encoding", "gzip")])
        check(b == b"GZ" and h.get("content-encoding") == "gzip", f"two field lines: {h}")
        s, h, b = get(port, "/app.js", [("Accept-Encoding", "gzip;q=0.1234, br;q=2")])
        check(b == b"console.log(1)\n" and "content-encoding" not in h, f"malformed weights are ignored: {h}")
        # Directories.
        s, h, _ = get(port, "/dir")
        check(s == 301 and h.get("location") == "/dir/", f"/dir → {s} {h.get('location')}")
        s, _, b = get(port, "/dir/")
        check(s == 200 and b == b"<p>index</p>", f"/dir/ → {s}")
        s, h, _ = get(port, "/dir/index.html")
        check(h.get("content-type") == "text/html; charset=utf-8", "type of .html")
        check(get(port, "/empty/")[0] == 404, "a directory without index.html is not listed")
        check(get(port, "/inside")[0] == 200, "a symlink inside the root is followed")
        # No way out, no hidden files.
        for path in ["/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd", "/..%2F..%2Fetc%2Fpasswd",
                     "/dir/..%2f..%2fetc%2fpasswd", "/..\\..\\etc\\passwd", "/dir%5c..%5cf.bin", "/f.bin%00.txt",
                     "/.env", "/%2eenv", "/dir/../.env", "/escape", "/escape-rel", "/dir//index.html",
                     "/f.bin/", "/nothing", "//etc/passwd", "/%zz"]:
            s, _, b = get(port, path)
            check(s in (400, 404) and b"secret" not in b and b"root:" not in b and b"SECRET" not in b, f"{path} → {s}")
        check(get(port, "/f.bin", method="POST")[0] == 405, "POST to a file → 405")
        # A file replaced on disk is seen once the open-file cache's second has passed.
        with open(os.path.join(root, "app.js.new"), "w") as f:
            f.write("replaced\n")
        os.rename(os.path.join(root, "app.js.new"), os.path.join(root, "app.js"))
        time.sleep(1.1)
        s, _, b = get(port, "/app.js")
        check(s == 200 and b == b"replaced\n", f"a replaced file after the cache time → {s} {b!r}")
        # Last-Modified is never later than Date (RFC 9110 §8.8.2.1), also for a file written this
        # very second while the worker's Date (refreshed once a second) still says the last one.
        from email.utils import parsedate_to_datetime
        later = 0
        for i in range(30):
            with open(os.path.join(root, f"fresh{i}"), "w") as f:
                f.write("new")
            s, h, _ = get(port, f"/fresh{i}")
            if s == 200 and parsedate_to_datetime(h["last-modified"]) > parsedate_to_datetime(h["date"]):
                later += 1
            time.sleep(0.07)
        check(later == 0, f"Last-Modified later than Date in {later} of 30 fresh files")
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streaming", required=True)
    ap.add_argument("--static")
    ap.add_argument("--upload-mib", type=int, default=32)
    ap.add_argument("--only", choices=["upload"])
    a = ap.parse_args()
    test_uploads(a.streaming, a.upload_mib)
    if a.only != "upload":
        test_streaming_rules(a.streaming)
        test_form(a.streaming)
        test_streams_stop_reload(a.streaming)
        if a.static:
            test_static(a.static, "0")
            test_static(a.static, "2")
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
