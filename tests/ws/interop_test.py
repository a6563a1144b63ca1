#!/usr/bin/python3
"""WebSocket interop: Python's `websockets` (Debian python3-websockets) and Node's `ws` (Debian
node-ws, tests/ws/interop_node.js) against examples/chat.

Echo of text and binary, a 16 MiB message, a fragmented message, close codes, and across two
workers: 20 /ws/chat clients, each message reaching all 20 exactly once. Exits 77 (skipped) when
the websockets module is missing (scripts/dev installs it).
"""
import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time

try:
    import websockets
except ImportError:
    print("skipped: no python3-websockets (scripts/dev installs it)")
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class chat_server:
    def __init__(self, binary, workers):
        self.port = free_port()
        self.p = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(self.port),
                                   "--workers", str(workers)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("examples/chat did not listen")

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
        return self.p.returncode


def deflating(ws):
    return any(e.name == "permessage-deflate" for e in ws.extensions)


async def echo_cases(srv, compression):
    """compression: "deflate" (websockets' default: it offers permessage-deflate, which
    examples/chat accepts) or None."""
    tag = f" ({compression or 'uncompressed'})"
    async with websockets.connect(srv.url("/ws/echo"), max_size=None, compression=compression) as ws:
        check(deflating(ws) == (compression == "deflate"), "permessage-deflate negotiated" + tag)
        await ws.send("héllo wörld ✓")
        check(await ws.recv() == "héllo wörld ✓", "echo: text stays text" + tag)
        await ws.send(b"\x00\x01\xfe\xff")
        check(await ws.recv() == b"\x00\x01\xfe\xff", "echo: binary stays binary" + tag)
        big = bytes(range(256)) * (16 * 1024 * 1024 // 256)
        await ws.send(big)
        got = await ws.recv()
        check(got == big, "echo: a 16 MiB binary message" + tag)
        text = "é" * (8 * 1024 * 1024)  # 16 MiB of UTF-8
        await ws.send(text)
        check(await ws.recv() == text, "echo: a 16 MiB text message" + tag)
        await ws.send(["frag", "men", "ted"])  # three frames
        check(await ws.recv() == "fragmented", "echo: a fragmented message is one message" + tag)
        pong = await ws.ping(b"p1")
        await asyncio.wait_for(pong, 2)
        check(True, "ping answered with pong" + tag)
        await ws.close(4001, "done here")
        check(ws.close_code == 4001, f"close: the code is echoed (got {ws.close_code})" + tag)
    async with websockets.connect(srv.url("/ws/echo"), max_size=None, compression=compression) as ws:
        await ws.close()
        check(ws.close_code == 1000, f"close: 1000 (got {ws.close_code})" + tag)
    # A 16 MiB message plus one byte is over the default limit: 1009.
    async with websockets.connect(srv.url("/ws/echo"), max_size=None, compression=compression) as ws:
        try:
            await ws.send(b"x" * (16 * 1024 * 1024 + 1))
            await asyncio.wait_for(ws.recv(), 5)
            check(False, "over 16 MiB: closed with 1009" + tag)
        except websockets.ConnectionClosed:
            check(ws.close_code == 1009, f"over 16 MiB: closed with 1009 (got {ws.close_code})" + tag)


async def cluster_chat(srv, n=20):
    clients = [await websockets.connect(srv.url("/ws/chat")) for _ in range(n)]
    check(all(deflating(c) for c in clients), "cluster: /ws/chat negotiates permessage-deflate")
    # Each worker joins the cluster topic when its first client subscribes: warm up until every
    # client has heard one message, so that no worker is still joining.
    heard = [False] * n

    async def warm(i):
        while True:
            m = await clients[i].recv()
            if m.startswith("warmup"):
                heard[i] = True
                return

    tasks = [asyncio.create_task(warm(i)) for i in range(n)]
    for k in range(50):
        await clients[0].send(f"warmup {k}")
        await asyncio.sleep(0.1)
        if all(heard):
            break
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    await clients[0].send("warmup end")
    # Everyone sees "warmup end" last among the warm-ups (one publisher: in order).
    for c in clients:
        while await asyncio.wait_for(c.recv(), 5) != "warmup end":
            pass

    # Long enough to be compressed (deflate_min_bytes): once per worker for all its clients.
    pad = " chat" * 40
    for i, c in enumerate(clients):
        await c.send(f"message {i}{pad}")
    got = [[] for _ in range(n)]

    async def collect(i):
        while len(got[i]) < n:
            got[i].append(await clients[i].recv())

    try:
        await asyncio.wait_for(asyncio.gather(*(collect(i) for i in range(n))), 10)
    except asyncio.TimeoutError:
        pass
    want = sorted(f"message {i}{pad}" for i in range(n))
    check(all(sorted(g) == want for g in got), f"cluster: all {n} messages reach all {n} clients")
    extra = 0
    for c in clients:
        try:
            await asyncio.wait_for(c.recv(), 0.3)
            extra += 1
        except asyncio.TimeoutError:
            pass
    check(extra == 0, "cluster: exactly once (nothing more arrives)")
    for c in clients:
        await c.close()


def node_cases(srv):
    """Node's ws client (tests/ws/interop_node.js); skipped without node or the module."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop_node.js")
    node = shutil.which("node")
    if node is None:
        print("skip node: no node")
        return
    r = subprocess.run([node, script, str(srv.port)], capture_output=True, text=True, timeout=60)
    print(r.stdout, end="")
    if r.returncode == 77:
        return
    check(r.returncode == 0, "node's ws client")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chat", required=True)
    a = ap.parse_args()
    srv = chat_server(a.chat, 0)
    try:
        asyncio.run(echo_cases(srv, "deflate"))
        asyncio.run(echo_cases(srv, None))
    finally:
        check(srv.stop() == 0, "single process: a clean stop")
    srv = chat_server(a.chat, 2)
    try:
        asyncio.run(echo_cases(srv, "deflate"))
        node_cases(srv)
        asyncio.run(cluster_chat(srv))
        # Every client left, so each worker dropped its bridge to the topic: the next clients
        # subscribe afresh and must hear each other as before.
        asyncio.run(cluster_chat(srv))
    finally:
        check(srv.stop() == 0, "two workers: a clean stop")
    if failures:
        print(f"{len(failures)} failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
