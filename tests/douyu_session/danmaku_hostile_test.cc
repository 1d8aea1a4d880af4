// douyu_danmaku against hostile servers and real pipes (docs/RELIABILITY.md, "Hostile server and
// pipes"): a stdout nobody reads, a reader that leaves, a full disk, a closed stdout, SIGHUP, a
// thread limit, and crafted frames (repeated keys, terminal escapes, the same room twice). The
// binary runs as a child process (cli_process.h); the server is a raw socket thread
// (hostile_server.h). Every wait has a deadline; nothing sleeps.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/douyu_session/cli_process.h"
#include "tests/douyu_session/hostile_server.h"

namespace danmaku_test {
namespace {

using Out = CliSpawn::Stdout;

std::vector<std::string> cli(std::vector<std::string> args) {
  args.insert(args.begin(), danmaku_bin());
  return args;
}

std::vector<std::string> against(const HostileServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--host=127.0.0.1", "--port=" + std::to_string(server.port())});
  return cli(std::move(args));
}

int exit_code(const std::optional<int>& status) {
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

// A flood of lines into a pipe nobody reads: the run fills it and stays stuck in write().
std::vector<std::string> flooding(std::vector<std::string> more) {
  std::vector<std::string> args = {"--demo", "--demo-rate=20000", "--output=jsonl"};
  args.insert(args.end(), more.begin(), more.end());
  return cli(std::move(args));
}

bool pipe_full(CliProcess& p) {
  return p.pump_until([&] { return p.stdout_unread() >= p.stdout_capacity() - 4096; }, 20);
}

// ---------------------------------------------------------------- item 1: stuck stdout

TEST(DanmakuStuckStdout, DurationStillEndsTheRunAndCountsTheLostLines) {
  CliProcess p(CliSpawn{flooding({"--duration=1"})});
  const auto status = p.wait(15);
  ASSERT_TRUE(status) << "still running 15 s after --duration=1; stderr:\n" << p.err();
  EXPECT_EQ(exit_code(status), 1) << p.err();
  EXPECT_NE(p.err().find("ended: duration reached"), std::string::npos) << p.err();
  EXPECT_NE(p.err().find("stdout was not being read: "), std::string::npos) << p.err();
  EXPECT_EQ(p.err().find("stdout was not being read: 0 line"), std::string::npos) << p.err();
}

class DanmakuStuckStdoutSignal : public ::testing::TestWithParam<int> {};

TEST_P(DanmakuStuckStdoutSignal, EndsTheRunAndCountsTheLostLines) {
  CliProcess p(CliSpawn{flooding({})});
  ASSERT_TRUE(pipe_full(p)) << p.err();
  p.signal(GetParam());
  const auto status = p.wait(15);
  ASSERT_TRUE(status) << "still running 15 s after the signal; stderr:\n" << p.err();
  EXPECT_EQ(exit_code(status), 1) << p.err();
  EXPECT_NE(p.err().find(std::string("ended: ") + (GetParam() == SIGINT ? "SIGINT" : "SIGTERM")),
            std::string::npos)
      << p.err();
  EXPECT_NE(p.err().find("line(s) lost"), std::string::npos) << p.err();
}

INSTANTIATE_TEST_SUITE_P(Signals, DanmakuStuckStdoutSignal, ::testing::Values(SIGTERM, SIGINT),
                         [](const auto& info) {
                           return info.param == SIGINT ? "Sigint" : "Sigterm";
                         });

// A FIFO whose reader never reads, a drain timeout of an hour: once the loop has ended (the
// program says it waits for stdout), a second signal still ends it at once.
TEST(DanmakuStuckStdout, FifoSecondSignalAfterTheLoopEndedGivesUpAtOnce) {
  const std::string fifo = "/tmp/danmaku-fifo-" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // never reads
  ASSERT_GE(reader, 0);
  CliSpawn spec{flooding({"--drain-timeout=3600"}), Out::kPath, fifo};
  CliProcess p(spec);
  const int capacity = ::fcntl(reader, F_GETPIPE_SZ);
  ASSERT_TRUE(p.pump_until(
      [&] {
        int n = 0;
        return ::ioctl(reader, FIONREAD, &n) == 0 && n >= capacity - 4096;
      },
      20))
      << p.err();
  p.signal(SIGTERM);
  ASSERT_TRUE(p.wait_stderr("stdout is not being read", 15)) << p.err();
  p.signal(SIGTERM);
  const auto status = p.wait(5);
  ::close(reader);
  ::unlink(fifo.c_str());
  ASSERT_TRUE(status) << "a second SIGTERM did not end the wait; stderr:\n" << p.err();
  EXPECT_EQ(exit_code(status), 1);
  EXPECT_NE(p.err().find("line(s) lost"), std::string::npos) << p.err();
}

// ---------------------------------------------------------------- item 3: write errors

// `douyu_danmaku --demo --output=jsonl | head -1`: the reader leaves; the run ends quietly, 0.
TEST(DanmakuWriteErrors, ReaderGoneEndsTheRunQuietlyWithStatusZero) {
  CliProcess p(CliSpawn{cli({"--demo", "--demo-rate=2000", "--output=jsonl"})});
  const auto line = p.read_line(15);
  ASSERT_TRUE(line) << p.err();
  EXPECT_EQ(line->rfind("{\"type\":", 0), 0u) << *line;
  p.close_stdout();
  const auto status = p.wait(15);
  ASSERT_TRUE(status) << "still running 15 s after its reader left; stderr:\n" << p.err();
  EXPECT_EQ(exit_code(status), 0) << p.err();
  EXPECT_NE(p.err().find("ended: stdout closed by its reader"), std::string::npos) << p.err();
}

// `--max-messages=1000 > /dev/full`: a clear error naming errno, status 1.
TEST(DanmakuWriteErrors, FullDiskIsAnErrorNamingTheErrno) {
  CliSpawn spec{cli({"--demo", "--demo-rate=5000", "--max-messages=1000"}), Out::kPath,
                "/dev/full"};
  CliProcess p(spec);
  const auto status = p.wait(30);
  ASSERT_TRUE(status) << p.err();
  EXPECT_EQ(exit_code(status), 1) << p.err();
  EXPECT_NE(p.err().find("cannot write to stdout: No space left on device"), std::string::npos)
      << p.err();
}

// `>&-`: fd 1 is not open. With output to write: refused at startup, status 1; with
// --output=none the run works (fd 1 is reserved with /dev/null so no socket becomes "stdout").
TEST(DanmakuWriteErrors, ClosedStdoutIsRefusedUnlessThereIsNothingToWrite) {
  CliSpawn spec{cli({"--demo", "--demo-rate=2000", "--max-messages=5"}), Out::kClosed};
  CliProcess p(spec);
  const auto status = p.wait(15);
  ASSERT_TRUE(status) << p.err();
  EXPECT_EQ(exit_code(status), 1) << p.err();
  EXPECT_NE(p.err().find("stdout is closed"), std::string::npos) << p.err();

  CliSpawn none{cli({"--demo", "--demo-rate=2000", "--max-messages=5", "--output=none"}),
                Out::kClosed};
  CliProcess q(none);
  EXPECT_EQ(exit_code(q.wait(15)), 0) << q.err();
  EXPECT_NE(q.err().find("ended: max messages reached"), std::string::npos) << q.err();
}

// ---------------------------------------------------------------- item 4: pipes and SIGHUP

// Lines reach a pipe as soon as the client has caught up (not when 4 KiB have piled up), and
// SIGHUP ends the run like SIGTERM: logout, every line written, status 0.
TEST(DanmakuPipes, LinesReachAPipeAtOnceAndSighupLogsOutAndExitsZero) {
  HostileServer server({"type@=chatmsg/rid@=1/uid@=1/nn@=a/txt@=one/level@=1/",
                        "type@=chatmsg/rid@=1/uid@=1/nn@=a/txt@=two/level@=1/",
                        "type@=chatmsg/rid@=1/uid@=1/nn@=a/txt@=three/level@=1/"});
  CliProcess p(CliSpawn{against(server, {"--room=1", "--output=text"})});
  for (const char* txt : {"one", "two", "three"}) {
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << "line '" << txt << "' held back; stderr:\n" << p.err();
    EXPECT_EQ(*line, std::string("[1] <lv 1> a: ") + txt);
  }
  p.signal(SIGHUP);
  const auto status = p.wait(15, true);
  ASSERT_TRUE(status) << p.err();
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << p.err();
  EXPECT_TRUE(server.wait_until([&] { return true; }, 0));
  EXPECT_EQ(server.requests("logout"), 1);
  EXPECT_NE(p.err().find("ended: SIGHUP"), std::string::npos) << p.err();
}

// ---------------------------------------------------------------- item 5 and 7: numbers

TEST(DanmakuNumbers, HeartbeatAndDurationOutOfRangeExitTwoBeforeConnecting) {
  for (const char* flag : {"--heartbeat=0.001", "--heartbeat=1e6", "--duration=1e300",
                           "--demo-rate=1e300", "--max-messages=99999999999999999999"}) {
    CliProcess p(CliSpawn{cli({"--room=1", "--host=127.0.0.1", "--port=1", flag})});
    const auto status = p.wait(10);
    EXPECT_EQ(exit_code(status), 2) << flag << "\n" << p.err();
    EXPECT_NE(p.err().find("bad value"), std::string::npos) << flag << "\n" << p.err();
    EXPECT_EQ(p.err().find("duration reached"), std::string::npos) << flag;
  }
}

// ---------------------------------------------------------------- item 8: thread limit

// 300 rooms under RLIMIT_NPROC (as nobody: root is exempt from it). No std::terminate: a clear
// line naming the room and what ran out, the rooms made so far stopped, status 1.
// Up to 8 rooms each starts two threads of its own; more rooms (or --threads) share a pool.
// Either way, running out of threads is a clean exit 1 that says what ran out.
TEST(DanmakuLimits, ThreadLimitFailsNamingWhatRanOut) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the child as nobody";
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  for (const Case& c :
       {Case{{"--room=1,2,3,4,5,6,7,8"}, "cannot start room "},
        Case{{"--room=1,2,3,4,5,6,7,8,9", "--threads=64"}, "cannot start a pool of 64 worker"}}) {
    std::vector<std::string> args = c.args;
    for (const char* a : {"--host=127.0.0.1", "--port=1", "--noreconnect", "--output=none"})
      args.emplace_back(a);
    CliSpawn spec{cli(args), Out::kPipe};
    spec.uid = 65534;
    spec.nproc = 6;
    CliProcess p(spec);
    const auto status = p.wait(30);
    ASSERT_TRUE(status) << p.err();
    EXPECT_EQ(exit_code(status), 1) << p.err();
    EXPECT_EQ(p.err().find("terminate called"), std::string::npos) << p.err();
    EXPECT_NE(p.err().find(c.says), std::string::npos) << p.err();
    EXPECT_NE(p.err().find("cannot create thread: Resource temporarily unavailable"),
              std::string::npos)
        << p.err();
    EXPECT_NE(p.err().find("ulimit -u"), std::string::npos) << p.err();
  }
}

// ---------------------------------------------------------------- item 9: repeated keys

// type@=uenter/.../type@=chatmsg/: the first wins in --types, text and JSON alike.
TEST(DanmakuHostileFrames, RepeatedTypeFirstWinsInTypesTextAndJson) {
  const std::string spoof = "type@=uenter/nn@=a/type@=chatmsg/txt@=spoof/level@=3/";
  HostileServer server({spoof, "type@=chatmsg/nn@=b/txt@=real/level@=1/"});
  {
    CliProcess p(CliSpawn{
        against(server, {"--room=1", "--types=chatmsg", "--output=jsonl", "--max-messages=1"})});
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << p.err();
    EXPECT_EQ(*line, R"({"type":"chatmsg","nn":"b","txt":"real","level":"1"})");
    EXPECT_EQ(exit_code(p.wait(10)), 0);
  }
  {
    CliProcess p(CliSpawn{
        against(server, {"--room=1", "--types=uenter", "--output=jsonl", "--max-messages=1"})});
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << p.err();
    EXPECT_EQ(*line, R"({"type":"uenter","nn":"a","txt":"spoof","level":"3"})");
    EXPECT_EQ(exit_code(p.wait(10)), 0);
  }
  {
    CliProcess p(CliSpawn{against(server, {"--room=1", "--types=uenter", "--max-messages=1"})});
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << p.err();
    EXPECT_EQ(*line, "[1] -> a (lv 3) entered");
    EXPECT_EQ(exit_code(p.wait(10)), 0);
  }
}

// ---------------------------------------------------------------- item 10: the same room twice

TEST(DanmakuHostileFrames, RoomGivenThreeTimesIsOneConnection) {
  HostileServer server({"type@=chatmsg/nn@=a/txt@=x/level@=1/"});
  CliProcess p(CliSpawn{against(server, {"--room=1,1", "--room=1", "--output=none"})});
  ASSERT_TRUE(server.wait_until([&] { return true; }, 0));
  ASSERT_TRUE(p.pump_until([&] { return server.requests("joingroup") >= 1; }, 10)) << p.err();
  p.signal(SIGTERM);
  EXPECT_EQ(exit_code(p.wait(15)), 0) << p.err();
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests("loginreq"), 1);
  EXPECT_EQ(server.requests("logout"), 1);
  EXPECT_NE(p.err().find("warning: room 1 given 3 times: connecting to it once"), std::string::npos)
      << p.err();
  EXPECT_NE(p.err().find("from 1 room(s)"), std::string::npos) << p.err();
}

// ---------------------------------------------------------------- item 11: terminal escapes

TEST(DanmakuHostileFrames, TerminalEscapesAreNeutralisedInTextAndEscapedInJsonl) {
  HostileServer server(
      {"type@=chatmsg/nn@=evil\x1b]0;pwned\x07\x1b[2J/txt@=hi\xc2\x9b\x7f/level@=1/col@=1/"});
  {
    CliProcess p(CliSpawn{against(server, {"--room=1", "--types=chatmsg", "--max-messages=1"})});
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << p.err();
    for (char c : *line) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << *line;
    EXPECT_EQ(*line, R"([1] <lv 1> evil\x1b]0;pwned\x07\x1b[2J: hi\x9b\x7f)");
    EXPECT_EQ(exit_code(p.wait(10)), 0);
  }
  {
    CliProcess p(CliSpawn{
        against(server, {"--room=1", "--types=chatmsg", "--max-messages=1", "--output=jsonl"})});
    const auto line = p.read_line(10);
    ASSERT_TRUE(line) << p.err();
    EXPECT_EQ(
        *line,
        R"({"type":"chatmsg","nn":"evil\u001b]0;pwned\u0007\u001b[2J","txt":"hi\u009b\u007f",)"
        R"("level":"1","col":"1"})");
    EXPECT_EQ(exit_code(p.wait(10)), 0);
  }
}

}  // namespace
}  // namespace danmaku_test
