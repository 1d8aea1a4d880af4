// dispatcher_safety_test.cc — the promises asyncore broke and this reactor keeps: closed and
// fd-reused dispatchers get no stale events, a dispatcher may close itself in any handler,
// ownership through the map, readable()/writable() asked every turn, errors routed as asyncore
// routes them, and loop(timeout, count) termination.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "core/dispatcher.h"
#include "core/exception_text.h"
#include "core/loop.h"
#include "tests/core/test_util.h"

namespace asyncore {
namespace {

using test::run_until;
using test::socket_pair;

// A reader over one end of a socket pair; the test holds the other end.
class Reader : public Dispatcher {
 public:
  Reader(Loop& loop, Socket sock) : Dispatcher(loop, std::move(sock)) {}
  bool writable() override { return false; }
  void handle_read() override {
    ++reads;
    if (on_read) on_read(*this);
  }
  void handle_close() override {
    ++closes;
    close();
  }
  void handle_error() override {
    ++errors;
    error_text = current_exception_text();
    close();
  }
  std::function<void(Reader&)> on_read;
  int reads = 0, closes = 0, errors = 0;
  std::string error_text;
};

void put(const Socket& s, const std::string& data = "x") {
  ASSERT_EQ(::write(s.fd(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

TEST(DispatcherSafety, ClosedByAnotherHandlerGetsNoFurtherEvents) {
  Loop loop;
  auto [a_sock, a_peer] = socket_pair();
  auto [b_sock, b_peer] = socket_pair();
  Reader a(loop, std::move(a_sock)), b(loop, std::move(b_sock));
  a.on_read = [&](Reader&) { b.close(); };
  b.on_read = [&](Reader&) { a.close(); };
  put(a_peer);
  put(b_peer);
  loop.poll(1.0);  // both are ready in the same turn: whichever runs first closes the other
  EXPECT_EQ(a.reads + b.reads, 1);
  EXPECT_EQ(loop.size(), 1u);
  Reader& closed = a.is_open() ? b : a;
  EXPECT_EQ(closed.reads, 0);
  loop.poll(0.01);  // the survivor still has unread data; the closed one hears nothing more
  EXPECT_EQ(closed.reads, 0);
}

TEST(DispatcherSafety, ReusedFdNumberGetsNoStaleEvents) {
  Loop loop;
  auto [a_sock, a_peer] = socket_pair();
  auto [b_sock, b_peer] = socket_pair();
  auto [c_sock, c_peer] = socket_pair();
  auto a = std::make_unique<Reader>(loop, std::move(a_sock));
  auto b = std::make_unique<Reader>(loop, std::move(b_sock));
  std::unique_ptr<Reader> c;
  int reused_fd = -1;
  // Whichever runs first closes the other and puts a new dispatcher C on the freed fd number.
  auto replace = [&](std::unique_ptr<Reader>& victim) {
    if (c) return;
    reused_fd = victim->fileno();
    victim->close();
    int fd = ::fcntl(c_sock.fd(), F_DUPFD_CLOEXEC, reused_fd);  // lowest free >= reused_fd
    ASSERT_EQ(fd, reused_fd);
    c_sock.reset();
    c = std::make_unique<Reader>(loop, Socket(fd));
  };
  a->on_read = [&](Reader&) { replace(b); };
  b->on_read = [&](Reader&) { replace(a); };
  put(a_peer);
  put(b_peer);
  loop.poll(1.0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->fileno(), reused_fd);
  EXPECT_EQ(a->reads + b->reads, 1);
  EXPECT_EQ(c->reads, 0) << "C got the pending read event of the dispatcher it replaced";
  // C works normally afterwards.
  put(c_peer, "y");
  EXPECT_TRUE(run_until(loop, [&] { return c->reads == 1; }));
}

TEST(DispatcherSafety, CloseSelfInReadAndWrite) {
  for (bool in_read : {true, false}) {
    SCOPED_TRACE(in_read ? "handle_read" : "handle_write");
    Loop loop;
    auto [sock, peer] = socket_pair();
    put(peer);
    struct D : Dispatcher {
      D(Loop& l, Socket s, bool r) : Dispatcher(l, std::move(s)), in_read(r) {}
      void handle_read() override {
        ++calls;
        if (in_read) close();
      }
      void handle_write() override {
        ++calls;
        if (!in_read) close();
      }
      void handle_error() override { ADD_FAILURE() << current_exception_text(); }
      bool in_read;
      int calls = 0;
    };
    auto d = make_dispatcher<D>(loop, std::move(sock), in_read);
    std::weak_ptr<D> weak = d;
    D* raw = d.get();
    d.reset();  // the map is the only owner now
    ASSERT_FALSE(weak.expired());
    loop.poll(1.0);
    // read and write were both ready; the one that closed was the last one called
    EXPECT_TRUE(weak.expired()) << "closed shared-owned dispatcher not released after the turn";
    (void)raw;
    EXPECT_EQ(loop.size(), 0u);
    EXPECT_EQ(loop.loop(0.01), 0u);  // map empty: loop() returns at once
  }
}

TEST(DispatcherSafety, CloseSelfInReadable) {
  Loop loop;
  auto [sock, peer] = socket_pair();
  put(peer);
  struct D : Dispatcher {
    using Dispatcher::Dispatcher;
    bool readable() override {
      ++asked;
      close();
      return true;
    }
    void handle_read() override { ++calls; }
    void handle_write() override { ++calls; }
    int asked = 0, calls = 0;
  };
  auto d = make_dispatcher<D>(loop, std::move(sock));
  std::weak_ptr<D> weak = d;
  d.reset();
  loop.poll(0.01);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(loop.size(), 0u);
}

TEST(DispatcherSafety, CloseSelfInConnect) {
  Loop loop;
  Dispatcher server(loop);
  server.create_socket(AF_INET);
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  struct Client : Dispatcher {
    using Dispatcher::Dispatcher;
    void handle_connect() override {
      ++connects;
      close();
    }
    void handle_read() override { ++others; }
    void handle_write() override { ++others; }
    void handle_error() override { ADD_FAILURE() << current_exception_text(); }
    int connects = 0, others = 0;
  };
  Client client(loop);
  client.create_socket(AF_INET);
  client.connect(Address::local_of(server.fileno()));
  EXPECT_TRUE(client.connecting());
  ASSERT_TRUE(run_until(loop, [&] { return client.connects > 0; }));
  loop.poll(0.01);
  EXPECT_EQ(client.connects, 1);
  EXPECT_EQ(client.others, 0);
  EXPECT_FALSE(client.is_open());
  EXPECT_FALSE(client.connected()) << "a dispatcher closed in handle_connect reads as connected";
  EXPECT_FALSE(client.connecting());
}

TEST(DispatcherSafety, CloseSelfInAccept) {
  Loop loop;
  struct Listener : Dispatcher {
    using Dispatcher::Dispatcher;
    void handle_accept() override {
      ++accepts;
      close();
    }
    int accepts = 0;
  };
  auto server = make_dispatcher<Listener>(loop);
  server->create_socket(AF_INET);
  server->bind(Address::ipv4_loopback(0));
  server->listen(5);
  Address target = Address::local_of(server->fileno());
  std::weak_ptr<Listener> weak = server;
  Listener* raw = server.get();
  server.reset();
  Dispatcher client(loop);
  client.create_socket(AF_INET);
  client.connect(target);
  ASSERT_TRUE(run_until(loop, [&] { return weak.expired(); }));
  (void)raw;
}

TEST(DispatcherSafety, SharedOwnedAcceptedConnectionLivesOnAndDiesAfterClose) {
  Loop loop;
  struct Echo : Dispatcher {
    using Dispatcher::Dispatcher;
    bool writable() override { return !out.empty(); }
    void handle_read() override { out += recv(4096); }
    void handle_write() override { out.erase(0, send(out)); }
    void handle_close() override { close(); }
    std::string out;
  };
  std::weak_ptr<Echo> echo;
  struct Server : Dispatcher {
    Server(Loop& l, std::weak_ptr<Echo>& e) : Dispatcher(l), echo(e) {}
    void handle_accepted(Socket sock, const Address&) override {
      echo = make_dispatcher<Echo>(loop(), std::move(sock));  // no owner but the map
    }
    std::weak_ptr<Echo>& echo;
  };
  Server server(loop, echo);
  server.create_socket(AF_INET);
  server.bind(Address::ipv4_loopback(0));
  server.listen(5);
  Address target = Address::local_of(server.fileno());

  Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ::connect(client.fd(), target.sockaddr_ptr(), target.length());
  ASSERT_TRUE(run_until(loop, [&] { return !echo.expired(); }));
  // It lives on across turns with no other owner, and works.
  std::string got;
  ASSERT_EQ(::send(client.fd(), "ping", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(run_until(loop, [&] {
    char buf[16];
    ssize_t n = ::recv(client.fd(), buf, sizeof buf, 0);
    if (n > 0) got.append(buf, n);
    return got == "ping";
  }));
  EXPECT_FALSE(echo.expired());
  client.reset();  // peer closes -> recv() end of stream -> handle_close -> close -> released
  EXPECT_TRUE(run_until(loop, [&] { return echo.expired(); }));
  EXPECT_EQ(loop.size(), 1u);
}

// A released dispatcher whose destructor closes another shared-owned one: the loop's release
// list grows while it is being released (a chain of three here) and every one is destroyed.
TEST(DispatcherSafety, DestructorClosingAnotherDispatcherIsReleasedToo) {
  Loop loop;
  struct Link : Dispatcher {
    Link(Loop& l, Socket s, std::shared_ptr<Link> next, int& destroyed)
        : Dispatcher(l, std::move(s)), next(std::move(next)), destroyed(destroyed) {}
    ~Link() override {
      ++destroyed;
      if (auto n = next.lock()) n->close();
    }
    std::weak_ptr<Link> next;
    int& destroyed;
  };
  int destroyed = 0;
  auto [a1, a2] = socket_pair();
  auto [b1, b2] = socket_pair();
  auto [c1, c2] = socket_pair();
  std::weak_ptr<Link> third = make_dispatcher<Link>(loop, std::move(c1), nullptr, destroyed);
  std::weak_ptr<Link> second = make_dispatcher<Link>(loop, std::move(b1), third.lock(), destroyed);
  std::weak_ptr<Link> first = make_dispatcher<Link>(loop, std::move(a1), second.lock(), destroyed);
  ASSERT_EQ(loop.size(), 3u);
  first.lock()->close();
  loop.poll(0);
  EXPECT_EQ(destroyed, 3);
  EXPECT_TRUE(first.expired() && second.expired() && third.expired());
  EXPECT_EQ(loop.size(), 0u);
}

TEST(DispatcherSafety, StackOwnedDispatcherDestroyedLeavesMap) {
  Loop loop;
  {
    Dispatcher d(loop);
    d.create_socket(AF_INET);
    EXPECT_EQ(loop.size(), 1u);
  }
  EXPECT_EQ(loop.size(), 0u);
  EXPECT_EQ(loop.loop(0.01), 0u);

  // Destroyed by another handler while its own event is pending in the same turn.
  auto [a_sock, a_peer] = socket_pair();
  auto [b_sock, b_peer] = socket_pair();
  auto a = std::make_unique<Reader>(loop, std::move(a_sock));
  auto b = std::make_unique<Reader>(loop, std::move(b_sock));
  int destroyed = 0;
  a->on_read = [&](Reader&) {
    if (b) b.reset(), ++destroyed;
  };
  b->on_read = [&](Reader&) {
    if (a) a.reset(), ++destroyed;
  };
  put(a_peer);
  put(b_peer);
  loop.poll(1.0);
  EXPECT_EQ(destroyed, 1);
  EXPECT_EQ(loop.size(), 1u);
  loop.poll(0.01);
  EXPECT_EQ(loop.size(), 1u);
}

TEST(DispatcherSafety, ReadableAndWritableAskedEveryTurn) {
  Loop loop;
  auto [sock, peer] = socket_pair();
  struct D : Dispatcher {
    using Dispatcher::Dispatcher;
    bool readable() override {
      ++asked_readable;
      return want_read;
    }
    bool writable() override {
      ++asked_writable;
      return want_write;
    }
    void handle_read() override {
      ++reads;
      recv(16);
    }
    void handle_write() override { ++writes; }
    bool want_read = false, want_write = false;
    int asked_readable = 0, asked_writable = 0, reads = 0, writes = 0;
  };
  D d(loop, std::move(sock));
  put(peer);
  for (int i = 0; i < 5; ++i) loop.poll(0.001);
  EXPECT_EQ(d.asked_readable, 5);
  EXPECT_EQ(d.asked_writable, 5);
  EXPECT_EQ(d.reads, 0);  // data waits while readable() is false
  EXPECT_EQ(d.writes, 0);
  d.want_read = true;
  ASSERT_TRUE(run_until(loop, [&] { return d.reads == 1; }));
  EXPECT_EQ(d.writes, 0);
  d.want_read = false;
  d.want_write = true;
  ASSERT_TRUE(run_until(loop, [&] { return d.writes > 0; }));
  put(peer);
  d.want_write = false;
  int writes = d.writes;
  for (int i = 0; i < 3; ++i) loop.poll(0.001);
  EXPECT_EQ(d.writes, writes);  // interest dropped: no more write events
  EXPECT_EQ(d.reads, 1);
}

TEST(DispatcherSafety, ExceptionFromHandlerReachesHandleError) {
  Loop loop;
  auto [sock, peer] = socket_pair();
  Reader d(loop, std::move(sock));
  d.on_read = [](Reader&) { throw std::logic_error("boom in handle_read"); };
  put(peer);
  ASSERT_TRUE(run_until(loop, [&] { return d.errors == 1; }));
  EXPECT_EQ(d.error_text, "std::logic_error: boom in handle_read");
  EXPECT_EQ(d.closes, 0);
}

TEST(DispatcherSafety, ExceptionFromReadableReachesHandleError) {
  Loop loop;
  auto [sock, peer] = socket_pair();
  struct D : Reader {
    using Reader::Reader;
    bool readable() override { throw std::runtime_error("readable() failed"); }
  };
  D d(loop, std::move(sock));
  auto [other_sock, other_peer] = socket_pair();
  Reader other(loop, std::move(other_sock));
  put(other_peer);
  EXPECT_NO_THROW(EXPECT_TRUE(run_until(loop, [&] { return d.errors == 1 && other.reads == 1; })));
  EXPECT_EQ(d.error_text, "std::runtime_error: readable() failed");
  EXPECT_FALSE(d.is_open());
}

TEST(DispatcherSafety, DisconnectSystemErrorReachesHandleClose) {
  for (int err : {ECONNRESET, ENOTCONN, ESHUTDOWN, ECONNABORTED, EPIPE, EBADF}) {
    SCOPED_TRACE(errno_text(err));
    Loop loop;
    auto [sock, peer] = socket_pair();
    Reader d(loop, std::move(sock));
    d.on_read = [err](Reader&) { throw std::system_error(err, std::system_category(), "io"); };
    put(peer);
    ASSERT_TRUE(run_until(loop, [&] { return d.closes + d.errors > 0; }));
    EXPECT_EQ(d.closes, 1);
    EXPECT_EQ(d.errors, 0);
  }
  // Any other errno is an error.
  Loop loop;
  auto [sock, peer] = socket_pair();
  Reader d(loop, std::move(sock));
  d.on_read = [](Reader&) { throw std::system_error(EACCES, std::generic_category(), "io"); };
  put(peer);
  ASSERT_TRUE(run_until(loop, [&] { return d.closes + d.errors > 0; }));
  EXPECT_EQ(d.errors, 1);
  EXPECT_EQ(d.closes, 0);
}

TEST(DispatcherSafety, RecvAtEndOfStreamCallsHandleClose) {
  Loop loop;
  auto [sock, peer] = socket_pair();
  Reader d(loop, std::move(sock));
  std::string got;
  d.on_read = [&](Reader& r) { got += r.recv(64); };
  put(peer, "last words");
  peer.reset();
  ASSERT_TRUE(run_until(loop, [&] { return d.closes == 1; }));
  EXPECT_EQ(got, "last words");
  EXPECT_FALSE(d.is_open());
  EXPECT_EQ(d.errors, 0);
}

TEST(DispatcherSafety, DefaultHandleErrorLogsAndClosesAndLoopGoesOn) {
  Loop loop;
  test::LogCapture capture;
  struct Thrower : Dispatcher {
    using Dispatcher::Dispatcher;
    bool readable() override { return false; }
    void handle_write() override { throw std::runtime_error("spam in handle_write"); }
  };
  auto [sock, peer] = socket_pair();
  auto thrower = make_dispatcher<Thrower>(loop, std::move(sock));
  std::weak_ptr<Thrower> weak = thrower;
  thrower.reset();
  auto [other_sock, other_peer] = socket_pair();
  Reader other(loop, std::move(other_sock));
  ASSERT_TRUE(run_until(loop, [&] { return weak.expired(); }));
  EXPECT_TRUE(capture.contains("spam in handle_write"));
  EXPECT_TRUE(capture.contains("Thrower"));  // the repr names the dispatcher
  put(other_peer);
  EXPECT_TRUE(run_until(loop, [&] { return other.reads == 1; }));
}

TEST(DispatcherSafety, LoopEndsWhenMapEmptyAfterCountOrOnStop) {
  Loop loop;
  EXPECT_EQ(loop.loop(30.0), 0u);  // empty map: returns at once
  auto [sock, peer] = socket_pair();
  Reader d(loop, std::move(sock));
  EXPECT_EQ(loop.loop(0.001, 3), 3u);  // count
  d.on_read = [&](Reader&) { loop.stop(); };
  put(peer);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.loop(30.0), 1u);  // stop() from a handler ends loop() after that turn
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  d.on_read = [&](Reader& r) { r.close(); };
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.loop(30.0), 1u);  // the last dispatcher closes: the map is empty
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace asyncore
