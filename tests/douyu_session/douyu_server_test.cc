// DouyuServer (the simulator) on loopback, driven by a raw test client.
//
// Most tests are single-threaded: RawClient is a plain non-blocking socket outside the loop, and
// run_until() alternates one loop turn with draining that socket until a predicate holds or a
// deadline passes — no sleeps as synchronisation. One test uses a blocking client on a
// std::thread (the shape of a real client) and measures flood throughput.
#include "douyu/simulator/douyu_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/loop.h"
#include "douyu/protocol/frame_decoder.h"
#include "douyu/protocol/message.h"
#include "douyu/protocol/packet.h"
#include "douyu/protocol/requests.h"

namespace asyncore::douyu {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A client socket outside the loop. Received frames are decoded strictly (type 690).
class RawClient {
 public:
  explicit RawClient(const Address& server) {
    fd_ = ::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    // Loopback connect completes in the kernel's backlog; the server accepts on a later turn.
    EXPECT_EQ(::connect(fd_, server.sockaddr_ptr(), server.length()), 0) << std::strerror(errno);
    local_ = Address::local_of(fd_);
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send_raw(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void send_body(std::string_view body) { send_raw(encode_frame(body, kClientToServer)); }

  // Waits at most `ms` for something to read (poll), for clients of another process's server.
  void wait(int ms) {
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, ms);
  }
  // Reads what is there now (non-blocking).
  void pump() {
    if (fd_ < 0 || eof_) return;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) {
        eof_ = true;
        return;
      }
      if (n < 0) return;
      raw_.append(buf, static_cast<size_t>(n));
      if (!decoder_.feed(std::string_view(buf, static_cast<size_t>(n)),
                         [this](const FrameView& f) { bodies_.emplace_back(f.body); })) {
        bad_ = true;
      }
    }
  }

  const std::vector<std::string>& bodies() const { return bodies_; }
  std::vector<Message> messages() const {
    std::vector<Message> out;
    for (const auto& b : bodies_) out.emplace_back(b);
    return out;
  }
  // Room messages (those with a seq field), in arrival order.
  std::vector<Message> room_messages() const {
    std::vector<Message> out;
    for (const auto& b : bodies_) {
      Message m(b);
      if (m.has("seq")) out.push_back(std::move(m));
    }
    return out;
  }
  size_t count_type(std::string_view type) const {
    size_t n = 0;
    for (const auto& b : bodies_) n += Message(b).type() == type;
    return n;
  }
  bool eof() const { return eof_; }
  bool bad() const { return bad_; }
  const std::string& raw() const { return raw_; }
  const Address& local() const { return local_; }

 private:
  int fd_ = -1;
  Address local_;
  FrameDecoder decoder_{FrameDecoderOptions{.expected_type = kServerToClient, .strict = true}};
  std::vector<std::string> bodies_;
  std::string raw_;
  bool eof_ = false;
  bool bad_ = false;
};

class DouyuServerTest : public ::testing::Test {
 protected:
  void start(SimulatorOptions options = {}) {
    server_ = make_dispatcher<DouyuServer>(loop_, Address::ipv4_loopback(0), std::move(options));
  }
  std::unique_ptr<RawClient> connect() { return std::make_unique<RawClient>(server_->address()); }

  // One loop turn, then drain the clients, until pred() or the deadline.
  bool run_until(const std::function<bool()>& pred, std::vector<RawClient*> clients,
                 std::chrono::milliseconds deadline = 5s) {
    const auto end = Clock::now() + deadline;
    for (;;) {
      loop_.poll(0.001);
      for (RawClient* c : clients) c->pump();
      if (pred()) return true;
      if (Clock::now() > end) return false;
    }
  }
  bool run_until(const std::function<bool()>& pred, RawClient& c,
                 std::chrono::milliseconds deadline = 5s) {
    return run_until(pred, std::vector<RawClient*>{&c}, deadline);
  }
  // Logs in and joins room `room`; waits for loginres.
  void login_and_join(RawClient& c, int64_t room = 9999) {
    c.send_raw(loginreq(room).bytes());
    ASSERT_TRUE(run_until([&] { return c.count_type("loginres") == 1; }, c));
    c.send_raw(joingroup(room).bytes());
  }

  Loop loop_;
  std::shared_ptr<DouyuServer> server_;
};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/douyu_server_test_" + std::to_string(::getpid()) + "_" + name;
}

TEST_F(DouyuServerTest, BindsAFreePortAndAccepts) {
  start();
  EXPECT_NE(server_->address().port(), 0);
  EXPECT_EQ(server_->address().host(), "127.0.0.1");
  auto c = connect();
  ASSERT_TRUE(run_until([&] { return server_->open_connections() == 1; }, *c));
  EXPECT_EQ(server_->stats().connections, 1u);
}

TEST_F(DouyuServerTest, LoginreqIsAnsweredWithLoginres) {
  start({.rate = 0});
  std::vector<std::string> requests;
  Address peer;
  server_->on_request = [&](const Message& m, const Address& p) {
    requests.emplace_back(m.type());
    peer = p;
  };
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  ASSERT_TRUE(run_until([&] { return !c->bodies().empty(); }, *c));
  const Message res(c->bodies().front());
  EXPECT_EQ(res.type(), "loginres");
  for (const char* key :
       {"userid", "roomgroup", "pg", "sessionid", "username", "nickname", "live_stat"}) {
    EXPECT_TRUE(res.has(key)) << key;
  }
  EXPECT_EQ(res.get_or("roomgroup"), "0");
  EXPECT_EQ(res.get_or("pg"), "0");
  EXPECT_EQ(res.get_or("live_stat"), "1");
  EXPECT_EQ(server_->stats().logins, 1u);
  EXPECT_EQ(requests, std::vector<std::string>{"loginreq"});
  EXPECT_EQ(peer, c->local());
}

TEST_F(DouyuServerTest, RequestSplitIntoSingleBytesIsDecoded) {
  start({.rate = 0});
  auto c = connect();
  const std::string wire = loginreq(9999).bytes();
  for (char ch : wire) {
    c->send_raw(std::string_view(&ch, 1));
    loop_.poll(0);
  }
  ASSERT_TRUE(run_until([&] { return c->count_type("loginres") == 1; }, *c));
  EXPECT_EQ(server_->stats().bad_frames, 0u);
}

TEST_F(DouyuServerTest, JoingroupStartsTheStreamWithSeqInOrder) {
  start({.rate = 1000});
  auto c = connect();
  login_and_join(*c, 4242);
  ASSERT_TRUE(run_until([&] { return c->room_messages().size() >= 30; }, *c));
  const auto msgs = c->room_messages();
  for (size_t i = 0; i < msgs.size(); ++i) {
    ASSERT_EQ(msgs[i].get_int("seq"), static_cast<int64_t>(i + 1));
    // seq sits right after type.
    ASSERT_EQ(msgs[i].key(0), "type");
    ASSERT_EQ(msgs[i].key(1), "seq");
    if (auto rid = msgs[i].get("rid")) {
      EXPECT_EQ(*rid, "4242");
    }
  }
  EXPECT_EQ(server_->stats().joins, 1u);
  EXPECT_FALSE(c->bad());
}

TEST_F(DouyuServerTest, RateIsRoughlyKept) {
  start({.rate = 200});
  auto c = connect();
  login_and_join(*c);
  const auto t0 = Clock::now();
  ASSERT_TRUE(run_until([&] { return c->room_messages().size() >= 40; }, *c));
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // 40 messages at 200/s take ~0.2 s; generous bounds for a loaded machine.
  EXPECT_GT(seconds, 0.1);
  EXPECT_LT(seconds, 2.0);
}

TEST_F(DouyuServerTest, HeartbeatsAreAnswered) {
  start({.rate = 0});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  c->send_raw(mrkl().bytes());
  c->send_raw(keeplive(1700000000).bytes());
  ASSERT_TRUE(run_until([&] { return c->bodies().size() >= 3; }, *c));
  EXPECT_EQ(c->bodies()[1], "type@=mrkl/");
  EXPECT_EQ(c->bodies()[2], "type@=keeplive/tick@=1700000000/");
  EXPECT_EQ(server_->stats().heartbeats, 2u);
}

TEST_F(DouyuServerTest, LogoutFlushesAndCloses) {
  start({.rate = 0});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  c->send_raw(mrkl().bytes());
  c->send_raw(logout().bytes());
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  EXPECT_EQ(c->count_type("loginres"), 1u);
  EXPECT_EQ(c->count_type("mrkl"), 1u);
  EXPECT_EQ(server_->stats().logouts, 1u);
  c->close();
  ASSERT_TRUE(run_until([&] { return server_->open_connections() == 0; }, {}));
}

TEST_F(DouyuServerTest, MalformedClientFrameClosesTheConnection) {
  start({.rate = 0});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  std::string bad = mrkl().bytes();
  bad[4] = static_cast<char>(bad[4] + 1);  // the two lengths differ
  c->send_raw(bad);
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  EXPECT_EQ(server_->stats().bad_frames, 1u);
  EXPECT_EQ(server_->stats().heartbeats, 0u);
  ASSERT_TRUE(run_until([&] { return server_->open_connections() == 0; }, {}));
}

TEST_F(DouyuServerTest, ServerToClientTypeFromAClientIsMalformed) {
  start({.rate = 0});
  auto c = connect();
  c->send_raw(encode_frame("type@=loginreq/roomid@=1/", kServerToClient));
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  EXPECT_EQ(server_->stats().bad_frames, 1u);
  EXPECT_EQ(server_->stats().logins, 0u);
}

TEST_F(DouyuServerTest, JoingroupBeforeLoginIsAnError) {
  start();
  auto c = connect();
  c->send_raw(joingroup(9999).bytes());
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  ASSERT_EQ(c->bodies().size(), 1u);
  EXPECT_EQ(Message(c->bodies()[0]).type(), "error");
  EXPECT_EQ(server_->stats().joins, 0u);
}

TEST_F(DouyuServerTest, LoginWithoutOrWithBadRoomIdIsError204) {
  start();
  for (const char* body : {"type@=loginreq/", "type@=loginreq/roomid@=abc/"}) {
    auto c = connect();
    c->send_body(body);
    ASSERT_TRUE(run_until([&] { return c->eof(); }, *c)) << body;
    ASSERT_EQ(c->bodies().size(), 1u) << body;
    EXPECT_EQ(c->bodies()[0], "type@=error/code@=204/");
  }
  EXPECT_EQ(server_->stats().logins, 0u);
}

TEST_F(DouyuServerTest, JoingroupForAnotherRoomIsError204) {
  start();
  auto c = connect();
  c->send_raw(loginreq(1).bytes());
  c->send_raw(joingroup(2).bytes());
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  EXPECT_EQ(c->count_type("loginres"), 1u);
  EXPECT_EQ(c->bodies().back(), "type@=error/code@=204/");
  EXPECT_EQ(c->room_messages().size(), 0u);
}

TEST_F(DouyuServerTest, UnknownRequestTypesAreIgnored) {
  start({.rate = 0});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  c->send_body("type@=dmsend/content@=hi/");
  c->send_body("no_type_here/");
  c->send_raw(mrkl().bytes());
  ASSERT_TRUE(run_until([&] { return c->count_type("mrkl") == 1; }, *c));
  EXPECT_FALSE(c->eof());
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(DouyuServerTest, PingreqIsSentToLoggedInSessions) {
  start({.rate = 0, .ping_interval = 0.02});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  ASSERT_TRUE(run_until([&] { return c->count_type("pingreq") >= 2; }, *c));
  for (const auto& m : c->messages()) {
    if (m.type() == "pingreq") {
      EXPECT_GT(m.get_int_or("tick", 0), 1600000000000);
    }
  }
}

TEST_F(DouyuServerTest, DropAfterSendsExactlyNThenEofAndReconnectContinues) {
  start({.rate = 2000, .drop_after = 25});
  auto a = connect();
  login_and_join(*a);
  ASSERT_TRUE(run_until([&] { return a->eof(); }, *a));
  auto first = a->room_messages();
  ASSERT_EQ(first.size(), 25u);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].get_int("seq"), int64_t(i + 1));
  a->close();
  ASSERT_TRUE(run_until([&] { return server_->open_connections() == 0; }, {}));

  auto b = connect();
  login_and_join(*b);
  ASSERT_TRUE(run_until([&] { return b->eof(); }, *b));
  auto second = b->room_messages();
  ASSERT_EQ(second.size(), 25u);
  for (size_t i = 0; i < second.size(); ++i) EXPECT_EQ(second[i].get_int("seq"), int64_t(i + 26));
  // The same seq carries the same body on every connection: a consistent stream.
  EXPECT_EQ(server_->stats().room_messages_sent, 50u);
}

TEST_F(DouyuServerTest, DropAfterInFloodModeFlushesEverythingFirst) {
  start({.flood = 1000000, .drop_after = 20000});
  auto a = connect();
  login_and_join(*a);
  ASSERT_TRUE(run_until([&] { return a->eof(); }, *a, 20s));
  const auto msgs = a->room_messages();
  ASSERT_EQ(msgs.size(), 20000u);
  EXPECT_EQ(msgs.back().get_int("seq"), 20000);
  EXPECT_FALSE(a->bad());
}

// Splits raw bytes into frames by the FIRST length field only (tolerant, unlike FrameDecoder).
std::vector<std::string> split_by_first_length(const std::string& raw, std::vector<bool>* ok) {
  std::vector<std::string> frames;
  size_t at = 0;
  while (raw.size() - at >= kHeaderSize) {
    uint32_t len1, len2;
    std::memcpy(&len1, raw.data() + at, 4);
    std::memcpy(&len2, raw.data() + at + 4, 4);
    if (raw.size() - at < len1 + 4) break;
    frames.emplace_back(raw.substr(at + kHeaderSize, len1 - 9));
    ok->push_back(len1 == len2);
    at += len1 + 4;
  }
  return frames;
}

TEST_F(DouyuServerTest, MalformedAfterSendsOneBadFrameThenGoesOn) {
  start({.rate = 2000, .malformed_after = 5});
  auto c = connect();
  login_and_join(*c);
  ASSERT_TRUE(run_until([&] { return c->raw().size() > 4000; }, *c));
  EXPECT_TRUE(c->bad());  // a strict decoder rejects the stream
  std::vector<bool> ok;
  const auto frames = split_by_first_length(c->raw(), &ok);
  // loginres, 5 room messages, the malformed frame, then seq 6, 7, ...
  ASSERT_GE(frames.size(), 9u);
  EXPECT_EQ(Message(frames[0]).type(), "loginres");
  for (size_t i = 1; i <= 5; ++i) {
    EXPECT_TRUE(ok[i]);
    EXPECT_EQ(Message(frames[i]).get_int("seq"), int64_t(i));
  }
  EXPECT_FALSE(ok[6]);
  EXPECT_TRUE(ok[7]);
  EXPECT_EQ(Message(frames[7]).get_int("seq"), 6);
  EXPECT_EQ(Message(frames[8]).get_int("seq"), 7);
  EXPECT_EQ(std::count(ok.begin(), ok.end(), false), 1);
}

TEST_F(DouyuServerTest, SilentSendsNothingAfterLoginres) {
  start({.rate = 1000, .silent = true});
  auto c = connect();
  login_and_join(*c);
  c->send_raw(mrkl().bytes());
  // Absence can only be shown over time: run the loop for a while.
  run_until([] { return false; }, *c, 300ms);
  EXPECT_EQ(c->bodies().size(), 1u);
  EXPECT_EQ(c->count_type("loginres"), 1u);
  EXPECT_FALSE(c->eof());
  EXPECT_EQ(server_->stats().joins, 1u);
  EXPECT_EQ(server_->stats().heartbeats, 1u);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(DouyuServerTest, SendErrorAfterLogin) {
  start({.send_error_after_login = true});
  auto c = connect();
  c->send_raw(loginreq(9999).bytes());
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  ASSERT_EQ(c->bodies().size(), 1u);
  EXPECT_EQ(c->bodies()[0], "type@=error/code@=52/");
}

TEST_F(DouyuServerTest, FloodDeliversExactlyNThenKeepsAnsweringHeartbeats) {
  start({.flood = 50000});
  auto c = connect();
  login_and_join(*c);
  ASSERT_TRUE(run_until([&] { return c->room_messages().size() >= 50000; }, *c, 30s));
  c->send_raw(mrkl().bytes());
  ASSERT_TRUE(run_until(
      [&] {
        return c->count_type("mrkl") >= 1 && !c->bodies().empty() &&
               c->bodies().back() == "type@=mrkl/";
      },
      *c));
  const auto msgs = c->room_messages();
  ASSERT_EQ(msgs.size(), 50000u);
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(msgs[i].get_int("seq"), int64_t(i + 1));
  EXPECT_EQ(server_->stats().room_messages_sent, 50000u);
  EXPECT_FALSE(c->eof());
  EXPECT_FALSE(c->bad());
}

TEST_F(DouyuServerTest, ReplayFileIsStreamedInACycle) {
  const std::string path = temp_path("replay.txt");
  {
    std::ofstream f(path);
    f << "type@=chatmsg/rid@=1/txt@=你好🔥/\n\n"
      << "rid@=1/type@=uenter/nn@=a@Sb/\r\n"
      << "   \n"
      << "nn@=no type/\n";
  }
  start({.rate = 1000, .replay_file = path});
  auto c = connect();
  login_and_join(*c);
  ASSERT_TRUE(run_until([&] { return c->room_messages().size() >= 7; }, *c));
  std::vector<std::string> room;
  for (const auto& b : c->bodies()) {
    if (b.find("seq@=") != std::string::npos) room.push_back(b);
  }
  EXPECT_EQ(room[0], "type@=chatmsg/seq@=1/rid@=1/txt@=你好🔥/");
  EXPECT_EQ(room[1], "rid@=1/type@=uenter/seq@=2/nn@=a@Sb/");
  EXPECT_EQ(room[2], "seq@=3/nn@=no type/");
  EXPECT_EQ(room[3], "type@=chatmsg/seq@=4/rid@=1/txt@=你好🔥/");
  EXPECT_EQ(room[6], "type@=chatmsg/seq@=7/rid@=1/txt@=你好🔥/");
  std::remove(path.c_str());
}

TEST_F(DouyuServerTest, MissingReplayFileThrows) {
  EXPECT_THROW(start({.replay_file = temp_path("does_not_exist")}), std::runtime_error);
}

TEST_F(DouyuServerTest, RealisticMixHasEveryKind) {
  start({.flood = 6000});
  auto c = connect();
  login_and_join(*c, 777);
  ASSERT_TRUE(run_until([&] { return c->room_messages().size() >= 6000; }, *c, 30s));
  std::set<std::string> types;
  bool cjk_or_emoji_chat = false, coloured = false, combo = false, nested_list = false;
  bool live_on = false, live_off = false;
  for (const auto& m : c->room_messages()) {
    types.emplace(m.type());
    if (m.type() == "chatmsg") {
      const auto txt = m.get_or("txt");
      if (std::any_of(txt.begin(), txt.end(), [](char ch) { return ch & 0x80; })) {
        cjk_or_emoji_chat = true;
      }
      if (m.get_int_or("col", 0) > 0) coloured = true;
    }
    if (m.type() == "dgb" && m.get_int_or("hits", 0) > 1) combo = true;
    if (m.type() == "rss") (m.get_int_or("ss", 0) == 1 ? live_on : live_off) = true;
    if (m.type() == "frank" || m.type() == "ranklist" || m.type() == "noble_num_info") {
      const auto list = m.get_map_list("list");
      if (!list.empty() && std::any_of(list.front().begin(), list.front().end(),
                                       [](const auto& kv) { return kv.first == "uid"; })) {
        nested_list = true;
      }
    }
  }
  for (const char* t :
       {"chatmsg", "uenter", "dgb", "spbc", "rss", "frank", "ranklist", "noble_num_info"}) {
    EXPECT_EQ(types.count(t), 1u) << t;
  }
  // Session-control types are not room activity.
  EXPECT_EQ(types.count("pingreq"), 0u);
  EXPECT_EQ(types.count("mrkl"), 0u);
  EXPECT_TRUE(cjk_or_emoji_chat);
  EXPECT_TRUE(coloured);
  EXPECT_TRUE(combo);
  EXPECT_TRUE(nested_list);
  EXPECT_TRUE(live_on || live_off);
}

TEST_F(DouyuServerTest, SameSeedSameStream) {
  start({.flood = 200, .seed = 7});
  auto a = connect();
  login_and_join(*a, 5);
  ASSERT_TRUE(run_until([&] { return a->room_messages().size() >= 200; }, *a));
  Loop other_loop;
  auto other = make_dispatcher<DouyuServer>(other_loop, Address::ipv4_loopback(0),
                                            SimulatorOptions{.flood = 200, .seed = 7});
  RawClient b(other->address());
  b.send_raw(loginreq(5).bytes());
  b.send_raw(joingroup(5).bytes());
  const auto end = Clock::now() + 5s;
  while (b.room_messages().size() < 200 && Clock::now() < end) {
    other_loop.poll(0.001);
    b.pump();
  }
  ASSERT_EQ(b.room_messages().size(), 200u);
  EXPECT_EQ(a->room_messages()[199].encode(), b.room_messages()[199].encode());
}

TEST_F(DouyuServerTest, ManyConnectionsStreamAtOnce) {
  start({.rate = 100});
  constexpr int kClients = 1000;  // the lead's client test runs 1,000 on one loop
  std::vector<std::unique_ptr<RawClient>> clients;
  std::vector<RawClient*> raw;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect());
    raw.push_back(clients.back().get());
    clients.back()->send_raw(loginreq(1000 + i % 10).bytes());
    clients.back()->send_raw(joingroup(1000 + i % 10).bytes());
  }
  ASSERT_TRUE(run_until(
      [&] {
        for (auto* c : raw) {
          if (c->room_messages().size() < 3) return false;
        }
        return true;
      },
      raw, 20s));
  EXPECT_EQ(server_->open_connections(), size_t(kClients));
  EXPECT_EQ(server_->stats().joins, uint64_t(kClients));
  for (auto* c : raw) EXPECT_EQ(c->room_messages()[0].get_int("seq"), 1);
  clients.clear();
  ASSERT_TRUE(run_until([&] { return server_->open_connections() == 0; }, {}));
}

TEST_F(DouyuServerTest, DestroyingTheServerClosesItsConnections) {
  start({.rate = 100});
  auto c = connect();
  login_and_join(*c);
  ASSERT_TRUE(run_until([&] { return !c->room_messages().empty(); }, *c));
  server_->close();
  server_.reset();
  ASSERT_TRUE(run_until([&] { return c->eof(); }, *c));
  ASSERT_TRUE(run_until([&] { return loop_.size() == 0 && loop_.timer_count() == 0; }, *c));
  EXPECT_EQ(loop_.loop(0.01), 0u);  // nothing left to run
}

// A blocking client on its own thread, as a real client is: the loop runs on this thread. Also
// the throughput measurement (trivial reader: decode frames, count them).
TEST_F(DouyuServerTest, BlockingClientOnAThreadReceivesAFlood) {
  const uint64_t n = [] {
    const char* env = std::getenv("DOUYU_FLOOD_N");
    return env != nullptr ? std::strtoull(env, nullptr, 10) : 200000ull;
  }();
  start({.flood = n});
  const Address addr = server_->address();
  std::atomic<bool> done{false};
  uint64_t received = 0, last_seq = 0;
  bool in_order = true;
  double seconds = 0;
  std::thread client([&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, addr.sockaddr_ptr(), addr.length()) != 0) {
      done = true;
      return;
    }
    const std::string hello = loginreq(9999).bytes() + joingroup(9999).bytes();
    (void)::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    FrameDecoder decoder{FrameDecoderOptions{.expected_type = kServerToClient}};
    std::vector<char> buf(256 * 1024);
    const auto t0 = Clock::now();
    while (received < n) {
      const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
      if (r <= 0) break;
      decoder.feed(std::string_view(buf.data(), static_cast<size_t>(r)), [&](const FrameView& f) {
        const auto at = f.body.find("/seq@=");
        if (at == std::string_view::npos) return;  // loginres
        const uint64_t seq = std::strtoull(f.body.data() + at + 6, nullptr, 10);
        in_order = in_order && seq == last_seq + 1;
        last_seq = seq;
        ++received;
      });
    }
    seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ::close(fd);
    done = true;
  });
  const auto end = Clock::now() + 60s;
  while (!done && Clock::now() < end) loop_.poll(0.01);
  client.join();
  EXPECT_EQ(received, n);
  EXPECT_TRUE(in_order);
  std::printf("flood: %llu messages in %.3f s = %.0f messages/s\n",
              static_cast<unsigned long long>(received), seconds, received / seconds);
}

// The samples/douyu_server program: "listening on HOST:PORT" first on stdout, a working server
// behind it, and a clean exit on SIGTERM.
TEST(DouyuServerProgram, PrintsItsAddressServesAndStopsOnSigterm) {
  const std::string bin = std::string(ASYNCORE_BIN_DIR) + "/douyu_server";
  int out_pipe[2];
  ASSERT_EQ(::pipe(out_pipe), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::execl(bin.c_str(), bin.c_str(), "--port", "0", "--flood=1000", "--seed", "3",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string line;
  char ch;
  while (::read(out_pipe[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  ::close(out_pipe[0]);
  ASSERT_EQ(line.rfind("listening on 127.0.0.1:", 0), 0u) << line;
  const auto port = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));

  RawClient c(Address::ipv4_loopback(port));
  c.send_raw(loginreq(9999).bytes() + joingroup(9999).bytes());
  const auto end = Clock::now() + 10s;
  while (c.room_messages().size() < 1000 && Clock::now() < end) {
    c.wait(10);
    c.pump();
  }
  EXPECT_EQ(c.room_messages().size(), 1000u);
  EXPECT_EQ(c.count_type("loginres"), 1u);

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(DouyuServerProgram, UnknownFlagIsAUsageError) {
  const std::string cmd =
      std::string(ASYNCORE_BIN_DIR) + "/douyu_server --no-such-flag 2>/dev/null";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace asyncore::douyu
