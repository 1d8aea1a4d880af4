// TLS under Dispatcher (core/tls.h): handshakes both ways, verification outcomes, insecure mode,
// a peer leaving mid-handshake, records split into 1-byte writes, decrypted bytes held by OpenSSL,
// and the README's AsyncChat line server over TLS. The certificate is made at test time with the
// `openssl` command into a temporary directory.
#include "core/tls.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "client/async_chat.h"
#include "client/buffered_dispatcher.h"
#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "tests/core/test_certificate.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certificate_ = std::make_unique<test::TestCertificate>(); }
  static void TearDownTestSuite() { certificate_.reset(); }

  static std::string cert() { return certificate_->cert(); }
  static std::string key() { return certificate_->key(); }
  static std::shared_ptr<TlsContext> server_ctx() { return certificate_->server_context(); }
  static std::shared_ptr<TlsContext> trusting_client_ctx() {
    return certificate_->trusting_client_context();
  }

  static std::unique_ptr<test::TestCertificate> certificate_;
};
std::unique_ptr<test::TestCertificate> TlsTest::certificate_;

// Echoes what it reads (the BufferedDispatcher example).
class Echo : public BufferedDispatcher {
 public:
  using BufferedDispatcher::BufferedDispatcher;
  void handle_read() override {
    char buf[4096];
    if (ssize_t n = recv(buf, sizeof buf); n > 0) send(buf, static_cast<size_t>(n));
  }
  void handle_close() override {
    closed = true;
    close();
  }
  bool closed = false;
};

// Listens on 127.0.0.1:0 and makes an Echo (or, with big_reply, sends `big_reply`) per
// connection, with TLS on it.
class TlsServer : public Dispatcher {
 public:
  TlsServer(Loop& loop, std::shared_ptr<TlsContext> ctx) : Dispatcher(loop), ctx_(std::move(ctx)) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  void handle_accepted(Socket sock, const Address&) override {
    auto c = make_dispatcher<Echo>(loop(), std::move(sock));
    c->start_tls_server(ctx_);
    if (!big_reply.empty()) c->send(big_reply);
    conns.push_back(c);
  }
  std::shared_ptr<TlsContext> ctx_;
  std::vector<std::shared_ptr<Echo>> conns;
  std::string big_reply;
};

// A TLS client: sends `greeting` on handle_connect() and collects what comes back.
class Client : public BufferedDispatcher {
 public:
  Client(Loop& loop, uint16_t port, std::shared_ptr<TlsContext> ctx, std::string name = {},
         std::string greeting = "hello\n")
      : BufferedDispatcher(loop), greeting_(std::move(greeting)) {
    create_socket();
    connect(Address::ipv4_loopback(port));
    start_tls_client(std::move(ctx), std::move(name));
  }
  void handle_connect() override {
    connected_called = true;
    send(greeting_);
  }
  void handle_read() override {
    char buf[4096];
    ssize_t n = recv(buf, read_size);
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
  size_t read_size = 4096;
  bool connected_called = false;
  bool closed = false;
  std::string received;
  std::vector<std::string> errors;

 private:
  std::string greeting_;
};

TEST_F(TlsTest, HandshakeBothWaysAndEcho) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto c = make_dispatcher<Client>(loop, server->port(), trusting_client_ctx());
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "hello\n" || c->closed; }));
  EXPECT_EQ(c->received, "hello\n");
  EXPECT_TRUE(c->connected_called);
  EXPECT_TRUE(c->tls_established());
  ASSERT_EQ(server->conns.size(), 1u);
  EXPECT_TRUE(server->conns[0]->tls_established());
  // close() sends close_notify: the server sees an ordinary end of stream.
  c->close();
  ASSERT_TRUE(run_until(loop, [&] { return server->conns[0]->closed; }));
  EXPECT_EQ(server->conns[0]->disconnect_errno(), 0);
  server->close();
}

TEST_F(TlsTest, TrustedCertificateByNameAccepted) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto c = make_dispatcher<Client>(loop, server->port(), trusting_client_ctx(), "localhost");
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "hello\n" || c->closed; }));
  EXPECT_TRUE(c->errors.empty()) << c->errors[0];
  EXPECT_EQ(c->received, "hello\n");
  c->close();
  server->close();
}

TEST_F(TlsTest, UntrustedCertificateRefused) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto c = make_dispatcher<Client>(loop, server->port(), TlsContext::client());
  ASSERT_TRUE(run_until(loop, [&] { return c->closed; }));
  ASSERT_EQ(c->errors.size(), 1u);
  EXPECT_NE(c->errors[0].find("TLS handshake with 127.0.0.1:" + std::to_string(server->port()) +
                              " failed: certificate verify failed: self-signed certificate"),
            std::string::npos)
      << c->errors[0];
  EXPECT_FALSE(c->connected_called);
  EXPECT_TRUE(c->connect_failed());
  server->close();
}

TEST_F(TlsTest, HostNameMismatchRefused) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto c = make_dispatcher<Client>(loop, server->port(), trusting_client_ctx(), "wrong.example");
  ASSERT_TRUE(run_until(loop, [&] { return c->closed; }));
  ASSERT_EQ(c->errors.size(), 1u);
  EXPECT_NE(c->errors[0].find("certificate verify failed"), std::string::npos) << c->errors[0];
  EXPECT_NE(c->errors[0].find("hostname mismatch"), std::string::npos) << c->errors[0];
  EXPECT_FALSE(c->connected_called);
  server->close();
}

TEST_F(TlsTest, InsecureAcceptsAndWarns) {
  test::LogCapture logs;
  TlsOptions o;
  o.insecure = true;
  auto ctx = TlsContext::client(o);
  bool warned = false;
  for (const auto& l : logs.lines()) {
    if (l.severity == google::GLOG_WARNING && l.text.find("insecure") != std::string::npos)
      warned = true;
  }
  EXPECT_TRUE(warned);
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto c = make_dispatcher<Client>(loop, server->port(), ctx, "wrong.example");
  ASSERT_TRUE(run_until(loop, [&] { return c->received == "hello\n" || c->closed; }));
  EXPECT_EQ(c->received, "hello\n");
  c->close();
  server->close();
}

// Accepts and closes at once: the client's handshake meets an end of stream or a reset.
class Slammer : public Dispatcher {
 public:
  explicit Slammer(Loop& loop) : Dispatcher(loop) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  void handle_accepted(Socket sock, const Address&) override {
    sock.reset();
    ++accepted;
  }
  int accepted = 0;
};

TEST_F(TlsTest, PeerClosesMidHandshake) {
  Loop loop;
  auto server = make_dispatcher<Slammer>(loop);
  auto c = make_dispatcher<Client>(loop, Address::local_of(server->fileno()).port(),
                                   trusting_client_ctx());
  ASSERT_TRUE(run_until(loop, [&] { return c->closed; }));
  ASSERT_EQ(c->errors.size(), 1u);
  EXPECT_NE(c->errors[0].find("TLS handshake with 127.0.0.1:"), std::string::npos) << c->errors[0];
  EXPECT_FALSE(c->connected_called);
  server->close();
}

// One side of a raw TCP relay that writes one byte per handle_write().
class RelayHalf : public Dispatcher {
 public:
  using Dispatcher::Dispatcher;
  bool writable() override { return !connected() || !out.empty(); }
  void handle_connect() override {}
  void handle_read() override {
    char buf[4096];
    ssize_t n = recv(buf, sizeof buf);
    if (n > 0 && peer) peer->out.append(buf, static_cast<size_t>(n));
  }
  void handle_write() override {
    if (out.empty()) return;
    if (send(out.data(), 1) == 1) out.erase(0, 1);
  }
  void handle_close() override {
    close();
    if (peer && peer->is_open()) peer->close();
  }
  RelayHalf* peer = nullptr;
  std::string out;
};

class Relay : public Dispatcher {
 public:
  Relay(Loop& loop, uint16_t upstream) : Dispatcher(loop), upstream_(upstream) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  void handle_accepted(Socket sock, const Address&) override {
    auto down = make_dispatcher<RelayHalf>(loop(), std::move(sock));
    auto up = make_dispatcher<RelayHalf>(loop());
    up->create_socket();
    up->connect(Address::ipv4_loopback(upstream_));
    down->peer = up.get();
    up->peer = down.get();
    halves.push_back(down);
    halves.push_back(up);
  }
  std::vector<std::shared_ptr<RelayHalf>> halves;

 private:
  uint16_t upstream_;
};

TEST_F(TlsTest, RecordsSplitIntoOneByteWrites) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  auto relay = make_dispatcher<Relay>(loop, server->port());
  std::string message(300, 'x');
  message += "\n";
  auto c = make_dispatcher<Client>(loop, Address::local_of(relay->fileno()).port(),
                                   trusting_client_ctx(), "localhost", message);
  ASSERT_TRUE(run_until(
      loop, [&] { return c->received.size() >= message.size() || c->closed; }, 60));
  EXPECT_EQ(c->received, message);
  EXPECT_TRUE(c->errors.empty());
  c->close();
  relay->close();
  server->close();
}

TEST_F(TlsTest, DecryptedBytesHeldByOpenSslAreDelivered) {
  Loop loop;
  auto server = make_dispatcher<TlsServer>(loop, server_ctx());
  std::string big;
  for (int i = 0; big.size() < 100000; ++i) big += std::to_string(i) + ",";
  server->big_reply = big;
  auto c = make_dispatcher<Client>(loop, server->port(), trusting_client_ctx());
  c->read_size = 100;  // one small recv() per handle_read(): most of each record waits decrypted
  ASSERT_TRUE(run_until(loop, [&] { return c->received.size() >= big.size() || c->closed; }));
  EXPECT_EQ(c->received, big);
  c->close();
  server->close();
}

// The README's line server (tests/client/line_server_snippet_test.cc), handlers unchanged.
class Reply : public AsyncChat {  // answers every line with "you said: " + line
 public:
  Reply(Loop& loop, Socket sock) : AsyncChat(loop, std::move(sock)) { set_terminator("\n"); }
  void found_terminator() override { push("you said: " + get_data() + "\n"); }
};
class TlsLineServer : public Dispatcher {  // one Reply per connection, TLS on each
 public:
  TlsLineServer(Loop& loop, std::shared_ptr<TlsContext> ctx) : Dispatcher(loop), ctx_(ctx) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(128);
  }
  void handle_accepted(Socket sock, const Address&) override {
    make_dispatcher<Reply>(loop(), std::move(sock))->start_tls_server(ctx_);
  }
  std::shared_ptr<TlsContext> ctx_;
};

TEST_F(TlsTest, LineServerOverTls) {
  Loop loop;
  auto server = make_dispatcher<TlsLineServer>(loop, server_ctx());
  uint16_t port = Address::local_of(server->fileno()).port();
  struct LineClient : AsyncChat {
    LineClient(Loop& l, uint16_t p, std::shared_ptr<TlsContext> ctx) : AsyncChat(l) {
      create_socket();
      connect(Address::ipv4_loopback(p));
      start_tls_client(std::move(ctx));
      set_terminator("\n");
    }
    void found_terminator() override { lines.push_back(get_data()); }
    std::vector<std::string> lines;
  };
  auto c = make_dispatcher<LineClient>(loop, port, trusting_client_ctx());
  c->push("hi\nthere\n");  // queued before the handshake: sent once it completed
  ASSERT_TRUE(run_until(loop, [&] { return c->lines.size() == 2 || !c->is_open(); }));
  EXPECT_EQ(c->lines, (std::vector<std::string>{"you said: hi", "you said: there"}));
  c->close();
  server->close();
}

TEST_F(TlsTest, ContextErrorsCarryOpenSslText) {
  TlsOptions o;
  o.cert_file = cert() + ".missing";
  o.key_file = key();
  try {
    TlsContext::server(o);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cert.pem.missing"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace asyncore
