"""A Python asyncore echo server for the C++ interop test (tests/core/interop_test.cc).

Listens on 127.0.0.1 (ephemeral port), prints "listening on 127.0.0.1:PORT", echoes every byte of
one connection, and exits 0 when that connection closes (1 if nothing happened within the limit).
"""
import asyncore
import sys
import time


class EchoHandler(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(8192)
        if data:
            self.send(data)

    def handle_close(self):
        self.close()
        EchoServer.done = True


class EchoServer(asyncore.dispatcher):
    done = False

    def __init__(self):
        asyncore.dispatcher.__init__(self)
        self.create_socket()
        self.set_reuse_addr()
        self.bind(("127.0.0.1", 0))
        self.listen(5)

    def handle_accepted(self, sock, addr):
        EchoHandler(sock)


def main():
    server = EchoServer()
    host, port = server.socket.getsockname()
    print("listening on %s:%d" % (host, port), flush=True)
    deadline = time.monotonic() + 20
    while not EchoServer.done and time.monotonic() < deadline:
        asyncore.loop(timeout=0.05, count=1)
    asyncore.close_all()
    return 0 if EchoServer.done else 1


if __name__ == "__main__":
    sys.exit(main())
