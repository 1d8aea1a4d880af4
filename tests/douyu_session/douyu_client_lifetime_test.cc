// DouyuClient where its parts meet: lifetime (stop, destroy, join from every thread), shutdown
// order, back-pressure against the liveness timer, bounded queues both ways, the connect timeout
// and the reconnect backoff against a server that fails right after the login. Each test pins a
// defect found by an independent review (docs/RELIABILITY.md, "Lifetime and shutdown").
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "douyu/client/douyu_client.h"
#include "douyu/simulator/douyu_server.h"
#include "tests/douyu_session/client_test_util.h"
#include "tests/douyu_session/raw_server.h"

namespace asyncore::douyu::test {
namespace {

using asyncore::test::LogCapture;
using Clock = std::chrono::steady_clock;

// Ends the process with a message if a test that could deadlock has not finished in time (a hang
// would otherwise cost ctest's whole timeout and say nothing).
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock lock(mutex_);
          if (!done_cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s did not finish within %lld s (deadlock)\n", what,
                         static_cast<long long>(limit.count()));
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

size_t count_of(const std::vector<std::string>& v, const std::string& what) {
  size_t n = 0;
  for (auto& s : v) n += s == what;
  return n;
}

// Every connection: a login answer and `extra`, kept open.
std::function<Script(int)> login_then(std::string extra) {
  return [extra](int) { return Script{kLoginRes + extra, Script::kKeepOpen}; };
}

std::string chats(uint64_t from, uint64_t count) {
  std::string out;
  for (uint64_t i = from; i < from + count; ++i) out += chat(i);
  return out;
}

// ---------------------------------------------------------------- lifetime

// stop() queues a call for the loop; destroying the client before it runs must make it a no-op
// (it ran on freed memory: ASan heap-use-after-free in Loop::run_pending_calls).
TEST(DouyuClientLifetime, StopThenDestroyOnTheLoopThreadLeavesNoStaleCall) {
  Loop loop;
  RawServer server(loop, login_then(chats(1, 5)));
  Collector got;
  auto client =
      std::make_unique<DouyuClient>(loop, options_for_port(server.port()), got.callback());
  client->start();
  ASSERT_TRUE(run_until(loop, [&] { return got.room_messages() == 5; }));
  client->stop();
  client.reset();
  loop.poll(0.01);  // runs the queued stop call: it must see the client is gone
  loop.poll(0.01);
  EXPECT_TRUE(run_until(loop, [&] { return server.state->open == 0; }));
}

// The callback calls stop() while the destructor waits for the worker: the call stop() queues
// must not run on the destroyed client either.
TEST(DouyuClientLifetime, StopFromTheCallbackWhileTheDestructorJoins) {
  Loop loop;
  RawServer server(loop, login_then(chats(1, 3)));
  Gate destroying;
  std::atomic<bool> stopped_in_callback{false};
  DouyuClient* self = nullptr;
  auto client =
      std::make_unique<DouyuClient>(loop, options_for_port(server.port()), [&](const Message& m) {
        if (m.get_or("seq") != "1") return;
        destroying.wait();  // until the destructor is about to run
        self->stop();
        stopped_in_callback = true;
      });
  self = client.get();
  client->start();
  ASSERT_TRUE(run_until(loop, [&] { return client->frames_received() >= 2; }));
  destroying.open();
  client.reset();  // joins the worker, which calls stop() meanwhile or just before
  EXPECT_TRUE(stopped_in_callback);
  loop.poll(0.01);
  loop.poll(0.01);
}

// stop() then join() on the loop thread with no loop() running: join() runs the loop itself until
// the session has ended (it deadlocked: the worker ends only after the loop thread finishes).
TEST(DouyuClientLifetime, StopThenJoinOnTheLoopThreadOutsideLoopRunsTheSessionToItsEnd) {
  Watchdog watchdog(std::chrono::seconds(30), "stop() + join() on the loop thread");
  Loop loop;
  RawServer server(loop, login_then(chats(1, 3)));
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return got.room_messages() == 3; }));
  client.stop();
  client.join();
  EXPECT_TRUE(client.stopped());
  EXPECT_EQ(count_of(server.state->requests, "logout"), 1u);
}

// Inside a turn of the loop, join() before the client stopped could only wait for itself: it
// says so instead.
TEST(DouyuClientLifetime, JoinInsideALoopTurnBeforeStoppedThrows) {
  Loop loop;
  RawServer server(loop, login_then(""));
  DouyuClient client(loop, options_for_port(server.port()), [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.state() == DouyuClient::State::kJoined; }));
  bool threw = false;
  std::string what;
  loop.call_later(0, [&] {
    try {
      client.join();
    } catch (const std::logic_error& e) {
      threw = true;
      what = e.what();
    }
    client.stop();
  });
  ASSERT_TRUE(run_until(loop, [&] { return threw || client.stopped(); }));
  EXPECT_TRUE(threw);
  EXPECT_NE(what.find("inside a turn of the loop"), std::string::npos) << what;
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

TEST(DouyuClientLifetime, JoinFromTheCallbackThrows) {
  Loop loop;
  RawServer server(loop, login_then(chats(1, 1)));
  std::atomic<int> threw{0};
  DouyuClient* self = nullptr;
  DouyuClient client(loop, options_for_port(server.port()), [&](const Message& m) {
    if (!m.has("seq")) return;
    try {
      self->join();
    } catch (const std::logic_error&) {
      threw = 1;
    }
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return threw.load() == 1; }));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// ---------------------------------------------------------------- shutdown order

// A packet queued just before stop() leaves before the logout (the logout went straight into the
// output buffer, past the send queue: the chat reached the server in 2 of 10 runs).
TEST(DouyuClientShutdown, PacketQueuedBeforeStopLeavesBeforeLogout) {
  for (int run = 0; run < 10; ++run) {
    Loop loop;
    RawServer server(loop, login_then(""));
    DouyuClient client(loop, options_for_port(server.port()), [](const Message&) {});
    client.start();
    ASSERT_TRUE(run_until(loop, [&] { return client.state() == DouyuClient::State::kJoined; }));
    std::thread other([&] {
      EXPECT_TRUE(client.send_body("type@=chatmessage/receiver@=0/content@=hello/"));
      client.stop();
      EXPECT_FALSE(client.send_body("type@=chatmessage/content@=too late/"));
    });
    ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
    other.join();
    client.join();
    ASSERT_TRUE(run_until(loop, [&] { return server.state->open == 0; }));
    const auto& r = server.state->requests;
    ASSERT_EQ(count_of(r, "chatmessage"), 1u) << "run " << run;
    ASSERT_EQ(count_of(r, "logout"), 1u) << "run " << run;
    ASSERT_EQ(r.back(), "logout") << "run " << run;
  }
}

// After the logout the client half-closes and waits for the server's EOF: closing with unread
// input (reading paused by a slow callback) made the kernel send RST, which can destroy the
// logout in flight.
TEST(DouyuClientShutdown, LogoutIsFollowedByAHalfCloseNotAReset) {
  Loop loop;
  RawServer server(loop, login_then(chats(1, 20000)));
  Gate release;
  auto options = options_for_port(server.port());
  options.receive_high_water = 64;
  options.logout_flush_timeout = std::chrono::milliseconds(5000);
  DouyuClient client(loop, options, [&](const Message&) { release.wait(); });
  client.start();
  // Reading pauses with most of the 20,000 chats still in the kernel's buffers.
  ASSERT_TRUE(run_until(loop, [&] { return client.queued_messages() >= 64; }));
  loop.poll(0.01);
  client.stop();
  ASSERT_TRUE(
      run_until(loop, [&] { return server.state->client_eofs + server.state->client_resets > 0; }));
  EXPECT_EQ(server.state->client_resets, 0);
  EXPECT_EQ(server.state->client_eofs, 1);
  EXPECT_EQ(count_of(server.state->requests, "logout"), 1u);
  release.open();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// ---------------------------------------------------------------- back-pressure vs liveness

// While reading is paused nothing is read, so nothing refreshes the silence clock: a consumer
// slower than the dead timeout made the client drop a healthy connection and lose what waited in
// the kernel (reconnects=2 ... missing=12891). Paused reading is not silence.
TEST(DouyuClientBackPressure, APausedReaderIsNotADeadConnection) {
  Loop loop;
  constexpr uint64_t kMessages = 20000;
  auto sim = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
                                          SimulatorOptions{.rate = 0, .flood = kMessages});
  Collector got;
  std::atomic<bool> stalled{false};
  auto options = options_for(*sim);
  options.receive_high_water = 64;
  options.dead_timeout = std::chrono::milliseconds(500);
  DouyuClient client(loop, options, [&](const Message& m) {
    got(m);
    // A consumer that stalls once for three dead timeouts (the point of the test).
    if (m.has("seq") && !stalled.exchange(true)) std::this_thread::sleep_for(1500ms);
  });
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == kMessages; }, 60));
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_TRUE(is_one_to_n(got.seqs(), kMessages));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// Memory is bounded in bytes, not only in messages: frames of many empty fields cost ~16 bytes a
// field decoded (a 1 MiB frame → ~6 MiB), so 8,192 of them fitted under the message bound.
TEST(DouyuClientBackPressure, TheReceiveQueueIsBoundedInBytes) {
  std::string fat = "type@=chatmsg/";
  while (fat.size() < 900'000) fat += "@=/";
  std::string frames;
  for (int i = 0; i < 24; ++i) frames += server_frame(fat);
  Loop loop;
  RawServer server(loop, login_then(frames + chat(1)));
  Gate release;
  std::atomic<size_t> max_bytes{0};
  DouyuClient* self = nullptr;
  auto options = options_for_port(server.port());
  options.receive_high_water_bytes = 16 << 20;
  DouyuClient client(loop, options, [&](const Message&) {
    release.wait();
    size_t q = self->queued_bytes();
    size_t seen = max_bytes.load();
    while (q > seen && !max_bytes.compare_exchange_weak(seen, q)) {
    }
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.queued_bytes() >= (16u << 20); }, 30));
  // Reading is paused now: more turns read nothing more.
  for (int i = 0; i < 20; ++i) loop.poll(0.01);
  const size_t held = client.queued_bytes();
  // One read may overshoot the mark by the frames it completes: at most ~2 frames' worth.
  const size_t one_fat_message = Message(fat).memory_bytes();
  EXPECT_LE(held, (16u << 20) + 2 * one_fat_message);
  EXPECT_LT(client.queued_messages(), 24u);
  release.open();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.delivered() == 26; }, 60));  // loginres too
  EXPECT_LE(max_bytes.load(), (16u << 20) + 2 * one_fat_message);
  EXPECT_EQ(client.reconnects(), 0u);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// ---------------------------------------------------------------- the send side

// A listener that accepts and then never reads: the client's output piles up.
class DeafServer : public Dispatcher {
 public:
  explicit DeafServer(Loop& loop) : Dispatcher(loop) {
    create_socket(AF_INET);
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(8);
  }
  void handle_accepted(Socket sock, const Address&) override {
    accepted.push_back(std::move(sock));
  }
  bool writable() override { return false; }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  std::vector<Socket> accepted;
};

TEST(DouyuClientSend, TheSendQueueIsBoundedWhenTheServerStopsReading) {
  Loop loop;
  DeafServer server(loop);
  auto options = options_for_port(server.port());
  options.send_queue_limit = 64 * 1024;
  options.dead_timeout = std::chrono::milliseconds(60'000);
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.state() == DouyuClient::State::kLoggingIn; }));
  const std::string body = "type@=chatmessage/content@=" + std::string(1000, 'x') + "/";
  uint64_t accepted = 0;
  bool refused = false;
  // The kernel's buffers take a few MB first; after them, the queue fills and send refuses.
  for (int i = 0; i < 100'000 && !refused; ++i) {
    if (client.send_body(body)) {
      ++accepted;
    } else {
      refused = true;
    }
    if (i % 64 == 0) loop.poll(0);
  }
  EXPECT_TRUE(refused) << accepted << " packets accepted";
  EXPECT_EQ(client.dropped_outgoing(), 1u);
  client.stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 5));
  client.join();
}

TEST(DouyuClientSend, RefusalsAreCountedAndLoggedAtMostOncePerInterval) {
  LogCapture logs;
  Loop loop;
  DouyuClient client(loop, DouyuClientOptions{.room_id = "1"}, [](const Message&) {});
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(client.send_body("type@=mrkl/"));
  EXPECT_EQ(client.dropped_outgoing(), 1000u);
  size_t lines = 0;
  for (const auto& line : logs.lines()) {
    lines += line.text.find("not sending 'type@=mrkl/'") != std::string::npos;
  }
  EXPECT_EQ(lines, 1u);
}

// ---------------------------------------------------------------- connecting and reconnecting

// A resolver that never answers (or a dropped SYN) cost minutes per attempt: connect_timeout
// bounds the whole attempt, DNS included.
TEST(DouyuClientConnect, AConnectThatNeverCompletesTimesOut) {
  Loop loop;
  // A nameserver that never answers: a bound UDP socket nobody reads.
  Socket silent(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(silent.fd(), any.sockaddr_ptr(), any.length()), 0);
  loop.set_dns_nameservers({"127.0.0.1:" + std::to_string(Address::local_of(silent.fd()).port())});
  DouyuClientOptions options{.host = "barrage.example", .port = 8601, .room_id = "1"};
  options.connect_timeout = std::chrono::milliseconds(300);
  options.reconnect = false;
  DouyuClient client(loop, options, [](const Message&) {});
  const auto start = Clock::now();
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 4));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(client.failure().find("connect to tcp://barrage.example:8601 timed out after 300 ms"),
            std::string::npos)
      << client.failure();
  client.join();
}

// A server that accepts the login and then sends an error at once, on every connection: the
// backoff reset on every loginres, so the client came back every ~0.5 s forever. It must grow
// until a session lasts healthy_session.
TEST(DouyuClientReconnect, AServerThatFailsRightAfterLoginIsRetriedLessAndLessOften) {
  Loop loop;
  RawServer server(loop, login_then(server_frame("type@=error/code@=51/")));
  auto options = options_for_port(server.port());
  options.backoff_initial = std::chrono::milliseconds(40);
  options.backoff_max = std::chrono::milliseconds(2000);
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return server.state->accepted_at.size() >= 5; }, 20));
  const auto& at = server.state->accepted_at;
  std::vector<double> gaps_ms;
  for (size_t i = 1; i < 5; ++i) {
    gaps_ms.push_back(std::chrono::duration<double, std::milli>(at[i] - at[i - 1]).count());
  }
  // Delays 40, 80, 160, 320 ms ± 20 %, each gap plus a connect and a login: growing (a loaded
  // machine adds tens of ms to any one gap, so neighbours are compared loosely), the last well
  // above three times the first. A backoff reset on every loginres would keep them all ~40 ms.
  for (size_t i = 1; i < gaps_ms.size(); ++i) {
    EXPECT_GT(gaps_ms[i], 0.8 * gaps_ms[i - 1]) << "gap " << i;
  }
  EXPECT_GT(gaps_ms.back(), 3 * gaps_ms.front());
  EXPECT_GT(gaps_ms.back(), 250.0);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

struct BadErrorCase {
  const char* name;
  std::string body;
  std::string reason;
};
void PrintTo(const BadErrorCase& c, std::ostream* os) { *os << c.name; }

class ErrorMessage : public testing::TestWithParam<BadErrorCase> {};

// An error message whose code is missing, not a number or out of range is an error too (it was
// read as code 0 and ignored).
TEST_P(ErrorMessage, WithoutAReadableCodeEndsTheSession) {
  Loop loop;
  RawServer server(loop, login_then(server_frame(GetParam().body)));
  auto options = options_for_port(server.port());
  options.reconnect = false;
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  EXPECT_NE(client.failure().find(GetParam().reason), std::string::npos) << client.failure();
  client.join();
}

INSTANTIATE_TEST_SUITE_P(
    DouyuClientErrors, ErrorMessage,
    testing::Values(BadErrorCase{"Missing", "type@=error/", "server sent an error without a code"},
                    BadErrorCase{"NotANumber", "type@=error/code@=abc/",
                                 "server sent an error whose code is not a number: 'abc'"},
                    BadErrorCase{"OutOfRange", "type@=error/code@=99999999999999999999999/",
                                 "whose code is not a number: '99999999999999999999999'"},
                    BadErrorCase{"Nonzero", "type@=error/code@=51/", "server sent error code 51"}),
    [](const testing::TestParamInfo<BadErrorCase>& info) { return std::string(info.param.name); });

TEST(DouyuClientErrors, CodeZeroIsNotAnError) {
  Loop loop;
  RawServer server(loop, login_then(server_frame("type@=error/code@=0/") + chat(1)));
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return got.room_messages() == 1; }));
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  EXPECT_EQ(client.reconnects(), 0u);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// Intervals the clock cannot hold are configuration errors, said at construction.
TEST(DouyuClientOptionsCheck, IntervalsOutOfRangeAreRejected) {
  Loop loop;
  DouyuClientOptions zero{.room_id = "1"};
  zero.heartbeat_interval = std::chrono::milliseconds(0);
  EXPECT_THROW(DouyuClient(loop, zero, [](const Message&) {}), std::invalid_argument);
  DouyuClientOptions huge{.room_id = "1"};
  huge.heartbeat_interval = std::chrono::hours(24 * 365);
  EXPECT_THROW(DouyuClient(loop, huge, [](const Message&) {}), std::invalid_argument);
}

}  // namespace
}  // namespace asyncore::douyu::test
