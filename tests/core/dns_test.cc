// dns_test.cc — Dispatcher::connect(host, port) with libevent's async resolver. Never touches the
// real network: every loop is pointed at a tiny UDP DNS responder on 127.0.0.1 that runs as a
// dispatcher in the same loop and answers every query NXDOMAIN (or, when silent, not at all).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/loop.h"
#include "tests/core/held_dns_responder.h"
#include "tests/core/nxdomain_responder.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;

using test::NxdomainResponder;

struct Outcome {
  int connects = 0, errors = 0;
  std::string error;
};

// Reports into an Outcome that outlives it (a shared-owned client is gone after close).
struct Client : Dispatcher {
  explicit Client(Loop& loop, Outcome* out = nullptr) : Dispatcher(loop), out(out ? out : &own) {}
  bool readable() override { return false; }
  bool writable() override { return false; }
  void handle_connect() override { ++out->connects; }
  void handle_error() override {
    ++out->errors;
    out->error = current_exception_text();
    close();
  }
  Outcome own;
  Outcome* out;
  int& connects = out->connects;
  int& errors = out->errors;
  std::string& error = out->error;
};

TEST(Dns, LocalhostFromEtcHostsConnects) {
  Loop loop;
  NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  Dispatcher server(loop);
  server.create_socket(AF_INET);
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  uint16_t port = Address::local_of(server.fileno()).port();
  Client client(loop);
  client.connect("localhost", port);
  EXPECT_TRUE(client.connecting());
  ASSERT_TRUE(run_until(loop, [&] { return client.connects + client.errors > 0; }));
  EXPECT_EQ(client.connects, 1) << client.error;
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.addr().port(), port);
  EXPECT_EQ(dns.queries, 0);  // answered from /etc/hosts
}

TEST(Dns, NumericHostsSkipTheLookup) {
  for (std::string host : {"127.0.0.1", "::1", "[::1]"}) {
    SCOPED_TRACE(host);
    Loop loop;
    NxdomainResponder dns(loop);
    loop.set_dns_nameservers({dns.nameserver()});
    Dispatcher server(loop);
    server.create_socket(host == "127.0.0.1" ? AF_INET : AF_INET6);
    server.bind(host == "127.0.0.1" ? Address::ipv4_loopback(0) : Address::ipv6_loopback(0));
    server.listen(5);
    Client client(loop);
    client.connect(host, Address::local_of(server.fileno()).port());
    EXPECT_GE(client.fileno(), 0);  // the socket exists at once
    ASSERT_TRUE(run_until(loop, [&] { return client.connects + client.errors > 0; }));
    EXPECT_EQ(client.connects, 1) << client.error;
    EXPECT_EQ(dns.queries, 0);
  }
}

TEST(Dns, FailedLookupReachesHandleErrorNamingTheHost) {
  Loop loop;
  NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  Outcome outcome;
  auto client = make_dispatcher<Client>(loop, &outcome);
  client->connect("no-such-host.invalid", 4242);
  EXPECT_TRUE(client->is_open());  // a pending lookup keeps it open (and in the map's hands)
  std::weak_ptr<Client> weak = client;
  client.reset();
  ASSERT_FALSE(weak.expired());
  ASSERT_TRUE(run_until(loop, [&] { return outcome.errors > 0; }));
  EXPECT_EQ(outcome.errors, 1);
  EXPECT_EQ(outcome.connects, 0);
  EXPECT_NE(outcome.error.find("no-such-host.invalid"), std::string::npos) << outcome.error;
  EXPECT_NE(outcome.error.find("4242"), std::string::npos) << outcome.error;
  EXPECT_GT(dns.queries, 0);
  EXPECT_TRUE(run_until(loop, [&] { return weak.expired(); }));  // released after close
}

TEST(Dns, FailedLookupWithDefaultHandleErrorClosesAndLoopEnds) {
  Loop loop;
  test::LogCapture capture;
  NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  auto client = make_dispatcher<Dispatcher>(loop);
  client->connect("nowhere.invalid", 80);
  std::weak_ptr<Dispatcher> weak = client;
  client.reset();
  ASSERT_TRUE(run_until(loop, [&] { return weak.expired(); }));
  EXPECT_TRUE(capture.contains("nowhere.invalid"));
  dns.close();
  EXPECT_EQ(loop.loop(1.0), 0u);  // nothing holds the loop any more
}

TEST(Dns, CloseDuringLookupCancelsIt) {
  Loop loop;
  NxdomainResponder dns(loop, /*silent=*/true);
  loop.set_dns_nameservers({dns.nameserver()});
  auto client = make_dispatcher<Client>(loop);
  client->connect("slow.invalid", 80);
  ASSERT_TRUE(run_until(loop, [&] { return dns.queries > 0; }));
  std::weak_ptr<Client> weak = client;
  client->close();
  EXPECT_FALSE(client->is_open());
  Client* raw = client.get();
  client.reset();
  EXPECT_TRUE(run_until(loop, [&] { return weak.expired(); }));
  (void)raw;
  dns.close();
  EXPECT_LE(loop.loop(1.0), 2u);  // nothing holds the loop once the cancellation is reported
}

TEST(Dns, StackOwnedDestroyedDuringLookup) {
  Loop loop;
  NxdomainResponder dns(loop, /*silent=*/true);
  loop.set_dns_nameservers({dns.nameserver()});
  {
    Client client(loop);
    client.connect("slow.invalid", 80);
    ASSERT_TRUE(run_until(loop, [&] { return dns.queries > 0; }));
  }
  dns.close();
  // The cancelled lookup holds the loop only until libevent reports the cancellation.
  EXPECT_LE(loop.loop(1.0), 2u);
}

TEST(Dns, LoopDestroyedDuringLookup) {
  auto loop = std::make_unique<Loop>();
  NxdomainResponder dns(*loop, /*silent=*/true);
  loop->set_dns_nameservers({dns.nameserver()});
  auto client = make_dispatcher<Client>(*loop);
  client->connect("slow.invalid", 80);
  ASSERT_TRUE(run_until(*loop, [&] { return dns.queries > 0; }));
  std::weak_ptr<Client> weak = client;
  client.reset();
  dns.close();
  loop.reset();  // closes the client, cancels the lookup; nothing may leak (ASan)
  EXPECT_TRUE(weak.expired());
}

// asyncore's own idiom: create_socket(), then connect("name", port). While the answer is pending
// the unconnected socket must not be watched: epoll reports an unconnected TCP socket as
// EPOLLOUT|EPOLLHUP, which used to run handle_connect(), then handle_read() -> ENOTCONN -> close,
// cancelling the lookup. Now no handler runs until the lookup answers; then the connect completes.
TEST(Dns, CreateSocketThenConnectByNameRunsNoHandlerWhileTheLookupIsPending) {
  Loop loop;
  test::HeldDnsResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  Dispatcher server(loop);
  server.create_socket(AF_INET);
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  const uint16_t port = Address::local_of(server.fileno()).port();

  struct Watched : Dispatcher {
    using Dispatcher::Dispatcher;
    void handle_connect() override { ++connects; }
    void handle_read() override { ++reads; }
    void handle_write() override { ++writes; }
    void handle_close() override {
      ++closes;
      close();
    }
    void handle_error() override {
      ++errors;
      close();
    }
    int connects = 0, reads = 0, writes = 0, closes = 0, errors = 0;
    int handlers() const { return connects + reads + writes + closes + errors; }
  } client(loop);
  client.create_socket(AF_INET);
  loop.poll(0);  // a turn before connect(): the unconnected socket is not watched either
  client.connect("held.invalid", port);
  // Both queries (A and AAAA) reach the responder, which holds them.
  ASSERT_TRUE(run_until(loop, [&] { return dns.queries >= 2; }));
  for (int i = 0; i < 20; ++i) loop.poll(0.005);  // turns with the lookup pending
  EXPECT_EQ(client.handlers(), 0) << "connects " << client.connects << " reads " << client.reads
                                  << " writes " << client.writes << " closes " << client.closes
                                  << " errors " << client.errors;
  EXPECT_TRUE(client.connecting());
  EXPECT_TRUE(client.is_open());

  dns.release();
  ASSERT_TRUE(run_until(loop, [&] { return client.connects + client.errors + client.closes > 0; }));
  EXPECT_EQ(client.connects, 1);
  EXPECT_EQ(client.errors, 0);
  EXPECT_EQ(client.closes, 0);
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(client.addr().port(), port);
  EXPECT_EQ(client.addr().to_string(), "127.0.0.1:" + std::to_string(port));
}

}  // namespace
}  // namespace asyncore
