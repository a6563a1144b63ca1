#!/usr/bin/env python3
"""Writes the seed corpus for multipart_fuzz: well-formed and broken multipart/form-data bodies
with the boundary "b0undary", each once whole (byte 0 = 0) and once split with small limits.
Usage: tests/fuzz/multipart_seeds.py OUTPUT_DIR"""
import hashlib
import os
import sys

D = b"--b0undary"
CD = b'Content-Disposition: form-data; name="field"\r\n'


def part(headers, data):
    return D + b"\r\n" + headers + b"\r\n" + data + b"\r\n"


bodies = [
    part(CD, b"value") + D + b"--",
    b"preamble\r\n" + part(CD, b"a") + part(b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n'
                                           b"Content-Type: text/plain\r\n", b"file\r\n--b0und") + D + b"--\r\nepilogue",
    D + b" \t\r\n" + CD + b"\r\n\r\n" + D + b"--",
    part(b"Content-Disposition: form-data; name=\"x\"; filename*=UTF-8''%E2%82%AC.txt\r\n", b"\r\r\n-") + D + b"--",
    part(b'Content-Disposition: form-data; name="q%22uote"; filename="C:\\x\\y"\r\n', b"") + D + b"--",
    part(CD, b"no close delimiter"),
    D + b"X\r\n" + CD + b"\r\n" + D + b"--",
    part(CD + b" folded\r\n", b"x") + D + b"--",
    part(b"Content-Type: text/plain\r\n", b"x") + D + b"--",
    b"multipart/form-data; boundary=\"b0undary\"\r\n" + part(CD, b"x") + D + b"--",
    part(CD, b"1") + part(CD, b"2") + part(CD, b"3") + part(CD, b"4") + D + b"--",
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    inputs = [b"\x00" + b for b in bodies] + [bytes([0x08 | 3, 0, 7, 0, 30, 0, 61]) + b for b in bodies]
    for data in inputs:
        with open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
    print(f"{len(inputs)} seeds in {out}")


if __name__ == "__main__":
    main()
