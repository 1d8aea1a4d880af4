// web_test_util.h — for the web tests: a Loop running on its own thread with the server and an
// event stream made on it, blocking clients on real loopback sockets with deadlines (never a
// sleep as synchronisation), and the response parsing those clients need.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/loop.h"
#include "tests/core/test_util.h"
#include "web/event_stream.h"
#include "web/http_server.h"

namespace asyncore::web::test {

using Clock = std::chrono::steady_clock;
using asyncore::test::LogCapture;

inline Clock::time_point deadline_in(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Waits (polling every millisecond, no sleep as synchronisation) until done() or the deadline.
inline bool wait_for(const std::function<bool()>& done, double seconds = 10) {
  const auto deadline = deadline_in(seconds);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A Loop on its own thread (run_forever); on_loop() runs code there and waits for it.
class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run_forever(0.05); }) {}
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }
  Loop& loop() { return loop_; }
  // Runs fn on the loop thread; returns once it ran (a failed expectation if not within 20 s).
  void on_loop(const std::function<void()>& fn) {
    std::promise<void> done;
    auto fut = done.get_future();
    loop_.call_soon_threadsafe([&] {
      fn();
      done.set_value();
    });
    ASSERT_EQ(fut.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  }
  template <class T>
  T get(const std::function<T()>& fn) {
    T value{};
    on_loop([&] { value = fn(); });
    return value;
  }

 private:
  Loop loop_;
  std::thread thread_;
};

// The server under test: "/" (kPage) and "/events", made and destroyed on the loop thread.
inline const std::string kPage = "<!doctype html><title>overlay</title><p>弹幕</p>\n";

class WebServerFixture : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}, EventStreamOptions stream_options = {}) {
    lt_.on_loop([&] {
      stream_ = std::make_shared<EventStream>(lt_.loop(), stream_options);
      server_ = std::make_unique<HttpServer>(lt_.loop(), Address::ipv4_loopback(0), options);
      server_->add_resource("/", kPage, "text/html; charset=utf-8");
      server_->add_event_stream("/events", stream_);
      addr_ = server_->address();
    });
  }
  void TearDown() override {
    lt_.on_loop([&] {
      server_.reset();
      stream_.reset();
    });
  }
  size_t subscribers() {
    return lt_.get<size_t>([&] { return stream_->subscribers(); });
  }
  size_t connections() {
    return lt_.get<size_t>([&] { return server_->connections(); });
  }
  bool wait_subscribers(size_t n, double seconds = 20) {
    return wait_for([&] { return subscribers() == n; }, seconds);
  }

  LoopThread lt_;
  std::shared_ptr<EventStream> stream_;  // loop thread only
  std::unique_ptr<HttpServer> server_;   // loop thread only
  Address addr_;
};

// A blocking client socket on loopback, every read bounded by a deadline.
class Client {
 public:
  enum class End { kOpen, kEof, kReset, kTimeout };

  explicit Client(const Address& to, int rcvbuf = 0) {
    fd_ = ::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (::connect(fd_, to.sockaddr_ptr(), to.length()) != 0) {
      throw std::runtime_error("connect to " + to.to_string() + ": " + errno_text(errno));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send: " + errno_text(errno));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads what arrives within `seconds` (at least one byte unless the stream ended); sets end().
  std::string read_some(double seconds = 10) {
    pollfd p{fd_, POLLIN, 0};
    const int ms = static_cast<int>(seconds * 1000);
    if (::poll(&p, 1, ms) <= 0) {
      end_ = End::kTimeout;
      return {};
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) return std::string(buf, static_cast<size_t>(n));
    end_ = n == 0 ? End::kEof : (errno == ECONNRESET ? End::kReset : End::kTimeout);
    return {};
  }
  // Reads until `bytes` holds `needle` (true) or the stream ends / the deadline passes (false).
  bool read_until(std::string& bytes, std::string_view needle, double seconds = 10) {
    const auto deadline = deadline_in(seconds);
    while (bytes.find(needle) == std::string::npos) {
      const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      std::string more = read_some(left);
      if (more.empty()) return false;
      bytes += more;
    }
    return true;
  }
  // Reads until the stream ends; end() says how (kEof: a clean FIN, kReset: RST).
  std::string read_to_end(double seconds = 10) {
    std::string out;
    const auto deadline = deadline_in(seconds);
    while (true) {
      const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
      if (left <= 0) {
        end_ = End::kTimeout;
        return out;
      }
      std::string more = read_some(left);
      if (more.empty()) return out;
      out += more;
    }
  }
  End end() const { return end_; }

 private:
  int fd_ = -1;
  End end_ = End::kOpen;
};

// One response read off a client: head (status, headers as text) and body by Content-Length.
struct Response {
  int status = 0;
  std::string head;  // status line and headers, up to and without the blank line
  std::string body;
  bool has_header(std::string_view line) const {
    return (head + "\r\n").find("\r\n" + std::string(line) + "\r\n") != std::string::npos;
  }
  std::optional<size_t> content_length() const {
    const auto p = head.find("\r\nContent-Length: ");
    if (p == std::string::npos) return std::nullopt;
    return std::stoul(head.substr(p + 18));
  }
};

// Reads one response; `head_only`: a HEAD's (no body whatever Content-Length says). `rest`
// keeps bytes read past it (pipelining).
inline std::optional<Response> read_response(Client& c, std::string& rest, bool head_only = false,
                                             double seconds = 10) {
  if (!c.read_until(rest, "\r\n\r\n", seconds)) return std::nullopt;
  Response r;
  const size_t end = rest.find("\r\n\r\n");
  r.head = rest.substr(0, end);
  rest.erase(0, end + 4);
  if (r.head.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
  r.status = std::stoi(r.head.substr(9, 3));
  const size_t length = head_only ? 0 : r.content_length().value_or(0);
  const auto deadline = deadline_in(seconds);
  while (rest.size() < length) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    std::string more = left > 0 ? c.read_some(left) : std::string();
    if (more.empty()) return std::nullopt;
    rest += more;
  }
  r.body = rest.substr(0, length);
  rest.erase(0, length);
  return r;
}

}  // namespace asyncore::web::test
