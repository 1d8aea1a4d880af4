// The port of CPython 3.11's Lib/test/test_asynchat.py: all 14 tests, under their original class
// and method names. TestAsynchat_WithPoll (the same tests over select.poll) has no counterpart:
// there is one backend here, libevent (epoll).
//
// As in CPython, the echo server is a thread with blocking sockets: it collects bytes one at a
// time until "QUIT\n", removes the marker, optionally waits for a go-ahead, sends everything back
// in chunk_size pieces and closes. It listens before the thread starts, so no "give the server
// time" sleep is needed; every blocking call has a timeout, so a failure cannot hang the test.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "client/async_chat.h"
#include "client/producer.h"
#include "tests/client/client_test_util.h"

namespace asyncore {
namespace {

using client_test::run_until;

const std::string kServerQuit = "QUIT\n";

class EchoServer {
 public:
  explicit EchoServer(size_t chunk_size = 1) : chunk_size_(chunk_size) {
    listener_ = Socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Address addr = Address::ipv4_loopback(0);
    if (::bind(listener_.fd(), addr.sockaddr_ptr(), addr.length()) != 0 ||
        ::listen(listener_.fd(), 5) != 0) {
      throw_errno(errno, "echo server bind/listen");
    }
    set_timeouts(listener_.fd());
    port_ = Address::local_of(listener_.fd()).port();
  }
  ~EchoServer() { join(); }

  uint16_t port() const { return port_; }
  // Makes the server wait for resend() before echoing (CPython's start_resend_event).
  void wait_before_resend() { resend_ = std::make_unique<std::promise<void>>(); }
  void resend() { resend_->set_value(); }
  void start() {
    std::future<void> go;
    if (resend_) go = resend_->get_future();
    thread_ = std::thread([this, go = std::move(go)]() mutable { run(std::move(go)); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Read only after join().
  const std::string& buffer() const { return buffer_; }

 private:
  static void set_timeouts(int fd) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  void run(std::future<void> go) {
    Socket conn(::accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    set_timeouts(conn.fd());
    int one = 1;
    ::setsockopt(conn.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (buffer_.find(kServerQuit) == std::string::npos) {
      char c;
      if (::recv(conn.fd(), &c, 1, 0) != 1) break;
      buffer_.push_back(c);
    }
    for (size_t at; (at = buffer_.find(kServerQuit)) != std::string::npos;) {
      buffer_.erase(at, kServerQuit.size());
    }
    if (go.valid()) go.wait_for(std::chrono::seconds(10));
    // May fail (test_close_when_done: the client is gone); MSG_NOSIGNAL keeps that an error code.
    for (size_t off = 0; off < buffer_.size();) {
      ssize_t n = ::send(conn.fd(), buffer_.data() + off,
                         std::min(chunk_size_, buffer_.size() - off), MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }

  size_t chunk_size_;
  Socket listener_;
  uint16_t port_ = 0;
  std::unique_ptr<std::promise<void>> resend_;
  std::thread thread_;
  std::string buffer_;
};

// CPython's echo_client.
class EchoClient : public AsyncChat {
 public:
  template <class Terminator>
  EchoClient(Loop& loop, Terminator terminator, uint16_t port) : AsyncChat(loop) {
    create_socket(AF_INET, SOCK_STREAM);
    connect(Address::ipv4_loopback(port));
    set_terminator(terminator);
  }
  void handle_connect() override {}
  void collect_incoming_data(std::string_view data) override { buffer.append(data); }
  void found_terminator() override {
    contents.push_back(buffer);
    buffer.clear();
  }
  std::vector<std::string> contents;
  std::string buffer;
};

// asyncore.loop(count=300, timeout=.01), but bounded by time and ended by the condition the
// test waits for: the server closed the connection, so the client closed too.
void loop_until_closed(Loop& loop, const std::shared_ptr<EchoClient>& c) {
  EXPECT_TRUE(run_until(loop, [&] { return !c->is_open(); })) << "client still open";
}

using Contents = std::vector<std::string>;

template <class Terminator>
void line_terminator_check(Terminator term, size_t server_chunk) {
  std::string t(term);
  Loop loop;
  EchoServer s(server_chunk);
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, term, s.port());
  c->push("hello ");
  c->push("world" + t);
  c->push("I'm not dead yet!" + t);
  c->push(kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"hello world", "I'm not dead yet!"}))
      << "terminator '" << t << "', server chunk " << server_chunk;
}

// The line terminator tests check receiving variously-sized chunks back from the server in order
// to exercise all branches of handle_read() (including a terminator split across reads).
TEST(TestAsynchat, test_line_terminator1) {
  for (size_t l : {1, 2, 3}) line_terminator_check("\n", l);
}
TEST(TestAsynchat, test_line_terminator2) {
  for (size_t l : {1, 2, 3}) line_terminator_check("\r\n", l);
}
TEST(TestAsynchat, test_line_terminator3) {
  for (size_t l : {1, 2, 3}) line_terminator_check("qqq", l);
}

void numeric_terminator_check(int termlen) {
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, termlen, s.port());
  std::string data = "hello world, I'm not dead yet!\n";
  c->push(data);
  c->push(kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{data.substr(0, termlen)}));
}

TEST(TestAsynchat, test_numeric_terminator1) {
  // CPython checks ints and longs; here: int and size_t.
  numeric_terminator_check(1);
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, size_t{1}, s.port());
  c->push("hi" + kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"h"}));
}
TEST(TestAsynchat, test_numeric_terminator2) { numeric_terminator_check(6); }

TEST(TestAsynchat, test_none_terminator) {
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, std::nullopt, s.port());
  std::string data = "hello world, I'm not dead yet!\n";
  c->push(data);
  c->push(kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, Contents{});
  EXPECT_EQ(c->buffer, data);
}

TEST(TestAsynchat, test_simple_producer) {
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, "\n", s.port());
  std::string data = "hello world\nI'm not dead yet!\n";
  c->push_with_producer(std::make_unique<SimpleProducer>(data + kServerQuit, 8));
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"hello world", "I'm not dead yet!"}));
}

TEST(TestAsynchat, test_string_producer) {
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, "\n", s.port());
  std::string data = "hello world\nI'm not dead yet!\n";
  c->push_with_producer(data + kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"hello world", "I'm not dead yet!"}));
}

TEST(TestAsynchat, test_empty_line) {
  // checks that empty lines are handled correctly
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, "\n", s.port());
  c->push("hello world\n\nI'm not dead yet!\n");
  c->push(kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"hello world", "", "I'm not dead yet!"}));
}

TEST(TestAsynchat, test_close_when_done) {
  Loop loop;
  EchoServer s;
  s.wait_before_resend();
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, "\n", s.port());
  c->push("hello world\nI'm not dead yet!\n");
  c->push(kServerQuit);
  c->close_when_done();
  loop_until_closed(loop, c);
  // Only allow the server to start echoing after the client has closed its connection.
  s.resend();
  s.join();
  EXPECT_EQ(c->contents, Contents{});
  // the server received something and did not just fail
  EXPECT_GT(s.buffer().size(), 0u);
}

// Issue #12523: push() must refuse anything that is not bytes. In C++ that is a compile error:
template <class T>
concept Pushable = requires(AsyncChat& c, T v) {
  c.push(v);
};
static_assert(Pushable<std::string>);
static_assert(Pushable<std::string_view>);
static_assert(Pushable<const char*>);
static_assert(Pushable<std::span<const std::byte>>);
static_assert(!Pushable<int>);
static_assert(!Pushable<char>);
static_assert(!Pushable<double>);

TEST(TestAsynchat, test_push) {
  Loop loop;
  EchoServer s;
  s.start();
  auto c = make_dispatcher<EchoClient>(loop, "\n", s.port());
  std::string data = "bytes\n";
  c->push(data);  // bytes
  std::vector<std::byte> bytearray(reinterpret_cast<const std::byte*>(data.data()),
                                   reinterpret_cast<const std::byte*>(data.data()) + data.size());
  c->push(std::span<const std::byte>(bytearray));  // bytearray
  c->push(std::string_view(data));                 // memoryview
  c->push(kServerQuit);
  loop_until_closed(loop, c);
  s.join();
  EXPECT_EQ(c->contents, (Contents{"bytes", "bytes", "bytes"}));
}

// Issue #16133: handle_read() must ignore "would block" (BlockingIOError).
class ErrorCounting : public AsyncChat {
 public:
  using AsyncChat::AsyncChat;
  void found_terminator() override {}
  void handle_error() override { ++errors; }
  int errors = 0;
};

TEST(TestAsynchatMocked, test_blockingioerror) {
  Loop loop;
  auto [mine, theirs] = client_test::socket_pair();  // nothing written: recv() would block
  ErrorCounting dispatcher(loop, std::move(mine));
  dispatcher.handle_read();
  EXPECT_EQ(dispatcher.errors, 0);
  EXPECT_TRUE(dispatcher.is_open());
}

TEST(TestHelperFunctions, test_find_prefix_at_end) {
  EXPECT_EQ(find_prefix_at_end("qwerty\r", "\r\n"), 1u);
  EXPECT_EQ(find_prefix_at_end("qwertydkjf", "\r\n"), 0u);
}

TEST(TestNotConnected, test_disallow_negative_terminator) {
  // Issue #11259
  Loop loop;
  ErrorCounting client(loop);
  EXPECT_THROW(client.set_terminator(-1), std::invalid_argument);
}

}  // namespace
}  // namespace asyncore
