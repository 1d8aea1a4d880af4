// socket.h — Socket: a move-only owner of one file descriptor, and the errno helpers the
// reactor shares.
//
// asyncore hands a freshly accepted socket to handle_accepted(sock, addr) as an object that closes
// itself when dropped; Socket plays that part, so an accepted connection that nobody adopts is
// closed rather than leaked.
#pragma once

#include <string>
#include <system_error>

namespace asyncore {

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }

  int fd() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  // Gives up ownership: the caller now closes the descriptor.
  [[nodiscard]] int release() noexcept;
  // Closes the descriptor now (idempotent).
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// asyncore's _DISCONNECTED set: errno values that mean "the peer is gone", reported through
// handle_close() rather than handle_error().
bool is_disconnect_errno(int err) noexcept;

// "strerror(err)" as text: asyncore's _strerror.
std::string errno_text(int err);

// Throws std::system_error(err) with `what` naming the operation and its target.
[[noreturn]] void throw_errno(int err, const std::string& what);

// Sets O_NONBLOCK and FD_CLOEXEC (asyncore sockets are non-blocking and not inheritable).
void set_nonblocking_cloexec(int fd);

}  // namespace asyncore
