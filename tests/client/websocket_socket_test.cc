// WebSocketLayer through Dispatcher::set_layer() on loopback sockets. The peer is either a raw
// server (a plain Dispatcher that reads and writes bytes, and checks frames with the tests' own
// codec), or the project's Dispatcher with a server-mode WebSocketLayer. Waits are conditions
// with a deadline (run_until), never sleeps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <memory>
#include <string>
#include <vector>

#include "client/buffered_dispatcher.h"
#include "client/websocket.h"
#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/tls.h"
#include "tests/client/websocket_test_util.h"
#include "tests/core/test_certificate.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;
using ::testing::HasSubstr;
using ws_test::Frame;
using ws_test::frame;
using ws_test::next_frame;
using ws_test::response_for;

// One accepted connection of the raw server: collects what arrives, writes `out` (at most
// write_chunk bytes per turn), stops reading while `reading` is false.
class RawConn : public Dispatcher {
 public:
  RawConn(Loop& loop, Socket sock) : Dispatcher(loop, std::move(sock)) { set_tcp_nodelay(); }
  explicit RawConn(Loop& loop) : Dispatcher(loop) {}  // a raw client: create_socket(), connect()
  bool readable() override { return reading && !eof; }
  bool writable() override { return !out.empty(); }
  void handle_read() override {
    char buf[65536];
    ssize_t n = recv(buf, sizeof buf);
    if (n > 0) in.append(buf, static_cast<size_t>(n));
  }
  void handle_write() override {
    size_t n = send(out.data(), std::min(out.size(), write_chunk));
    out.erase(0, n);
  }
  void handle_close() override { eof = true; }  // keeps the socket: it may still answer
  // The request's header block, once complete.
  bool has_request() const { return in.find("\r\n\r\n") != std::string::npos; }
  std::string take_request() {
    size_t end = in.find("\r\n\r\n") + 4;
    std::string r = in.substr(0, end);
    in.erase(0, end);
    return r;
  }
  // The client's frames so far, decoded (each must be masked).
  std::vector<Frame> frames() {
    std::vector<Frame> got;
    while (auto f = next_frame(in)) got.push_back(*f);
    return got;
  }

  std::string in;
  std::string out;
  size_t write_chunk = SIZE_MAX;
  bool reading = true;
  bool eof = false;
};

class RawServer : public Dispatcher {
 public:
  explicit RawServer(Loop& loop) : Dispatcher(loop) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  bool writable() override { return false; }
  void handle_accepted(Socket sock, const Address&) override {
    conns.push_back(make_dispatcher<RawConn>(loop(), std::move(sock)));
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  std::vector<std::shared_ptr<RawConn>> conns;
};

// A client dispatcher with a WebSocket layer: collects what recv() returns and what happens.
class WsClient : public BufferedDispatcher {
 public:
  WsClient(Loop& loop, uint16_t port, WebSocketOptions options = {},
           std::shared_ptr<TlsContext> tls = nullptr)
      : BufferedDispatcher(loop) {
    auto layer = WebSocketLayer::client(std::move(options));
    ws = layer.get();
    set_layer(std::move(layer));
    create_socket();
    connect(Address::ipv4_loopback(port));
    if (tls) start_tls_client(std::move(tls));
  }
  void handle_connect() override { connected_called = true; }
  void handle_read() override {
    char buf[4096];
    ssize_t n = recv(buf, sizeof buf);
    if (n > 0) received.append(buf, static_cast<size_t>(n));
  }
  void handle_error() override {
    errors.push_back(current_exception_text());
    BufferedDispatcher::handle_error();
  }
  void handle_close() override {
    closed = true;
    close();
  }
  WebSocketLayer* ws = nullptr;
  bool connected_called = false;
  bool closed = false;
  std::string received;
  std::vector<std::string> errors;
};

// A raw server and a client connected to it, the upgrade answered with `response` (by default
// the right 101) followed by `first`.
struct RawSession {
  explicit RawSession(WebSocketOptions options = {}) {
    server = make_dispatcher<RawServer>(loop);
    client = make_dispatcher<WsClient>(loop, server->port(), std::move(options));
    EXPECT_TRUE(
        run_until(loop, [&] { return !server->conns.empty() && server->conns[0]->has_request(); }));
    conn = server->conns.empty() ? nullptr : server->conns[0];
    if (conn) request = conn->take_request();
  }
  void upgrade(const std::string& first = {}) {
    conn->out += response_for(request) + first;
    EXPECT_TRUE(run_until(loop, [&] { return client->connected_called || client->closed; }));
    EXPECT_TRUE(client->connected_called);
  }
  ~RawSession() {
    if (client) client->close();
    for (auto& c : server->conns) c->close();
    server->close();
  }
  Loop loop;
  std::shared_ptr<RawServer> server;
  std::shared_ptr<WsClient> client;
  std::shared_ptr<RawConn> conn;
  std::string request;
};

TEST(WebSocketSocketTest, UpgradeThenDataBothWays) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  EXPECT_EQ(s.request.rfind("GET / HTTP/1.1\r\n", 0), 0u);
  EXPECT_THAT(s.request, HasSubstr("\r\nHost: 127.0.0.1:" + std::to_string(s.server->port())));
  EXPECT_FALSE(s.client->connected_called);  // not before the 101
  s.upgrade(frame(ws_test::kBinary, "hello"));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->received == "hello"; }));
  s.client->send("from client");
  ASSERT_TRUE(run_until(s.loop, [&] { return s.conn->in.size() >= 6 + 11; }));
  auto frames = s.conn->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].masked);  // the raw server checks the MASK bit and unmasks
  EXPECT_EQ(frames[0].opcode, ws_test::kBinary);
  EXPECT_EQ(frames[0].payload, "from client");
}

class RefusedUpgradeTest : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(RefusedUpgradeTest, ReachesHandleErrorWithClearText) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  std::string response = GetParam().first;
  if (response == "bad-accept") {
    response = response_for("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
  }
  s.conn->out += response;
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->closed; }));
  ASSERT_EQ(s.client->errors.size(), 1u);
  EXPECT_THAT(s.client->errors[0],
              HasSubstr("WebSocket upgrade refused by 127.0.0.1:" +
                        std::to_string(s.server->port()) + ": " + GetParam().second));
  EXPECT_FALSE(s.client->connected_called);
  EXPECT_TRUE(s.client->connect_failed());
}

INSTANTIATE_TEST_SUITE_P(
    Responses, RefusedUpgradeTest,
    ::testing::Values(std::make_pair("HTTP/1.1 403 Forbidden\r\n\r\n", "HTTP 403 Forbidden"),
                      std::make_pair("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                                     "HTTP 404 Not Found"),
                      std::make_pair("bad-accept", "bad Sec-WebSocket-Accept"),
                      std::make_pair("SSH-2.0-OpenSSH_9.2\r\n", "not HTTP")));

TEST(WebSocketSocketTest, ResponseOneByteAtATime) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  s.conn->write_chunk = 1;
  std::string response = response_for(s.request);
  s.conn->out += response + frame(ws_test::kText, "after");
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->received == "after" || s.client->closed; }));
  EXPECT_TRUE(s.client->connected_called);
  EXPECT_EQ(s.client->received, "after");
}

TEST(WebSocketSocketTest, FragmentsAndSeveralMessagesKeepOrder) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  // A byte stream across messages: "frame-1|" in two fragments, then three messages in one write.
  s.upgrade(frame(ws_test::kBinary, "fra", false) + frame(ws_test::kCont, "me-1|", true) +
            frame(ws_test::kBinary, "frame-2|fra") + frame(ws_test::kText, "me-3|") +
            frame(ws_test::kBinary, std::string(100000, 'z')));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->received.size() >= 24 + 100000; }));
  EXPECT_EQ(s.client->received.substr(0, 24), "frame-1|frame-2|frame-3|");
  EXPECT_EQ(s.client->received.size(), 24u + 100000u);
}

TEST(WebSocketSocketTest, PingAnsweredWithPong) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  s.upgrade(frame(ws_test::kPing, "beat-42"));
  std::vector<Frame> frames;
  ASSERT_TRUE(run_until(s.loop, [&] {
    for (auto& f : s.conn->frames()) frames.push_back(f);
    return !frames.empty();
  }));
  EXPECT_EQ(frames[0].opcode, ws_test::kPong);
  EXPECT_TRUE(frames[0].masked);
  EXPECT_EQ(frames[0].payload, "beat-42");
  EXPECT_FALSE(s.client->closed);
}

TEST(WebSocketSocketTest, ServerClosesWithStatus) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  s.upgrade(frame(ws_test::kBinary, "bye ") +
            frame(ws_test::kClose, ws_test::close_payload(1001, "maintenance")));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->closed; }));
  EXPECT_EQ(s.client->received, "bye ");
  EXPECT_TRUE(s.client->errors.empty());
  EXPECT_EQ(s.client->disconnect_errno(), 0);
  EXPECT_EQ(s.client->ws->close_code(), 1001);
  EXPECT_EQ(s.client->ws->close_reason(), "maintenance");
  // The client answered with the same code before closing the socket.
  ASSERT_TRUE(run_until(s.loop, [&] { return s.conn->eof; }));
  auto frames = s.conn->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 1001);
}

TEST(WebSocketSocketTest, ClientClosesWithStatusAndWaitsForTheReply) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  s.upgrade();
  EXPECT_TRUE(s.client->ws->close(4001, "done"));
  std::vector<Frame> frames;
  ASSERT_TRUE(run_until(s.loop, [&] {
    for (auto& f : s.conn->frames()) frames.push_back(f);
    return !frames.empty();
  }));
  EXPECT_EQ(frames[0].opcode, ws_test::kClose);
  EXPECT_EQ(frames[0].close_code(), 4001);
  EXPECT_EQ(frames[0].payload.substr(2), "done");
  EXPECT_FALSE(s.client->closed);  // until the server's reply
  s.conn->out += frame(ws_test::kClose, ws_test::close_payload(4001));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->closed; }));
  EXPECT_TRUE(s.client->errors.empty());
  EXPECT_EQ(s.client->ws->close_code(), 4001);
}

TEST(WebSocketSocketTest, ShutdownOutputSendsClose1000ThenHalfCloses) {
  RawSession s;
  ASSERT_TRUE(s.conn);
  s.upgrade();
  s.client->send("last words");
  s.client->shutdown_output();
  ASSERT_TRUE(run_until(s.loop, [&] { return s.conn->eof; }));  // SHUT_WR after the close
  auto frames = s.conn->frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].payload, "last words");
  EXPECT_EQ(frames[1].opcode, ws_test::kClose);
  EXPECT_EQ(frames[1].close_code(), 1000);
  // The client still reads until the server's close.
  s.conn->out +=
      frame(ws_test::kBinary, "reply") + frame(ws_test::kClose, ws_test::close_payload(1000));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->closed; }));
  EXPECT_EQ(s.client->received, "reply");
  EXPECT_EQ(s.client->ws->close_code(), 1000);
}

TEST(WebSocketSocketTest, OversizedMessageRefusedWith1009) {
  RawSession s(WebSocketOptions{.max_message_size = 1000});
  ASSERT_TRUE(s.conn);
  s.upgrade(frame(ws_test::kBinary, std::string(1001, 'x')));
  ASSERT_TRUE(run_until(s.loop, [&] { return s.client->closed; }));
  ASSERT_EQ(s.client->errors.size(), 1u);
  EXPECT_THAT(s.client->errors[0],
              HasSubstr("WebSocket message from 127.0.0.1:" + std::to_string(s.server->port()) +
                        " over the 1000-byte limit: closed with 1009"));
  EXPECT_TRUE(s.client->received.empty());
  ASSERT_TRUE(run_until(s.loop, [&] { return s.conn->eof; }));
  auto frames = s.conn->frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), 1009);
}

TEST(WebSocketSocketTest, BackPressureThenDrain) {
  RawSession s(WebSocketOptions{.max_queued_bytes = 64 * 1024});
  ASSERT_TRUE(s.conn);
  s.upgrade();
  s.conn->reading = false;  // the server stops reading: the socket buffers fill, then the queue
  std::string chunk(16 * 1024, 'q');
  std::string sent;
  size_t accepted = 0;
  ASSERT_TRUE(run_until(s.loop, [&] {
    for (int i = 0; i < 64; ++i) {
      chunk[0] = static_cast<char>('a' + sent.size() / chunk.size() % 26);
      size_t n = s.client->Dispatcher::send(chunk.data(), chunk.size());
      if (n == 0) return true;  // back-pressure
      sent.append(chunk, 0, n);
      accepted += n;
    }
    return false;
  }));
  EXPECT_FALSE(s.client->closed);
  EXPECT_GE(s.client->ws->queued_bytes(), 64u * 1024 - chunk.size());
  EXPECT_LE(s.client->ws->queued_bytes(), 64u * 1024);
  // The server reads again: every byte arrives, in order, and send() takes bytes again.
  s.conn->reading = true;
  std::string got;
  ASSERT_TRUE(run_until(s.loop, [&] {
    for (auto& f : s.conn->frames()) got += f.payload;
    return got.size() == sent.size();
  }));
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(s.client->ws->queued_bytes(), 0u);
  EXPECT_EQ(s.client->Dispatcher::send("more", 4), 4u);
}

// ---- both sides on the project's Dispatcher ----

// A server connection in messages mode answering each message with its type and text.
class JsonEcho : public Dispatcher {
 public:
  JsonEcho(Loop& loop, Socket sock, std::shared_ptr<TlsContext> tls)
      : Dispatcher(loop, std::move(sock)) {
    if (tls) start_tls_server(std::move(tls));  // TLS first, the layer above it
    auto layer = WebSocketLayer::server(
        {.subprotocols = {"json"}, .on_message = [this](WebSocketMessage&& m) {
           ws->send_text(std::string(m.is_text() ? "text:" : "binary:") + m.data);
           if (m.data == "quit") ws->close(4000, "asked to");
         }});
    ws = layer.get();
    set_layer(std::move(layer));
  }
  void handle_read() override {
    char buf[256];
    recv(buf, sizeof buf);  // drives the layer: messages go to on_message
  }
  bool writable() override { return false; }
  void handle_close() override {
    closed = true;
    close();
  }
  WebSocketLayer* ws = nullptr;
  bool closed = false;
};

class JsonServer : public Dispatcher {
 public:
  explicit JsonServer(Loop& loop, std::shared_ptr<TlsContext> tls = nullptr)
      : Dispatcher(loop), tls_(std::move(tls)) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  bool writable() override { return false; }
  void handle_accepted(Socket sock, const Address&) override {
    conns.push_back(make_dispatcher<JsonEcho>(loop(), std::move(sock), tls_));
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  std::shared_ptr<TlsContext> tls_;
  std::vector<std::shared_ptr<JsonEcho>> conns;
};

TEST(WebSocketSocketTest, ServerModeWithMessagesBothSides) {
  Loop loop;
  auto server = make_dispatcher<JsonServer>(loop);
  std::vector<WebSocketMessage> replies;
  auto client = make_dispatcher<WsClient>(
      loop, server->port(),
      WebSocketOptions{
          .path = "/api", .subprotocols = {"json"}, .on_message = [&](WebSocketMessage&& m) {
            replies.push_back(std::move(m));
          }});
  ASSERT_TRUE(run_until(loop, [&] { return client->connected_called || client->closed; }));
  ASSERT_TRUE(client->connected_called) << (client->errors.empty() ? "" : client->errors[0]);
  EXPECT_EQ(client->ws->subprotocol(), "json");
  ASSERT_EQ(server->conns.size(), 1u);
  EXPECT_EQ(server->conns[0]->ws->upgrade_head().target, "/api");
  EXPECT_TRUE(client->ws->send_text("{\"op\":\"hello\"}"));
  EXPECT_TRUE(client->ws->send_binary(std::string("\x01\x02", 2)));
  EXPECT_TRUE(client->ws->send_text("quit"));
  ASSERT_TRUE(run_until(loop, [&] { return client->closed; }));
  ASSERT_EQ(replies.size(), 3u);  // the replies went out before the close
  EXPECT_TRUE(replies[0].is_text());
  EXPECT_EQ(replies[0].data, "text:{\"op\":\"hello\"}");
  EXPECT_EQ(replies[1].data, std::string("binary:\x01\x02", 9));
  EXPECT_EQ(replies[2].data, "text:quit");
  EXPECT_EQ(client->ws->close_code(), 4000);
  EXPECT_EQ(client->ws->close_reason(), "asked to");
  EXPECT_TRUE(client->errors.empty());
  ASSERT_TRUE(run_until(loop, [&] { return server->conns[0]->closed; }));
  EXPECT_EQ(server->conns[0]->ws->close_code(), 4000);  // the client's echo of the code
  server->close();
}

TEST(WebSocketSocketTest, OverTlsBothSides) {
  test::TestCertificate cert;
  ASSERT_TRUE(cert.ok());
  Loop loop;
  auto server = make_dispatcher<JsonServer>(loop, cert.server_context());
  std::vector<WebSocketMessage> replies;
  auto client = make_dispatcher<WsClient>(
      loop, server->port(),
      WebSocketOptions{
          .on_message = [&](WebSocketMessage&& m) { replies.push_back(std::move(m)); }},
      cert.trusting_client_context());
  ASSERT_TRUE(run_until(loop, [&] { return client->connected_called || client->closed; }));
  ASSERT_TRUE(client->connected_called) << (client->errors.empty() ? "" : client->errors[0]);
  EXPECT_TRUE(client->tls_established());
  EXPECT_THAT(server->conns.at(0)->ws->upgrade_head().get("Host").value_or(""),
              HasSubstr("127.0.0.1:" + std::to_string(server->port())));
  EXPECT_TRUE(client->ws->send_text(std::string(50000, 'j')));
  EXPECT_TRUE(client->ws->send_text("quit"));
  ASSERT_TRUE(run_until(loop, [&] { return client->closed; }));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].data, "text:" + std::string(50000, 'j'));
  EXPECT_EQ(client->ws->close_code(), 4000);
  EXPECT_TRUE(client->errors.empty());
  server->close();
}

TEST(WebSocketSocketTest, ServerRefusesPlainHttpWith400) {
  Loop loop;
  auto server = make_dispatcher<JsonServer>(loop);
  auto raw = make_dispatcher<RawConn>(loop);  // not a WebSocket client
  raw->create_socket();
  raw->connect(Address::ipv4_loopback(server->port()));
  raw->out = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(run_until(loop, [&] { return raw->eof; }));
  EXPECT_EQ(raw->in.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << raw->in;
  ASSERT_EQ(server->conns.size(), 1u);
  EXPECT_TRUE(server->conns[0]->closed);
  raw->close();
  server->close();
}

}  // namespace
}  // namespace asyncore
