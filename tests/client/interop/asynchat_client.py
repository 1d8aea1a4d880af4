"""A Python asynchat client for the interop tests (Python client -> C++ AsyncChat server).

Usage: asynchat_client.py HOST PORT. Sends lines (one of 200,000 bytes through a simple_producer,
an empty one) and "QUIT"; the C++ server answers each line with b"echo: " + line and "QUIT" with
b"bye" before closing. Prints "OK" and exits 0 when every answer matched, else prints what differed
and exits 1; exits 2 after 30 s.
"""
import asynchat
import asyncore
import socket
import sys
import time

BIG = bytes(b"0123456789abcdef"[i % 16] for i in range(200000))
LINES = [b"hello", BIG, b"", b"last line"]
EXPECTED = [b"echo: " + line for line in LINES] + [b"bye"]


class Client(asynchat.async_chat):
    def __init__(self, host, port):
        asynchat.async_chat.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))
        self.set_terminator(b"\n")
        self.data = []
        self.received = []
        self.push(LINES[0] + b"\n")
        self.push_with_producer(asynchat.simple_producer(LINES[1] + b"\n", buffer_size=4096))
        for line in LINES[2:]:
            self.push(line + b"\n")
        self.push(b"QUIT\n")

    def handle_connect(self):
        pass

    def collect_incoming_data(self, data):
        self.data.append(data)

    def found_terminator(self):
        self.received.append(b"".join(self.data))
        self.data = []

    def handle_close(self):
        self.close()


client = Client(sys.argv[1], int(sys.argv[2]))
deadline = time.monotonic() + 30
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.05, count=1)
if asyncore.socket_map:
    print("timed out; received %d lines" % len(client.received), flush=True)
    sys.exit(2)
if client.received != EXPECTED:
    print("mismatch: got %r" % [r[:40] for r in client.received], flush=True)
    sys.exit(1)
print("OK", flush=True)
