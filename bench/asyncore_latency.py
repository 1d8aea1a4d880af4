#!/usr/bin/env python3
"""Python asyncore's answer to bench/wake_latency.cc: packet enqueued on another thread -> first
byte at the peer, while asyncore.loop() waits.

The tutorial's client sends from a queue drained by writable()/handle_write(). asyncore.loop()
asks writable() once per turn and then blocks in select() until a socket is ready or `timeout`
passes; nothing can wake it. A packet enqueued from another thread while the loop sleeps waits
for the end of that turn: up to `timeout` (the tutorial uses 5 s, asyncore's default is 30 s).

Usage: asyncore_latency.py [SAMPLES] [TIMEOUT...]   (default 50 samples; timeouts 0.1 and 1.0)
Prints median / p99 / max in microseconds per timeout.
"""
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (removed in Python 3.12: the baseline needs <= 3.11)
import queue
import random
import socket
import sys
import threading
import time


class Sender(asyncore.dispatcher):
    def __init__(self, sock):
        asyncore.dispatcher.__init__(self, sock)
        self.send_queue = queue.Queue()

    def writable(self):
        return self.send_queue.qsize() > 0

    def handle_write(self):
        self.send(self.send_queue.get())

    def handle_read(self):
        self.recv(256)


def measure(samples, timeout):
    a, b = socket.socketpair()
    sender = Sender(a)
    state = {"bytes": 0, "last": 0.0}
    got = threading.Condition()

    def reader():
        while True:
            try:
                data = b.recv(4096)
            except OSError:
                return
            if not data:
                return
            with got:
                state["last"] = time.perf_counter()
                state["bytes"] += len(data)
                got.notify()

    threading.Thread(target=reader, daemon=True).start()
    running = [True]

    def run_loop():
        while running[0]:
            asyncore.loop(timeout=timeout, count=1)

    loop_thread = threading.Thread(target=run_loop, daemon=True)
    loop_thread.start()
    lat = []
    rng = random.Random(1)
    for i in range(samples):
        time.sleep(rng.uniform(0, timeout))  # a random phase of the loop's wait
        t0 = time.perf_counter()
        sender.send_queue.put(b"12345678")
        with got:
            got.wait_for(lambda: state["bytes"] >= 8 * (i + 1))
            lat.append((state["last"] - t0) * 1e6)
    running[0] = False
    lat.sort()
    loop_thread.join(timeout * 2 + 1)
    sender.close()
    b.shutdown(socket.SHUT_RDWR)
    b.close()
    return lat[len(lat) // 2], lat[len(lat) * 99 // 100], lat[-1]


def main():
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    timeouts = [float(t) for t in sys.argv[2:]] or [0.1, 1.0]
    for t in timeouts:
        med, p99, mx = measure(samples, t)
        label = "python asyncore, loop(timeout={:g})".format(t)
        print("{:<40} {:>10.1f} {:>10.1f} {:>10.1f}".format(label, med, p99, mx))


if __name__ == "__main__":
    main()
