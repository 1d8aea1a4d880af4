#!/usr/bin/env python3
"""The tutorial's Douyu client (../shared/seed/), in Python asyncore, as the e2e baseline.

Built the way the tutorial builds it, piece by piece:
  * an asyncore.dispatcher subclass that connects in its constructor;
  * a send queue ("构建发送数据包的容器") drained by writable()/handle_write();
  * handle_read() reads the length, then the body, builds a packet object and puts it on a receive
    queue ("构建接收数据包队列", a queue.Queue);
  * a worker thread ("构建处理数据包线程") takes packets off the queue and calls the callback
    passed in from outside ("实现外部传入回调函数"), which here only counts room messages.
One fix, which the issue asks for: the tutorial's handle_read assumes recv(4) and recv(len) return
whole pieces; on a fast stream they do not, so partial frames are buffered until complete.

Usage: tutorial_asyncore_client.py HOST PORT N   — logs in to room 9999, joins group -9999, counts
N room messages (type other than loginres/mrkl), then prints one line:
  python-asyncore: N messages, B bytes in S s (R msg/s)
"""
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (deprecated in 3.11, removed in 3.12: the baseline needs <= 3.11)
import queue
import struct
import sys
import threading
import time


class DouyuPacket:
    """The tutorial's packet object: STT body <-> wire bytes (length twice, type, 0, 0, body, NUL)."""

    def __init__(self, content, msg_type=689):
        self.content = content
        self.msg_type = msg_type

    def get_length(self):
        return 4 + 2 + 1 + 1 + len(self.content.encode("utf-8")) + 1

    def get_bytes(self):
        data = bytes()
        length = self.get_length()
        data += struct.pack("<i", length)
        data += struct.pack("<i", length)
        data += struct.pack("<h", self.msg_type)
        data += struct.pack("<b", 0)
        data += struct.pack("<b", 0)
        data += self.content.encode("utf-8")
        data += b"\0"
        return data


class DouyuClient(asyncore.dispatcher):
    def __init__(self, host, port, callback=None):
        asyncore.dispatcher.__init__(self)
        self.create_socket()
        self.connect((host, port))
        self.send_queue = queue.Queue()   # 发送数据包队列
        self.recv_queue = queue.Queue()   # 接收数据包队列
        self.callback = callback
        self.inbuf = b""                  # the fix: bytes of a frame not yet complete
        self.bytes_received = 0
        self.worker = threading.Thread(target=self.do_callback, daemon=True)
        self.worker.start()

    def handle_connect(self):
        pass

    def writable(self):
        return self.send_queue.qsize() > 0

    def handle_write(self):
        packet = self.send_queue.get()
        data = packet.get_bytes()
        sent = 0
        while sent < len(data):
            sent += self.send(data[sent:])
        self.send_queue.task_done()

    def readable(self):
        return True

    def handle_read(self):
        data = self.recv(65536)
        if not data:
            return
        self.bytes_received += len(data)
        buf = self.inbuf + data if self.inbuf else data
        pos = 0
        end = len(buf)
        # 读取长度 / 读取内容 / 构建数据包对象 / 放入接收数据包容器
        while end - pos >= 4:
            length = struct.unpack("<i", buf[pos:pos + 4])[0]
            if end - pos < length + 4:
                break
            body = buf[pos + 12:pos + 4 + length - 1]   # skip length, length, type, 0, 0; drop NUL
            packet = DouyuPacket(body.decode("utf-8", "replace"), 690)
            self.recv_queue.put(packet)
            pos += length + 4
        self.inbuf = buf[pos:]

    def handle_error(self):
        t, e, trace = sys.exc_info()
        print("error:", t, e, file=sys.stderr)
        self.close()

    def handle_close(self):
        self.close()

    def do_callback(self):
        while True:
            packet = self.recv_queue.get()
            if self.callback is not None:
                self.callback(packet)
            self.recv_queue.task_done()

    def login(self, room_id):
        self.send_queue.put(DouyuPacket("type@=loginreq/roomid@={}/".format(room_id)))

    def join_room_group(self, room_id, group_id=-9999):
        self.send_queue.put(DouyuPacket("type@=joingroup/rid@={}/gid@={}/".format(room_id, group_id)))


def main():
    host, port, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    counted = [0]
    started = [None]
    done = threading.Event()

    def callback(packet):
        # Parse the type as the tutorial's deserializer would start: the first key/value pair.
        first = packet.content.split("/", 1)[0]
        msg_type = first[len("type@="):] if first.startswith("type@=") else ""
        if msg_type == "loginres":
            client.join_room_group(9999)
            return
        if msg_type in ("mrkl", "pingreq"):
            return
        counted[0] += 1
        if counted[0] >= want:
            done.set()

    started[0] = time.perf_counter()  # from connect, as the C++ contenders (imports excluded)
    client = DouyuClient(host, port, callback)
    client.login(9999)
    # The tutorial's loop is asyncore.loop(timeout=...): it cannot be woken, so every turn waits
    # for the socket or the timeout. Turn by turn here, to stop once N messages were counted.
    while not done.is_set() and asyncore.socket_map:
        asyncore.loop(timeout=0.1, count=1)
    elapsed = time.perf_counter() - started[0]
    print("python-asyncore: {} messages, {} bytes in {:.3f} s ({:.0f} msg/s)".format(
        counted[0], client.bytes_received, elapsed, counted[0] / elapsed if elapsed > 0 else 0))
    client.close()


if __name__ == "__main__":
    main()
