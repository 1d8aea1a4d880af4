// Attacks on the transport stack where its pieces meet (core/layer.h, core/dispatcher.h,
// core/tls.h, client/websocket.h, douyu/client/transport.h, docs/TLS.md, docs/WEBSOCKET.md): a
// Dispatcher with a WebSocketLayer, over plain TCP and over TLS, against raw loopback peers that
// misbehave on purpose; DouyuClient over ws:// and wss://; the simulator serving ws. Black-box:
// every expectation is a documented promise. Waits are conditions with a deadline (run_until);
// "nothing happens for a while" is a run_until whose condition never becomes true.
//
// Each test pins a promise of the headers; the defects it found were fixed (see git log).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/websocket.h"
#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/tls.h"
#include "douyu/client/douyu_client.h"
#include "douyu/client/transport.h"
#include "douyu/protocol/packet.h"
#include "douyu/simulator/douyu_server.h"
#include "tests/client/websocket_test_util.h"
#include "tests/core/test_certificate.h"
#include "tests/douyu_session/client_test_util.h"

namespace asyncore::douyu::attack {
namespace {

using asyncore::test::run_until;
using asyncore::test::TestCertificate;
using douyu::test::Collector;
using douyu::test::is_one_to_n;
using douyu::test::options_for;
using douyu::test::options_for_port;
using ws_test::Frame;
using ws_test::frame;
using ws_test::next_frame;
using ws_test::response_for;
using namespace std::chrono_literals;

TestCertificate& cert() {
  static TestCertificate c;
  return c;
}

// Runs the loop for `seconds` (a window in which something must NOT happen).
void run_for(Loop& loop, double seconds) {
  run_until(
      loop, [] { return false; }, seconds);
}

// A raw peer: bytes in, bytes out (plaintext over TLS when it is a TLS server). Also a proxy
// half when `partner` is set: what it reads goes to the partner's output.
class Peer : public Dispatcher {
 public:
  Peer(Loop& loop, Socket sock, std::shared_ptr<TlsContext> tls)
      : Dispatcher(loop, std::move(sock)) {
    set_tcp_nodelay();
    if (tls) start_tls_server(std::move(tls));
  }
  explicit Peer(Loop& loop) : Dispatcher(loop) {}
  bool readable() override { return reading && !eof; }
  bool writable() override {
    return out_pos < out.size() || (shut_when_drained && !shut_done && is_open());
  }
  void handle_connect() override {}
  void handle_read() override {
    char buf[65536];
    ssize_t n = recv(buf, std::min(sizeof buf, read_size));
    if (n <= 0) return;
    if (auto p = partner.lock()) {
      p->out.append(buf, static_cast<size_t>(n));
    } else {
      in.append(buf, static_cast<size_t>(n));
    }
  }
  void handle_write() override {
    if (out_pos < out.size()) {
      size_t n = send(out.data() + out_pos, std::min(out.size() - out_pos, write_chunk));
      out_pos += n;
      written += n;
      if (out_pos == out.size()) {
        out.clear();
        out_pos = 0;
      }
      return;
    }
    if (shut_when_drained && !shut_done) {
      shut_done = true;
      ::shutdown(fileno(), SHUT_WR);
    }
  }
  void handle_close() override {
    eof = true;
    if (auto p = partner.lock()) p->shut_when_drained = true;
  }
  void handle_error() override {
    errors.push_back(current_exception_text());
    eof = true;
    close();
  }
  bool has_request() const { return in.find("\r\n\r\n") != std::string::npos; }
  std::string take_request() {
    size_t end = in.find("\r\n\r\n") + 4;
    std::string r = in.substr(0, end);
    in.erase(0, end);
    return r;
  }
  std::vector<Frame> frames() {
    std::vector<Frame> got;
    while (auto f = next_frame(in)) got.push_back(*f);
    return got;
  }

  std::string in;
  std::string out;
  size_t out_pos = 0;
  size_t written = 0;
  size_t write_chunk = SIZE_MAX;
  size_t read_size = 65536;
  bool reading = true;
  bool eof = false;
  bool shut_when_drained = false;
  bool shut_done = false;
  std::weak_ptr<Peer> partner;
  std::vector<std::string> errors;
};

class Listener : public Dispatcher {
 public:
  explicit Listener(Loop& loop, std::shared_ptr<TlsContext> tls = nullptr)
      : Dispatcher(loop), tls_(std::move(tls)) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  bool writable() override { return false; }
  void handle_accepted(Socket sock, const Address&) override {
    conns.push_back(make_dispatcher<Peer>(loop(), std::move(sock), tls_));
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  std::shared_ptr<TlsContext> tls_;
  std::vector<std::shared_ptr<Peer>> conns;
};

// A TCP proxy that forwards `chunk` bytes per turn each way (1: one-byte segments).
class Proxy : public Dispatcher {
 public:
  Proxy(Loop& loop, uint16_t upstream, size_t chunk)
      : Dispatcher(loop), upstream_(upstream), chunk_(chunk) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  bool writable() override { return false; }
  void handle_accepted(Socket sock, const Address&) override {
    auto down = make_dispatcher<Peer>(loop(), std::move(sock), nullptr);
    auto up = make_dispatcher<Peer>(loop());
    up->create_socket();
    up->connect(Address::ipv4_loopback(upstream_));
    up->set_tcp_nodelay();
    for (auto* p : {down.get(), up.get()}) {
      p->write_chunk = chunk_;
      p->read_size = chunk_;
    }
    down->partner = up;
    up->partner = down;
    pairs.emplace_back(down, up);
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  std::vector<std::pair<std::shared_ptr<Peer>, std::shared_ptr<Peer>>> pairs;

 private:
  uint16_t upstream_;
  size_t chunk_;
};

// A client Dispatcher with a WebSocket client layer, instrumented.
class WsDialer : public Dispatcher {
 public:
  explicit WsDialer(Loop& loop, WebSocketOptions o = {}) : Dispatcher(loop) {
    auto layer = WebSocketLayer::client(std::move(o));
    ws = layer.get();
    set_layer(std::move(layer));
  }
  void open(uint16_t port, std::shared_ptr<TlsContext> tls = nullptr) {
    create_socket();
    connect(Address::ipv4_loopback(port));
    if (tls) start_tls_client(std::move(tls));
  }
  bool readable() override { return want_read; }
  bool writable() override { return static_cast<bool>(on_write); }
  void handle_connect() override {
    ++connects;
    if (on_connect) on_connect();
  }
  void handle_read() override {
    ++reads;
    if (!want_read) read_while_paused = true;
    char buf[65536];
    ssize_t n = recv(buf, std::min(sizeof buf, read_size));
    if (n > 0) received.append(buf, static_cast<size_t>(n));
    if (on_read) on_read(n);
  }
  void handle_write() override {
    if (on_write) on_write();
  }
  void handle_error() override {
    errors.push_back(current_exception_text());
    Dispatcher::handle_error();  // logs, then handle_close()
  }
  void handle_close() override {
    ++closes;
    close();
  }
  std::string all_errors() const {
    std::string s;
    for (auto& e : errors) s += e + "\n";
    return s;
  }

  WebSocketLayer* ws = nullptr;
  bool want_read = true;
  size_t read_size = 65536;
  int connects = 0, reads = 0, closes = 0;
  bool read_while_paused = false;
  std::string received;
  std::vector<std::string> errors;
  std::function<void()> on_connect, on_write;
  std::function<void(ssize_t)> on_read;
};

// One loop, a raw listener (TLS or not) and an instrumented WebSocket client.
class Stack : public ::testing::TestWithParam<bool> {
 protected:
  bool tls() const { return GetParam(); }
  void SetUp() override {
    ASSERT_TRUE(cert().ok());
    listener = make_dispatcher<Listener>(loop, tls() ? cert().server_context() : nullptr);
  }
  std::shared_ptr<WsDialer> dial(WebSocketOptions o = {}) {
    auto c = make_dispatcher<WsDialer>(loop, std::move(o));
    c->open(listener->port(), tls() ? cert().trusting_client_context() : nullptr);
    return c;
  }
  // Waits for connection i's upgrade request; returns the peer (nullptr on timeout).
  std::shared_ptr<Peer> request(size_t i, std::string* req) {
    if (!run_until(loop, [&] {
          return listener->conns.size() > i && listener->conns[i]->has_request();
        })) {
      return nullptr;
    }
    *req = listener->conns[i]->take_request();
    return listener->conns[i];
  }

  Loop loop;
  std::shared_ptr<Listener> listener;
};

std::string param_name(const ::testing::TestParamInfo<bool>& info) {
  return info.param ? "wss" : "ws";
}

// ------------------------------------------------------------------------------------ lifetime

// close() from handle_read() while the layer still holds decoded payload (and TLS decrypted
// bytes): no further handle_read() (docs: "a closed dispatcher receives no further events"), the
// peer gets close 1000 then EOF; dropping the last owner afterwards is safe.
TEST_P(Stack, CloseInsideHandleReadWhileLayerHoldsPayload) {
  auto c = dial();
  c->read_size = 1;
  c->on_read = [&](ssize_t) { c->close(); };
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  std::string burst = response_for(req);
  for (int i = 0; i < 20; ++i) burst += frame(ws_test::kBinary, std::string(1000, 'a' + i));
  conn->out += burst;
  ASSERT_TRUE(run_until(loop, [&] { return c->reads > 0 && !c->is_open(); }));
  run_for(loop, 0.2);
  EXPECT_EQ(c->reads, 1);
  EXPECT_EQ(c->received, "a");
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
  ASSERT_TRUE(run_until(loop, [&] { return conn->eof; }));
  auto frames = conn->frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().opcode, ws_test::kClose);
  EXPECT_EQ(frames.back().close_code(), 1000);
  c.reset();  // the last owner goes: the layer (with its undelivered payload) with it
  run_for(loop, 0.05);
}

// close() while the TLS handshake waits (the server never answers the ClientHello): no handler
// runs; then the same dispatcher connects again (TLS stays configured) and works from scratch.
TEST(TransportAttack, CloseDuringTlsHandshakeThenReconnectSameDispatcher) {
  ASSERT_TRUE(cert().ok());
  Loop loop;
  Socket mute(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(mute.fd(), any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(mute.fd(), 4), 0);  // never accepted: the ClientHello goes unanswered
  auto listener = make_dispatcher<Listener>(loop, cert().server_context());
  auto c = make_dispatcher<WsDialer>(loop);
  c->open(Address::local_of(mute.fd()).port(), cert().trusting_client_context());
  ASSERT_TRUE(run_until(loop, [&] { return c->handshaking(); }));
  run_for(loop, 0.05);
  ASSERT_TRUE(c->handshaking());
  c->close();
  run_for(loop, 0.05);
  EXPECT_EQ(c->connects, 0);
  EXPECT_EQ(c->reads, 0);
  EXPECT_EQ(c->closes, 0);
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();

  c->create_socket();
  c->connect(Address::ipv4_loopback(listener->port()));  // no start_tls_client: it stays
  ASSERT_TRUE(run_until(loop, [&] {
    return !listener->conns.empty() && listener->conns[0]->has_request();
  })) << c->all_errors();
  auto conn = listener->conns[0];
  conn->out += response_for(conn->take_request()) + frame(ws_test::kBinary, "fresh");
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "fresh" || c->closes > 0; }));
  EXPECT_EQ(c->received, "fresh");
  EXPECT_EQ(c->connects, 1);
  EXPECT_TRUE(c->tls_established());
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
}

// close() during the WebSocket upgrade: the peer sees the request and then EOF — no WebSocket
// frame (a close 1000) before a 101 came, which an HTTP server would read as garbage.
TEST_P(Stack, CloseDuringUpgradeSendsNoFrame) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  EXPECT_TRUE(c->handshaking());
  c->close();
  ASSERT_TRUE(run_until(loop, [&] { return conn->eof; }));
  EXPECT_EQ(conn->in, "") << "bytes after the upgrade request";
  EXPECT_EQ(c->connects, 0);
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
}

// readable() false from the start, the 101 and a frame in one segment: after handle_connect()
// no handle_read() may run ("only while readable() says yes"), though the layer holds payload.
TEST_P(Stack, ReadableFalseAtConnectIsHonoured) {
  auto c = dial();
  c->want_read = false;
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->out += response_for(req) + frame(ws_test::kBinary, "OLD");
  ASSERT_TRUE(run_until(loop, [&] { return c->connects == 1 || c->closes > 0; }));
  run_for(loop, 0.2);
  EXPECT_EQ(c->reads, 0);
  EXPECT_FALSE(c->read_while_paused);
  EXPECT_EQ(c->received, "");
  c->want_read = true;
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "OLD"; }));
}

// A dispatcher that reconnects keeps its layer, and start() forgets the previous connection:
// payload decoded but not yet read, a partial frame, the close code — none of it leaks into the
// next connection.
TEST_P(Stack, ReconnectStartsTheLayerFresh) {
  auto c = dial();
  c->read_size = 1;
  c->on_read = [&](ssize_t) {
    if (c->connects == 1) c->want_read = false;  // one byte of the first connection, no more
  };
  std::string req;
  auto conn1 = request(0, &req);
  ASSERT_TRUE(conn1);
  std::string partial = frame(ws_test::kBinary, std::string(50, 'p')).substr(0, 7);
  conn1->out += response_for(req) + frame(ws_test::kBinary, "OLD") + partial;
  ASSERT_TRUE(run_until(loop, [&] { return c->reads == 1 || c->closes > 0; }));
  ASSERT_EQ(c->connects, 1) << c->all_errors();
  run_for(loop, 0.1);
  EXPECT_EQ(c->received, "O");
  c->close();
  c->want_read = true;
  c->create_socket();
  c->connect(Address::ipv4_loopback(listener->port()));
  std::string req2;
  auto conn2 = request(1, &req2);
  ASSERT_TRUE(conn2);
  EXPECT_NE(ws_test::key_of(req2), ws_test::key_of(req)) << "a fresh Sec-WebSocket-Key";
  conn2->out += response_for(req2) + frame(ws_test::kBinary, "NEW");
  ASSERT_TRUE(run_until(loop, [&] { return c->received.size() >= 4 || c->closes > 0; }));
  run_for(loop, 0.05);
  EXPECT_EQ(c->received, "ONEW");
  EXPECT_EQ(c->connects, 2);
  EXPECT_EQ(c->ws->close_code(), 0);
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
}

// set_layer(nullptr) from inside handle_read() on an established connection ("nullptr removes
// it"): no crash, and recv() then reads the stream below directly.
TEST_P(Stack, RemoveLayerInsideHandleRead) {
  auto c = dial();
  bool removed = false;
  c->on_read = [&](ssize_t) {
    if (!removed && c->received == "a") {
      c->set_layer(nullptr);
      removed = true;
    }
  };
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->out += response_for(req) + frame(ws_test::kBinary, "a");
  ASSERT_TRUE(run_until(loop, [&] { return removed || c->closes > 0; }));
  ASSERT_TRUE(removed) << c->all_errors();
  EXPECT_EQ(c->layer(), nullptr);
  conn->out += "RAW";
  ASSERT_TRUE(run_until(loop, [&] { return c->received.size() >= 4 || c->closes > 0; }));
  EXPECT_EQ(c->received, "aRAW");
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
}

// ------------------------------------------------------------------------------ shutdown order

// shutdown_output() with megabytes of WebSocket data queued (the peer not reading): every byte
// arrives, in order, then close 1000, then EOF — nothing after the close.
TEST_P(Stack, ShutdownOutputFlushesQueuedDataThenClose1000ThenEof) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->out += response_for(req);
  ASSERT_TRUE(run_until(loop, [&] { return c->connects == 1 || c->closes > 0; }));
  ASSERT_EQ(c->connects, 1) << c->all_errors();
  conn->reading = false;
  constexpr size_t kTotal = 3 << 20;
  std::string sent, chunk;
  int zeros = 0;
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        while (sent.size() < kTotal) {
          if (chunk.empty()) {
            chunk.assign(32 * 1024 + sent.size() % 977, static_cast<char>('A' + sent.size() % 26));
          }
          size_t n = c->send(chunk.data(), chunk.size());  // retry the same bytes after 0
          if (n == 0) {
            ++zeros;
            return false;
          }
          sent.append(chunk, 0, n);
          chunk.erase(0, n);
        }
        return true;
      },
      30))
      << sent.size();
  c->shutdown_output();
  conn->reading = true;
  std::string got;
  std::vector<Frame> frames;
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        for (auto& f : conn->frames()) frames.push_back(f);
        return conn->eof;
      },
      30));
  for (auto& f : conn->frames()) frames.push_back(f);
  EXPECT_TRUE(conn->in.empty()) << conn->in.size() << " bytes that are not a whole frame";
  ASSERT_FALSE(frames.empty());
  for (size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_EQ(frames[i].opcode, ws_test::kBinary) << "frame " << i;
    got += frames[i].payload;
  }
  EXPECT_EQ(frames.back().opcode, ws_test::kClose);
  EXPECT_EQ(frames.back().close_code(), 1000);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "payload differs";
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
}

// How the peer ends a connection in the middle of a frame, without a close message.
enum class PeerEnd { kPlainFin, kTlsCloseNotify, kTlsBareFin };

class PeerEnds : public ::testing::TestWithParam<PeerEnd> {};

// The payload before is delivered, then handle_close() once, close_code() 1006
// ("1006 when TCP ended without any close"), disconnect_errno() 0; with TLS, close_notify and a
// bare FIN are both an ordinary end (docs/TLS.md: SSL_OP_IGNORE_UNEXPECTED_EOF).
TEST_P(PeerEnds, MidFrameWithoutCloseIs1006) {
  ASSERT_TRUE(cert().ok());
  const bool tls = GetParam() != PeerEnd::kPlainFin;
  Loop loop;
  auto listener = make_dispatcher<Listener>(loop, tls ? cert().server_context() : nullptr);
  auto c = make_dispatcher<WsDialer>(loop);
  c->open(listener->port(), tls ? cert().trusting_client_context() : nullptr);
  ASSERT_TRUE(run_until(
      loop, [&] { return !listener->conns.empty() && listener->conns[0]->has_request(); }));
  auto conn = listener->conns[0];
  conn->out += response_for(conn->take_request()) + frame(ws_test::kBinary, "whole") +
               frame(ws_test::kBinary, std::string(200, 'z')).substr(0, 60);
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "whole" && conn->out.empty(); }));
  int errno_at_close = -1;
  if (GetParam() == PeerEnd::kTlsCloseNotify) {
    conn->shutdown_output();  // close_notify, then FIN
  } else {
    ::shutdown(conn->fileno(), SHUT_WR);
  }
  ASSERT_TRUE(run_until(loop, [&] { return c->closes > 0; }));
  errno_at_close = c->disconnect_errno();
  run_for(loop, 0.05);
  EXPECT_EQ(c->closes, 1);
  EXPECT_EQ(c->received, "whole");
  EXPECT_EQ(c->ws->close_code(), 1006);
  EXPECT_FALSE(c->ws->close_received());
  EXPECT_EQ(errno_at_close, 0);
}

INSTANTIATE_TEST_SUITE_P(Ends, PeerEnds,
                         ::testing::Values(PeerEnd::kPlainFin, PeerEnd::kTlsCloseNotify,
                                           PeerEnd::kTlsBareFin),
                         [](const auto& info) {
                           switch (info.param) {
                             case PeerEnd::kPlainFin:
                               return std::string("PlainFin");
                             case PeerEnd::kTlsCloseNotify:
                               return std::string("TlsCloseNotify");
                             default:
                               return std::string("TlsBareFin");
                           }
                         });

// The peer ends the connection in the middle of its 101: a failed connect with the documented
// text, no handle_connect().
TEST_P(Stack, PeerClosesMidUpgrade) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs";
  ASSERT_TRUE(run_until(loop, [&] { return conn->out.empty(); }));
  if (tls()) {
    conn->shutdown_output();
  } else {
    ::shutdown(conn->fileno(), SHUT_WR);
  }
  ASSERT_TRUE(run_until(loop, [&] { return c->closes > 0; }));
  EXPECT_EQ(c->connects, 0);
  EXPECT_TRUE(c->connect_failed());
  ASSERT_EQ(c->errors.size(), 1u) << c->all_errors();
  EXPECT_NE(c->errors[0].find("connection closed during the upgrade"), std::string::npos)
      << c->errors[0];
}

// ------------------------------------------------------------------------------- back-pressure

// readable() false while the layer (and TLS) hold decoded payload: handle_read() is not called
// ("only while readable() says yes"); once readable() is true again, all of it arrives.
TEST_P(Stack, ReadableFalseHoldsDecodedPayload) {
  auto c = dial();
  c->read_size = 10;
  c->on_read = [&](ssize_t) { c->want_read = false; };
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  std::string burst = response_for(req), expected;
  for (int i = 0; i < 50; ++i) {
    std::string p(100, static_cast<char>('a' + i % 26));
    burst += frame(ws_test::kBinary, p);
    expected += p;
  }
  conn->out += burst;
  ASSERT_TRUE(run_until(loop, [&] { return c->reads > 0; }));
  run_for(loop, 0.2);
  EXPECT_EQ(c->reads, 1);
  EXPECT_FALSE(c->read_while_paused);
  c->on_read = nullptr;
  c->want_read = true;
  ASSERT_TRUE(run_until(
      loop, [&] { return c->received.size() >= expected.size(); }, 5))
      << c->received.size();
  EXPECT_TRUE(c->received == expected);
}

// ---------------------------------------------------------------------------------- bad input

struct Violation {
  const char* name;
  std::string after_101;   // what the server sends after the 101 (and a "before" message)
  const char* error_text;  // in recv()'s std::runtime_error
  uint16_t reply_code;     // the close the client answers with
};

class BadServerInput : public ::testing::TestWithParam<std::tuple<bool, Violation>> {};

// The payload before the violation is delivered, then handle_error() with the documented text,
// and the peer gets the close RFC 6455 names.
TEST_P(BadServerInput, FailsWithTheRfcCloseCode) {
  ASSERT_TRUE(cert().ok());
  const bool tls = std::get<0>(GetParam());
  const Violation& v = std::get<1>(GetParam());
  Loop loop;
  auto listener = make_dispatcher<Listener>(loop, tls ? cert().server_context() : nullptr);
  auto c = make_dispatcher<WsDialer>(loop);
  c->open(listener->port(), tls ? cert().trusting_client_context() : nullptr);
  ASSERT_TRUE(run_until(
      loop, [&] { return !listener->conns.empty() && listener->conns[0]->has_request(); }));
  auto conn = listener->conns[0];
  conn->out += response_for(conn->take_request()) + frame(ws_test::kBinary, "before") + v.after_101;
  ASSERT_TRUE(run_until(
      loop, [&] { return c->closes > 0; }, 5))
      << v.name;
  EXPECT_EQ(c->received, "before");
  ASSERT_EQ(c->errors.size(), 1u) << c->all_errors();
  EXPECT_NE(c->errors[0].find(v.error_text), std::string::npos) << c->errors[0];
  ASSERT_TRUE(run_until(
      loop, [&] { return conn->eof; }, 5));
  auto frames = conn->frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().opcode, ws_test::kClose);
  EXPECT_EQ(frames.back().close_code(), v.reply_code);
}

const Violation kViolations[] = {
    {"ReservedOpcode", std::string("\x83\x00", 2), "closed with 1002", 1002},
    {"RsvBitsSet", std::string("\xC2\x01x", 3), "closed with 1002", 1002},
    {"MaskedServerFrame", frame(ws_test::kBinary, "masked", true, 0x01020304u), "closed with 1002",
     1002},
    // wslay's frame parser refuses these itself and fails the connection with a close that
    // carries no code (RFC 6455 7.1.7 allows it): reply_code 0 = an empty close payload.
    {"FragmentedPing", frame(ws_test::kPing, "x", false), "malformed", 0},
    {"PingOver125Bytes", frame(ws_test::kPing, std::string(126, 'p')), "malformed", 0},
    {"InvalidUtf8Text", frame(ws_test::kText, "\xC3\x28"), "not UTF-8: closed with 1007", 1007},
    {"ContinuationWithoutStart", frame(ws_test::kCont, "orphan"), "closed with 1002", 1002},
};

INSTANTIATE_TEST_SUITE_P(Violations, BadServerInput,
                         ::testing::Combine(::testing::Bool(), ::testing::ValuesIn(kViolations)),
                         [](const auto& info) {
                           std::string name = std::get<1>(info.param).name;
                           std::string prefix;
                           if (name.rfind("DISABLED_", 0) == 0) {
                             prefix = "DISABLED_";
                             name.erase(0, 9);
                           }
                           return prefix + (std::get<0>(info.param) ? "wss_" : "ws_") + name;
                         });

// A close with a code no endpoint may send (RFC 6455 7.4: 1005, 1006, below 1000, unassigned
// 1016) is a protocol error: the answer is close 1002, not an echo. (A 1-byte close payload is
// read by wslay as a close without a code and answered with an empty close: tolerated.)
class BadCloseCode : public ::testing::TestWithParam<std::pair<const char*, std::string>> {};

TEST_P(BadCloseCode, AnsweredWith1002) {
  Loop loop;
  auto listener = make_dispatcher<Listener>(loop);
  auto c = make_dispatcher<WsDialer>(loop);
  c->open(listener->port());
  ASSERT_TRUE(run_until(
      loop, [&] { return !listener->conns.empty() && listener->conns[0]->has_request(); }));
  auto conn = listener->conns[0];
  conn->out += response_for(conn->take_request()) + frame(ws_test::kClose, GetParam().second);
  ASSERT_TRUE(run_until(
      loop, [&] { return c->closes > 0; }, 5));
  ASSERT_TRUE(run_until(
      loop, [&] { return conn->eof; }, 5));
  auto frames = conn->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 1002)
      << "the client answered a close with a " << frames[0].payload.size() << "-byte payload";
}

INSTANTIATE_TEST_SUITE_P(Codes, BadCloseCode,
                         ::testing::Values(std::make_pair("Code999", ws_test::close_payload(999)),
                                           std::make_pair("Code1005", ws_test::close_payload(1005)),
                                           std::make_pair("Code1006", ws_test::close_payload(1006)),
                                           std::make_pair("Code1016",
                                                          ws_test::close_payload(1016))),
                         [](const auto& info) { return std::string(info.param.first); });

// A header block over the cap: the documented error, no handle_connect().
TEST_P(Stack, HugeUpgradeHeaderIsRefused) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  std::string r = response_for(req);
  r.insert(r.size() - 2, "X-Padding: " + std::string(20000, 'h') + "\r\n");
  conn->out += r;
  ASSERT_TRUE(run_until(
      loop, [&] { return c->closes > 0; }, 5));
  EXPECT_EQ(c->connects, 0);
  EXPECT_TRUE(c->connect_failed());
  ASSERT_EQ(c->errors.size(), 1u) << c->all_errors();
  EXPECT_NE(c->errors[0].find("header block over 16384 bytes"), std::string::npos) << c->errors[0];
}

// The 101 and the first frames in one segment, the whole thing through TLS and WebSocket in
// one-byte pieces: every message, in order.
TEST_P(Stack, OneByteWritesThroughTheWholeStack) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->write_chunk = 1;
  std::string burst = response_for(req), expected;
  for (int i = 0; i < 20; ++i) {
    std::string p = "message-" + std::to_string(i) + std::string(i * 7, '.');
    burst += frame(i % 2 ? ws_test::kBinary : ws_test::kText, p);
    expected += p;
  }
  burst += frame(ws_test::kPing, "pp");
  conn->out += burst;
  ASSERT_TRUE(run_until(
      loop, [&] { return c->received.size() >= expected.size(); }, 20))
      << c->all_errors();
  EXPECT_EQ(c->received, expected);
  ASSERT_TRUE(run_until(
      loop, [&] { return !conn->in.empty() && next_frame(conn->in); }, 5));
}

// A ping flood from a peer that never reads: the client's pongs pile up unless reading stops.
// Memory must stay bounded (docs/WEBSOCKET.md "Limits and memory"), so the client cannot take
// the whole flood while its pongs cannot leave.
TEST_P(Stack, PingFloodAgainstANonReadingPeerStaysBounded) {
  auto c = dial();
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  conn->out += response_for(req);
  ASSERT_TRUE(run_until(loop, [&] { return c->connects == 1; }));
  conn->reading = false;
  const std::string ping = frame(ws_test::kPing, std::string(125, 'P'));
  constexpr size_t kPings = 400'000;  // 50 MB of pings, 50 MB of pongs to answer
  conn->out.reserve(ping.size() * kPings);
  for (size_t i = 0; i < kPings; ++i) conn->out += ping;
  const size_t total = conn->out.size();
  run_until(
      loop, [&] { return conn->written == total || c->closes > 0; }, 8);
  EXPECT_LT(conn->written, total) << "the client read all " << total
                                  << " bytes of pings while none of its pongs could be "
                                  << "written: they are buffered (queued_bytes() says "
                                  << c->ws->queued_bytes() << ")";
}

// ------------------------------------------------------------------------------ interleavings

// send() from handle_write() with a small max_queued_bytes, while the peer pings: send() 0 is
// back-pressure and the same bytes are retried; the peer gets every payload byte once, in order,
// and one pong per ping, each frame whole (no pong inside a data frame).
TEST_P(Stack, SendFromHandleWriteWhilePongsAreQueued) {
  auto c = dial(WebSocketOptions{.max_queued_bytes = 16 * 1024});
  std::string req;
  auto conn = request(0, &req);
  ASSERT_TRUE(conn);
  constexpr int kPings = 2000;
  std::string burst = response_for(req);
  for (int i = 0; i < kPings; ++i) burst += frame(ws_test::kPing, std::to_string(i));
  conn->out += burst;
  constexpr size_t kTotal = 2 << 20;
  std::string sent, chunk;
  int zeros = 0;
  c->on_write = [&] {
    if (sent.size() >= kTotal) return;
    if (chunk.empty()) {
      chunk.assign(1 + (sent.size() * 7919) % 6000, static_cast<char>('a' + sent.size() % 26));
    }
    size_t n = c->send(chunk.data(), chunk.size());
    if (n == 0) ++zeros;
    sent.append(chunk, 0, n);
    chunk.erase(0, n);
  };
  std::string got;
  int pongs = 0;
  bool pong_order_ok = true, all_masked = true;
  ASSERT_TRUE(run_until(
      loop,
      [&] {
        for (auto& f : conn->frames()) {
          all_masked &= f.masked;
          if (f.opcode == ws_test::kPong) {
            pong_order_ok &= f.payload == std::to_string(pongs);
            ++pongs;
          } else if (f.opcode == ws_test::kBinary) {
            got += f.payload;
          } else {
            ADD_FAILURE() << "unexpected opcode " << int(f.opcode);
          }
        }
        return (sent.size() >= kTotal && got.size() == sent.size() && pongs == kPings) ||
               c->closes > 0;
      },
      30))
      << "got " << got.size() << " of " << sent.size() << ", pongs " << pongs;
  EXPECT_EQ(pongs, kPings);
  EXPECT_TRUE(pong_order_ok);
  EXPECT_TRUE(all_masked);
  EXPECT_TRUE(got == sent);
  EXPECT_TRUE(c->errors.empty()) << c->all_errors();
  RecordProperty("send_zeros", zeros);
}

INSTANTIATE_TEST_SUITE_P(Transports, Stack, ::testing::Bool(), param_name);

// ------------------------------------------------------------------------- DouyuClient over ws/wss

class ClientAttack : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override { ASSERT_TRUE(cert().ok()); }
  std::shared_ptr<DouyuServer> sim(Loop& loop, SimulatorOptions o) {
    o.transport = GetParam();
    if (o.transport == Transport::kWss) o.tls = cert().server_context();
    return make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), o);
  }
  DouyuClientOptions client_options(uint16_t port) {
    DouyuClientOptions o = options_for_port(port);
    o.transport = GetParam();
    if (o.transport == Transport::kWss) o.tls.ca_file = cert().cert();
    return o;
  }
  std::shared_ptr<TlsContext> server_tls() {
    return GetParam() == Transport::kWss ? cert().server_context() : nullptr;
  }
};

// stop() while the upgrade waits for a 101 that never comes: the client stops promptly (within
// logout_flush_timeout), its threads end, and the server sees EOF.
TEST_P(ClientAttack, StopDuringTheUpgrade) {
  Loop loop;
  auto mute = make_dispatcher<Listener>(loop, server_tls());
  auto options = client_options(mute->port());
  options.logout_flush_timeout = 300ms;
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(
      run_until(loop, [&] { return !mute->conns.empty() && mute->conns[0]->has_request(); }));
  client.stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 3));
  EXPECT_EQ(client.failure(), "");
  client.join();
  ASSERT_TRUE(run_until(
      loop, [&] { return mute->conns[0]->eof; }, 3));
  mute->conns[0]->take_request();
  EXPECT_EQ(mute->conns[0]->in, "") << "bytes sent before any 101";
}

// Destroying a running client during the upgrade: the connection closes at once, no crash.
TEST_P(ClientAttack, DestroyDuringTheUpgrade) {
  Loop loop;
  auto mute = make_dispatcher<Listener>(loop, server_tls());
  auto client =
      std::make_unique<DouyuClient>(loop, client_options(mute->port()), [](const Message&) {});
  client->start();
  ASSERT_TRUE(
      run_until(loop, [&] { return !mute->conns.empty() && mute->conns[0]->has_request(); }));
  client.reset();
  ASSERT_TRUE(run_until(
      loop, [&] { return mute->conns[0]->eof; }, 3));
  run_for(loop, 0.05);
}

// stop() from another thread while a flood is being read: everything delivered is 1..k exactly
// once, the logout reaches the simulator, the client stops.
TEST_P(ClientAttack, StopFromAnotherThreadDuringAFlood) {
  Loop loop;
  auto server = sim(loop, SimulatorOptions{.rate = 0, .flood = 1'000'000});
  Collector got;
  std::mutex m;
  std::condition_variable cv;
  std::atomic<uint64_t> count{0};
  DouyuClient client(loop, client_options(server->address().port()), [&](const Message& msg) {
    got(msg);
    if (++count == 2000) cv.notify_all();
  });
  client.start();
  std::atomic<bool> stop_called{false};
  std::thread stopper([&] {
    std::unique_lock lock(m);
    cv.wait_for(lock, 20s, [&] { return count.load() >= 2000; });
    client.stop();
    stop_called = true;
  });
  const bool ok = run_until(
      loop, [&] { return stop_called && client.stopped() && server->stats().logouts == 1; }, 30);
  stopper.join();
  ASSERT_TRUE(ok) << "stopped " << client.stopped() << " logouts " << server->stats().logouts
                  << " state " << to_string(client.state());
  client.join();
  const auto seqs = got.seqs();
  EXPECT_GE(seqs.size(), 2000u);
  EXPECT_TRUE(is_one_to_n(seqs, seqs.size())) << "lost, duplicated or reordered";
  EXPECT_EQ(client.reconnects(), 0u);
}

// join() from every thread: inside the callback and inside a loop turn it throws
// std::logic_error; from another thread it waits while the loop finishes the session; on the
// loop thread outside loop() it returns.
TEST_P(ClientAttack, JoinFromEveryThread) {
  Loop loop;
  auto server = sim(loop, SimulatorOptions{.rate = 0, .flood = 500});
  std::atomic<int> callback_logic_errors{0}, callback_other{0};
  std::atomic<uint64_t> count{0};
  DouyuClient* self = nullptr;
  DouyuClient client(loop, client_options(server->address().port()), [&](const Message& m) {
    if (m.get("seq") && ++count == 1) {
      try {
        self->join();
        ++callback_other;
      } catch (const std::logic_error&) {
        ++callback_logic_errors;
      } catch (...) {
        ++callback_other;
      }
    }
  });
  self = &client;
  client.start();
  int timer_logic_errors = 0, timer_other = 0;
  loop.call_later(0.01, [&] {
    try {
      client.join();
      ++timer_other;
    } catch (const std::logic_error&) {
      ++timer_logic_errors;
    } catch (...) {
      ++timer_other;
    }
  });
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    client.join();
    joined = true;
  });
  EXPECT_TRUE(run_until(
      loop, [&] { return count.load() == 500; }, 20))
      << count.load();
  EXPECT_FALSE(joined.load());
  client.stop();
  const bool ok = run_until(
      loop, [&] { return joined.load(); }, 10);
  joiner.join();  // (if it never returns, the test hangs here: the defect is then a hang)
  ASSERT_TRUE(ok);
  EXPECT_TRUE(client.stopped());
  client.join();  // loop thread, outside loop(): returns at once
  EXPECT_EQ(callback_logic_errors.load(), 1);
  EXPECT_EQ(callback_other.load(), 0);
  EXPECT_EQ(timer_logic_errors, 1);
  EXPECT_EQ(timer_other, 0);
}

// DouyuClient wss -> a proxy forwarding one byte per turn each way -> the simulator: the TLS
// handshake, the upgrade and every frame survive one-byte TCP segments; the logout still arrives.
TEST_P(ClientAttack, OneByteSegmentsEndToEnd) {
  Loop loop;
  auto server = sim(loop, SimulatorOptions{.rate = 0, .flood = 30});
  auto proxy = make_dispatcher<Proxy>(loop, server->address().port(), 1);
  Collector got;
  DouyuClient client(loop, client_options(proxy->port()), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == 30; }, 30))
      << got.room_messages() << " state " << to_string(client.state());
  EXPECT_TRUE(is_one_to_n(got.seqs(), 30));
  EXPECT_EQ(client.reconnects(), 0u);
  client.stop();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped() && server->stats().logouts == 1; }, 20))
      << "logouts " << server->stats().logouts;
  client.join();
}

INSTANTIATE_TEST_SUITE_P(WebSocketTransports, ClientAttack,
                         ::testing::Values(Transport::kWs, Transport::kWss), [](const auto& info) {
                           return std::string(transport_scheme(info.param));
                         });

// A callback blocked far longer than dead_timeout, with a small receive_high_water, over a
// flood: reading pauses, the paused reader is not declared dead (no reconnect), and once the
// callback runs again every message arrives exactly once.
void blocked_callback_longer_than_dead_timeout(Transport transport) {
  Loop loop;
  constexpr uint64_t kMessages = 3000;
  SimulatorOptions so{.rate = 0, .flood = kMessages, .transport = transport};
  if (transport == Transport::kWss) so.tls = cert().server_context();
  auto server = make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), so);
  std::mutex m;
  std::condition_variable cv;
  bool gate_open = false;
  Collector got;
  auto options = options_for(*server);
  options.transport = transport;
  if (transport == Transport::kWss) options.tls.ca_file = cert().cert();
  options.receive_high_water = 16;
  options.dead_timeout = 150ms;
  DouyuClient client(loop, options, [&](const Message& msg) {
    got(msg);
    std::unique_lock lock(m);
    cv.wait_for(lock, 20s, [&] { return gate_open; });
  });
  client.start();
  EXPECT_TRUE(run_until(
      loop, [&] { return client.queued_messages() >= 16; }, 10));
  run_for(loop, 1.0);  // more than six dead_timeouts with reading paused
  const size_t queued_while_paused = client.queued_messages();
  {
    std::lock_guard lock(m);
    gate_open = true;
  }
  cv.notify_all();
  EXPECT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= kMessages; }, 30))
      << got.room_messages();
  EXPECT_TRUE(is_one_to_n(got.seqs(), kMessages)) << got.room_messages() << " messages";
  EXPECT_EQ(client.reconnects(), 0u);
  EXPECT_LE(queued_while_paused, 16u + 4 * 64 * 1024 / 40);
  client.stop();
  EXPECT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

TEST(ClientAttackWs, BlockedCallbackLongerThanDeadTimeout) {
  ASSERT_TRUE(cert().ok());
  blocked_callback_longer_than_dead_timeout(Transport::kWs);
}

TEST(ClientAttackWss, BlockedCallbackLongerThanDeadTimeout) {
  ASSERT_TRUE(cert().ok());
  blocked_callback_longer_than_dead_timeout(Transport::kWss);
}

// ------------------------------------------------------------------------- the simulator over ws

std::string upgrade_request() {
  return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

// RFC 6455 5.1: a server must fail a connection whose client frames are not masked. The
// simulator (a WebSocketLayer server) answers close 1002 and never logs the client in; the
// masked control case is served.
TEST(SimulatorWsAttack, UnmaskedClientFrameIsRefused) {
  for (bool masked : {true, false}) {
    SCOPED_TRACE(masked ? "masked" : "unmasked");
    Loop loop;
    auto server = make_dispatcher<DouyuServer>(
        loop, Address::ipv4_loopback(0),
        SimulatorOptions{.rate = 0, .ping_interval = 0, .transport = Transport::kWs});
    auto raw = make_dispatcher<Peer>(loop);
    raw->create_socket();
    raw->connect(server->address());
    const std::string login = encode_frame("type@=loginreq/roomid@=9999/");
    raw->out =
        upgrade_request() + frame(ws_test::kBinary, login, true,
                                  masked ? std::optional<uint32_t>(0xA1B2C3D4u) : std::nullopt);
    if (masked) {
      ASSERT_TRUE(run_until(
          loop, [&] { return server->stats().logins == 1; }, 5));
      raw->close();
      continue;
    }
    ASSERT_TRUE(run_until(
        loop, [&] { return raw->eof; }, 5))
        << raw->in;
    ASSERT_NE(raw->in.find("\r\n\r\n"), std::string::npos) << raw->in;
    EXPECT_EQ(raw->in.rfind("HTTP/1.1 101", 0), 0u) << raw->in;
    raw->in.erase(0, raw->in.find("\r\n\r\n") + 4);
    auto frames = raw->frames();
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().opcode, ws_test::kClose);
    EXPECT_EQ(frames.back().close_code(), 1002);
    EXPECT_EQ(server->stats().logins, 0u);
  }
}

}  // namespace
}  // namespace asyncore::douyu::attack
