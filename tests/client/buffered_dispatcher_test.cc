// BufferedDispatcher: the port of CPython test_asyncore.py's DispatcherWithSendTests.test_send,
// then the promises beyond asyncore: order kept across partial sends, and the high-water mark.
#include "client/buffered_dispatcher.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>

#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::run_until;

// CPython's capture_server: accepts one connection, keeps what arrives (without the newline
// terminator) until a newline is seen.
class CaptureServer {
 public:
  CaptureServer() {
    listener_ = Socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Address addr = Address::ipv4_loopback(0);
    if (::bind(listener_.fd(), addr.sockaddr_ptr(), addr.length()) != 0 ||
        ::listen(listener_.fd(), 5) != 0) {
      throw_errno(errno, "capture server bind/listen");
    }
    timeval tv{10, 0};
    ::setsockopt(listener_.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    port_ = Address::local_of(listener_.fd()).port();
    thread_ = std::thread([this] { run(); });
  }
  ~CaptureServer() { join(); }
  uint16_t port() const { return port_; }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  const std::string& captured() const { return captured_; }  // after join()

 private:
  void run() {
    Socket conn(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    timeval tv{10, 0};
    ::setsockopt(conn.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int n = 200; n > 0; --n) {
      char data[10];
      ssize_t got = ::recv(conn.fd(), data, sizeof data, 0);
      if (got <= 0) break;
      std::string chunk(data, static_cast<size_t>(got));
      bool newline = chunk.find('\n') != std::string::npos;
      std::erase(chunk, '\n');
      captured_ += chunk;
      if (newline) break;
    }
  }
  Socket listener_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::string captured_;
};

class DispatcherWithSendNoRead : public BufferedDispatcher {
 public:
  using BufferedDispatcher::BufferedDispatcher;
  bool readable() override { return false; }
  void handle_connect() override {}
};

TEST(DispatcherWithSendTests, test_send) {
  Loop loop;
  CaptureServer server;
  std::string data = "Suppose there isn't a 16-ton weight?";
  auto d = make_dispatcher<DispatcherWithSendNoRead>(loop);
  d->create_socket();
  d->connect(Address::ipv4_loopback(server.port()));
  // No "give time for socket to connect": data sent while connecting waits in the buffer.
  EXPECT_TRUE(d->send(data));
  EXPECT_TRUE(d->send(data));
  EXPECT_TRUE(d->send("\n"));
  EXPECT_TRUE(run_until(loop, [&] { return d->connected() && d->pending() == 0; }));
  server.join();
  EXPECT_EQ(server.captured(), data + data);
  d->close();
}

// Reads everything into `got`, in small reads, so the writer sees many partial sends.
class SlowReader : public Dispatcher {
 public:
  SlowReader(Loop& loop, Socket sock) : Dispatcher(loop, std::move(sock)) {}
  bool writable() override { return false; }
  void handle_read() override {
    char buf[1000];
    ssize_t n = recv(buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  void handle_close() override { close(); }
  std::string got;
};

class Writer : public BufferedDispatcher {
 public:
  using BufferedDispatcher::BufferedDispatcher;
  bool readable() override { return false; }
};

TEST(BufferedDispatcherTest, PartialSendsKeptInOrder) {
  Loop loop;
  auto [a, b] = client_test::socket_pair();
  int small = 4096;
  ::setsockopt(a.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Writer writer(loop, std::move(a));
  SlowReader reader(loop, std::move(b));
  std::string expected;
  uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {  // pieces of 1..4000 bytes, ~4 MB in all
    x = x * 1103515245u + 12345u;
    std::string piece((x >> 8) % 4000 + 1, '\0');
    for (char& c : piece) c = static_cast<char>('a' + (x++ % 26));
    expected += piece;
    ASSERT_TRUE(writer.send(piece));
  }
  EXPECT_GT(writer.pending(), 0u);  // the socket could not take it all at once
  ASSERT_TRUE(run_until(
      loop, [&] { return reader.got.size() >= expected.size(); }, 30));
  EXPECT_EQ(writer.pending(), 0u);
  EXPECT_TRUE(reader.got == expected) << "bytes out of order or corrupted";
}

TEST(BufferedDispatcherTest, WritableWhileConnectingOrPending) {
  Loop loop;
  auto [a, b] = client_test::socket_pair();
  Writer w(loop);
  w.create_socket();
  EXPECT_TRUE(w.writable());  // not connected
  w.set_socket(std::move(a));
  EXPECT_TRUE(w.connected());
  EXPECT_FALSE(w.writable());  // connected, nothing waiting
}

TEST(BufferedDispatcherTest, SendAfterCloseReturnsFalse) {
  Loop loop;
  auto [a, b] = client_test::socket_pair();
  Writer w(loop, std::move(a));
  w.close();
  EXPECT_FALSE(w.send("x"));
  EXPECT_EQ(w.pending(), 0u);
}

// A peer that accepts and never reads: the writer keeps pushing 64 KiB per turn. With a 1 MiB mark
// the callback runs once, then the connection is closed with a WARNING naming the peer; the
// buffer never held more than the mark plus one push.
TEST(BufferedDispatcherTest, HighWaterMarkClosesWhenPeerStopsReading) {
  Loop loop;
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  Address any = Address::ipv4_loopback(0);
  ASSERT_EQ(::bind(listener.fd(), any.sockaddr_ptr(), any.length()), 0);
  ASSERT_EQ(::listen(listener.fd(), 1), 0);
  Address server_addr = Address::local_of(listener.fd());

  constexpr size_t kMark = 1024 * 1024;
  constexpr size_t kPush = 64 * 1024;
  auto w = make_dispatcher<Writer>(loop);
  w->create_socket();
  w->connect(server_addr);
  int calls = 0;
  size_t reported = 0;
  w->set_high_water_mark(kMark, [&](size_t buffered) {
    ++calls;
    reported = buffered;
  });
  client_test::LogCapture log;
  const std::string chunk(kPush, 'x');
  // The peer never reads (the accepted socket is just held), so kernel buffers fill, then ours.
  Socket peer;
  bool ok = run_until(
      loop,
      [&] {
        if (!peer) peer = Socket(::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK));
        if (!w->is_open()) return true;
        if (w->connected()) w->send(chunk);
        return false;
      },
      30);
  ASSERT_TRUE(ok) << "the high-water mark never closed the connection";
  EXPECT_EQ(calls, 1);
  EXPECT_GT(reported, kMark);
  EXPECT_LE(w->max_pending(), kMark + kPush);
  EXPECT_EQ(w->pending(), 0u);  // freed
  EXPECT_FALSE(w->send(chunk));
  EXPECT_TRUE(log.contains("high-water mark")) << "no log line";
  EXPECT_TRUE(log.contains(server_addr.to_string())) << "the log must name the peer";
}

}  // namespace
}  // namespace asyncore
