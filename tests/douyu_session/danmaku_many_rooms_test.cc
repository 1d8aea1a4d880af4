// douyu_danmaku with many rooms, end to end: the binary as a child process against the simulator
// (in-process with --demo, or the douyu_server binary), and a real redis-server started by the
// test (tests/redis/redis_server_fixture.h). Every message of every room must be in its stream
// exactly once, in order: the simulator numbers each room's messages (seq@=1, 2, ...).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/douyu_session/cli_process.h"
#include "tests/redis/redis_server_fixture.h"

namespace {

using danmaku_test::CliProcess;
using danmaku_test::CliSpawn;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A rooms file of `n` rooms (ids first, first + 1, ...) for this test process.
std::string rooms_file(int n, int first = 1000) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests: "Name/Param"
  const std::string path = ::testing::TempDir() + "danmaku_many_rooms." +
                           std::to_string(::getpid()) + "." + name + ".txt";
  std::ofstream out(path);
  out << "# rooms for the test\n";
  for (int i = 0; i < n; ++i) out << first + i << "\n";
  return path;
}

// A port nobody listens on (bound, read, closed: free for a while).
uint16_t unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// One synchronous connection for reading the streams back (AUTH done by the fixture).
class RedisReader {
 public:
  explicit RedisReader(const asyncore::testing::RedisServer& server) : c_(server.connect()) {}
  bool ok() const { return c_ != nullptr; }
  long long xlen(const std::string& key) {
    auto r = command({"XLEN", key});
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }
  // The seq field of every entry of `key`, in stream order.
  std::vector<uint64_t> seqs(const std::string& key) {
    std::vector<uint64_t> out;
    auto r = command({"XRANGE", key, "-", "+"});
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* fields = r->element[i]->element[1];
      for (size_t k = 0; k + 1 < fields->elements; k += 2) {
        if (std::string(fields->element[k]->str) == "seq") {
          out.push_back(std::stoull(fields->element[k + 1]->str));
          break;
        }
      }
    }
    return out;
  }

 private:
  asyncore::testing::RedisReplyPtr command(const std::vector<std::string>& args) {
    return c_ ? asyncore::testing::RedisServer::command_on(c_.get(), args) : nullptr;
  }
  asyncore::testing::RedisContextPtr c_;
};

// seqs == 1, 2, ..., n.
::testing::AssertionResult one_to_n(const std::vector<uint64_t>& seqs, size_t n) {
  if (seqs.size() != n) {
    return ::testing::AssertionFailure() << seqs.size() << " entries, want " << n;
  }
  for (size_t i = 0; i < n; ++i) {
    if (seqs[i] != i + 1) {
      return ::testing::AssertionFailure() << "entry " << i << " has seq " << seqs[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// seqs == 1, 2, ..., (however many): nothing lost, nothing doubled, in order.
::testing::AssertionResult contiguous(const std::vector<uint64_t>& seqs) {
  return one_to_n(seqs, seqs.size());
}

std::vector<std::string> args(std::initializer_list<std::string> list) {
  std::vector<std::string> out = {danmaku_test::danmaku_bin()};
  out.insert(out.end(), list);
  return out;
}

TEST(DanmakuManyRooms, HundredRoomsEveryMessageInItsStreamOnceInOrder) {
  asyncore::testing::RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.error();
  const int kRooms = 100, kPerRoom = kSanitized ? 30 : 200;
  const std::string file = rooms_file(kRooms);
  CliProcess cli(
      CliSpawn(args({"--demo", "--rooms-file=" + file, "--demo-flood=" + std::to_string(kPerRoom),
                     "--output=none", "--redis=127.0.0.1:" + std::to_string(redis.port()),
                     "--connect-rate=0", "--minloglevel=1", "--duration=120"})));
  RedisReader reader(redis);
  ASSERT_TRUE(reader.ok());
  auto all_there = [&] {
    for (int i = 0; i < kRooms; ++i) {
      if (reader.xlen("douyu:" + std::to_string(1000 + i)) < kPerRoom) return false;
    }
    return true;
  };
  ASSERT_TRUE(cli.pump_until(all_there, 90)) << cli.err();
  cli.signal(SIGINT);
  const auto status = cli.wait(30);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << cli.err();
  for (int i = 0; i < kRooms; ++i) {
    const std::string key = "douyu:" + std::to_string(1000 + i);
    ASSERT_TRUE(one_to_n(reader.seqs(key), kPerRoom)) << key;
  }
  EXPECT_TRUE(contains(cli.err(), "from 100 room(s)")) << cli.err();
  EXPECT_TRUE(
      contains(cli.err(), std::to_string(kRooms * kPerRoom) + " written, 0 dropped, 0 not written"))
      << cli.err();
  std::remove(file.c_str());
}

// Redis goes away mid-stream, politely (SHUTDOWN) or not (SIGKILL: writes in flight may have
// been applied without their answer reaching the client, and are sent again), then comes back on
// the same port with its append-only file.
class DanmakuRedisRestart : public ::testing::TestWithParam<bool> {};

TEST_P(DanmakuRedisRestart, MidStreamLosesAndDoublesNothing) {
  asyncore::testing::RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.error();
  const int kRooms = 20;
  const std::string file = rooms_file(kRooms);
  CliProcess cli(
      CliSpawn(args({"--demo", "--rooms-file=" + file, "--demo-rate=100", "--output=none",
                     "--redis=127.0.0.1:" + std::to_string(redis.port()), "--stats",
                     "--stats-interval=0.1", "--minloglevel=1", "--duration=120"})));
  auto at_least = [&](long long n) {
    return [&, n] {
      RedisReader r(redis);
      for (int i = 0; i < kRooms; ++i) {
        if (r.xlen("douyu:" + std::to_string(1000 + i)) < n) return false;
      }
      return true;
    };
  };
  ASSERT_TRUE(cli.pump_until(at_least(20), 60)) << cli.err();
  if (GetParam()) {
    redis.kill();
  } else {
    ASSERT_TRUE(redis.shutdown());
  }
  // Messages keep coming while Redis is down: the sink buffers them. Wait until --stats shows
  // the sink disconnected with at least 200 messages waiting, then bring Redis back.
  const std::regex waiting("NOT connected, [0-9]+ written, backlog [2-9][0-9][0-9]");
  ASSERT_TRUE(cli.pump_until([&] { return std::regex_search(cli.err(), waiting); }, 30))
      << cli.err();
  ASSERT_TRUE(redis.restart()) << redis.error();
  ASSERT_TRUE(cli.pump_until(at_least(60), 60)) << cli.err();
  cli.signal(SIGTERM);
  const auto status = cli.wait(30);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << cli.err();
  RedisReader reader(redis);
  for (int i = 0; i < kRooms; ++i) {
    const std::string key = "douyu:" + std::to_string(1000 + i);
    const auto seqs = reader.seqs(key);
    EXPECT_GE(seqs.size(), 60u) << key;
    ASSERT_TRUE(contiguous(seqs)) << key;
  }
  std::remove(file.c_str());
}

INSTANTIATE_TEST_SUITE_P(Redis, DanmakuRedisRestart, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Killed" : "Shutdown"; });

TEST(DanmakuManyRooms, WrongRedisPasswordIsAClearErrorWithoutThePassword) {
  asyncore::testing::RedisServer redis("right-pass-42");
  ASSERT_TRUE(redis.start()) << redis.error();
  const std::string target = "127.0.0.1:" + std::to_string(redis.port());
  CliProcess cli(CliSpawn(args(
      {"--demo", "--output=none", "--duration=60", "--redis=redis://:Wr0ngPa55w0rd@" + target})));
  const auto status = cli.wait(30);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_EQ(WEXITSTATUS(*status), 1) << cli.err();
  EXPECT_TRUE(contains(cli.err(), "redis failed: ")) << cli.err();
  EXPECT_TRUE(contains(cli.err(), target)) << cli.err();
  EXPECT_FALSE(contains(cli.err(), "Wr0ngPa55w0rd")) << cli.err();

  // The right one: messages arrive.
  CliProcess good(CliSpawn(args({"--demo", "--output=none", "--demo-flood=50", "--duration=60",
                                 "--redis=redis://:right-pass-42@" + target})));
  RedisReader reader(redis);
  ASSERT_TRUE(good.pump_until([&] { return reader.xlen("douyu:9999") >= 50; }, 30)) << good.err();
  good.signal(SIGINT);
  const auto good_status = good.wait(30);
  ASSERT_TRUE(good_status);
  EXPECT_EQ(WEXITSTATUS(*good_status), 0) << good.err();
  EXPECT_FALSE(contains(good.err(), "right-pass-42")) << good.err();
}

// What `ps` shows of a running process: its /proc/PID/cmdline, NULs as spaces.
std::string command_line_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text) c = c == '\0' ? ' ' : c;
  return text;
}

// A password in --redis is hidden from ps once the flags are read (asterisks, the same length);
// one in DOUYU_REDIS_PASSWORD never shows; both authenticate.
TEST(DanmakuManyRooms, TheRedisPasswordIsHiddenFromPsOrComesFromTheEnvironment) {
  asyncore::testing::RedisServer redis("hidden-pass-77");
  ASSERT_TRUE(redis.start()) << redis.error();
  const std::string target = "127.0.0.1:" + std::to_string(redis.port());
  RedisReader reader(redis);
  {
    CliProcess cli(CliSpawn(args({"--demo", "--output=none", "--demo-flood=50", "--duration=60",
                                  "--redis=redis://:hidden-pass-77@" + target})));
    ASSERT_TRUE(cli.pump_until([&] { return reader.xlen("douyu:9999") >= 50; }, 30)) << cli.err();
    const std::string shown = command_line_of(cli.pid());
    EXPECT_FALSE(contains(shown, "hidden-pass-77")) << shown;
    EXPECT_TRUE(contains(shown, "--redis=redis://:**************@" + target)) << shown;
    cli.signal(SIGINT);
    const auto status = cli.wait(30);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 0) << cli.err();
  }
  CliSpawn spec(args({"--demo", "--output=none", "--demo-flood=50", "--duration=60",
                      "--redis-stream=env:{rid}", "--redis=" + target}));
  spec.env.push_back("DOUYU_REDIS_PASSWORD=hidden-pass-77");
  CliProcess cli(spec);
  ASSERT_TRUE(cli.pump_until([&] { return reader.xlen("env:9999") >= 50; }, 30)) << cli.err();
  EXPECT_FALSE(contains(command_line_of(cli.pid()), "hidden-pass-77"));
  cli.signal(SIGINT);
  const auto status = cli.wait(30);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << cli.err();
  EXPECT_FALSE(contains(cli.err(), "hidden-pass-77")) << cli.err();
}

TEST(DanmakuManyRooms, UnreachableRedisPastTheBufferCountsTheDropsAndExitsOne) {
  const uint16_t nobody = unused_port();
  CliProcess cli(CliSpawn(args({"--demo", "--output=none", "--demo-flood=500", "--max-messages=500",
                                "--redis=127.0.0.1:" + std::to_string(nobody), "--redis-buffer=100",
                                "--redis-flush-timeout=0.5", "--duration=60"})));
  const auto status = cli.wait(60);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_EQ(WEXITSTATUS(*status), 1) << cli.err();
  EXPECT_TRUE(contains(cli.err(), "400 message(s) dropped at the buffer's bound")) << cli.err();
  EXPECT_TRUE(contains(cli.err(), "100 message(s) not written")) << cli.err();
}

// A flood faster than Redis takes it (appendfsync always: every write on disk first): the rooms
// are slowed down, not the messages dropped. 20 rooms x 1,000 messages against a buffer of 200.
TEST(DanmakuManyRooms, ARedisSlowerThanTheRoomsSlowsThemDownNothingDropped) {
  asyncore::testing::RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.error();
  const int kRooms = 20, kPerRoom = kSanitized ? 300 : 1000;
  const std::string file = rooms_file(kRooms);
  CliProcess cli(
      CliSpawn(args({"--demo", "--rooms-file=" + file, "--demo-flood=" + std::to_string(kPerRoom),
                     "--max-messages=" + std::to_string(kRooms * kPerRoom), "--output=none",
                     "--redis=127.0.0.1:" + std::to_string(redis.port()), "--redis-buffer=200",
                     "--connect-rate=0", "--minloglevel=1", "--duration=120"})));
  const auto status = cli.wait(120);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << cli.err();
  EXPECT_TRUE(
      contains(cli.err(), std::to_string(kRooms * kPerRoom) + " written, 0 dropped, 0 not written"))
      << cli.err();
  RedisReader reader(redis);
  for (int i = 0; i < kRooms; ++i) {
    const std::string key = "douyu:" + std::to_string(1000 + i);
    ASSERT_TRUE(one_to_n(reader.seqs(key), kPerRoom)) << key;
  }
  std::remove(file.c_str());
}

// SIGTERM while Redis is unreachable: the rooms stop, the sink waits for Redis (up to
// --redis-flush-timeout, a minute here); a second signal gives up on it at once, counting what
// was not written.
TEST(DanmakuManyRooms, SecondSignalGivesUpOnAnUnreachableRedis) {
  CliProcess cli(CliSpawn(
      args({"--demo", "--output=none", "--demo-flood=300",
            "--redis=127.0.0.1:" + std::to_string(unused_port()), "--redis-flush-timeout=60",
            "--stats", "--stats-interval=0.1", "--duration=120"})));
  const std::regex waiting("NOT connected, 0 written, backlog 300,");
  ASSERT_TRUE(cli.pump_until([&] { return std::regex_search(cli.err(), waiting); }, 30))
      << cli.err();
  cli.signal(SIGTERM);
  // The rooms have logged out and the sink is flushing: loop() still runs (stats go on).
  ASSERT_TRUE(cli.wait_stderr("ended", 0.5) == false);
  const auto first = std::chrono::steady_clock::now();
  cli.signal(SIGTERM);
  const auto status = cli.wait(10);
  ASSERT_TRUE(status) << cli.err();
  EXPECT_LT(std::chrono::steady_clock::now() - first, std::chrono::seconds(10));
  EXPECT_EQ(WEXITSTATUS(*status), 1) << cli.err();
  EXPECT_TRUE(contains(cli.err(), "300 message(s) not written")) << cli.err();
  EXPECT_TRUE(contains(cli.err(), "second signal")) << cli.err();
}

// Many rooms from the douyu_server binary (a separate process: 10,000 sockets each side do not
// fit one process's descriptor limit): every room joins, the run ends cleanly on SIGINT.
TEST(DanmakuManyRooms, TenThousandRoomsJoinInOneProcess) {
  const int kRooms = kSanitized ? 1000 : 10000;
  CliProcess server(CliSpawn({std::string(ASYNCORE_BIN_DIR) + "/douyu_server", "--port=0",
                              "--rate=0.2", "--minloglevel=1"}));
  std::optional<std::string> listening = server.read_line(30);
  ASSERT_TRUE(listening) << server.err();
  const size_t colon = listening->rfind(':');
  ASSERT_NE(colon, std::string::npos) << *listening;
  const std::string port = listening->substr(colon + 1);
  const std::string file = rooms_file(kRooms);
  CliProcess cli(CliSpawn(args({"--host=127.0.0.1", "--port=" + port, "--rooms-file=" + file,
                                "--output=none", "--stats", "--stats-interval=0.5",
                                "--connect-rate=5000", "--minloglevel=1", "--duration=300"})));
  const std::string all = std::to_string(kRooms) + "/" + std::to_string(kRooms) + " rooms joined";
  ASSERT_TRUE(cli.wait_stderr(all, kSanitized ? 120 : 90)) << cli.err().substr(0, 4000);
  cli.signal(SIGINT);
  const auto status = cli.wait(120);
  ASSERT_TRUE(status) << cli.err().substr(0, 4000);
  EXPECT_EQ(WEXITSTATUS(*status), 0)
      << cli.err().substr(cli.err().size() > 4000 ? cli.err().size() - 4000 : 0);
  EXPECT_TRUE(contains(cli.err(), "from " + std::to_string(kRooms) + " room(s)")) << cli.err();
  std::remove(file.c_str());
}

}  // namespace
