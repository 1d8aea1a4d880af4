// memcache_test_util.h — for the MemcacheClient tests (memcache_client_test.cc,
// memcache_attack_test.cc): a free loopback port, a real memcached per test, a fake server the
// test scripts byte by byte, and a recorder of the callbacks' results. Every wait has a deadline
// (run_until); nothing sleeps to synchronize.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/loop.h"
#include "core/socket.h"
#include "samples/memcache/memcache_client.h"
#include "tests/client/client_test_util.h"

namespace memcache::test {

using asyncore::Loop;
using asyncore::client_test::run_until;

// A loopback port nobody listens on right now (the kernel picked it; we let it go).
inline uint16_t free_port() {
  asyncore::Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return 0;
  }
  return ntohs(a.sin_port);
}

// A real memcached for one test (CTest runs every TEST as its own process, in parallel), as
// tests/redis/redis_server_fixture.h does for redis-server: a free port, ready when it answers
// "version", SIGKILLed and reaped by the destructor, and never outliving the test process.
class Memcached {
 public:
  ~Memcached() { kill(); }

  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port first
      port_ = free_port();
      if (port_ != 0 && launch(deadline)) return true;
    }
    return false;
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGSTOP, returning once the process is stopped: it reads nothing more.
  bool freeze() {
    int status = 0;
    return ::kill(pid_, SIGSTOP) == 0 && ::waitpid(pid_, &status, WUNTRACED) == pid_ &&
           WIFSTOPPED(status);
  }
  uint16_t port() const { return port_; }
  const std::string& error() const { return error_; }

 private:
  bool launch(std::chrono::milliseconds deadline) {
    const std::string port = std::to_string(port_);
    std::vector<std::string> args = {"memcached", "-l", "127.0.0.1", "-p", port, "-U", "0"};
    if (::geteuid() == 0) {  // memcached refuses to run as root without -u
      args.push_back("-u");
      args.push_back("nobody");
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return fail("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      if (::getppid() != parent) _exit(127);
      ::execvp("memcached", argv.data());
      _exit(127);
    }
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return fail("memcached exited at start (not installed? port " + port + " taken?)");
      }
      if (answers_version()) return true;
      ::poll(nullptr, 0, 5);  // polling; the "version" answer decides
    }
    kill();
    return fail("memcached did not answer 'version' on port " + port + " in time");
  }

  // One blocking connection: "version\r\n" answered by "VERSION ...\r\n".
  bool answers_version() const {
    asyncore::Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{0, 500 * 1000};
    ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (::connect(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    if (::send(s.fd(), "version\r\n", 9, MSG_NOSIGNAL) != 9) return false;
    std::string got;
    char buf[256];
    while (got.find("\r\n") == std::string::npos) {
      ssize_t n = ::recv(s.fd(), buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return got.starts_with("VERSION ");
  }

  bool fail(std::string text) {
    error_ = std::move(text);
    return false;
  }

  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

// A server that says what the test tells it to: one listening socket, one accepted connection,
// driven from the test thread.
class FakeServer {
 public:
  FakeServer() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener_.fd(), 8) != 0 ||
        ::getsockname(listener_.fd(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("FakeServer: cannot listen");
    }
    port_ = ntohs(a.sin_port);
  }
  uint16_t port() const { return port_; }

  // Runs the loop until the client's connection is accepted (TCP_NODELAY: each send() leaves at
  // once).
  bool accept(Loop& loop) {
    return run_until(loop, [&] {
      conn_.reset(::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (conn_.valid()) {
        int one = 1;
        ::setsockopt(conn_.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      return conn_.valid();
    });
  }
  // Runs the loop until what the client sent contains `needle` (`occurrences` times, apart);
  // returns all of it.
  std::optional<std::string> read_until(Loop& loop, std::string_view needle,
                                        size_t occurrences = 1) {
    bool ok = run_until(loop, [&] {
      pump();
      size_t n = 0;
      for (size_t at = received_.find(needle); at != std::string::npos;
           at = received_.find(needle, at + needle.size())) {
        ++n;
      }
      return n >= occurrences;
    });
    if (!ok) return std::nullopt;
    return received_;
  }
  // Sends `bytes` one byte per send(), letting the client run a turn after each byte so that each
  // byte is a read of its own.
  void send_bytewise(Loop& loop, std::string_view bytes) {
    for (char c : bytes) {
      send(loop, std::string_view(&c, 1));
      loop.poll(0);
      loop.poll(0);
    }
  }
  void send(Loop& loop, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(conn_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) bytes.remove_prefix(static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN) throw std::runtime_error("FakeServer: send failed");
      if (n < 0) loop.poll(0.01);  // the client reads while we wait
    }
  }
  // Runs the loop until the client closed its end (end of stream or reset).
  bool client_closed(Loop& loop) {
    return run_until(loop, [&] { return pump(); });
  }
  void close_connection() { conn_.reset(); }
  const std::string& received() const { return received_; }

 private:
  // Reads what is there; true at end of stream (or an error: the client is gone).
  bool pump() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(conn_.fd(), buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<size_t>(n));
        continue;
      }
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }

  asyncore::Socket listener_;
  asyncore::Socket conn_;
  uint16_t port_ = 0;
  std::string received_;
};

// Every callback's result, in the order the callbacks ran.
struct Recorder {
  std::vector<std::pair<int, Result>> calls;
  Callback cb(int id) {
    return [this, id](Result r) { calls.emplace_back(id, std::move(r)); };
  }
  int count(int id) const {
    int n = 0;
    for (const auto& c : calls) n += c.first == id;
    return n;
  }
  const Result& of(int id) const {
    for (const auto& c : calls) {
      if (c.first == id) return c.second;
    }
    throw std::logic_error("no result for request " + std::to_string(id));
  }
};

}  // namespace memcache::test
