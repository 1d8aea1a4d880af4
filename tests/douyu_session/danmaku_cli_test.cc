// douyu_danmaku: its text/jsonl lines, and the binary itself run end to end against its own --demo
// simulator. Its flags (parse_options) are pinned in danmaku_options_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "douyu/protocol/message.h"
#include "douyu/simulator/douyu_server.h"
#include "samples/danmaku/format.h"
#include "samples/danmaku/output.h"
#include "tests/client/client_test_util.h"
#include "tests/core/test_certificate.h"
#include "tests/core/test_util.h"
#include "tests/douyu/json_validator.h"

namespace {

TEST(DanmakuFormat, ChatLine) {
  asyncore::douyu::Message m(
      "type@=chatmsg/rid@=9999/uid@=1/nn@=小明/txt@=主播好👋/level@=12/col@=1/");
  EXPECT_EQ(danmaku::format_text("9999", m, false), "[9999] <lv 12> 小明: 主播好👋\n");
  const std::string colored = danmaku::format_text("9999", m, true);
  EXPECT_NE(colored.find("\033[31m主播好👋"), std::string::npos);
}

TEST(DanmakuFormat, NewlinesInValuesStayOnOneLine) {
  asyncore::douyu::Message m("type@=chatmsg/nn@=a/txt@=line1\nline2/level@=1/");
  EXPECT_EQ(danmaku::format_text("1", m, false), "[1] <lv 1> a: line1 line2\n");
}

TEST(DanmakuFormat, UnknownTypeShowsItsFields) {
  asyncore::douyu::Message m("type@=qausrespond/x@=1/y@=2/");
  EXPECT_EQ(danmaku::format_text("5", m, false), "[5] qausrespond x=1 y=2\n");
}

TEST(DanmakuFormat, JsonlKeepsWireOrderAndTheFirstOfARepeatedKey) {
  asyncore::douyu::Message m("type@=chatmsg/rid@=1/rid@=2/txt@=\"q\"/");
  EXPECT_EQ(danmaku::format_jsonl(m),
            "{\"type\":\"chatmsg\",\"rid\":\"1\",\"txt\":\"\\\"q\\\"\"}\n");
}

// Item 9: one rule everywhere — the first occurrence of a key wins (Message::get's rule).
TEST(DanmakuFormat, RepeatedTypeIsTheFirstInTextAndJsonAlike) {
  asyncore::douyu::Message m("type@=uenter/nn@=a/type@=chatmsg/txt@=spoof/level@=3/");
  EXPECT_EQ(danmaku::format_jsonl(m), R"({"type":"uenter","nn":"a","txt":"spoof","level":"3"})"
                                      "\n");
  EXPECT_EQ(danmaku::format_text("1", m, false), "[1] -> a (lv 3) entered\n");
  asyncore::douyu::Message other("type@=qausrespond/x@=1/type@=chatmsg/x@=2/");
  EXPECT_EQ(danmaku::format_text("5", other, false), "[5] qausrespond x=1\n");
}

// Item 11: nothing from the wire reaches a terminal as a control; the CLI's colours remain.
TEST(DanmakuFormat, TextNeutralisesTerminalControlsFromTheWire) {
  asyncore::douyu::Message m(
      "type@=chatmsg/nn@=evil\x1b]0;pwned\x07\x1b[2J/txt@=a\x7f\xc2\x9b"
      "31mb\xe2\x80\xae"
      "c\x9b\x01/"
      "level@=1/col@=1/");
  const std::string plain = danmaku::format_text("1", m, false);
  EXPECT_EQ(
      plain,
      "[1] <lv 1> evil\\x1b]0;pwned\\x07\\x1b[2J: a\\x7f\\x9b31mb\\u202ec\xEF\xBF\xBD\\x01\n");
  const std::string colored = danmaku::format_text("1", m, true);
  for (size_t i = 0; i < colored.size(); ++i) {
    const auto c = static_cast<unsigned char>(colored[i]);
    if (c == 0x1b) {
      EXPECT_EQ(colored[i + 1], '[');  // a colour of ours: ESC [ digits ; m
      size_t j = i + 2;
      while (j < colored.size() &&
             (std::isdigit(static_cast<unsigned char>(colored[j])) || colored[j] == ';')) {
        ++j;
      }
      EXPECT_EQ(colored[j], 'm') << colored.substr(i);
    } else {
      EXPECT_TRUE(c >= 0x20 || c == '\n') << "byte " << int(c) << " at " << i;
    }
  }
  EXPECT_NE(colored.find("\033[31m"), std::string::npos);  // the chat colour is kept
  // Printable Unicode and tabs/newlines (made spaces) stay readable.
  std::string out;
  danmaku::append_sanitized(out, "主播\t好\n👋\xc2\xa0");
  EXPECT_EQ(out, "主播 好 👋\xc2\xa0");
}

TEST(DanmakuFormat, JsonlEscapesTerminalControlsToo) {
  asyncore::douyu::Message m(
      "type@=chatmsg/nn@=evil\x1b]0;pwned\x07\x1b[2J/txt@=\xc2\x9b\xe2\x80\xae/");
  const std::string line = danmaku::format_jsonl(m);
  EXPECT_EQ(line,
            R"({"type":"chatmsg","nn":"evil\u001b]0;pwned\u0007\u001b[2J","txt":"\u009b\u202e"})"
            "\n");
}

TEST(DanmakuFormat, AppendJsonlAppendsTheSameLine) {
  asyncore::douyu::Message m("type@=chatmsg/rid@=1/rid@=2/txt@=\"q\"\x1b/");
  std::string batch = "earlier line\n";
  danmaku::append_jsonl(batch, m);
  danmaku::append_jsonl(batch, m);
  EXPECT_EQ(batch, "earlier line\n" + danmaku::format_jsonl(m) + danmaku::format_jsonl(m));
}

// ---------------------------------------------------------------- LineWriter batches

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string numbered_lines(int from, int count) {
  std::string s;
  for (int i = from; i < from + count; ++i)
    s += "line " + std::to_string(i) + " " + std::string(40, 'x') + "\n";
  return s;
}

// Small batches are buffered, a flush writes them; a batch of more than 64 KiB with nothing
// buffered goes straight out. To a regular file (written whole) every line is counted written.
TEST(DanmakuLineWriter, BatchesReachARegularFileWholeAndCounted) {
  char path[] = "/tmp/danmaku_lines_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  const std::string small = numbered_lines(0, 10), big = numbered_lines(10, 5000);
  {
    danmaku::LineWriter w(fd);
    w.write_lines(small, 10, false);
    EXPECT_EQ(w.written_lines(), 0u);
    w.write_line("one\n", false);
    w.flush();
    EXPECT_EQ(w.written_lines(), 11u);
    w.write_lines(big, 5000, false);  // > 64 KiB: written at once
    EXPECT_EQ(w.written_lines(), 5011u);
    w.write_lines("", 0, true);  // nothing to add: a flush
    EXPECT_EQ(w.lost_lines(), 0u);
    EXPECT_EQ(w.error(), 0);
  }
  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(read_all(fd), small + "one\n" + big);
  ::close(fd);
}

// Through a pipe (PIPE_BUF at a time, a reader on the other end): the lines are counted as their
// last byte is written, whole batches arrive in order.
TEST(DanmakuLineWriter, BatchesThroughAPipeArriveInOrder) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::string got;
  std::thread reader([&] { got = read_all(p[0]); });
  std::string expected;
  {
    danmaku::LineWriter w(p[1]);
    for (int b = 0; b < 20; ++b) {
      const std::string batch = numbered_lines(b * 700, 700);  // about 35 KiB
      w.write_lines(batch, 700, b % 3 == 0);
      expected += batch;
    }
    w.flush();
    EXPECT_EQ(w.written_lines(), 14000u);
    EXPECT_EQ(w.lost_lines(), 0u);
  }
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  EXPECT_EQ(got, expected);
}

// A write that fails loses the batch, counted by its lines, and every later batch too.
TEST(DanmakuLineWriter, AFailedWriteCountsEveryLineOfTheBatchesLost) {
  const int fd = ::open("/dev/full", O_WRONLY);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  danmaku::LineWriter w(fd);
  w.write_lines(numbered_lines(0, 3), 3, true);
  EXPECT_EQ(w.error(), ENOSPC);
  EXPECT_EQ(w.lost_lines(), 3u);
  w.write_lines(numbered_lines(3, 4), 4, false);
  w.write_line("x\n", true);
  EXPECT_EQ(w.lost_lines(), 8u);
  EXPECT_EQ(w.written_lines(), 0u);
  ::close(fd);
}

// ---------------------------------------------------------------- the binary

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs douyu_danmaku; `out` is its stdout (or stdout and stderr, with merge_stderr).
CliRun run_cli(const std::string& args, bool merge_stderr = false) {
  const std::string cmd = std::string(ASYNCORE_BIN_DIR) + "/douyu_danmaku " + args +
                          (merge_stderr ? " 2>&1" : " 2>/dev/null");
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int raw = ::pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

TEST(DanmakuBinary, DemoJsonlPrintsExactlyNValidObjects) {
  CliRun r = run_cli("--demo --demo-rate=500 --max-messages=40 --output=jsonl --duration=30");
  ASSERT_EQ(r.status, 0);
  std::istringstream in(r.out);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_TRUE(asyncore::douyu::testing::JsonValidator(line).validate()) << line;
    EXPECT_EQ(line.rfind("{\"type\":\"", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 40);
}

TEST(DanmakuBinary, TypesFilter) {
  CliRun r = run_cli(
      "--demo --demo-rate=500 --max-messages=20 --types=chatmsg --output=jsonl --duration=30");
  ASSERT_EQ(r.status, 0);
  std::istringstream in(r.out);
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    EXPECT_EQ(line.rfind("{\"type\":\"chatmsg\"", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 20);
}

TEST(DanmakuBinary, DurationEndsCleanly) {
  CliRun r = run_cli("--demo --output=none --duration=0.5");
  EXPECT_EQ(r.status, 0);
}

TEST(DanmakuBinary, CannotConnectWithNoReconnectExitsOne) {
  CliRun r = run_cli("--room=1 --host=127.0.0.1 --port=1 --noreconnect", true);
  EXPECT_EQ(r.status, 1);
  // The last line names the URL and the reason.
  EXPECT_NE(r.out.find("connection failed (reconnect is off): tcp://127.0.0.1:1: "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos) << r.out;
}

// The seq fields of the chatmsg lines of --output=jsonl, in order.
std::vector<uint64_t> jsonl_seqs(const std::string& out) {
  std::vector<uint64_t> seqs;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("\"seq\":\"");
    if (at != std::string::npos) seqs.push_back(std::stoull(line.substr(at + 7)));
  }
  return seqs;
}

bool is_one_to_n(const std::vector<uint64_t>& seqs, uint64_t n) {
  if (seqs.size() != n) return false;
  for (uint64_t i = 0; i < n; ++i) {
    if (seqs[i] != i + 1) return false;
  }
  return true;
}

// --demo over each transport: the simulator speaks it, the client follows (wss: a certificate
// made for the run, verified).
class DanmakuDemoTransport : public ::testing::TestWithParam<const char*> {};

TEST_P(DanmakuDemoTransport, FloodArrivesExactlyOnceInOrder) {
  CliRun r = run_cli(std::string("--demo --demo-transport=") + GetParam() +
                     " --demo-flood=3000 --max-messages=3000 --output=jsonl --duration=60");
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(is_one_to_n(jsonl_seqs(r.out), 3000));
}

INSTANTIATE_TEST_SUITE_P(Transports, DanmakuDemoTransport, ::testing::Values("tcp", "ws", "wss"),
                         [](const auto& info) { return std::string(info.param); });

// A wss simulator on its own loop thread, with a certificate made for the test.
struct WssSimulator {
  explicit WssSimulator(uint64_t flood) {
    asyncore::douyu::SimulatorOptions o{.rate = 0, .flood = flood};
    o.transport = asyncore::douyu::Transport::kWss;
    o.tls = certificate.server_context();
    server = asyncore::make_dispatcher<asyncore::douyu::DouyuServer>(
        loop, asyncore::Address::ipv4_loopback(0), o);
    url = "wss://127.0.0.1:" + std::to_string(server->address().port()) + "/";
    thread = std::thread([this] { loop.run_forever(0.1); });
  }
  ~WssSimulator() {
    loop.stop();
    thread.join();
    server->close();
  }
  asyncore::test::TestCertificate certificate;
  asyncore::Loop loop;
  std::shared_ptr<asyncore::douyu::DouyuServer> server;
  std::string url;
  std::thread thread;
};

TEST(DanmakuBinary, WssWithCaFileReceivesEveryMessage) {
  WssSimulator sim(2000);
  CliRun r = run_cli("--url=" + sim.url + " --ca-file=" + sim.certificate.cert() +
                     " --room=9999 --max-messages=2000 --output=jsonl --noreconnect --duration=60");
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(is_one_to_n(jsonl_seqs(r.out), 2000));
}

TEST(DanmakuBinary, WssUntrustedCertificateExitsOneWithTheReason) {
  WssSimulator sim(10);
  CliRun r = run_cli("--url=" + sim.url + " --room=9999 --noreconnect --duration=30", true);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("connection failed (reconnect is off): " + sim.url + ": "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("certificate verify failed: self-signed certificate"), std::string::npos)
      << r.out;
}

TEST(DanmakuBinary, UsageErrorExitsTwoHelpExitsZero) {
  EXPECT_EQ(run_cli("--room=x").status, 2);
  EXPECT_EQ(run_cli("--frobnicate").status, 2);
  CliRun help = run_cli("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--max-messages"), std::string::npos);
  // glog's flags are ours too now (gflags): the help names the useful ones, and is still ours,
  // not gflags' listing of every flag in the binary.
  EXPECT_NE(help.out.find("--nologtostderr"), std::string::npos);
  EXPECT_EQ(help.out.find("Flags from"), std::string::npos) << "gflags' own listing";
  EXPECT_EQ(help.out.find("--logbufsecs"), std::string::npos) << "lists every glog flag";
  // Usage errors of the new flags, and gflags' own flags, are ours too: 2, never gflags' 1.
  for (const char* bad : {"--room=https://www.douyu.com/xiaozhi", "--room=1 --url=http://h",
                          "--room=1 --url=tcp://h --port=1", "--room=1 --ca-file=/nonexistent",
                          "--room=1 --insecure --ca-file=/dev/null", "--room=1 --v=x",
                          "--room=1 --helpfull", "--room=1 --flagfile=/dev/null"}) {
    EXPECT_EQ(run_cli(bad).status, 2) << bad;
  }
}

// A signal ends the run cleanly: logout reaches the server, exit status 0, output was printed.
void expect_signal_ends_cleanly(int sig) {
  using namespace asyncore;
  Loop loop;
  auto server = make_dispatcher<douyu::DouyuServer>(loop, Address::ipv4_loopback(0),
                                                    douyu::SimulatorOptions{.rate = 200});
  int joins = 0, logouts = 0;
  server->on_request = [&](const douyu::Message& m, const Address&) {
    joins += m.type() == "joingroup";
    logouts += m.type() == "logout";
  };
  client_test::Child cli({std::string(ASYNCORE_BIN_DIR) + "/douyu_danmaku", "--host=127.0.0.1",
                          "--port=" + std::to_string(server->address().port()), "--room=9999"});
  ASSERT_TRUE(test::run_until(
      loop, [&] { return joins == 1 && server->stats().room_messages_sent >= 5; }, 20));
  cli.signal(sig);
  ASSERT_TRUE(test::run_until(
      loop, [&] { return logouts == 1 && cli.try_wait(); }, 20));
  ASSERT_TRUE(WIFEXITED(*cli.try_wait()));
  EXPECT_EQ(WEXITSTATUS(*cli.try_wait()), 0);
  EXPECT_NE(cli.read_all(5).find("[9999] "), std::string::npos);
}

TEST(DanmakuBinary, SigintSendsLogoutAndExitsZero) { expect_signal_ends_cleanly(SIGINT); }
TEST(DanmakuBinary, SigtermSendsLogoutAndExitsZero) { expect_signal_ends_cleanly(SIGTERM); }

}  // namespace
