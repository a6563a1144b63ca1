#!/usr/bin/env python3
"""Writes the seed corpus for session_fuzz: requests from the conformance and unit tests, each
as one input (byte 0 = 0: no split points, default limits), plus a few with splits and flags.
Usage: tests/fuzz/seeds.py OUTPUT_DIR"""
import hashlib
import os
import sys

H = b"Host: a\r\n"
GET = b"GET / HTTP/1.1\r\n" + H + b"\r\n"


def post(extra, body):
    return b"POST /echo HTTP/1.1\r\n" + H + extra + b"\r\n" + body


requests = [
    GET,
    GET + GET + b"HEAD / HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /users/42?x=1 HTTP/1.1\r\n" + H + b"Accept: */*\r\nX-A: b\r\n\r\n",
    b"GET /204 HTTP/1.1\r\n" + H + b"\r\nGET /304 HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /close HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /throw HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /defer HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /stream HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /stream-later HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET /stream-later HTTP/1.0\r\n\r\n",
    b"HEAD /stream HTTP/1.1\r\n" + H + b"\r\n" + GET,
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + GET,
    b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    b"GET http://a/x HTTP/1.1\r\n" + H + b"\r\n",
    post(b"Content-Length: 5\r\n", b"hello") + GET,
    post(b"Transfer-Encoding: chunked\r\n", b"3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n") + GET,
    post(b"Expect: 100-continue\r\nContent-Length: 3\r\n", b"abc"),
    post(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") + GET,
    post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),
    post(b"Content-Length: 1, 2\r\n", b"xx"),
    b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    b"BREW / HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n" + H + b"\r\n",
    b"DELETE /x HTTP/1.1\r\n" + H + b"Content-Length: 1\r\n\r\nx" + GET,
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    inputs = [b"\x00" + r for r in requests]
    # The same with split points and each flag set (see session_fuzz.cpp).
    for i, r in enumerate(requests):
        flags = (0x08 << (i % 5)) & 0xf8 | 3
        inputs.append(bytes([flags, 5, 0, 17, 0, 40, 0]) + r)
    for data in inputs:
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(inputs)} seeds in {out}")


if __name__ == "__main__":
    main()
