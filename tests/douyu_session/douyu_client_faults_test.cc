// Fault injection for DouyuClient: a barrage collector runs for days against a server it does not
// control, so every way that server (or the network) can misbehave is scripted here, byte for
// byte, and each test pins the exact outcome — the log line, reconnect (or a clean end with
// reconnect off and failure() naming the reason), the frames before the fault delivered, no fd
// left behind. docs/RELIABILITY.md lists every fault with the test that pins it.
//
// Byte-level faults use RawServer, a tiny scripted server: after it has read the client's
// loginreq it writes the bytes the test gave it for that connection, then keeps the connection
// open, closes it gracefully (FIN, reading until the client's EOF so no RST can destroy data in
// flight) or resets it (SO_LINGER {1, 0}: RST).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/dispatcher.h"
#include "douyu/client/douyu_client.h"
#include "douyu/protocol/json.h"
#include "douyu/protocol/packet.h"
#include "tests/core/nxdomain_responder.h"
#include "tests/douyu_session/client_test_util.h"
#include "tests/douyu_session/raw_server.h"

namespace asyncore::douyu::test {
namespace {

using asyncore::test::LogCapture;

// ---------------------------------------------------------------- helpers

// Open descriptors of this process (the directory iterator's own fd is counted every time).
size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Resident set size in bytes.
size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Stops the client, waits for it and for the server side to close, and checks nothing is left:
// no dispatcher but the listener in the map, and exactly the descriptors open before.
void stop_and_check_clean(Loop& loop, DouyuClient& client, RawServer& server, size_t fds_before) {
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  ASSERT_TRUE(run_until(loop, [&] { return server.state->open == 0; }));
  loop.poll(0);                // releases what closed in the last turn
  EXPECT_EQ(loop.size(), 1u);  // the listener only
  EXPECT_EQ(open_fds(), fds_before);
}

// ---------------------------------------------------------------- malformed frames

struct MalformedCase {
  const char* name;
  std::string bytes;  // sent after loginres + chat(1)
  const char* kind;   // frame_error_name()
  std::string error;  // the decoder's message, after "frame at offset N: "
};

// Names the case in test output (instead of a hex dump of the struct).
void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

// The bad frame starts right after loginres and one chat.
const uint64_t kBadOffset = kLoginRes.size() + chat(1).size();

std::vector<MalformedCase> malformed_cases() {
  const std::string body = "type@=chatmsg/seq@=2/txt@=x/";
  std::string no_nul = header(static_cast<uint32_t>(8 + body.size()),
                              static_cast<uint32_t>(8 + body.size()), kServerToClient) +
                       body;
  return {
      // An HTTP error page where a frame should be: "HTTP" read as a length.
      {"GarbageBytes", "HTTP/1.1 400 Bad Request\r\n\r\n<html>", "length_too_large",
       "length 1347703880 above maximum 1048576"},
      {"LengthZero", header(0, 0, kServerToClient) + "x", "length_too_small",
       "length 0 below minimum 9"},
      {"LengthEight", header(8, 8, kServerToClient), "length_too_small",
       "length 8 below minimum 9"},
      // Rejected from its first 4 bytes: nothing is allocated for it.
      {"Length2Pow31", header(1u << 31, 1u << 31, kServerToClient), "length_too_large",
       "length 2147483648 above maximum 1048576"},
      {"LengthsMismatch", header(20, 21, kServerToClient) + std::string(9, 'a'), "length_mismatch",
       "length 20 differs from repeated length 21"},
      {"WrongMessageType689", encode_frame(body, kClientToServer), "unexpected_type",
       "unexpected message type 689 (expected 690)"},
      // The client decodes strictly: an "encrypted" frame is not silently misread as text.
      {"NonZeroEncryptByte", header(9, 9, kServerToClient, 1) + std::string(1, '\0'),
       "nonzero_encrypt", "encrypt byte 1 is not 0"},
      {"NonZeroReservedByte", header(9, 9, kServerToClient, 0, 7) + std::string(1, '\0'),
       "nonzero_reserved", "reserved byte 7 is not 0"},
      {"MissingNul", no_nul, "missing_nul",
       "body of " + std::to_string(body.size()) + " bytes does not end with NUL (last byte 0x2f)"},
  };
}

class MalformedFrame : public testing::TestWithParam<MalformedCase> {};

// Reconnect on: the exact decoder error is logged with the peer, the frames before the bad one are
// delivered, the client reconnects, logs in again and goes on (seq 1001 of the healthy server).
TEST_P(MalformedFrame, LogsTheErrorDeliversWhatCameBeforeAndReconnects) {
  const MalformedCase& c = GetParam();
  Loop loop;
  RawServer server(loop, fault_then_healthy({kLoginRes + chat(1) + c.bytes, Script::kKeepOpen}));
  const size_t fds_before = open_fds();
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= 2; }, 10));
  EXPECT_EQ(got.seqs(), (std::vector<uint64_t>{1, 1001}));
  EXPECT_EQ(client.reconnects(), 1u);
  EXPECT_EQ(server.state->loginreqs, 2);
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  const std::string expected = "malformed frame from 127.0.0.1:" + std::to_string(server.port()) +
                               ": frame at offset " + std::to_string(kBadOffset) + ": " + c.error;
  EXPECT_TRUE(log.contains(expected)) << expected;
  EXPECT_TRUE(log.contains(std::string("connection lost: malformed frame (") + c.kind + ")"));
  stop_and_check_clean(loop, client, server, fds_before);
}

// Reconnect off: the client ends cleanly and failure() names the error kind.
TEST_P(MalformedFrame, WithReconnectOffEndsCleanlyNamingTheError) {
  const MalformedCase& c = GetParam();
  Loop loop;
  RawServer server(loop, [&](int) { return Script{kLoginRes + chat(1) + c.bytes}; });
  const size_t fds_before = open_fds();
  Collector got;
  auto options = options_for_port(server.port());
  options.reconnect = false;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 10));
  client.join();
  // The URL of the attempt, then the reason.
  EXPECT_EQ(client.failure(), "tcp://127.0.0.1:" + std::to_string(server.port()) +
                                  ": malformed frame (" + c.kind + ")");
  EXPECT_EQ(got.seqs(), std::vector<uint64_t>{1});
  EXPECT_EQ(got.count("loginres"), 1u);
  ASSERT_TRUE(run_until(loop, [&] { return server.state->open == 0; }));
  loop.poll(0);
  EXPECT_EQ(open_fds(), fds_before);
}

INSTANTIATE_TEST_SUITE_P(DouyuClientFaults, MalformedFrame, testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------- text faults

// The body is text the client passes through: invalid UTF-8 is delivered byte for byte (the
// protocol layer does not validate it), and to_json() still makes valid output of it.
TEST(DouyuClientFaults, InvalidUtf8BodyIsDeliveredNotRejected) {
  const std::string bad_text = "\xff\xfe \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 ok";
  Loop loop;
  RawServer server(loop, [&](int) {
    return Script{kLoginRes +
                  server_frame("type@=chatmsg/seq@=1/rid@=9999/txt@=" + bad_text + "/") + chat(2)};
  });
  std::mutex mutex;
  std::vector<std::string> texts, json;
  DouyuClient client(loop, options_for_port(server.port()), [&](const Message& m) {
    if (m.type() != "chatmsg") return;
    std::lock_guard lock(mutex);
    texts.emplace_back(m.get("txt").value_or(""));
    json.push_back(to_json(m));
  });
  client.start();
  ASSERT_TRUE(run_until(loop, [&] {
    std::lock_guard lock(mutex);
    return texts.size() == 2;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(texts[0], bad_text);
  EXPECT_EQ(texts[1], "hello");
  EXPECT_EQ(json[0].find('\xff'), std::string::npos) << "ill-formed UTF-8 leaked into JSON";
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
}

// ---------------------------------------------------------------- connection faults

// The server closes (FIN) in the middle of a frame: the whole frames before it are delivered, the
// log says how many bytes of the cut frame were kept, and the client reconnects.
TEST(DouyuClientFaults, ServerClosesMidFrame) {
  const std::string cut = chat(2).substr(0, 20);
  Loop loop;
  RawServer server(loop, fault_then_healthy({kLoginRes + chat(1) + cut, Script::kClose}));
  const size_t fds_before = open_fds();
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= 2; }, 10));
  EXPECT_EQ(got.seqs(), (std::vector<uint64_t>{1, 1001}));
  EXPECT_EQ(client.reconnects(), 1u);
  EXPECT_EQ(server.state->loginreqs, 2);
  EXPECT_TRUE(
      log.contains("connection lost: server closed the connection in the middle of a frame "
                   "(20 bytes of it dropped)"));
  stop_and_check_clean(loop, client, server, fds_before);
}

// The server resets the connection (RST): what arrived before is delivered, the log names the
// reset (not a plain close), and the client reconnects.
TEST(DouyuClientFaults, ConnectionResetByServer) {
  Loop loop;
  // No loginres before the reset: the client then sends nothing that could meet the RST first
  // and be reported as a broken pipe instead.
  RawServer server(loop, fault_then_healthy({chat(1) + chat(2), Script::kReset}));
  const size_t fds_before = open_fds();
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= 3; }, 10));
  EXPECT_EQ(got.seqs(), (std::vector<uint64_t>{1, 2, 1001}));
  EXPECT_EQ(client.reconnects(), 1u);
  EXPECT_TRUE(log.contains("connection lost: connection broken: Connection reset by peer"));
  stop_and_check_clean(loop, client, server, fds_before);
}

// Connection refused, reconnect on: every attempt is logged with the reason and retried with
// backoff; once a server listens on the port, the client logs in.
TEST(DouyuClientFaults, RefusedThenServerComesUp) {
  Loop loop;
  uint16_t port;
  {  // a port that was free a moment ago: nothing listens there now
    RawServer probe(loop, [](int) { return Script{}; });
    port = probe.port();
  }
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options_for_port(port), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 3; }, 10));
  EXPECT_TRUE(log.contains("cannot connect: connect to 127.0.0.1:" + std::to_string(port) +
                           ": Connection refused"));
  EXPECT_TRUE(log.contains("(reconnect #3)"));
  EXPECT_EQ(got.types().size(), 0u);
  RawServer server(
      loop, [](int) { return Script{kLoginRes + chat(7)}; }, port);
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == 1; }, 10));
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
}

using asyncore::test::NxdomainResponder;  // tests/core/nxdomain_responder.h

// DNS failure (NXDOMAIN), reconnect off: the client ends and failure() names host and port.
TEST(DouyuClientFaults, DnsFailureWithReconnectOffNamesTheHost) {
  Loop loop;
  NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  DouyuClientOptions options;
  options.host = "barrage.invalid";
  options.port = 8601;
  options.room_id = "1";
  options.reconnect = false;
  Collector got;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  EXPECT_NE(client.failure().find("cannot resolve host 'barrage.invalid' (port 8601)"),
            std::string::npos)
      << client.failure();
  EXPECT_GE(dns.queries, 1);
  EXPECT_EQ(loop.size(), 1u);  // the responder only
}

// DNS failure, reconnect on: each failed lookup is logged and retried with backoff.
TEST(DouyuClientFaults, DnsFailureIsRetriedWithBackoff) {
  Loop loop;
  NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  DouyuClientOptions options;
  options.host = "barrage.invalid";
  options.port = 8601;
  options.room_id = "1";
  options.backoff_initial = 20ms;
  options.backoff_max = 100ms;
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 3; }, 10));
  EXPECT_GE(dns.queries, 3);
  EXPECT_TRUE(log.contains("cannot connect: cannot resolve host 'barrage.invalid' (port 8601)"));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  EXPECT_TRUE(client.failure().empty());
}

// The server logs the client in and then says nothing: the dead-connection timer fires after
// dead_timeout (not before), names the timeout, and the client reconnects.
TEST(DouyuClientFaults, SilentServerTriggersDeadConnectionDetection) {
  Loop loop;
  RawServer server(loop, [](int) { return Script{kLoginRes}; });
  LogCapture log;
  Collector got;
  auto options = options_for_port(server.port());
  options.dead_timeout = 300ms;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.state() == DouyuClient::State::kJoined; }));
  const auto joined = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 1; }, 5));
  EXPECT_GE(std::chrono::steady_clock::now() - joined, 250ms);  // timer granularity: 1/4 timeout
  EXPECT_TRUE(log.contains("(dead-connection timeout 300 ms)"));
  ASSERT_TRUE(run_until(loop, [&] { return server.state->loginreqs >= 2; }));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
}

// ---------------------------------------------------------------- callback faults

// A callback that throws loses only its own message: the error is logged with the message type,
// later messages are still delivered, in order, and the session is not disturbed.
TEST(DouyuClientFaults, CallbackThrowsLaterMessagesStillDelivered) {
  Loop loop;
  RawServer server(loop, [](int) {
    return Script{kLoginRes + chat(1) + chat(2) + chat(3) + chat(4) + chat(5)};
  });
  LogCapture log;
  Collector got;
  DouyuClient client(loop, options_for_port(server.port()), [&](const Message& m) {
    got(m);
    if (m.get("seq") == "2") throw std::runtime_error("callback failed on purpose");
    if (m.get("seq") == "4") throw 42;  // not even a std::exception
  });
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return client.delivered() == 6; }));
  EXPECT_EQ(got.seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(
      log.contains("exception escaped the message callback (message type 'chatmsg'): "
                   "std::runtime_error: callback failed on purpose"));
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

// ---------------------------------------------------------------- stopping

// stop() while the heartbeat thread is in its 45 s wait: the wait is cut short, the logout goes
// out and join() returns at once.
TEST(DouyuClientFaults, StopDuringTheHeartbeatWaitReturnsFast) {
  Loop loop;
  RawServer server(loop, [](int) { return Script{kLoginRes}; });
  auto options = options_for_port(server.port());
  options.heartbeat_interval = 45s;
  Collector got;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(loop, [&] { return got.count("loginres") == 1; }));
  ASSERT_TRUE(run_until(loop, [&] { return server.state->requests.size() == 2; }));  // joingroup
  const auto start = std::chrono::steady_clock::now();
  client.stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 2));
  client.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(client.heartbeats_sent(), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return server.state->requests.size() == 3; }));
  EXPECT_EQ(server.state->requests.back(), "logout");
}

// ---------------------------------------------------------------- exactly once

// The simulator streams at a steady rate and drops the connection every 150 messages; across
// every drop each message is delivered exactly once, in order.
TEST(DouyuClientFaults, ExactlyOnceAcrossRepeatedDropsAtRate) {
  Loop loop;
  auto sim = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0),
                                          SimulatorOptions{.rate = 3000, .drop_after = 150});
  Collector got;
  DouyuClient client(loop, options_for(*sim), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 5 && got.room_messages() >= 800; }, 30));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  const auto seqs = got.seqs();
  EXPECT_TRUE(is_one_to_n(seqs, seqs.size())) << "lost, duplicated or reordered messages";
  EXPECT_GE(sim->stats().connections, 6u);
}

// ---------------------------------------------------------------- no growth

// A client Dispatcher that connects, and closes when the server closes.
struct CycleClient : Dispatcher {
  CycleClient(Loop& loop, const Address& to, int* ended) : Dispatcher(loop), ended(ended) {
    create_socket(AF_INET);
    connect(to);
  }
  bool writable() override { return false; }
  void handle_connect() override {}
  void handle_read() override {
    char buf[16];
    recv(buf, sizeof buf);
  }
  void handle_close() override {
    close();
    ++*ended;
  }
  void handle_error() override {
    ++errors;
    handle_close();
  }
  int* ended;
  static inline int errors = 0;
};

// Accepts and closes at once (the server side closes first, so TIME_WAIT stays on its side).
struct ClosingListener : Dispatcher {
  explicit ClosingListener(Loop& loop) : Dispatcher(loop) {
    create_socket(AF_INET);
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(1024);
  }
  bool writable() override { return false; }
  void handle_accepted(Socket, const Address&) override { ++accepted; }  // Socket closes here
  int accepted = 0;
};

void connect_disconnect(Loop& loop, const Address& to, int cycles) {
  int started = 0, ended = 0;
  while (ended < cycles) {
    while (started < cycles && started - ended < 64) {
      make_dispatcher<CycleClient>(loop, to, &ended);
      ++started;
    }
    loop.poll(0.01);
  }
  loop.poll(0);  // releases the dispatchers closed in the last turn
}

// 10,000 connect/disconnect cycles on raw Dispatchers: no descriptor and no memory left behind.
TEST(DouyuClientFaults, TenThousandConnectDisconnectCyclesLeakNothing) {
  Loop loop;
  ClosingListener listener(loop);
  const Address to = Address::ipv4_loopback(Address::local_of(listener.fileno()).port());
  CycleClient::errors = 0;
  connect_disconnect(loop, to, 1000);  // warm-up: allocator pools, libevent's tables
  const size_t fds = open_fds();
  const size_t rss = rss_bytes();
  connect_disconnect(loop, to, 10000);
  EXPECT_EQ(listener.accepted, 11000);
  EXPECT_EQ(CycleClient::errors, 0);
  EXPECT_EQ(loop.size(), 1u);
  EXPECT_EQ(open_fds(), fds);
  const double growth_kib = (static_cast<double>(rss_bytes()) - static_cast<double>(rss)) / 1024;
  RecordProperty("rss_growth_kib", std::to_string(static_cast<long>(growth_kib)));
  LOG(INFO) << "10,000 cycles: fds " << fds << " -> " << open_fds() << ", RSS growth " << growth_kib
            << " KiB";
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Sanitizers keep freed memory in quarantine, so RSS says nothing there; leaks are ASan's job.
  EXPECT_LT(growth_kib, 2048);
#endif
}

// DouyuClient login/logout cycles (two threads and a socket each time): no descriptor left.
TEST(DouyuClientFaults, RepeatedLoginLogoutCyclesLeakNoDescriptor) {
  Loop loop;
  auto sim =
      make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), SimulatorOptions{.rate = 0});
  auto cycle = [&] {
    Collector got;
    DouyuClient client(loop, options_for(*sim), got.callback());
    client.start();
    ASSERT_TRUE(run_until(loop, [&] { return client.state() == DouyuClient::State::kJoined; }));
    client.stop();
    ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
    client.join();
  };
  cycle();
  ASSERT_TRUE(run_until(loop, [&] { return sim->open_connections() == 0; }));
  loop.poll(0);
  const size_t fds = open_fds();
  constexpr int kCycles = 200;
  for (int i = 0; i < kCycles; ++i) {
    cycle();
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(run_until(loop, [&] { return sim->open_connections() == 0; }));
  loop.poll(0);
  EXPECT_EQ(open_fds(), fds);
  EXPECT_EQ(sim->stats().logouts, static_cast<uint64_t>(kCycles + 1));
}

}  // namespace
}  // namespace asyncore::douyu::test
