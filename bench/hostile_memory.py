#!/usr/bin/env python3
"""Peak memory of douyu_danmaku against a hostile server (docs/DOUYU_CLIENT.md, "Bytes, not only
messages"). The server answers the login, then sends maximum-size frames (1 MiB) whose body is
`type@=chatmsg/` followed by ~524,000 one-byte fields (`a/`): each decodes to a ~9 MiB Message.
Runs the collector with stdout to /dev/null (fast sink) and into a pipe nobody reads (stalled
sink) for SECONDS each, and prints the collector's peak RSS (VmHWM).

usage: bench/hostile_memory.py BUILD_BIN_DIR [SECONDS]
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

MAX_BODY = 1024 * 1024 - 9  # frame length field = 8 + body + NUL = 1 MiB


def frame(body: bytes) -> bytes:
    length = 8 + len(body) + 1
    return struct.pack("<IIHBB", length, length, 690, 0, 0) + body + b"\0"


def serve(listener: socket.socket, stop: threading.Event) -> None:
    fat = b"type@=chatmsg/"
    fat += b"a/" * ((MAX_BODY - len(fat)) // 2)
    fat_frame = frame(fat)
    login = frame(b"type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/username@=/nickname@=/live_stat@=1/")
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        conn.settimeout(0.5)
        try:
            conn.recv(65536)  # loginreq
            conn.sendall(login)
            while not stop.is_set():
                conn.sendall(fat_frame)
        except OSError:
            pass
        finally:
            conn.close()


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def run(binary: str, port: int, seconds: float, stalled: bool) -> int:
    args = [binary, "--host=127.0.0.1", f"--port={port}", "--room=1", "--output=jsonl"]
    if stalled:
        r, w = os.pipe()  # nobody reads r
        proc = subprocess.Popen(args, stdout=w, stderr=subprocess.DEVNULL)
        os.close(w)
    else:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)  # the measurement window, not a synchronisation
    peak = peak_rss_kib(proc.pid)
    proc.kill()
    proc.wait()
    if stalled:
        os.close(r)
    return peak


def main() -> None:
    bindir = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    binary = os.path.join(bindir, "douyu_danmaku")
    for stalled in (False, True):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        stop = threading.Event()
        t = threading.Thread(target=serve, args=(listener, stop), daemon=True)
        t.start()
        peak = run(binary, listener.getsockname()[1], seconds, stalled)
        stop.set()
        t.join()
        listener.close()
        sink = "pipe nobody reads" if stalled else "/dev/null"
        print(f"hostile 1 MiB frames of 524k fields, --output=jsonl > {sink}: "
              f"peak RSS {peak / 1024:.1f} MiB over {seconds:.0f} s")


if __name__ == "__main__":
    main()
