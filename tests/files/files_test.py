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


def test_static(exe, workers):
    print(f"-- static files, --workers {workers}")
    root = tempfile.mkdtemp()
    outside = tempfile.mkdtemp()
    body = bytes(range(256)) * 40  # 10240 bytes
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(body)
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
        if a.static:
            test_static(a.static, "0")
            test_static(a.static, "2")
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
