// DouyuClient over every transport (douyu/client/transport.h): tcp://, ws:// and wss:// against the
// simulator serving the same transport. The session, exactly-once delivery of a flood, reconnect
// after a drop, back-pressure, dead-connection detection and logout behave the same over each;
// a TLS or upgrade failure is a connection failure like any other, named with the URL and the
// reason; over wss the client rotates through Douyu's proxy ports 8501..8506.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "douyu/client/douyu_client.h"
#include "douyu/client/transport.h"
#include "douyu/simulator/douyu_server.h"
#include "tests/core/test_certificate.h"
#include "tests/douyu_session/client_test_util.h"

namespace asyncore::douyu::test {
namespace {

using asyncore::test::TestCertificate;

class DouyuTransport : public ::testing::TestWithParam<Transport> {
 protected:
  static void SetUpTestSuite() { certificate_ = std::make_unique<TestCertificate>(); }
  static void TearDownTestSuite() { certificate_.reset(); }

  // A simulator speaking this test's transport on a free loopback port.
  static std::shared_ptr<DouyuServer> server(Loop& loop, SimulatorOptions o) {
    o.transport = GetParam();
    if (o.transport == Transport::kWss) o.tls = certificate_->server_context();
    return make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(0), o);
  }
  // A client for it: wss trusts the test certificate (and nothing else but the system store).
  static DouyuClientOptions client_options(const DouyuServer& s) {
    DouyuClientOptions o = options_for(s);
    o.transport = GetParam();
    if (o.transport == Transport::kWss) o.tls.ca_file = certificate_->cert();
    return o;
  }

  static std::unique_ptr<TestCertificate> certificate_;
};
std::unique_ptr<TestCertificate> DouyuTransport::certificate_;

TEST_P(DouyuTransport, LoginJoinHeartbeatAndLogout) {
  Loop loop;
  auto sim = server(loop, SimulatorOptions{.rate = 0});
  Collector got;
  auto options = client_options(*sim);
  options.heartbeat_interval = 200ms;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return sim->stats().heartbeats >= 2 && got.count("mrkl") >= 2; }, 10));
  EXPECT_EQ(client.state(), DouyuClient::State::kJoined);
  EXPECT_EQ(sim->stats().logins, 1u);
  EXPECT_EQ(sim->stats().joins, 1u);
  EXPECT_EQ(got.count("loginres"), 1u);
  client.stop();
  // The logout reached the server before the close (a half-close over every transport).
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped() && sim->stats().logouts == 1; }));
  EXPECT_EQ(client.failure(), "");
  EXPECT_EQ(client.reconnects(), 0u);
  client.join();
}

TEST_P(DouyuTransport, FloodArrivesExactlyOnceInOrder) {
  Loop loop;
  constexpr uint64_t kMessages = 20000;
  auto sim = server(loop, SimulatorOptions{.rate = 0, .flood = kMessages});
  Collector got;
  DouyuClient client(loop, client_options(*sim), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == kMessages; }, 60));
  EXPECT_TRUE(is_one_to_n(got.seqs(), kMessages));
  EXPECT_EQ(client.reconnects(), 0u);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

TEST_P(DouyuTransport, ReconnectAfterDropsLosesNothing) {
  Loop loop;
  auto sim = server(loop, SimulatorOptions{.rate = 0, .flood = 1500, .drop_after = 300});
  Collector got;
  DouyuClient client(loop, client_options(*sim), got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() >= 1200; }, 30));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
  const auto seqs = got.seqs();
  EXPECT_TRUE(is_one_to_n(seqs, seqs.size())) << "lost, duplicated or reordered messages";
  EXPECT_GE(client.reconnects(), 3u);
}

TEST_P(DouyuTransport, SlowCallbackPausesReadingAndLosesNothing) {
  Loop loop;
  constexpr uint64_t kMessages = 3000;
  auto sim = server(loop, SimulatorOptions{.rate = 0, .flood = kMessages});
  std::atomic<size_t> max_queued{0};
  Collector got;
  DouyuClient* self = nullptr;
  auto options = client_options(*sim);
  options.receive_high_water = 64;
  options.dead_timeout = 300ms;  // a paused reader must not look dead
  DouyuClient client(loop, options, [&](const Message& m) {
    got(m);
    std::this_thread::sleep_for(100us);  // a slow consumer (the point of the test)
    size_t q = self->queued_messages();
    size_t seen = max_queued.load();
    while (q > seen && !max_queued.compare_exchange_weak(seen, q)) {
    }
  });
  self = &client;
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == kMessages; }, 60));
  EXPECT_TRUE(is_one_to_n(got.seqs(), kMessages));
  EXPECT_EQ(client.reconnects(), 0u);
  const size_t per_read_bound = 4 * 64 * 1024 / 40;  // one read of 4 x 64 KiB overshoots at most
  EXPECT_LE(max_queued.load(), options.receive_high_water + per_read_bound);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

TEST_P(DouyuTransport, SilentServerIsDetectedAsDead) {
  Loop loop;
  auto sim = server(loop, SimulatorOptions{.rate = 0, .silent = true});
  Collector got;
  auto options = client_options(*sim);
  options.dead_timeout = 300ms;
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 2; }, 10));
  EXPECT_GE(sim->stats().logins, 2u);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  client.join();
}

INSTANTIATE_TEST_SUITE_P(AllTransports, DouyuTransport,
                         ::testing::Values(Transport::kTcp, Transport::kWs, Transport::kWss),
                         [](const auto& info) {
                           return std::string(transport_scheme(info.param));
                         });

// ---------------------------------------------------------------- failures, named

class DouyuTransportFailure : public DouyuTransport {
 protected:
  // A wss simulator with the test certificate on 127.0.0.1:`port` (0: a free port).
  static std::shared_ptr<DouyuServer> wss_server(Loop& loop, uint64_t flood = 0,
                                                 uint16_t port = 0) {
    SimulatorOptions so{.rate = 0, .flood = flood, .transport = Transport::kWss};
    so.tls = certificate_->server_context();
    return make_dispatcher<DouyuServer>(loop, Address::ipv4_loopback(port), so);
  }
  // Runs a client with reconnect off until it gave up; its failure().
  static std::string failure_of(Loop& loop, DouyuClientOptions options) {
    options.reconnect = false;
    DouyuClient client(loop, options, [](const Message&) {});
    client.start();
    EXPECT_TRUE(run_until(
        loop, [&] { return client.stopped(); }, 10));
    client.join();
    return client.failure();
  }
};

// The system store does not trust the test certificate: refused, with OpenSSL's reason and the
// URL; reconnect off ends the client.
TEST_F(DouyuTransportFailure, UntrustedCertificateIsRefusedWithTheReason) {
  Loop loop;
  auto sim = wss_server(loop);
  auto options = options_for(*sim);
  options.transport = Transport::kWss;
  const std::string failure = failure_of(loop, options);
  const std::string url = "wss://127.0.0.1:" + std::to_string(sim->address().port()) + "/";
  EXPECT_EQ(failure.rfind(url + ": ", 0), 0u) << failure;
  EXPECT_NE(failure.find("TLS handshake with 127.0.0.1"), std::string::npos) << failure;
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  EXPECT_EQ(sim->stats().logins, 0u);
}

TEST_F(DouyuTransportFailure, HostNameMismatchIsRefused) {
  Loop loop;
  auto sim = wss_server(loop);
  auto options = options_for(*sim);
  options.transport = Transport::kWss;
  options.tls.ca_file = certificate_->cert();
  options.tls.server_name = "danmuproxy.douyu.com";  // the certificate says localhost
  const std::string failure = failure_of(loop, options);
  EXPECT_NE(failure.find("certificate verify failed"), std::string::npos) << failure;
  EXPECT_NE(failure.find("hostname mismatch"), std::string::npos) << failure;
}

// A server that answers every upgrade request with a fixed HTTP response, then closes.
class HttpRefuser : public Dispatcher {
 public:
  HttpRefuser(Loop& loop, std::string response) : Dispatcher(loop), response_(std::move(response)) {
    create_socket();
    set_reuse_addr();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  int accepted = 0;
  bool writable() override { return false; }
  void handle_accepted(Socket sock, const Address&) override {
    ++accepted;
    make_dispatcher<Answer>(loop(), std::move(sock), response_);
  }

 private:
  struct Answer : Dispatcher {
    Answer(Loop& loop, Socket sock, std::string response)
        : Dispatcher(loop, std::move(sock)), response(std::move(response)) {}
    bool writable() override { return request.find("\r\n\r\n") != std::string::npos; }
    void handle_read() override { request += recv(4096); }
    void handle_write() override {
      send(response);
      close();
    }
    void handle_close() override { close(); }
    std::string request, response;
  };
  std::string response_;
};

TEST_F(DouyuTransportFailure, RefusedUpgradeNamesTheHttpStatus) {
  Loop loop;
  auto refuser = make_dispatcher<HttpRefuser>(loop, "HTTP/1.1 403 Forbidden\r\n\r\n");
  auto options = options_for_port(refuser->port());
  options.transport = Transport::kWs;
  const std::string failure = failure_of(loop, options);
  EXPECT_NE(failure.find("ws://127.0.0.1:" + std::to_string(refuser->port()) + "/: "),
            std::string::npos)
      << failure;
  EXPECT_NE(failure.find("HTTP 403 Forbidden"), std::string::npos) << failure;
}

// With reconnect on, a refused upgrade backs off and retries like a refused TCP connect.
TEST_F(DouyuTransportFailure, RefusedUpgradeIsRetriedWithBackoff) {
  Loop loop;
  auto refuser = make_dispatcher<HttpRefuser>(loop, "HTTP/1.1 404 Not Found\r\n\r\n");
  auto options = options_for_port(refuser->port());
  options.transport = Transport::kWs;
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.reconnects() >= 3 && refuser->accepted >= 3; }, 10));
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
  EXPECT_EQ(client.failure(), "");
}

// connect_timeout covers the whole connect: a server whose kernel accepts the TCP connection but
// which never answers the TLS ClientHello (or the upgrade request) ends the attempt in time.
TEST_P(DouyuTransport, AHandshakeThatNeverEndsTimesOut) {
  Loop loop;
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(listener.fd(), any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(listener.fd(), 4), 0);  // never accepted: the kernel completes the connect
  auto options = options_for_port(Address::local_of(listener.fd()).port());
  options.transport = GetParam();
  options.connect_timeout = 300ms;
  options.dead_timeout = 300ms;
  options.reconnect = false;
  DouyuClient client(loop, options, [](const Message&) {});
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return client.stopped(); }, 5));
  if (GetParam() == Transport::kTcp) {
    // Plain TCP has no handshake of its own: connected, logging in, then silence.
    EXPECT_NE(client.failure().find("no data for"), std::string::npos) << client.failure();
  } else {
    EXPECT_NE(client.failure().find("timed out after 300 ms"), std::string::npos)
        << client.failure();
  }
  client.join();
}

// Douyu's proxy listens on 8501..8506: with nothing on 8501 and 8502, the client finds the
// simulator on 8503 by rotating. Skipped when 8503 is taken on this machine.
TEST_F(DouyuTransportFailure, WssRotatesThroughDouyusProxyPorts) {
  Loop loop;
  std::shared_ptr<DouyuServer> sim;
  try {
    sim = wss_server(loop, 10, 8503);
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "127.0.0.1:8503 is taken: " << e.what();
  }
  Collector got;
  auto options = options_for_port(kDouyuWssFirstPort);
  options.transport = Transport::kWss;
  options.tls.ca_file = certificate_->cert();
  DouyuClient client(loop, options, got.callback());
  client.start();
  ASSERT_TRUE(run_until(
      loop, [&] { return got.room_messages() == 10; }, 10));
  EXPECT_EQ(client.reconnects(), 2u);  // 8501, 8502 refused (nothing listens there)
  EXPECT_EQ(sim->stats().connections, 1u);
  client.stop();
  ASSERT_TRUE(run_until(loop, [&] { return client.stopped(); }));
}

}  // namespace
}  // namespace asyncore::douyu::test
