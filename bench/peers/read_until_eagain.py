#!/usr/bin/env python3
"""A keep-alive server that reads until EAGAIN after every answer, as a server built on Asio's
async_read_some does: one read per request finds nothing. syscalls.py's check on itself:

  python3 bench/syscalls.py --binary bench/peers/read_until_eagain.py --connections 1 [--think-ms 1]

must show recvfrom 2.00 (1.00 err) per request with --think-ms 1, counted with perf or strace.
Without think time strace shows 1.0-1.4 (the undercount that made perf the default) and perf
1.9-2.0 (this server is slow itself: now and then the next request is there before it reads).
"""
import select
import socket
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nHello, world!\n"


def main():
    port = int(sys.argv[sys.argv.index("--port") + 1])  # other arguments are syscalls.py's, for hive
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    listener.setblocking(False)
    ep = select.epoll()
    ep.register(listener.fileno(), select.EPOLLIN)
    conns = {}
    while True:
        for fd, _ in ep.poll():
            if fd == listener.fileno():
                c, _ = listener.accept()
                c.setblocking(False)
                conns[c.fileno()] = c
                ep.register(c.fileno(), select.EPOLLIN | select.EPOLLET)
                continue
            c = conns[fd]
            while True:
                try:
                    data = c.recv(65536)
                except BlockingIOError:
                    break
                if not data:
                    ep.unregister(fd)
                    c.close()
                    del conns[fd]
                    break
                c.send(RESPONSE * data.count(b"\r\n\r\n"))


if __name__ == "__main__":
    sys.exit(main())
