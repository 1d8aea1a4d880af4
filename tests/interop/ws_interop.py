#!/usr/bin/env python3
"""Interop of our WebSocket/TLS stack with an independent implementation: the `ws` package from
the npm registry, run by Node.js (tests/interop/ws_douyu_server.mjs, ws_douyu_client.mjs).

    ws_interop.py CASE --bin-dir=BUILD/bin --node-prefix=BUILD/interop-node

CASES
  install                 npm install --prefix NODE_PREFIX ws@8 (once per build folder: CTest
                          fixture); fails, saying why, when Node.js/npm or the registry is missing
  danmaku_ws              douyu_danmaku --url=ws://... against the ws server: seq 1..N exactly once
  danmaku_wss             the same over wss:// with --ca-file
  danmaku_wss_untrusted   wss:// without --ca-file: exit 1, stderr names the URL and
                          "certificate verify failed"
  node_client_ws          the ws client against douyu_server --transport=ws --flood=N
  node_client_wss         ... --transport=wss (trusting the test certificate)
  douyu_server_usage      douyu_server's --transport/--cert-file/--key-file usage errors (exit 2)

Everything runs on 127.0.0.1 with ports picked by the servers (port 0) and read from their first
line; every wait has a deadline; every process is killed at the end. ASYNCORE_SKIP_WS_INTEROP=1
skips all but douyu_server_usage (exit 77, reported as skipped by CTest) — for machines without
the npm registry.
Exit status: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

N = 2000          # chat messages per flood
ROOM = "4242"
SEED = "7"        # the ws server's cutting plan
SKIP = 77


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def chat_text(k):  # as chatText() in ws_douyu_server.mjs
    return "msg %d: a/b@c 弹幕 %s" % (k, "x" * (k % 37))


class Proc:
    """A child with stdout/stderr drained by threads; waits take deadlines."""

    def __init__(self, argv, name):
        self.name = name
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self.cond = threading.Condition()
        self.threads = [threading.Thread(target=self._drain, args=(self.p.stdout, self.out), daemon=True),
                        threading.Thread(target=self._drain, args=(self.p.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _drain(self, pipe, into):
        while True:
            chunk = pipe.read1(65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                into += chunk
                self.cond.notify_all()

    def out_lines(self):
        with self.cond:
            text = bytes(self.out).decode("utf-8", "replace")
        return [line for line in text.split("\n")[:-1]]

    def wait_line(self, pred, seconds, what):
        """The first complete stdout line satisfying pred, within `seconds`."""
        found = []

        def ready():
            text = bytes(self.out).decode("utf-8", "replace")
            for line in text.split("\n")[:-1]:
                if pred(line):
                    found.append(line)
                    return True
            return self.p.poll() is not None and not any(t.is_alive() for t in self.threads)

        with self.cond:
            self.cond.wait_for(ready, seconds)
        if not found:
            raise Failure("%s: no %s within %g s; stdout:\n%s\nstderr:\n%s" % (
                self.name, what, seconds, self.text_out()[-3000:], self.text_err()[-3000:]))
        return found[0]

    def wait(self, seconds):
        """Exit status within `seconds` (stdout/stderr then read to their end), or a Failure."""
        try:
            self.p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise Failure("%s did not exit within %g s: %s\nstderr:\n%s" % (
                self.name, seconds, " ".join(self.argv), self.text_err()[-3000:]))
        for t in self.threads:
            t.join(10)
        return self.p.returncode

    def text_out(self):
        with self.cond:
            return bytes(self.out).decode("utf-8", "replace")

    def text_err(self):
        with self.cond:
            return bytes(self.err).decode("utf-8", "replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def terminate(self, seconds):
        if self.p.poll() is None:
            self.p.terminate()
        return self.wait(seconds)


class Case:
    def __init__(self, args):
        self.bin = args.bin_dir
        self.prefix = os.path.abspath(args.node_prefix)
        self.here = os.path.dirname(os.path.abspath(__file__))
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="ws-interop-")

    def close(self):
        for p in self.procs:
            p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, argv, name):
        p = Proc(argv, name)
        self.procs.append(p)
        return p

    def certificate(self):
        # As tests/core/test_certificate.h: CN=localhost, SAN DNS:localhost and IP:127.0.0.1.
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                            "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           capture_output=True, timeout=60)
        check(r.returncode == 0, "cannot make a test certificate: %s" % r.stderr.decode(errors="replace"))
        return cert, key

    def node_ready(self):
        check(shutil.which("node") is not None, "node is not on PATH (scripts/install-deps.sh installs it)")
        check(os.path.isfile(os.path.join(self.prefix, "node_modules", "ws", "package.json")),
              "ws is not installed in %s: run the WsInterop.InstallWs test (the fixture) first" % self.prefix)

    # ------------------------------------------------------------------ the ws server's side

    def ws_server(self, tls):
        self.node_ready()
        argv = ["node", os.path.join(self.here, "ws_douyu_server.mjs"), "--node-prefix=" + self.prefix,
                "--count=%d" % N, "--seed=" + SEED, "--flood-after-heartbeat=1"]
        cert = None
        if tls:
            cert, key = self.certificate()
            argv += ["--cert=" + cert, "--key=" + key]
        server = self.spawn(argv, "ws server")
        line = server.wait_line(lambda l: l.startswith("listening on "), 15, "'listening on' line")
        url = line[len("listening on "):]
        check(url.startswith(("wss://" if tls else "ws://") + "127.0.0.1:"), "unexpected: " + line)
        return server, url, cert

    @staticmethod
    def events(server, kind):
        out = []
        for line in server.out_lines()[1:]:
            ev = json.loads(line)
            if ev.get("event") == kind:
                out.append(ev)
        return out

    def danmaku(self, url, ca_file):
        argv = [os.path.join(self.bin, "douyu_danmaku"), "--url=" + url, "--room=" + ROOM,
                "--output=jsonl", "--max-messages=%d" % N, "--noreconnect", "--heartbeat=0.5",
                "--duration=20"]
        if ca_file:
            argv.append("--ca-file=" + ca_file)
        return self.spawn(argv, "douyu_danmaku")

    def danmaku_session(self, tls):
        server, url, cert = self.ws_server(tls)
        cli = self.danmaku(url, cert)
        status = cli.wait(30)
        check(status == 0, "douyu_danmaku exited %d; stderr:\n%s" % (status, cli.text_err()[-4000:]))
        lines = cli.out_lines()
        check(cli.text_out().endswith("\n") or not lines, "stdout does not end with a newline")
        check(len(lines) == N, "%d JSON lines on stdout, expected exactly %d" % (len(lines), N))
        for k, line in enumerate(lines, start=1):
            m = json.loads(line)
            want = {"type": "chatmsg", "seq": str(k), "rid": ROOM, "uid": "1", "nn": "interop",
                    "txt": chat_text(k)}
            check(m == want, "line %d: %s\n  expected %s" % (k, line, json.dumps(want, ensure_ascii=False)))
        # What the ws server saw: one session, its requests, the logout, a clean close.
        server.wait_line(lambda l: '"event":"session"' in l, 15, "session summary")
        check(server.terminate(10) == 0, "ws server exit status")
        sessions = self.events(server, "session")
        check(len(sessions) == 1, "%d sessions, expected 1: %s" % (len(sessions), sessions))
        s = sessions[0]
        check(s["errors"] == [], "ws server errors: %s" % s["errors"])
        check(s["tls"] == tls, "tls")
        for field, want in (("logins", 1), ("joins", 1), ("logouts", 1), ("sent_chatmsg", N),
                            ("text_messages", 0), ("unparsed_bytes", 0), ("client_close_code", 1000),
                            ("other_types", [])):
            check(s[field] == want, "ws server: %s = %r, expected %r (%s)" % (field, s[field], want, s))
        check(s["heartbeats"] >= 1, "no mrkl heartbeat reached the ws server (the flood waits for it)")
        check(s["frames_in"] == 3 + s["heartbeats"], "frames_in %d != loginreq + joingroup + logout + %d mrkl"
              % (s["frames_in"], s["heartbeats"]))
        plan = s["plan"]
        check(plan["max_frames_in_message"] == 50 and plan["cut_messages"] > 0 and
              plan["one_byte_messages"] > 0 and plan["fragmented_messages"] > 0 and plan["pings"] > 0 and
              plan["empty_fragments"] > 0,
              "the cutting plan did not exercise every shape: %s" % plan)
        print("ok: %d chatmsg over %s in %d WebSocket messages (%s)" % (N, url, plan["messages"], plan))

    def danmaku_ws(self):
        self.danmaku_session(False)

    def danmaku_wss(self):
        self.danmaku_session(True)

    def danmaku_wss_untrusted(self):
        server, url, _ = self.ws_server(True)
        cli = self.danmaku(url, None)
        status = cli.wait(30)
        err = cli.text_err()
        check(status == 1, "douyu_danmaku exited %d, expected 1; stderr:\n%s" % (status, err[-4000:]))
        check(cli.text_out() == "", "stdout not empty: %r" % cli.text_out()[:500])
        failure_lines = [l for l in err.splitlines() if "certificate verify failed" in l]
        check(failure_lines, "stderr does not say 'certificate verify failed':\n" + err[-4000:])
        check(any(url in l for l in failure_lines),
              "no 'certificate verify failed' line names %s:\n%s" % (url, err[-4000:]))
        server.wait_line(lambda l: '"event":"tls_error"' in l, 10, "TLS error event (the client's alert)")
        check(server.terminate(10) == 0, "ws server exit status")
        check(self.events(server, "session") == [], "a WebSocket session was established")
        print("ok: %s" % failure_lines[0])

    # ------------------------------------------------------------------ our simulator's side

    def node_client(self, tls):
        self.node_ready()
        argv = [os.path.join(self.bin, "douyu_server"), "--port=0", "--flood=%d" % N,
                "--transport=" + ("wss" if tls else "ws")]
        cert = None
        if tls:
            cert, key = self.certificate()
            argv += ["--cert-file=" + cert, "--key-file=" + key]
        server = self.spawn(argv, "douyu_server")
        server.wait_line(lambda l: l.startswith("url "), 15, "'url' line")
        first, second = server.out_lines()[:2]
        check(first.startswith("listening on 127.0.0.1:"), "first line: " + first)
        port = int(first.rsplit(":", 1)[1])
        url = second[len("url "):]
        check(url == "%s://127.0.0.1:%d/" % ("wss" if tls else "ws", port), "url line: " + second)
        cargv = ["node", os.path.join(self.here, "ws_douyu_client.mjs"), "--node-prefix=" + self.prefix,
                 "--url=" + url, "--room=" + ROOM, "--count=%d" % N, "--timeout=30"]
        if tls:
            cargv.append("--ca=" + cert)
        client = self.spawn(cargv, "ws client")
        status = client.wait(40)
        lines = client.out_lines()
        check(len(lines) == 1, "ws client: %d lines, expected one JSON line: %s\nstderr: %s"
              % (len(lines), client.text_out()[-2000:], client.text_err()[-2000:]))
        r = json.loads(lines[0])
        check(status == 0 and r["ok"], "ws client failed (exit %d): %s" % (status, lines[0]))
        for field, want in (("received", N), ("first_seq", 1), ("last_seq", N), ("duplicates", 0),
                            ("out_of_order", 0), ("extra", 0), ("missing", 0), ("loginres", 1),
                            ("mrkl_answers", 1), ("close_code", 1000), ("errors", []),
                            ("other_types", [])):
            check(r[field] == want, "ws client: %s = %r, expected %r" % (field, r[field], want))
        check(server.terminate(15) == 0, "douyu_server exit status; stderr:\n" + server.text_err()[-3000:])
        err = server.text_err()
        for body in ("type@=loginreq/roomid@=%s/" % ROOM, "type@=joingroup/rid@=%s/gid@=-9999/" % ROOM,
                     "type@=mrkl/", "type@=logout/"):
            check(err.count(" " + body + "\n") == 1, "douyu_server did not log %r once:\n%s" % (body, err[-3000:]))
        counters = ("connections 1, logins 1, joins 1, heartbeats 1, logouts 1, room messages sent %d, "
                    "bad frames 0" % N)
        check(counters in err, "douyu_server's counters are not '%s':\n%s" % (counters, err[-3000:]))
        print("ok: %s" % lines[0])

    def node_client_ws(self):
        self.node_client(False)

    def node_client_wss(self):
        self.node_client(True)

    def douyu_server_usage(self):
        server = os.path.join(self.bin, "douyu_server")
        cert, key = self.certificate()
        for argv, needle in ((["--transport=wss"], "--transport=wss needs --cert-file and --key-file"),
                             (["--transport=wss", "--cert-file=" + cert], "--transport=wss needs"),
                             (["--transport=quic"], "--transport: expected tcp, ws or wss, got 'quic'"),
                             (["--transport=ws", "--cert-file=" + cert, "--key-file=" + key],
                              "--cert-file/--key-file: only with --transport=wss")):
            r = subprocess.run([server] + argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 2, "douyu_server %s: exit %d, expected 2" % (argv, r.returncode))
            check(err.startswith("douyu_server: ") and needle in err, "douyu_server %s: stderr %r" % (argv, err[:300]))
            check(r.stdout == b"", "douyu_server %s printed on stdout" % argv)
        # A certificate it cannot load: exit 1, OpenSSL's reason.
        r = subprocess.run([server, "--transport=wss", "--cert-file=" + key, "--key-file=" + key],
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        check(r.returncode == 1 and r.stderr.startswith(b"douyu_server: "),
              "bad certificate: exit %d, stderr %r" % (r.returncode, r.stderr[:300]))
        print("ok")

    # ------------------------------------------------------------------ the fixture

    def install(self):
        node, npm = shutil.which("node"), shutil.which("npm")
        check(node and npm, "node and npm must be on PATH (bash scripts/install-deps.sh installs them)")
        pkg = os.path.join(self.prefix, "node_modules", "ws", "package.json")
        if os.path.isfile(pkg):
            with open(pkg) as f:
                version = json.load(f)["version"]
            if version.startswith("8."):
                print("ws %s already in %s" % (version, self.prefix))
                return
        os.makedirs(self.prefix, exist_ok=True)
        cmd = [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", self.prefix, "ws@8"]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=150, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Failure("npm install ws@8 did not finish within 150 s (is the npm registry reachable?); "
                          "the WebSocket interop tests need it (ASYNCORE_SKIP_WS_INTEROP=1 skips them)")
        check(r.returncode == 0 and os.path.isfile(pkg),
              "cannot install ws@8 from the npm registry (%s, exit %d):\n%s\nThe WebSocket interop tests "
              "need it; ASYNCORE_SKIP_WS_INTEROP=1 skips them." % (" ".join(cmd), r.returncode,
                                                                   r.stderr.decode(errors="replace")[-3000:]))
        with open(pkg) as f:
            print("installed ws %s in %s" % (json.load(f)["version"], self.prefix))


def main():
    cases = ["install", "danmaku_ws", "danmaku_wss", "danmaku_wss_untrusted", "node_client_ws",
             "node_client_wss", "douyu_server_usage"]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=cases)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--node-prefix", required=True)
    args = ap.parse_args()
    if os.environ.get("ASYNCORE_SKIP_WS_INTEROP") == "1" and args.case != "douyu_server_usage":
        print("skipped: ASYNCORE_SKIP_WS_INTEROP=1")
        return SKIP
    case = Case(args)
    start = time.monotonic()
    try:
        getattr(case, args.case)()
    except Failure as e:
        print("FAIL %s: %s" % (args.case, e), file=sys.stderr)
        return 1
    finally:
        case.close()
    print("%s: %.2f s" % (args.case, time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
