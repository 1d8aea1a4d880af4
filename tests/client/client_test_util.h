// client_test_util.h — helpers for the client/ tests: waiting on conditions with a deadline (never
// a sleep), socket pairs, the descriptor limit, glog capture, and child processes (the samples and
// the Python asynchat interop scripts) whose first stdout line is read with a deadline.
#pragma once

#include <fcntl.h>
#include <glog/logging.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/loop.h"
#include "core/socket.h"
#include "tests/core/test_util.h"

extern char** environ;

namespace asyncore::client_test {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_in(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Waiting with a deadline and socket pairs: the core tests' helpers.
using asyncore::test::run_until;
using asyncore::test::socket_pair;

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
inline rlim_t raise_fd_limit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

// glog capture: the core tests' LogCapture (one sink for the whole test tree).
using asyncore::test::LogCapture;

// A child process with its stdout on a pipe (stderr inherited). Killed and reaped on destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start " + argv[0] + ": " + errno_text(rc));
    }
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of stdout (without '\n'); nullopt at end of file or after `seconds`.
  std::optional<std::string> read_line(double seconds = 10) {
    auto deadline = deadline_in(seconds);
    for (;;) {
      if (auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // Everything left on stdout until end of file (or `seconds`).
  std::string read_all(double seconds = 10) {
    auto deadline = deadline_in(seconds);
    while (fill(deadline)) {
    }
    return std::exchange(pending_, {});
  }

  void signal(int sig) const {
    if (pid_ > 0 && !status_) ::kill(pid_, sig);
  }
  // Non-blocking: the wait status once the child exited.
  std::optional<int> try_wait() {
    if (!status_ && pid_ > 0) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    }
    return status_;
  }
  // Waits at most `seconds` for the child to exit (polling a pidfd: no sleeps).
  std::optional<int> wait(double seconds = 10) {
    auto deadline = deadline_in(seconds);
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    while (!try_wait()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
      } else {
        ::poll(nullptr, 0, 10);
      }
    }
    if (pidfd >= 0) ::close(pidfd);
    return status_;
  }

 private:
  bool fill(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::optional<int> status_;
};

// Parses "listening on HOST:PORT" (IPv4) into the port; 0 when the line does not match.
inline uint16_t port_of_listening_line(const std::string& line) {
  const std::string prefix = "listening on ";
  if (line.rfind(prefix, 0) != 0) return 0;
  auto colon = line.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
}

inline std::string bin_path(const std::string& name) {
  return std::string(ASYNCORE_BIN_DIR) + "/" + name;
}
inline std::string source_path(const std::string& rel) {
  return std::string(ASYNCORE_SOURCE_DIR) + "/" + rel;
}

}  // namespace asyncore::client_test
