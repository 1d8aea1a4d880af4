// redis_server_fixture.h — RedisServer: a real redis-server for one test process, on a free
// loopback port in its own temp dir (CTest runs every TEST as its own process, in parallel).
//
//   RedisServer server;                        // or RedisServer server("secret") for --requirepass
//   ASSERT_TRUE(server.start()) << server.error();
//   ... server.port(), server.command({"XLEN", "douyu:1"}) ...
//   server.shutdown();  server.restart();      // SHUTDOWN (AOF written), then the same port again
//
// AOF on, fsync always, no RDB snapshots: an acknowledged write survives shutdown()/restart() and
// kill(). Readiness is "answers PING with PONG" (not LOADING), waited for with a deadline. The
// destructor SIGKILLs the server and removes the dir; the child also dies with the test process
// (PR_SET_PDEATHSIG). Standalone: needs only hiredis' sync API (link hiredis) and POSIX.
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asyncore::testing {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;
struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

class RedisServer {
 public:
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {
    char tmpl[] = "/tmp/redis_fixture_XXXXXX";
    if (char* d = mkdtemp(tmpl)) dir_ = d;
  }
  ~RedisServer() {
    kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts on a free port (a few ports are tried: another process may take the one we picked).
  bool start(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      if (port_ != 0 && launch(deadline)) return true;
    }
    return false;
  }
  // Starts again on the same port, with the same dir (the AOF is read back).
  bool restart(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    return launch(deadline);
  }
  // SHUTDOWN (Redis writes and fsyncs its AOF, then exits) and waits for the process.
  bool shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    if (pid_ <= 0) return true;
    if (RedisContextPtr c = connect()) {
      RedisReplyPtr(static_cast<redisReply*>(redisCommand(c.get(), "SHUTDOWN")));
    }
    return wait_exit(deadline) || (kill(), false);
  }
  // SIGKILL, no goodbye (acknowledged writes are on disk: appendfsync always).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const std::string& password() const { return password_; }
  const std::string& error() const { return error_; }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(port_); }

  // A new sync connection (AUTH done when a password is set); null when it fails.
  RedisContextPtr connect(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    RedisContextPtr c(redisConnectWithTimeout("127.0.0.1", port_, tv));
    if (!c || c->err) return nullptr;
    if (!password_.empty()) {
      RedisReplyPtr r(
          static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", password_.c_str())));
      if (!r || r->type == REDIS_REPLY_ERROR) return nullptr;
    }
    return c;
  }
  // One command on a new connection (binary-safe arguments); null on a connection failure.
  RedisReplyPtr command(const std::vector<std::string>& args) const {
    RedisContextPtr c = connect(std::chrono::seconds(5));
    return c ? command_on(c.get(), args) : nullptr;
  }
  // One command on `c` (binary-safe arguments).
  static RedisReplyPtr command_on(redisContext* c, const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return RedisReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

 private:
  static uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
  }

  bool launch(std::chrono::milliseconds deadline) {
    if (dir_.empty()) return fail("mkdtemp failed");
    const std::string port = std::to_string(port_);
    const std::string log = dir_ + "/redis.log";
    std::vector<std::string> args = {"redis-server", "--port",        port,     "--bind",
                                     "127.0.0.1",    "--save",        "",       "--appendonly",
                                     "yes",          "--appendfsync", "always", "--dir",
                                     dir_,           "--logfile",     log};
    if (!password_.empty()) {
      args.push_back("--requirepass");
      args.push_back(password_);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return fail("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      if (getppid() != parent) _exit(127);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    // Ready = PONG (LOADING while it reads its AOF). Polled with a deadline; an exit ends it.
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return fail("redis-server exited at start (port " + port + " taken?), see " + log);
      }
      if (RedisContextPtr c = connect(std::chrono::milliseconds(200))) {
        RedisReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
        if (r && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG") return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling; PING decides
    }
    kill();
    return fail("redis-server did not answer PING on port " + port + " in time");
  }

  bool wait_exit(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling the exit
    }
    return fail("redis-server did not exit after SHUTDOWN");
  }

  bool fail(std::string text) {
    error_ = std::move(text);
    return false;
  }

  std::string password_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace asyncore::testing
