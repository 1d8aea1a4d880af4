"""A Python asyncore client for the C++ interop test: connects to HOST PORT, sends a payload,
reads it back, and exits 0 when the echo matches (1 on mismatch, error or timeout)."""
import asyncore
import sys
import time

PAYLOAD = b"".join(b"line %05d from python asyncore\n" % i for i in range(2000))


class Client(asyncore.dispatcher_with_send):
    def __init__(self, host, port):
        asyncore.dispatcher_with_send.__init__(self)
        self.received = b""
        self.failed = None
        self.create_socket()
        self.connect((host, port))

    def handle_connect(self):
        self.send(PAYLOAD)

    def handle_read(self):
        self.received += self.recv(65536)
        if len(self.received) >= len(PAYLOAD):
            self.close()

    def handle_close(self):
        self.close()

    def handle_error(self):
        self.failed = sys.exc_info()[1]
        self.close()


def main():
    client = Client(sys.argv[1], int(sys.argv[2]))
    deadline = time.monotonic() + 20
    while asyncore.socket_map and time.monotonic() < deadline:
        asyncore.loop(timeout=0.05, count=1)
    asyncore.close_all()
    if client.failed is not None:
        print("client error: %r" % (client.failed,), file=sys.stderr)
        return 1
    if client.received != PAYLOAD:
        print("echo mismatch: got %d of %d bytes" % (len(client.received), len(PAYLOAD)),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
