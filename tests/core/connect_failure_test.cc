// connect_failure_test.cc — a failed connect (refused, unresolvable host) reaches handle_error()
// and then the default handle_close(), which can tell it from a peer that left: connect_failed()
// is true and disconnect_errno() is the connect's errno (0 after a failed lookup).
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cerrno>
#include <memory>

#include "core/dispatcher.h"
#include "core/loop.h"
#include "tests/core/nxdomain_responder.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

struct Seen {
  int errors = 0;
  int closes = 0;
  int connects = 0;
  bool connect_failed = false;
  int disconnect_errno = -1;
};

// Default handle_error() (logs, then handle_close()); records what handle_close() sees.
struct Recorder : Dispatcher {
  Recorder(Loop& loop, Seen* seen) : Dispatcher(loop), seen(seen) {}
  void handle_connect() override { ++seen->connects; }
  void handle_error() override {
    ++seen->errors;
    Dispatcher::handle_error();
  }
  void handle_close() override {
    ++seen->closes;
    seen->connect_failed = connect_failed();
    seen->disconnect_errno = disconnect_errno();
    close();
  }
  bool writable() override { return false; }
  Seen* seen;
};

uint16_t closed_port() {
  Loop loop;
  Dispatcher probe(loop);
  probe.create_socket(AF_INET);
  probe.bind(Address::ipv4_loopback(0));
  return Address::local_of(probe.fileno()).port();  // closed again when probe goes
}

TEST(ConnectFailure, RefusedReachesHandleCloseWithEconnrefused) {
  Loop loop;
  Seen seen;
  auto d = make_dispatcher<Recorder>(loop, &seen);
  d->create_socket(AF_INET);
  d->connect(Address::ipv4_loopback(closed_port()));
  EXPECT_FALSE(d->connect_failed());
  ASSERT_TRUE(test::run_until(loop, [&] { return seen.closes > 0; }));
  EXPECT_EQ(seen.errors, 1);
  EXPECT_EQ(seen.closes, 1);
  EXPECT_EQ(seen.connects, 0);
  EXPECT_TRUE(seen.connect_failed);
  EXPECT_EQ(seen.disconnect_errno, ECONNREFUSED);
}

TEST(ConnectFailure, UnresolvableHostIsAFailedConnectWithErrnoZero) {
  Loop loop;
  test::NxdomainResponder dns(loop);
  loop.set_dns_nameservers({dns.nameserver()});
  Seen seen;
  auto d = make_dispatcher<Recorder>(loop, &seen);
  d->connect("no-such-host.invalid", 80);
  ASSERT_TRUE(test::run_until(loop, [&] { return seen.closes > 0; }));
  EXPECT_EQ(seen.errors, 1);
  EXPECT_TRUE(seen.connect_failed);
  EXPECT_EQ(seen.disconnect_errno, 0);
}

// A peer that leaves after a successful connect is not a failed connect.
TEST(ConnectFailure, PeerLeavingAfterConnectIsNotAFailedConnect) {
  Loop loop;
  Dispatcher server(loop);
  server.create_socket(AF_INET);
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  struct Reader : Recorder {
    using Recorder::Recorder;
    void handle_read() override {
      char buf[16];
      recv(buf, sizeof buf);
    }
  };
  Seen seen;
  auto d = make_dispatcher<Reader>(loop, &seen);
  d->create_socket(AF_INET);
  d->connect(Address::ipv4_loopback(Address::local_of(server.fileno()).port()));
  // The server's default handle_accepted() closes the connection: the peer leaves.
  ASSERT_TRUE(test::run_until(loop, [&] { return seen.closes > 0; }));
  EXPECT_EQ(seen.connects, 1);
  EXPECT_FALSE(seen.connect_failed);
  EXPECT_EQ(seen.errors, 0);
}

}  // namespace
}  // namespace asyncore
