// SocketClient: the tutorial's client as a class — connect, data, close, errors, buffered send.
#include "client/socket_client.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::run_until;

// An in-loop echo server: one BufferedDispatcher per connection.
class Echo : public BufferedDispatcher {
 public:
  using BufferedDispatcher::BufferedDispatcher;
  void handle_read() override {
    char buf[4096];
    if (ssize_t n = recv(buf, sizeof buf); n > 0) send(buf, static_cast<size_t>(n));
  }
  void handle_close() override { close(); }
};
class EchoListener : public Dispatcher {
 public:
  explicit EchoListener(Loop& loop) : Dispatcher(loop) {
    create_socket();
    bind(Address::ipv4_loopback(0));
    listen(16);
  }
  uint16_t port() const { return Address::local_of(fileno()).port(); }
  void handle_accepted(Socket s, const Address&) override {
    make_dispatcher<Echo>(loop(), std::move(s));
  }
};

TEST(SocketClientTest, ConnectSendReceiveClose) {
  Loop loop;
  auto server = make_dispatcher<EchoListener>(loop);
  auto client = make_dispatcher<SocketClient>(loop, "127.0.0.1", server->port());
  int connects = 0, closes = 0;
  std::string got;
  client->set_on_connect([&] { ++connects; });
  client->set_on_data([&](std::string_view d) { got.append(d); });
  client->set_on_close([&] { ++closes; });
  client->send("hello world");  // buffered until connected
  ASSERT_TRUE(run_until(loop, [&] { return got == "hello world"; }));
  EXPECT_EQ(connects, 1);
  client->handle_close();  // as the tutorial: report and close
  client->handle_close();
  EXPECT_EQ(closes, 1);
  EXPECT_TRUE(client->error().empty());
  server->close();
}

TEST(SocketClientTest, NameIsResolved) {
  Loop loop;
  auto server = make_dispatcher<EchoListener>(loop);
  auto client = make_dispatcher<SocketClient>(loop, "localhost", server->port());
  std::string got;
  client->set_on_data([&](std::string_view d) { got.append(d); });
  client->send("via dns");
  ASSERT_TRUE(run_until(loop, [&] { return got == "via dns" || !client->is_open(); }));
  EXPECT_EQ(got, "via dns") << client->error();
  client->close();
  server->close();
}

TEST(SocketClientTest, RefusedReportsErrorAndCloses) {
  Loop loop;
  Socket probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(probe.fd(), any.sockaddr_ptr(), any.length()), 0);
  auto client =
      make_dispatcher<SocketClient>(loop, "127.0.0.1", Address::local_of(probe.fd()).port());
  int closes = 0;
  client->set_on_close([&] { ++closes; });
  ASSERT_TRUE(run_until(loop, [&] { return closes == 1; }));
  EXPECT_NE(client->error().find("Connection refused"), std::string::npos) << client->error();
  EXPECT_FALSE(client->is_open());
}

}  // namespace
}  // namespace asyncore
