// test_util.h — helpers shared by the core tests: waiting on conditions with a deadline (never a
// sleep), socket pairs, temporary Unix socket paths, the three socket families, glog capture.
#pragma once

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/address.h"
#include "core/loop.h"
#include "core/socket.h"

namespace asyncore::test {

// Runs turns of at most 10 ms until done() is true; false when `seconds` passed first.
inline bool run_until(Loop& loop, const std::function<bool()>& done, double seconds = 10) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    loop.poll(0.01);
  }
  return true;
}

// A connected, non-blocking AF_UNIX stream pair.
inline std::pair<Socket, Socket> socket_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    throw_errno(errno, "socketpair");
  }
  return {Socket(sv[0]), Socket(sv[1])};
}

// True while `fd` is an open descriptor of this process.
inline bool fd_is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }

// A fresh path for a Unix-domain socket, removed on destruction.
class TempUnixPath {
 public:
  TempUnixPath() {
    static std::atomic<int> counter{0};
    path_ = "/tmp/asyncore-core-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter.fetch_add(1)) + ".sock";
    ::unlink(path_.c_str());
  }
  ~TempUnixPath() { ::unlink(path_.c_str()); }
  TempUnixPath(const TempUnixPath&) = delete;
  TempUnixPath& operator=(const TempUnixPath&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The socket families the BaseTestAPI cases run over.
enum class Family { kIPv4, kIPv6, kUnix };

inline int af(Family f) {
  switch (f) {
    case Family::kIPv4:
      return AF_INET;
    case Family::kIPv6:
      return AF_INET6;
    case Family::kUnix:
      return AF_UNIX;
  }
  return AF_UNSPEC;
}

inline const char* family_name(Family f) {
  switch (f) {
    case Family::kIPv4:
      return "IPv4";
    case Family::kIPv6:
      return "IPv6";
    case Family::kUnix:
      return "Unix";
  }
  return "?";
}

// Collects glog messages (every severity) while alive.
class LogCapture : public google::LogSink {
 public:
  struct Line {
    google::LogSeverity severity;
    std::string text;
  };
  LogCapture() { google::AddLogSink(this); }
  ~LogCapture() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message, size_t len) override {
    std::lock_guard lock(mutex_);
    lines_.push_back({severity, std::string(message, len)});
  }
  std::vector<Line> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(const std::string& needle) {
    std::lock_guard lock(mutex_);
    for (const auto& l : lines_) {
      if (l.text.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<Line> lines_;
};

}  // namespace asyncore::test
