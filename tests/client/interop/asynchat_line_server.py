"""A Python asynchat line server for the interop tests (C++ AsyncChat client -> Python server).

Prints "listening on 127.0.0.1:PORT", then serves one connection: every line is answered with
b"echo: " + line. A line "LEN n" switches to a numeric terminator of n bytes; those bytes are
answered with b"raw: " + bytes. A line "QUIT" is answered with b"bye" and the channel closes when
done; the server then exits. Bounded: exits with status 2 after 30 s.
"""
import asynchat
import asyncore
import socket
import sys
import time


class Handler(asynchat.async_chat):
    def __init__(self, sock, server):
        asynchat.async_chat.__init__(self, sock)
        self.server = server
        self.set_terminator(b"\n")
        self.data = []

    def collect_incoming_data(self, data):
        self.data.append(data)

    def found_terminator(self):
        data = b"".join(self.data)
        self.data = []
        if isinstance(self.get_terminator(), int):
            self.push(b"raw: " + data + b"\n")
            self.set_terminator(b"\n")
        elif data.startswith(b"LEN "):
            self.set_terminator(int(data[4:]))
        elif data == b"QUIT":
            self.push(b"bye\n")
            self.close_when_done()
        else:
            self.push(b"echo: " + data + b"\n")

    def handle_close(self):
        self.close()
        self.server.close()


class Server(asyncore.dispatcher):
    def __init__(self):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.bind(("127.0.0.1", 0))
        self.listen(5)
        print("listening on %s:%d" % self.socket.getsockname(), flush=True)

    def handle_accepted(self, sock, addr):
        Handler(sock, self)


Server()
deadline = time.monotonic() + 30
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.05, count=1)
sys.exit(0 if not asyncore.socket_map else 2)
