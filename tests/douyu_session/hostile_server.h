// hostile_server.h — HostileServer: a raw loopback TCP "Douyu server" on its own thread, plain
// sockets only, for the douyu_danmaku CLI tests. Every connection that sends loginreq is answered
// with loginres, then, once the client has sent joingroup, with the test's crafted bodies, each in
// a hand-made frame (PROTOCOL.md: 4-byte LE length, the same again, 2-byte LE type 690, encrypt 0,
// reserved 0, body, NUL; the length counts from the second length field to the NUL inclusive).
// It counts connections and request types; wait_until() waits on them with a deadline.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace danmaku_test {

// A server→client frame built byte by byte.
inline std::string server_frame(std::string_view body) {
  const auto length = static_cast<uint32_t>(body.size() + 9);
  std::string f;
  for (int copy = 0; copy < 2; ++copy) {
    for (int i = 0; i < 4; ++i) f.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  }
  f.push_back(static_cast<char>(690 & 0xff));
  f.push_back(static_cast<char>(690 >> 8));
  f.push_back('\0');  // encrypt
  f.push_back('\0');  // reserved
  f.append(body);
  f.push_back('\0');
  return f;
}

class HostileServer {
 public:
  explicit HostileServer(std::vector<std::string> bodies_after_join)
      : bodies_(std::move(bodies_after_join)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 512) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("HostileServer: cannot listen");
    }
    port_ = ntohs(a.sin_port);
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("HostileServer: pipe2");
    thread_ = std::thread([this] { run(); });
  }
  ~HostileServer() {
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
    for (auto& [fd, buf] : conns_) ::close(fd);
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  uint16_t port() const { return port_; }
  int connections() {
    return get([this] { return connections_; });
  }
  // Requests seen, by type ("loginreq", "joingroup", "logout", "mrkl", ...).
  int requests(const std::string& type) {
    return get([&] { return requests_.count(type) ? requests_.at(type) : 0; });
  }
  // Waits until `done()` (called under the server's lock) or `seconds` pass.
  bool wait_until(const std::function<bool()>& done, double seconds) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::duration<double>(seconds), done);
  }

 private:
  int get(const std::function<int()>& f) {
    std::lock_guard lock(mutex_);
    return f();
  }
  void send_all(int fd, const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  // Handles the complete client frames at the front of `buf`.
  void parse(int fd, std::string& buf) {
    while (buf.size() >= 4) {
      uint32_t length = 0;
      for (int i = 0; i < 4; ++i) length |= uint32_t(static_cast<unsigned char>(buf[i])) << (8 * i);
      if (length < 9 || length > (1u << 20)) {  // not a frame: give up on this connection's bytes
        buf.clear();
        return;
      }
      if (buf.size() < 4 + length) return;
      const std::string body = buf.substr(12, length - 9);
      buf.erase(0, 4 + length);
      std::string type;
      if (body.rfind("type@=", 0) == 0) type = body.substr(6, body.find('/') - 6);
      {
        std::lock_guard lock(mutex_);
        ++requests_[type];
      }
      changed_.notify_all();
      if (type == "loginreq") {
        send_all(fd, server_frame("type@=loginres/userid@=0/roomgroup@=0/pg@=0/sessionid@=0/"
                                  "username@=/nickname@=/live_stat@=1/"));
      } else if (type == "joingroup") {
        std::string out;
        for (const auto& b : bodies_) out += server_frame(b);
        send_all(fd, out);
      }
    }
  }
  void run() {
    for (;;) {
      std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (auto& [fd, buf] : conns_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents != 0) return;
      if (fds[1].revents != 0) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          conns_[c];
          std::lock_guard lock(mutex_);
          ++connections_;
        }
        changed_.notify_all();
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char chunk[4096];
        const ssize_t n = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
          ::close(fds[i].fd);
          conns_.erase(fds[i].fd);
          continue;
        }
        std::string& buf = conns_[fds[i].fd];
        buf.append(chunk, static_cast<size_t>(n));
        parse(fds[i].fd, buf);
      }
    }
  }

  const std::vector<std::string> bodies_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::map<int, std::string> conns_;  // server thread only: fd → bytes not yet parsed
  std::mutex mutex_;
  std::condition_variable changed_;
  int connections_ = 0;                  // guarded by mutex_
  std::map<std::string, int> requests_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace danmaku_test
